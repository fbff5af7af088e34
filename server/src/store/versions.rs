//! The store's versions: a version's metadata and its state, written state first, so that
//! a version is listed only once all of it is there. Never changed, never compacted.

use super::{keys, Store, StoreError};
use crate::history::version::{version_id, version_number, Version};
use crate::name::DocName;

fn key(doc: &DocName, n: u64) -> Vec<u8> {
    keys::log_key(doc, n)
}

impl Store {
    /// A fresh version id, unique in the server and increasing.
    pub fn next_version_id(&self) -> Result<String, StoreError> {
        self.write(|trees| Ok(version_id(trees.db.generate_id()?)))
    }

    /// Stores a version (its id must come from [`Store::next_version_id`]) and its
    /// state, and makes both durable. A crash before the flush leaves the whole version
    /// or nothing: the metadata is written last, and only metadata is listed.
    pub async fn put_version(
        &self,
        doc: &DocName,
        version: &Version,
        state: &[u8],
    ) -> Result<(), StoreError> {
        let n = version_number(&version.id)
            .ok_or_else(|| StoreError::Corrupt(format!("bad version id {}", version.id)))?;
        self.write(|trees| {
            trees.version_states.insert(key(doc, n), state)?;
            trees.versions.insert_json(key(doc, n), version)
        })?;
        self.flush().await
    }

    /// A document's versions, oldest first.
    pub fn versions(&self, doc: &DocName) -> Result<Vec<Version>, StoreError> {
        let trees = self.trees()?;
        trees
            .versions
            .scan_prefix(&keys::log_prefix(doc))
            .map(|entry| {
                let (key, value) = entry?;
                trees.versions.decode(&key, &value)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| self.damaged(e))
    }

    /// One version and its state; `None` if the document has no such version.
    pub fn version(
        &self,
        doc: &DocName,
        id: &str,
    ) -> Result<Option<(Version, Vec<u8>)>, StoreError> {
        let Some(n) = version_number(id) else {
            return Ok(None);
        };
        let trees = self.trees()?;
        let read = || -> Result<Option<(Version, Vec<u8>)>, StoreError> {
            let Some(version) = trees.versions.get_json::<Version>(key(doc, n))? else {
                return Ok(None);
            };
            let state = trees.version_states.get(key(doc, n))?.ok_or_else(|| {
                StoreError::Corrupt(format!("{doc}: the state of version {id} is missing"))
            })?;
            Ok(Some((version, state)))
        };
        read().map_err(|e| self.damaged(e))
    }
}

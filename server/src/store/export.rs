//! The store's side of the portable export: every value worth keeping, read so that each
//! document's log is whole (a prefix up to the head read first), and written back into
//! an empty store. The file format is `crate::portable`'s; nothing here knows it.

use super::{keys, Store, StoreError};

/// The trees an export holds, in the order they are written. Left out: snapshots (a
/// cache, rebuilt from the log), heads (derived from the log on import), the parts of
/// large values (values are exported whole).
pub const EXPORTED: [&str; 11] = [
    keys::SETTINGS,
    keys::META,
    keys::LOG,
    keys::INVITES,
    keys::TOKENS,
    keys::PEOPLE,
    keys::AUDIT,
    keys::VERSIONS,
    keys::VERSION_STATES,
    keys::ARCHIVE,
    keys::ARCHIVE_FROZEN,
];

/// Settings the store keeps for itself (its format marker, its flush count): never
/// exported, never imported.
const INTERNAL_SETTINGS: [&str; 2] = [keys::FORMAT, "flushes"];

impl Store {
    /// Hands every exported value to `emit` as (tree, key, value). Each document's log is
    /// read up to the head read first, under the lock compaction takes, so a server that
    /// goes on writing meanwhile still exports every log whole: everything acknowledged
    /// before the export began, perhaps more.
    pub fn export_values(
        &self,
        mut emit: impl FnMut(&str, &[u8], &[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let trees = self.trees()?;
        for name in EXPORTED {
            let table = trees
                .table(name)
                .ok_or_else(|| StoreError::Corrupt(format!("no tree {name}")))?;
            if name == keys::LOG {
                let _exclusive = self
                    .shared
                    .log_rewrite
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let heads: std::collections::HashMap<Vec<u8>, u64> = trees
                    .heads
                    .iter()
                    .map(|entry| {
                        let (key, value) = entry?;
                        let head = <[u8; 8]>::try_from(value.as_slice())
                            .map(u64::from_be_bytes)
                            .map_err(|_| StoreError::Corrupt("a head".into()))?;
                        Ok((key, head))
                    })
                    .collect::<Result<_, StoreError>>()?;
                for entry in table.iter() {
                    let (key, value) = entry?;
                    let (Some(seq), Some(doc)) = (keys::log_seq(&key), keys::log_doc(&key)) else {
                        return Err(StoreError::Corrupt("a log key".into()));
                    };
                    if heads.get(doc).is_some_and(|&head| seq <= head) {
                        emit(name, &key, &value)?;
                    }
                }
                continue;
            }
            for entry in table.iter() {
                let (key, value) = entry?;
                if name == keys::SETTINGS
                    && INTERNAL_SETTINGS
                        .iter()
                        .any(|internal| key == internal.as_bytes())
                {
                    continue;
                }
                emit(name, &key, &value)?;
            }
        }
        Ok(())
    }

    /// Whether the store holds anything an import could collide with.
    pub fn is_empty_for_import(&self) -> Result<bool, StoreError> {
        let trees = self.trees()?;
        Ok(EXPORTED
            .iter()
            .filter(|name| **name != keys::SETTINGS)
            .all(|name| {
                trees
                    .table(name)
                    .is_none_or(|t| t.keys_with_prefix(&[]).next().is_none())
            }))
    }

    /// What keeps `items` (tree, key) from being merged into this store: a document, an
    /// invite or a token both hold, or an archive on both sides (its hash chain cannot
    /// take entries of another).
    pub fn merge_conflicts<'a>(
        &self,
        items: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Vec<String>, StoreError> {
        let trees = self.trees()?;
        let has_archive = trees.archive.keys_with_prefix(&[]).next().is_some();
        let mut conflicts = Vec::new();
        let mut archive_noted = false;
        for (tree, key) in items {
            let what = match tree {
                keys::META if trees.meta.get(key)?.is_some() => {
                    format!("document {} exists in both", String::from_utf8_lossy(key))
                }
                keys::INVITES if trees.invites.get(key)?.is_some() => {
                    format!("invite {} exists in both", String::from_utf8_lossy(key))
                }
                keys::TOKENS if trees.tokens.get(key)?.is_some() => {
                    "a sign-in token exists in both".into()
                }
                keys::ARCHIVE if has_archive && !archive_noted => {
                    archive_noted = true;
                    "both hold adopted texts: one archive's hash chain cannot take the other's entries".into()
                }
                _ => continue,
            };
            conflicts.push(what);
        }
        Ok(conflicts)
    }

    /// Writes one imported value (sealed as every value), and for a log record, the
    /// document's head. When `merging` into a store that holds data, its settings stay
    /// and an audit entry whose key is taken gets a new one. The caller flushes at the end.
    pub fn import_value(
        &self,
        tree: &str,
        key: &[u8],
        value: &[u8],
        merging: bool,
    ) -> Result<(), StoreError> {
        if !EXPORTED.contains(&tree) {
            return Err(StoreError::Corrupt(format!(
                "an export holds no tree {tree:?}"
            )));
        }
        if tree == keys::SETTINGS
            && (merging || INTERNAL_SETTINGS.iter().any(|i| key == i.as_bytes()))
        {
            return Ok(());
        }
        self.write(|trees| {
            let table = trees
                .table(tree)
                .ok_or_else(|| StoreError::Corrupt(format!("no tree {tree}")))?;
            if merging && tree == keys::AUDIT && table.get(key)?.is_some() {
                let mut rekeyed = key[..key.len().saturating_sub(8)].to_vec();
                rekeyed.extend_from_slice(&trees.db.generate_id()?.to_be_bytes());
                return table.insert(rekeyed, value);
            }
            table.insert(key, value)?;
            if tree == keys::LOG {
                let (Some(seq), Some(doc)) = (keys::log_seq(key), keys::log_doc(key)) else {
                    return Err(StoreError::Corrupt("a log key".into()));
                };
                let newer = trees
                    .heads
                    .get(doc)?
                    .and_then(|v| <[u8; 8]>::try_from(v.as_slice()).ok())
                    .is_none_or(|head| u64::from_be_bytes(head) < seq);
                if newer {
                    trees.heads.insert(doc, &seq.to_be_bytes())?;
                }
            }
            Ok(())
        })
    }
}

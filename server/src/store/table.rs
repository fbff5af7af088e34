//! A sled tree whose values are sealed (see `keys::seal`): every write adds the checksum,
//! every read checks it, and a value that fails is an error naming the tree and key, never
//! data. The only place the store touches sled's trees.

use std::ops::RangeBounds;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::keys;
use super::StoreError;

#[derive(Clone)]
pub struct Table {
    tree: sled::Tree,
    name: &'static str,
}

impl Table {
    pub fn open(db: &sled::Db, name: &'static str) -> Result<Table, StoreError> {
        Ok(Table {
            tree: db.open_tree(name)?,
            name,
        })
    }

    fn corrupt(&self, key: &[u8]) -> StoreError {
        StoreError::Corrupt(format!(
            "{}[{}] fails its checksum",
            self.name,
            String::from_utf8_lossy(key).escape_debug()
        ))
    }

    fn opened(&self, key: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        keys::unseal(key, sealed)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| self.corrupt(key))
    }

    pub fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.as_ref();
        self.tree
            .get(key)?
            .map(|sealed| self.opened(key, &sealed))
            .transpose()
    }

    pub fn insert(&self, key: impl AsRef<[u8]>, value: &[u8]) -> Result<(), StoreError> {
        let key = key.as_ref();
        self.tree.insert(key, keys::seal(key, value))?;
        Ok(())
    }

    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<(), StoreError> {
        self.tree.remove(key.as_ref())?;
        Ok(())
    }

    /// Inserts only if the key is free; `false` if it was taken.
    pub fn insert_new(&self, key: impl AsRef<[u8]>, value: &[u8]) -> Result<bool, StoreError> {
        let key = key.as_ref();
        let swapped =
            self.tree
                .compare_and_swap(key, None as Option<&[u8]>, Some(keys::seal(key, value)))?;
        Ok(swapped.is_ok())
    }

    /// Key-value pairs in key order, each checked.
    pub fn range<R: RangeBounds<Vec<u8>>>(
        &self,
        range: R,
    ) -> impl DoubleEndedIterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + '_ {
        self.tree.range(range).map(|entry| self.checked(entry))
    }

    pub fn scan_prefix(
        &self,
        prefix: &[u8],
    ) -> impl DoubleEndedIterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + '_ {
        self.tree
            .scan_prefix(prefix)
            .map(|entry| self.checked(entry))
    }

    pub fn iter(
        &self,
    ) -> impl DoubleEndedIterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + '_ {
        self.tree.iter().map(|entry| self.checked(entry))
    }

    /// The keys with `prefix`, values unread.
    pub fn keys_with_prefix(
        &self,
        prefix: &[u8],
    ) -> impl DoubleEndedIterator<Item = Result<Vec<u8>, StoreError>> + '_ {
        self.tree
            .scan_prefix(prefix)
            .keys()
            .map(|key| Ok(key?.to_vec()))
    }

    fn checked(
        &self,
        entry: Result<(sled::IVec, sled::IVec), sled::Error>,
    ) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
        let (key, sealed) = entry?;
        let value = self.opened(&key, &sealed)?;
        Ok((key.to_vec(), value))
    }

    /// Applies inserts and removals at once.
    pub fn apply(
        &self,
        inserts: Vec<(Vec<u8>, Vec<u8>)>,
        removals: Vec<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in inserts {
            let sealed = keys::seal(&key, &value);
            batch.insert(key, sealed);
        }
        for key in removals {
            batch.remove(key);
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }

    pub fn get_json<T: DeserializeOwned>(
        &self,
        key: impl AsRef<[u8]>,
    ) -> Result<Option<T>, StoreError> {
        let key = key.as_ref();
        self.get(key)?
            .map(|value| self.decode(key, &value))
            .transpose()
    }

    pub fn insert_json<T: Serialize>(
        &self,
        key: impl AsRef<[u8]>,
        value: &T,
    ) -> Result<(), StoreError> {
        self.insert(key, &encode(value))
    }

    pub fn decode<T: DeserializeOwned>(&self, key: &[u8], value: &[u8]) -> Result<T, StoreError> {
        serde_json::from_slice(value).map_err(|e| {
            StoreError::Corrupt(format!(
                "{}[{}]: {e}",
                self.name,
                String::from_utf8_lossy(key).escape_debug()
            ))
        })
    }

    /// Changes the JSON record under `key` atomically (sled retries `change` if another
    /// writer got there first); `None` if there is no record. A record that fails its
    /// checksum or does not decode is left as it is and reported as corrupt.
    pub fn update_json<T: Serialize + DeserializeOwned>(
        &self,
        key: impl AsRef<[u8]>,
        mut change: impl FnMut(&mut T),
    ) -> Result<Option<T>, StoreError> {
        let key = key.as_ref();
        let mut failed = None;
        let updated = self.tree.update_and_fetch(key, |old| {
            let old = old?;
            let decoded = keys::unseal(key, old)
                .ok_or_else(|| self.corrupt(key))
                .and_then(|value| self.decode::<T>(key, value));
            match decoded {
                Ok(mut value) => {
                    change(&mut value);
                    Some(keys::seal(key, &encode(&value)))
                }
                Err(e) => {
                    failed = Some(e);
                    Some(old.to_vec())
                }
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        updated
            .map(|sealed| self.opened(key, &sealed).and_then(|v| self.decode(key, &v)))
            .transpose()
    }

    /// Seals every value written before values were sealed (a store from an older
    /// release), in one batch.
    pub fn seal_all(&self) -> Result<u64, StoreError> {
        let mut batch = sled::Batch::default();
        let mut sealed = 0;
        for entry in self.tree.iter() {
            let (key, value) = entry?;
            batch.insert(key.clone(), keys::seal(&key, &value));
            sealed += 1;
        }
        self.tree.apply_batch(batch)?;
        Ok(sealed)
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

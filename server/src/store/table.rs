//! A sled tree whose values are sealed (see `keys::seal`): every write adds the checksum,
//! every read checks it, and a value that fails is an error naming the tree and key, never
//! data. The only place the store touches sled's trees.
//!
//! Large values are kept in parts of [`PART_BYTES`] in the `parts` tree, and the value's
//! own key holds a sealed reference to them (id, count, length, crc32 of the whole). So
//! sled never writes a value to its `blobs/` files: sled 0.34 leaves a reservation open
//! when a blob write fails (a full disk), and every later flush, even the one in dropping
//! the database, then waits forever. A sled page holds at most 17 entries before it
//! splits; 17 parts stay far below the size (a quarter segment, 128 KiB) from which sled
//! writes a page as a blob.
//!
//! Parts are written before the reference and removed after it is gone, so a reader
//! never finds a reference without its parts; a crash in between leaves unreferenced
//! parts behind, never a dangling reference.

use std::ops::RangeBounds;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::keys;
use super::StoreError;

/// The largest value kept in one piece, and the size of the parts of larger ones.
pub const PART_BYTES: usize = 4000;

#[derive(Clone)]
pub struct Table {
    tree: sled::Tree,
    parts: sled::Tree,
    db: sled::Db,
    name: &'static str,
}

/// Where a large value's parts are: `id:u64be count:u32be len:u64be crc32:u32be`.
struct Parts {
    id: u64,
    count: u32,
    len: u64,
    crc: u32,
}

impl Parts {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        out.extend_from_slice(&self.crc.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Option<Parts> {
        Some(Parts {
            id: u64::from_be_bytes(bytes.get(0..8)?.try_into().ok()?),
            count: u32::from_be_bytes(bytes.get(8..12)?.try_into().ok()?),
            len: u64::from_be_bytes(bytes.get(12..20)?.try_into().ok()?),
            crc: u32::from_be_bytes(bytes.get(20..24)?.try_into().ok()?),
        })
        .filter(|_| bytes.len() == 24)
    }

    fn key(id: u64, index: u32) -> [u8; 12] {
        let mut key = [0; 12];
        key[..8].copy_from_slice(&id.to_be_bytes());
        key[8..].copy_from_slice(&index.to_be_bytes());
        key
    }

    fn keys(&self) -> impl Iterator<Item = [u8; 12]> + '_ {
        (0..self.count).map(|index| Parts::key(self.id, index))
    }
}

impl Table {
    pub fn open(db: &sled::Db, name: &'static str) -> Result<Table, StoreError> {
        Ok(Table {
            tree: db.open_tree(name)?,
            parts: db.open_tree(keys::PARTS)?,
            db: db.clone(),
            name,
        })
    }

    /// The sealed form of `value` under `key`: the value itself, or (written first) its
    /// parts and the sealed reference to them.
    fn sealed(&self, key: &[u8], value: &[u8]) -> Result<Vec<u8>, StoreError> {
        if value.len() <= PART_BYTES {
            return Ok(keys::seal(key, value));
        }
        let parts = Parts {
            id: self.db.generate_id()?,
            count: value.chunks(PART_BYTES).count() as u32,
            len: value.len() as u64,
            crc: keys::value_checksum(value),
        };
        let mut batch = sled::Batch::default();
        for (part_key, chunk) in parts.keys().zip(value.chunks(PART_BYTES)) {
            batch.insert(&part_key[..], keys::seal(&part_key, chunk));
        }
        self.parts.apply_batch(batch)?;
        Ok(keys::seal_parts(key, &parts.encode()))
    }

    /// Removes the parts a replaced or removed sealed value referred to, if any.
    fn release(&self, key: &[u8], old: Option<&[u8]>) -> Result<(), StoreError> {
        let Some(keys::Sealed::Parts(reference)) = old.and_then(|old| keys::open(key, old)) else {
            return Ok(());
        };
        if let Some(parts) = Parts::decode(reference) {
            let mut batch = sled::Batch::default();
            for part_key in parts.keys() {
                batch.remove(&part_key[..]);
            }
            self.parts.apply_batch(batch)?;
        }
        Ok(())
    }

    /// The whole value of a large one, every part checked.
    fn joined(&self, key: &[u8], reference: &[u8]) -> Result<Vec<u8>, StoreError> {
        let parts = Parts::decode(reference).ok_or_else(|| self.corrupt(key))?;
        let mut value = Vec::with_capacity(usize::try_from(parts.len).unwrap_or(0).min(1 << 30));
        for part_key in parts.keys() {
            let sealed = self.parts.get(part_key)?.ok_or_else(|| self.corrupt(key))?;
            let chunk = keys::unseal(&part_key, &sealed).ok_or_else(|| self.corrupt(key))?;
            value.extend_from_slice(chunk);
        }
        if value.len() as u64 != parts.len || keys::value_checksum(&value) != parts.crc {
            return Err(self.corrupt(key));
        }
        Ok(value)
    }

    fn corrupt(&self, key: &[u8]) -> StoreError {
        StoreError::Corrupt(format!(
            "{}[{}] fails its checksum",
            self.name,
            String::from_utf8_lossy(key).escape_debug()
        ))
    }

    fn opened(&self, key: &[u8], sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        match keys::open(key, sealed) {
            Some(keys::Sealed::Value(value)) => Ok(value.to_vec()),
            Some(keys::Sealed::Parts(reference)) => self.joined(key, reference),
            None => Err(self.corrupt(key)),
        }
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
        let old = self.tree.insert(key, self.sealed(key, value)?)?;
        self.release(key, old.as_deref())
    }

    pub fn remove(&self, key: impl AsRef<[u8]>) -> Result<(), StoreError> {
        let key = key.as_ref();
        let old = self.tree.remove(key)?;
        self.release(key, old.as_deref())
    }

    /// Inserts only if the key is free; `false` if it was taken.
    pub fn insert_new(&self, key: impl AsRef<[u8]>, value: &[u8]) -> Result<bool, StoreError> {
        let key = key.as_ref();
        let sealed = self.sealed(key, value)?;
        let swapped =
            self.tree
                .compare_and_swap(key, None as Option<&[u8]>, Some(sealed.clone()))?;
        if swapped.is_err() {
            // The parts written for it (if any) belong to nothing.
            self.release(key, Some(&sealed))?;
        }
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

    /// Applies inserts and removals at once (the parts of large values are written
    /// before, and the parts of what they replace removed after).
    pub fn apply(
        &self,
        inserts: Vec<(Vec<u8>, Vec<u8>)>,
        removals: Vec<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let mut replaced = Vec::new();
        let mut batch = sled::Batch::default();
        for (key, value) in inserts {
            replaced.push((key.clone(), self.tree.get(&key)?));
            let sealed = self.sealed(&key, &value)?;
            batch.insert(key, sealed);
        }
        for key in removals {
            replaced.push((key.clone(), self.tree.get(&key)?));
            batch.remove(key);
        }
        self.tree.apply_batch(batch)?;
        for (key, old) in replaced {
            self.release(&key, old.as_deref())?;
        }
        Ok(())
    }

    /// Like [`Table::apply`], for keys known to hold values of at most [`PART_BYTES`]
    /// (or nothing): there are no parts to release, so the old values are not read (log
    /// compaction rewrites thousands of small records at a time).
    pub fn apply_over_small(
        &self,
        inserts: Vec<(Vec<u8>, Vec<u8>)>,
        removals: Vec<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in inserts {
            let sealed = self.sealed(&key, &value)?;
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
        let mut replaced = None;
        // JSON records are small: the changed one is kept in one piece (a rare large one
        // in one piece is still far below sled's blob size).
        let updated = self.tree.update_and_fetch(key, |old| {
            let old = old?;
            let decoded = self
                .opened(key, old)
                .and_then(|value| self.decode::<T>(key, &value));
            match decoded {
                Ok(mut value) => {
                    change(&mut value);
                    replaced = Some(old.to_vec());
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
        self.release(key, replaced.as_deref())?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> (tempfile::TempDir, sled::Db, Table) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let table = Table::open(&db, "t").unwrap();
        (dir, db, table)
    }

    fn large(seed: u8) -> Vec<u8> {
        (0..3 * PART_BYTES + 17)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    fn parts_held(db: &sled::Db) -> usize {
        db.open_tree(keys::PARTS).unwrap().len()
    }

    #[test]
    fn a_large_value_is_kept_in_parts_and_read_whole() {
        let (_dir, db, table) = table();
        table.insert("k", &large(1)).unwrap();
        assert_eq!(parts_held(&db), 4);
        let stored = db.open_tree("t").unwrap().get("k").unwrap().unwrap();
        assert!(stored.len() < 64, "the key holds only the reference");
        assert_eq!(table.get("k").unwrap(), Some(large(1)));
        let all: Vec<_> = table.iter().map(Result::unwrap).collect();
        assert_eq!(all, vec![(b"k".to_vec(), large(1))]);
    }

    #[test]
    fn replacing_or_removing_a_large_value_removes_its_parts() {
        let (_dir, db, table) = table();
        table.insert("k", &large(1)).unwrap();
        table.insert("k", &large(2)).unwrap();
        assert_eq!(parts_held(&db), 4);
        assert_eq!(table.get("k").unwrap(), Some(large(2)));
        table.insert("k", b"small").unwrap();
        assert_eq!(parts_held(&db), 0);
        table.insert("k", &large(3)).unwrap();
        table
            .apply(vec![(b"j".to_vec(), large(4))], vec![b"k".to_vec()])
            .unwrap();
        assert_eq!(parts_held(&db), 4);
        assert_eq!(table.get("j").unwrap(), Some(large(4)));
        table.remove("j").unwrap();
        assert_eq!(parts_held(&db), 0);
    }

    #[test]
    fn insert_new_on_a_taken_key_leaves_the_value_and_no_parts() {
        let (_dir, db, table) = table();
        assert!(table.insert_new("k", &large(1)).unwrap());
        assert!(!table.insert_new("k", &large(2)).unwrap());
        assert_eq!(table.get("k").unwrap(), Some(large(1)));
        assert_eq!(parts_held(&db), 4);
    }

    #[test]
    fn a_damaged_or_missing_part_is_corrupt_not_data() {
        let (_dir, db, table) = table();
        table.insert("k", &large(1)).unwrap();
        let parts = db.open_tree(keys::PARTS).unwrap();
        let (key, mut value) = parts.iter().nth(1).unwrap().unwrap();
        let mut flipped = value.to_vec();
        flipped[5] ^= 1;
        parts.insert(&key, flipped).unwrap();
        assert!(matches!(table.get("k"), Err(StoreError::Corrupt(_))));
        value = parts.remove(&key).unwrap().unwrap();
        assert!(matches!(table.get("k"), Err(StoreError::Corrupt(_))));
        parts.insert(&key, value).unwrap();
        assert!(matches!(table.get("k"), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_large_json_record_can_be_changed() {
        let (_dir, db, table) = table();
        let long = "x".repeat(2 * PART_BYTES);
        table.insert_json("k", &vec![long.clone()]).unwrap();
        let changed = table
            .update_json("k", |v: &mut Vec<String>| v.push("y".into()))
            .unwrap();
        assert_eq!(changed, Some(vec![long, "y".into()]));
        assert_eq!(parts_held(&db), 0);
    }
}

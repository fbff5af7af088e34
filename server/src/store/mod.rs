//! The `Store`: sled behind typed methods. Document metadata, the append-only update log
//! (the history), snapshots, and group-commit durability.
//!
//! sled never leaks out of this module. Nothing here knows about yrs documents or
//! websockets: updates are bytes, the room decides what they mean.

mod access;
mod keys;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

pub use access::{Joined, Scope};
pub use keys::Record;

use crate::metrics::Metrics;
use crate::name::DocName;

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage failed: {0}")]
    Sled(Arc<sled::Error>),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("document already exists")]
    Exists,
    #[error("the store has shut down")]
    Closed,
    #[error("no such record")]
    Missing,
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Sled(Arc::new(e))
    }
}

/// What the server knows about a document besides its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocMeta {
    pub title: String,
    pub created_at: u64,
    pub updated_at: u64,
    /// Bytes appended to the document's log (before compaction): a measure of how much
    /// has been written, shown in the document list.
    pub size: u64,
    /// Set while the document is in the trash (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<u64>,
}

impl DocMeta {
    /// Metadata of a document created now, with nothing written yet.
    pub fn new(title: &str, now: u64) -> DocMeta {
        DocMeta {
            title: title.to_owned(),
            created_at: now,
            updated_at: now,
            size: 0,
            deleted_at: None,
        }
    }
}

/// Which log records [`Store::compact`] merges: consecutive records of one author, each
/// at most `small_record` bytes, within `window_ms` of the run's first, at most
/// `max_run_bytes` together. Large records (already merged batches) stay as they are,
/// and merged records stay small: sled rewrites whole tree nodes (large ones as blob
/// files), so huge values cost far more space than merging saves.
#[derive(Debug, Clone, Copy)]
pub struct Runs {
    pub window_ms: u64,
    pub small_record: usize,
    pub max_run_bytes: usize,
}

/// What [`Store::compact`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Compacted {
    pub records_before: u64,
    pub records_after: u64,
}

/// A document as stored: the latest snapshot and the log records after it.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The state (Yjs update v2) of the latest checkpoint.
    pub snapshot: Option<Vec<u8>>,
    /// Log records newer than the snapshot, in order.
    pub tail: Vec<Record>,
    /// The sequence number the next appended record gets.
    pub next_seq: u64,
    /// The sequence number up to which the snapshot covers the log.
    pub snapshot_seq: u64,
}

type FlushReply = oneshot::Sender<Result<(), StoreError>>;

/// The handle to the database. Cheap to clone; all clones share one flusher.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    meta: sled::Tree,
    log: sled::Tree,
    snap: sled::Tree,
    invites: sled::Tree,
    tokens: sled::Tree,
    people: sled::Tree,
    audit: sled::Tree,
    settings: sled::Tree,
    flusher: mpsc::Sender<FlushReply>,
    metrics: Arc<Metrics>,
    /// Held while a document is loaded or its log compacted: sled iterators are not
    /// snapshots, so a load running beside a compaction could read half a merged run.
    log_rewrite: Arc<std::sync::Mutex<()>>,
}

impl Store {
    /// Opens (or creates) the database in `dir` and starts the group-commit flusher.
    /// Must be called inside a tokio runtime.
    pub fn open(dir: &Path, cache_bytes: u64, metrics: Arc<Metrics>) -> Result<Store, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()?;
        let (flusher, requests) = mpsc::channel(4096);
        tokio::spawn(run_flusher(db.clone(), requests, metrics.clone()));
        Ok(Store {
            meta: db.open_tree(keys::META)?,
            log: db.open_tree(keys::LOG)?,
            snap: db.open_tree(keys::SNAP)?,
            invites: db.open_tree(keys::INVITES)?,
            tokens: db.open_tree(keys::TOKENS)?,
            people: db.open_tree(keys::PEOPLE)?,
            audit: db.open_tree(keys::AUDIT)?,
            settings: db.open_tree(keys::SETTINGS)?,
            db,
            flusher,
            metrics,
            log_rewrite: Arc::default(),
        })
    }

    /// All documents with their metadata, in name order.
    pub fn list(&self) -> Result<Vec<(DocName, DocMeta)>, StoreError> {
        self.meta
            .iter()
            .map(|entry| {
                let (key, value) = entry?;
                let name = std::str::from_utf8(&key)
                    .ok()
                    .and_then(|s| DocName::parse(s).ok())
                    .ok_or_else(|| StoreError::Corrupt("document key".into()))?;
                Ok((name, decode_meta(&value)?))
            })
            .collect()
    }

    pub fn meta(&self, doc: &DocName) -> Result<Option<DocMeta>, StoreError> {
        self.meta
            .get(doc.as_str())?
            .map(|v| decode_meta(&v))
            .transpose()
    }

    /// Changes a document's metadata in place, atomically with respect to every other
    /// change of it (a rename never loses to a room's size update, nor the other way
    /// round). `None` if the document does not exist. Durable with the next flush.
    pub fn update_meta(
        &self,
        doc: &DocName,
        change: impl FnMut(&mut DocMeta),
    ) -> Result<Option<DocMeta>, StoreError> {
        update_json(
            &self.meta,
            doc.as_str().as_bytes(),
            "document metadata",
            change,
        )
    }

    /// Removes a document's metadata, log and snapshot for good (a trash entry that has
    /// expired). Durable with the next flush.
    pub fn purge(&self, doc: &DocName) -> Result<(), StoreError> {
        let _exclusive = self.log_rewrite.lock().unwrap_or_else(|e| e.into_inner());
        let mut batch = sled::Batch::default();
        for key in self.log.scan_prefix(keys::log_prefix(doc)).keys() {
            batch.remove(key?);
        }
        self.log.apply_batch(batch)?;
        self.snap.remove(doc.as_str())?;
        self.meta.remove(doc.as_str())?;
        Ok(())
    }

    /// Registers a new document, with an optional first update, and makes it durable.
    /// Fails with [`StoreError::Exists`] if the name is taken.
    pub async fn create(
        &self,
        doc: &DocName,
        meta: &DocMeta,
        first: Option<Record>,
    ) -> Result<(), StoreError> {
        let taken = self.meta.compare_and_swap(
            doc.as_str(),
            None as Option<&[u8]>,
            Some(encode_meta(meta)),
        )?;
        if taken.is_err() {
            return Err(StoreError::Exists);
        }
        if let Some(record) = first {
            self.append(doc, 0, &record)?;
        }
        self.flush().await
    }

    /// Reads the latest snapshot and the log after it.
    pub fn load(&self, doc: &DocName) -> Result<Loaded, StoreError> {
        let _exclusive = self.log_rewrite.lock().unwrap_or_else(|e| e.into_inner());
        let mut loaded = Loaded::default();
        let mut from = 0;
        if let Some(value) = self.snap.get(doc.as_str())? {
            let (upto, state) = keys::decode_snapshot(&value)
                .ok_or_else(|| StoreError::Corrupt(format!("snapshot of {doc}")))?;
            loaded.snapshot = Some(state.to_vec());
            loaded.snapshot_seq = upto;
            from = upto + 1;
        }
        if let Some(last) = self.log.scan_prefix(keys::log_prefix(doc)).next_back() {
            let (key, _) = last?;
            loaded.next_seq = keys::log_seq(&key).map_or(0, |s| s + 1);
        }
        // Never hand out a sequence number the snapshot already covers: a record there
        // would be skipped by every later load.
        if loaded.snapshot.is_some() {
            loaded.next_seq = loaded.next_seq.max(loaded.snapshot_seq + 1);
        }
        for entry in self
            .log
            .range(keys::log_key(doc, from)..keys::log_key(doc, u64::MAX))
        {
            let (_, value) = entry?;
            let record = keys::decode_record(&value)
                .ok_or_else(|| StoreError::Corrupt(format!("log record of {doc}")))?;
            loaded.tail.push(record);
        }
        Ok(loaded)
    }

    /// Every log record of a document, oldest first: its whole history.
    pub fn history(
        &self,
        doc: &DocName,
    ) -> impl Iterator<Item = Result<(u64, Record), StoreError>> {
        self.log.scan_prefix(keys::log_prefix(doc)).map(|entry| {
            let (key, value) = entry?;
            let seq = keys::log_seq(&key).ok_or_else(|| StoreError::Corrupt("log key".into()))?;
            let record = keys::decode_record(&value)
                .ok_or_else(|| StoreError::Corrupt("log record".into()))?;
            Ok((seq, record))
        })
    }

    /// Merges runs of consecutive small log records in `from..=to` (see [`Runs`]) into
    /// one record each, with `merge` (which combines updates; `None` leaves the run as it
    /// is). Each run becomes its last record's key and timestamp; nothing of the content
    /// is lost, only the granularity of history is coarsened to the window.
    pub fn compact(
        &self,
        doc: &DocName,
        from: u64,
        to: u64,
        runs_of: Runs,
        merge: impl Fn(&[&[u8]]) -> Option<Vec<u8>>,
    ) -> Result<Compacted, StoreError> {
        let _exclusive = self.log_rewrite.lock().unwrap_or_else(|e| e.into_inner());
        let mut runs: Vec<Vec<(u64, Record)>> = Vec::new();
        let mut run_bytes = 0;
        for entry in self
            .log
            .range(keys::log_key(doc, from)..=keys::log_key(doc, to))
        {
            let (key, value) = entry?;
            let seq = keys::log_seq(&key).ok_or_else(|| StoreError::Corrupt("log key".into()))?;
            let record = keys::decode_record(&value)
                .ok_or_else(|| StoreError::Corrupt("log record".into()))?;
            let size = record.update.len();
            let small = size <= runs_of.small_record;
            let joins = small
                && run_bytes + size <= runs_of.max_run_bytes
                && runs
                    .last()
                    .and_then(|run| run.first())
                    .is_some_and(|(_, first)| {
                        first.update.len() <= runs_of.small_record
                            && first.author == record.author
                            && record.ts_ms.saturating_sub(first.ts_ms) < runs_of.window_ms
                    });
            match runs.last_mut() {
                Some(run) if joins => {
                    run_bytes += size;
                    run.push((seq, record));
                }
                _ => {
                    run_bytes = size;
                    runs.push(vec![(seq, record)]);
                }
            }
        }
        let mut done = Compacted::default();
        let mut batch = sled::Batch::default();
        for run in runs.iter().filter(|run| run.len() > 1) {
            let updates: Vec<&[u8]> = run.iter().map(|(_, r)| r.update.as_slice()).collect();
            let Some(update) = merge(&updates) else {
                continue;
            };
            // The run becomes its *last* key: the highest sequence number of the log never
            // goes away, so the next one handed out after a reload stays above it.
            let Some(((last_seq, last), earlier)) = run.split_last() else {
                continue;
            };
            let merged = Record {
                ts_ms: last.ts_ms,
                author: last.author.clone(),
                update,
            };
            batch.insert(keys::log_key(doc, *last_seq), keys::encode_record(&merged));
            for (seq, _) in earlier {
                batch.remove(keys::log_key(doc, *seq));
            }
            done.records_before += run.len() as u64;
            done.records_after += 1;
        }
        // One atomic batch; loads wait for it (see `log_rewrite`).
        self.log.apply_batch(batch)?;
        Ok(done)
    }

    /// Appends one record to the log. Not durable until [`Store::flush`] returns.
    /// Returns the bytes written.
    pub fn append(&self, doc: &DocName, seq: u64, record: &Record) -> Result<u64, StoreError> {
        let value = keys::encode_record(record);
        let bytes = value.len() as u64;
        self.log.insert(keys::log_key(doc, seq), value)?;
        self.metrics
            .bytes_persisted
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
        Ok(bytes)
    }

    /// Replaces the document's snapshot. The log records it covers stay: they are history.
    pub fn put_snapshot(
        &self,
        doc: &DocName,
        upto_seq: u64,
        state: &[u8],
    ) -> Result<(), StoreError> {
        let value = keys::encode_snapshot(upto_seq, state);
        self.metrics
            .bytes_persisted
            .fetch_add(value.len() as u64, std::sync::atomic::Ordering::Relaxed);
        self.snap.insert(doc.as_str(), value)?;
        Ok(())
    }

    /// Waits until everything written before this call is on disk. Calls from all rooms
    /// that arrive while a flush runs share the next one (group commit).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, done) = oneshot::channel();
        self.flusher
            .send(reply)
            .await
            .map_err(|_| StoreError::Closed)?;
        done.await.map_err(|_| StoreError::Closed)?
    }
}

/// Milliseconds since the Unix epoch: the clock of records and metadata.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Group commit: one `sled::Db::flush` for every waiter that queued up meanwhile.
///
/// A waiter is only queued after its writes were made, so a flush that starts after the
/// waiter was taken from the queue covers them.
async fn run_flusher(
    db: sled::Db,
    mut requests: mpsc::Receiver<FlushReply>,
    metrics: Arc<Metrics>,
) {
    while let Some(first) = requests.recv().await {
        let mut waiters = vec![first];
        while let Ok(more) = requests.try_recv() {
            waiters.push(more);
        }
        let started = Instant::now();
        let db = db.clone();
        let result = match tokio::task::spawn_blocking(move || db.flush()).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(StoreError::from(e)),
            Err(_) => Err(StoreError::Closed),
        };
        metrics.observe_flush(started.elapsed());
        if let Err(e) = &result {
            tracing::error!(error = %e, "store flush failed");
        }
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
}

/// Changes the JSON record under `key` atomically (sled retries `change` if another writer
/// got there first); `None` if there is no record. A record that does not decode is left
/// as it is and reported as corrupt.
fn update_json<T: Serialize + serde::de::DeserializeOwned>(
    tree: &sled::Tree,
    key: &[u8],
    what: &str,
    mut change: impl FnMut(&mut T),
) -> Result<Option<T>, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("{what}: {e}"));
    let mut failed = None;
    let updated = tree.update_and_fetch(key, |old| {
        let old = old?;
        match serde_json::from_slice::<T>(old) {
            Ok(mut value) => {
                change(&mut value);
                Some(serde_json::to_vec(&value).unwrap_or_else(|_| old.to_vec()))
            }
            Err(e) => {
                failed = Some(corrupt(e));
                Some(old.to_vec())
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    updated
        .map(|v| serde_json::from_slice(&v).map_err(corrupt))
        .transpose()
}

fn encode_meta(meta: &DocMeta) -> Vec<u8> {
    serde_json::to_vec(meta).unwrap_or_default()
}

fn decode_meta(value: &[u8]) -> Result<DocMeta, StoreError> {
    serde_json::from_slice(value)
        .map_err(|e| StoreError::Corrupt(format!("document metadata: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> DocName {
        DocName::parse(s).unwrap()
    }

    fn record(update: &[u8]) -> Record {
        Record {
            ts_ms: 1,
            author: None,
            update: update.to_vec(),
        }
    }

    #[tokio::test]
    async fn load_reads_snapshot_and_tail_and_keeps_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20, Arc::default()).unwrap();
        let doc = name("d");
        for seq in 0..5 {
            store.append(&doc, seq, &record(&[seq as u8])).unwrap();
        }
        store.append(&name("d.other"), 0, &record(&[99])).unwrap();
        store.put_snapshot(&doc, 2, b"state").unwrap();
        store.flush().await.unwrap();

        let loaded = store.load(&doc).unwrap();
        assert_eq!(loaded.snapshot.as_deref(), Some(&b"state"[..]));
        assert_eq!(
            loaded.tail.iter().map(|r| r.update[0]).collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(loaded.next_seq, 5);
        assert_eq!(
            store.history(&doc).count(),
            5,
            "checkpointing keeps history"
        );
    }

    #[tokio::test]
    async fn compaction_merges_runs_within_the_window_per_author() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20, Arc::default()).unwrap();
        let doc = name("c");
        let record = |ts_ms: u64, author: Option<&str>, update: &[u8]| Record {
            ts_ms,
            author: author.map(str::to_owned),
            update: update.to_vec(),
        };
        let at = |ts_ms, author, byte| record(ts_ms, author, &[byte]);
        let records = [
            at(0, None, 1),
            at(400, None, 2),
            at(900, None, 3),
            at(1000, None, 4), // a second after the run began: a new run
            at(1100, Some("anna"), 5),
            at(1200, Some("anna"), 6),
            at(1300, None, 7),
            record(1400, None, &[8, 8, 8]), // too big to join a run
        ];
        for (seq, record) in records.iter().enumerate() {
            store.append(&doc, seq as u64, record).unwrap();
        }
        let concat = |updates: &[&[u8]]| Some(updates.concat());
        let runs = Runs {
            window_ms: 1000,
            small_record: 2,
            max_run_bytes: 3,
        };
        let done = store.compact(&doc, 0, 7, runs, concat).unwrap();
        assert_eq!(
            done,
            Compacted {
                records_before: 5,
                records_after: 2
            }
        );
        let history: Vec<(u64, Record)> = store.history(&doc).map(Result::unwrap).collect();
        assert_eq!(
            history,
            vec![
                (2, record(900, None, &[1, 2, 3])),
                (3, at(1000, None, 4)),
                (5, record(1200, Some("anna"), &[5, 6])),
                (6, at(1300, None, 7)),
                (7, record(1400, None, &[8, 8, 8])),
            ]
        );
        // Loading still yields every update, in order.
        let all: Vec<u8> = store
            .load(&doc)
            .unwrap()
            .tail
            .iter()
            .flat_map(|r| r.update.clone())
            .collect();
        assert_eq!(all, vec![1, 2, 3, 4, 5, 6, 7, 8, 8, 8]);

        // A run stops at max_run_bytes.
        let doc = name("d");
        for seq in 0..5 {
            store.append(&doc, seq, &at(seq, None, seq as u8)).unwrap();
        }
        let done = store.compact(&doc, 0, 4, runs, concat).unwrap();
        assert_eq!(
            done,
            Compacted {
                records_before: 5,
                records_after: 2
            }
        );
        assert_eq!(store.history(&doc).count(), 2, "runs of 3 and 2 records");
    }

    #[tokio::test]
    async fn create_refuses_a_taken_name_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let meta = DocMeta::new("Ü", 1);
        {
            let store = Store::open(dir.path(), 1 << 20, Arc::default()).unwrap();
            store
                .create(&name("x"), &meta, Some(record(&[7])))
                .await
                .unwrap();
            assert!(matches!(
                store.create(&name("x"), &meta, None).await,
                Err(StoreError::Exists)
            ));
        }
        // Let the flusher see its channel close and release the database lock.
        let mut reopened = Store::open(dir.path(), 1 << 20, Arc::default());
        for _ in 0..500 {
            if reopened.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            reopened = Store::open(dir.path(), 1 << 20, Arc::default());
        }
        let store = reopened.unwrap();
        assert_eq!(store.list().unwrap(), vec![(name("x"), meta)]);
        assert_eq!(store.load(&name("x")).unwrap().tail, vec![record(&[7])]);
    }
}

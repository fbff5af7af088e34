//! The `Store`: sled behind typed methods. Document metadata, the append-only update log
//! (the history), snapshots, access records, and group-commit durability.
//!
//! sled never leaks out of this module. Nothing here knows about yrs documents or
//! websockets: updates are bytes, the room decides what they mean.
//!
//! What it promises: a value read is the value written (every value is sealed with a
//! checksum, `keys::seal`); a document whose log lost records is refused, never served
//! short (each record names the one before it, and `heads` holds the last one); a flush
//! that returns `Ok` made every earlier write durable (`disk::Durable`); and after a flush
//! failed, nothing unflushed is served (`disk`, the failing state).

mod access;
mod archive;
mod check;
mod disk;
mod export;
mod keys;
mod table;
mod versions;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

pub use access::{Joined, Scope};
pub use archive::Appended;
pub use check::DocForCheck;
pub use disk::FlushHook;
pub use keys::Record;

use crate::metrics::Metrics;
use crate::name::DocName;
use disk::{Durable, Trees};

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("storage failed: {0}")]
    Sled(Arc<sled::Error>),
    #[error("storage failed: {0}")]
    Io(Arc<std::io::Error>),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("the data directory cannot be opened: {0}")]
    Unreadable(String),
    #[error("the data directory is in use by another Leitbild server")]
    Locked,
    #[error("storage is failing ({0}); nothing is served until writes succeed again")]
    Failing(String),
    #[error("document already exists")]
    Exists,
    #[error("the store has shut down")]
    Closed,
    #[error("no such record")]
    Missing,
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(Arc::new(e))
    }
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
    /// Words in the text, counted when the metadata was last brought up to date.
    #[serde(default)]
    pub words: u64,
    /// The identity that made the latest edit counted here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<String>,
    /// Set while the document is in the trash (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<u64>,
    /// The log's last record when the metadata was last brought up to date. The log never
    /// ends before it: compaction keeps each run's last record, and only a purge removes
    /// records (and this with them). A log that does end before it lost records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<u64>,
}

impl DocMeta {
    /// Metadata of a document created now, with nothing written yet.
    pub fn new(title: &str, now: u64) -> DocMeta {
        DocMeta {
            title: title.to_owned(),
            created_at: now,
            updated_at: now,
            size: 0,
            words: 0,
            updated_by: None,
            deleted_at: None,
            head: None,
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
    /// The last record's sequence number: the `prev` of the next one.
    pub last_seq: Option<u64>,
}

/// A flush's answer: the epoch of the database it made durable.
type FlushReply = oneshot::Sender<Result<u64, StoreError>>;

struct Shared {
    dir: PathBuf,
    cache_bytes: u64,
    /// `None` only while a failed database is being reopened.
    trees: RwLock<Option<Arc<Trees>>>,
    /// Why storage is failing; `None` while it works.
    failing: Mutex<Option<String>>,
    /// Wakes the idle flusher when a write (not a flush) finds storage failing, so that
    /// recovery starts without waiting for the next flush request.
    failed: tokio::sync::Notify,
    /// The incarnation of the database: one more with every reopen.
    epoch: AtomicU64,
    metrics: Arc<Metrics>,
    /// Held while a document is loaded or its log compacted: sled iterators are not
    /// snapshots, so a load running beside a compaction could read half a merged run.
    log_rewrite: Mutex<()>,
    /// One more whenever records already in a log may have changed or gone (a
    /// compaction, a purge): what was read of a log before is stale then.
    log_rewrites: AtomicU64,
    /// Held while an entry is added to the archive: each entry links to the one before.
    archive_append: tokio::sync::Mutex<()>,
}

/// The handle to the database. Cheap to clone; all clones share one flusher.
pub struct Store {
    shared: Arc<Shared>,
    flusher: mpsc::Sender<FlushReply>,
    /// The oldest database epoch this handle wrote to since its last flush. A write that
    /// went to a database that failed and was reopened since is lost: its flush must not
    /// say otherwise. Each clone (a room, a request) tracks its own writes.
    written: AtomicU64,
}

impl Clone for Store {
    fn clone(&self) -> Self {
        Store {
            shared: self.shared.clone(),
            flusher: self.flusher.clone(),
            written: AtomicU64::new(u64::MAX),
        }
    }
}

impl Store {
    /// Opens (or creates) the database in `dir` and starts the group-commit flusher.
    /// Must be called inside a tokio runtime.
    pub fn open(dir: &Path, cache_bytes: u64, metrics: Arc<Metrics>) -> Result<Store, StoreError> {
        Self::open_with(dir, cache_bytes, metrics, FlushHook::default())
    }

    /// [`Store::open`] with a hook called before every flush (fault injection).
    pub fn open_with(
        dir: &Path,
        cache_bytes: u64,
        metrics: Arc<Metrics>,
        hook: FlushHook,
    ) -> Result<Store, StoreError> {
        let trees = disk::open(dir, cache_bytes, 0)?;
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            cache_bytes,
            trees: RwLock::new(Some(Arc::new(trees))),
            failing: Mutex::new(None),
            failed: tokio::sync::Notify::new(),
            epoch: AtomicU64::new(0),
            metrics,
            log_rewrite: Mutex::new(()),
            log_rewrites: AtomicU64::new(0),
            archive_append: tokio::sync::Mutex::new(()),
        });
        let (flusher, requests) = mpsc::channel(4096);
        tokio::spawn(run_flusher(
            shared.clone(),
            requests,
            Durable::new(dir, hook),
        ));
        Ok(Store {
            shared,
            flusher,
            written: AtomicU64::new(u64::MAX),
        })
    }

    /// Whether `dir` holds a store already (a check of a data directory must not create
    /// one where there is none).
    pub fn exists_in(dir: &Path) -> bool {
        disk::holds_store(dir)
    }

    /// The open database, unless storage is failing.
    fn trees(&self) -> Result<Arc<Trees>, StoreError> {
        if let Some(why) = self.failing() {
            return Err(StoreError::Failing(why));
        }
        let trees = self.shared.trees.read().unwrap_or_else(|e| e.into_inner());
        trees
            .clone()
            .ok_or_else(|| StoreError::Failing("the database is being reopened".into()))
    }

    /// [`Store::trees`] for a write, which the next flush of this handle must cover.
    fn writing(&self) -> Result<Arc<Trees>, StoreError> {
        let trees = self.trees()?;
        self.written.fetch_min(trees.epoch, Relaxed);
        Ok(trees)
    }

    /// Runs the writes in `f`. One that sled refused (an I/O error: it refuses all
    /// writes after one) makes the store failing, like a failed flush.
    fn write<T>(&self, f: impl FnOnce(&Trees) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let result = f(&*self.writing()?);
        if let Err(e @ (StoreError::Sled(_) | StoreError::Io(_))) = &result {
            fail(&self.shared, e);
        }
        result
    }

    fn failing(&self) -> Option<String> {
        self.shared
            .failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `Err(why)` while storage is failing.
    pub fn health(&self) -> Result<(), String> {
        self.failing().map_or(Ok(()), Err)
    }

    /// Counts and logs damaged data found on a read path.
    fn damaged(&self, e: StoreError) -> StoreError {
        if let StoreError::Corrupt(detail) = &e {
            tracing::error!(%detail, "damaged data in the store");
            self.shared.metrics.corrupt.fetch_add(1, Relaxed);
        }
        e
    }

    /// All documents with their metadata, in name order. A document whose metadata is
    /// damaged is left out (and logged), not the whole list.
    pub fn list(&self) -> Result<Vec<(DocName, DocMeta)>, StoreError> {
        let trees = self.trees()?;
        let mut docs = Vec::new();
        for entry in trees.meta.iter() {
            let listed = entry.and_then(|(key, value)| {
                let name = std::str::from_utf8(&key)
                    .ok()
                    .and_then(|s| DocName::parse(s).ok())
                    .ok_or_else(|| StoreError::Corrupt("a document key".into()))?;
                Ok((name, trees.meta.decode(&key, &value)?))
            });
            match listed {
                Ok(doc) => docs.push(doc),
                Err(e @ StoreError::Corrupt(_)) => {
                    self.damaged(e);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(docs)
    }

    pub fn meta(&self, doc: &DocName) -> Result<Option<DocMeta>, StoreError> {
        self.trees()?
            .meta
            .get_json(doc.as_str())
            .map_err(|e| self.damaged(e))
    }

    /// Changes a document's metadata in place, atomically with respect to every other
    /// change of it (a rename never loses to a room's size update, nor the other way
    /// round). `None` if the document does not exist. Durable with the next flush.
    pub fn update_meta(
        &self,
        doc: &DocName,
        change: impl FnMut(&mut DocMeta),
    ) -> Result<Option<DocMeta>, StoreError> {
        self.write(|trees| {
            trees
                .meta
                .update_json(doc.as_str(), change)
                .map_err(|e| self.damaged(e))
        })
    }

    /// Removes a document's metadata, log and snapshot for good (a trash entry that has
    /// expired). Durable with the next flush.
    pub fn purge(&self, doc: &DocName) -> Result<(), StoreError> {
        self.write(|trees| {
            let _exclusive = self
                .shared
                .log_rewrite
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let keys = trees
                .log
                .keys_with_prefix(&keys::log_prefix(doc))
                .collect::<Result<Vec<_>, _>>()?;
            self.shared.log_rewrites.fetch_add(1, Relaxed);
            trees.log.apply(Vec::new(), keys)?;
            // Versions: the metadata first, so that no version is listed without its state.
            for table in [&trees.versions, &trees.version_states] {
                let keys = table
                    .keys_with_prefix(&keys::log_prefix(doc))
                    .collect::<Result<Vec<_>, _>>()?;
                table.apply(Vec::new(), keys)?;
            }
            trees.snap.remove(doc.as_str())?;
            trees.heads.remove(doc.as_str())?;
            trees.meta.remove(doc.as_str())?;
            Ok(())
        })
    }

    /// Registers a new document, with an optional first update, and makes it durable.
    /// Fails with [`StoreError::Exists`] if the name is taken, and refuses to register a
    /// name whose log exists (its metadata was lost: that is damage, not a free name).
    pub async fn create(
        &self,
        doc: &DocName,
        meta: &DocMeta,
        first: Option<Record>,
    ) -> Result<(), StoreError> {
        self.write(|trees| {
            if trees.heads.get(doc.as_str())?.is_some() && trees.meta.get(doc.as_str())?.is_none() {
                return Err(self.damaged(StoreError::Corrupt(format!(
                    "{doc} has a log but no metadata"
                ))));
            }
            let value = serde_json::to_vec(meta).unwrap_or_default();
            if !trees.meta.insert_new(doc.as_str(), &value)? {
                return Err(StoreError::Exists);
            }
            Ok(())
        })?;
        if let Some(record) = first {
            self.append(doc, 0, None, &record)?;
        }
        self.flush().await
    }

    /// Reads the latest snapshot and the log after it, and checks that the log is whole:
    /// every record names the one before it, and the last one is the one `heads` names.
    /// A damaged snapshot is passed over (the log holds everything; it just takes longer
    /// to replay); a damaged or missing record makes the document refused.
    pub fn load(&self, doc: &DocName) -> Result<Loaded, StoreError> {
        self.load_checked(doc).map_err(|e| self.damaged(e))
    }

    fn load_checked(&self, doc: &DocName) -> Result<Loaded, StoreError> {
        let trees = self.trees()?;
        let _exclusive = self
            .shared
            .log_rewrite
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut loaded = Loaded::default();
        let snapshot = match trees.snap.get(doc.as_str()) {
            Ok(Some(value)) => {
                keys::decode_snapshot(&value).map(|(upto, state)| (upto, state.to_vec()))
            }
            Ok(None) => None,
            Err(StoreError::Corrupt(detail)) => {
                tracing::warn!(%doc, %detail, "damaged snapshot: replaying the whole log instead");
                None
            }
            Err(e) => return Err(e),
        };
        let mut from = 0;
        let mut expected_prev = keys::NO_PREV;
        if let Some((upto, state)) = snapshot {
            loaded.snapshot = Some(state);
            loaded.snapshot_seq = upto;
            from = upto + 1;
            // The record the tail must continue from: the last one the snapshot covers.
            if let Some(entry) = trees
                .log
                .range(keys::log_key(doc, 0)..keys::log_key(doc, from))
                .next_back()
            {
                let (key, _) = entry?;
                expected_prev = keys::log_seq(&key).unwrap_or(keys::NO_PREV);
            }
        }
        let broken = |what: String| StoreError::Corrupt(format!("the log of {doc} {what}"));
        let mut last = (expected_prev != keys::NO_PREV).then_some(expected_prev);
        for entry in trees
            .log
            .range(keys::log_key(doc, from)..keys::log_key(doc, u64::MAX))
        {
            let (key, value) = entry?;
            let seq = keys::log_seq(&key).ok_or_else(|| broken("has a bad key".into()))?;
            let stored = keys::decode_record(&value)
                .ok_or_else(|| broken(format!("has an unreadable record {seq}")))?;
            if let Some(prev) = stored.prev {
                if prev != expected_prev {
                    return Err(broken(format!(
                        "is missing records before {seq} (it follows {prev}, the log has {})",
                        last.map_or("nothing".into(), |l| l.to_string())
                    )));
                }
            }
            expected_prev = seq;
            last = Some(seq);
            loaded.tail.push(stored.record);
        }
        if let Some(value) = trees.heads.get(doc.as_str())? {
            let head = value
                .try_into()
                .map(u64::from_be_bytes)
                .map_err(|_| broken("has an unreadable head".into()))?;
            if last.is_none_or(|l| l < head) {
                return Err(broken(format!(
                    "ends at {}, but record {head} was written",
                    last.map_or("nothing".into(), |l| l.to_string())
                )));
            }
        }
        // Nothing but a purge removes log records, and a purge removes the metadata too:
        // metadata that counts more than the log holds means the log lost records (damage
        // sled recovered from silently, rolling some of its pages back), not a shorter
        // document.
        if let Some(meta) = trees.meta.get_json::<DocMeta>(doc.as_str())? {
            if last.is_none() && loaded.snapshot.is_none() && meta.size > 0 {
                return Err(broken(format!(
                    "is empty, but {} bytes were written to it",
                    meta.size
                )));
            }
            if let Some(head) = meta.head.filter(|&head| last.is_none_or(|l| l < head)) {
                return Err(broken(format!(
                    "ends at {}, but its metadata counted record {head}",
                    last.map_or("nothing".into(), |l| l.to_string())
                )));
            }
        }
        loaded.last_seq = last;
        loaded.next_seq = last.map_or(0, |l| l + 1);
        // Never hand out a sequence number the snapshot already covers: a record there
        // would be skipped by every later load.
        if loaded.snapshot.is_some() {
            loaded.next_seq = loaded.next_seq.max(loaded.snapshot_seq + 1);
        }
        Ok(loaded)
    }

    /// Every log record of a document, oldest first: its whole history.
    pub fn history(
        &self,
        doc: &DocName,
    ) -> impl Iterator<Item = Result<(u64, Record), StoreError>> {
        self.history_after(doc, None)
    }

    /// The log records of a document after sequence number `after` (all of them for
    /// `None`), oldest first. Records read before stay as they were as long as
    /// [`Store::log_rewrites`] does not change.
    pub fn history_after(
        &self,
        doc: &DocName,
        after: Option<u64>,
    ) -> impl Iterator<Item = Result<(u64, Record), StoreError>> {
        let read = || -> Result<Vec<(u64, Record)>, StoreError> {
            let trees = self.trees()?;
            let _exclusive = self
                .shared
                .log_rewrite
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let start = match after {
                Some(seq) => keys::log_key(doc, seq.saturating_add(1)),
                None => keys::log_prefix(doc),
            };
            let end = keys::log_key(doc, u64::MAX);
            trees
                .log
                .range(start..=end)
                .map(|entry| {
                    let (key, value) = entry?;
                    let seq =
                        keys::log_seq(&key).ok_or_else(|| StoreError::Corrupt("log key".into()))?;
                    let stored = keys::decode_record(&value)
                        .ok_or_else(|| StoreError::Corrupt("log record".into()))?;
                    Ok((seq, stored.record))
                })
                .collect()
        };
        let records: Vec<Result<(u64, Record), StoreError>> = match read() {
            Ok(records) => records.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(self.damaged(e))],
        };
        records.into_iter()
    }

    /// How often records already in a log were rewritten or removed since the store
    /// opened (a compaction, a purge, a reopen after a failure): read it before reading a
    /// log, and when it changed, what was read may be stale.
    pub fn log_rewrites(&self) -> u64 {
        self.shared.log_rewrites.load(Relaxed) + self.shared.epoch.load(Relaxed)
    }

    /// Merges runs of consecutive small log records in `from..=to` (see [`Runs`]) into
    /// one record each, with `merge` (which combines updates; `None` leaves the run as it
    /// is). Each run becomes its last record's key and timestamp, and names the record
    /// before the run as its predecessor; nothing of the content is lost, only the
    /// granularity of history is coarsened to the window.
    pub fn compact(
        &self,
        doc: &DocName,
        from: u64,
        to: u64,
        runs_of: Runs,
        merge: impl Fn(&[&[u8]]) -> Option<Vec<u8>>,
    ) -> Result<Compacted, StoreError> {
        self.write(|trees| {
            let _exclusive = self
                .shared
                .log_rewrite
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let mut runs: Vec<Vec<(u64, keys::Stored)>> = Vec::new();
            let mut run_bytes = 0;
            for entry in trees
                .log
                .range(keys::log_key(doc, from)..=keys::log_key(doc, to))
            {
                let (key, value) = entry?;
                let seq =
                    keys::log_seq(&key).ok_or_else(|| StoreError::Corrupt("log key".into()))?;
                let stored = keys::decode_record(&value)
                    .ok_or_else(|| StoreError::Corrupt("log record".into()))?;
                let record = &stored.record;
                let size = record.update.len();
                let small = size <= runs_of.small_record;
                let joins = small
                    && run_bytes + size <= runs_of.max_run_bytes
                    && runs
                        .last()
                        .and_then(|run| run.first())
                        .is_some_and(|(_, first)| {
                            first.record.update.len() <= runs_of.small_record
                                && first.record.author == record.author
                                && record.ts_ms.saturating_sub(first.record.ts_ms)
                                    < runs_of.window_ms
                        });
                match runs.last_mut() {
                    Some(run) if joins => {
                        run_bytes += size;
                        run.push((seq, stored));
                    }
                    _ => {
                        run_bytes = size;
                        runs.push(vec![(seq, stored)]);
                    }
                }
            }
            let mut done = Compacted::default();
            let mut inserts = Vec::new();
            let mut removals = Vec::new();
            for run in runs.iter().filter(|run| run.len() > 1) {
                let updates: Vec<&[u8]> = run
                    .iter()
                    .map(|(_, r)| r.record.update.as_slice())
                    .collect();
                let Some(update) = merge(&updates) else {
                    continue;
                };
                // The run becomes its *last* key: the highest sequence number of the log never
                // goes away, so the next one handed out after a reload stays above it.
                let Some(((last_seq, last), earlier)) = run.split_last() else {
                    continue;
                };
                let prev = run[0].1.prev.unwrap_or(keys::NO_PREV);
                let merged = Record {
                    ts_ms: last.record.ts_ms,
                    author: last.record.author.clone(),
                    update,
                };
                inserts.push((
                    keys::log_key(doc, *last_seq),
                    keys::encode_record(&merged, prev),
                ));
                removals.extend(earlier.iter().map(|(seq, _)| keys::log_key(doc, *seq)));
                done.records_before += run.len() as u64;
                done.records_after += 1;
            }
            // One atomic batch; loads wait for it (see `log_rewrite`). Runs hold only
            // small records, so none of the keys rewritten had its value in parts.
            if !inserts.is_empty() {
                self.shared.log_rewrites.fetch_add(1, Relaxed);
            }
            trees.log.apply_over_small(inserts, removals)?;
            Ok(done)
        })
    }

    /// Appends record `seq` to the log, after record `prev` (`None` for the document's
    /// first), and makes it the document's head. Not durable until [`Store::flush`]
    /// returns. Returns the bytes written.
    pub fn append(
        &self,
        doc: &DocName,
        seq: u64,
        prev: Option<u64>,
        record: &Record,
    ) -> Result<u64, StoreError> {
        self.write(|trees| {
            let value = keys::encode_record(record, prev.unwrap_or(keys::NO_PREV));
            let bytes = value.len() as u64;
            trees.log.insert(keys::log_key(doc, seq), &value)?;
            // After the record: a crash between the two leaves the head behind the log,
            // which a load accepts, never ahead of it.
            trees.heads.insert(doc.as_str(), &seq.to_be_bytes())?;
            self.shared
                .metrics
                .bytes_persisted
                .fetch_add(bytes, Relaxed);
            Ok(bytes)
        })
    }

    /// Replaces the document's snapshot. The log records it covers stay: they are history.
    pub fn put_snapshot(
        &self,
        doc: &DocName,
        upto_seq: u64,
        state: &[u8],
    ) -> Result<(), StoreError> {
        self.write(|trees| {
            let value = keys::encode_snapshot(upto_seq, state);
            self.shared
                .metrics
                .bytes_persisted
                .fetch_add(value.len() as u64, Relaxed);
            trees.snap.insert(doc.as_str(), &value)
        })
    }

    /// Waits until everything this handle wrote before the call is durable. Calls from
    /// all rooms that arrive while a flush runs share the next one (group commit).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let written = self.written.swap(u64::MAX, Relaxed);
        let (reply, done) = oneshot::channel();
        self.flusher
            .send(reply)
            .await
            .map_err(|_| StoreError::Closed)?;
        let epoch = done.await.map_err(|_| StoreError::Closed)??;
        if written < epoch {
            return Err(StoreError::Failing(
                "written to the database before it failed and was reopened".into(),
            ));
        }
        Ok(())
    }
}

/// Milliseconds since the Unix epoch: the clock of records and metadata.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How often a failing store tries to recover.
const RECOVERY_INTERVAL: Duration = Duration::from_secs(1);

/// Group commit: one durable sync for every waiter that queued up meanwhile.
///
/// A waiter is only queued after its writes were made, so a flush that starts after the
/// waiter was taken from the queue covers them. While storage is failing, waiters are
/// refused at once, and once a second the database is reopened and tried again.
async fn run_flusher(
    shared: Arc<Shared>,
    mut requests: mpsc::Receiver<FlushReply>,
    durable: Durable,
) {
    let mut durable = Some(durable);
    loop {
        let failing = shared
            .failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let first = match &failing {
            None => tokio::select! {
                request = requests.recv() => match request {
                    Some(first) => Some(first),
                    None => break,
                },
                () = shared.failed.notified() => continue,
            },
            Some(_) => tokio::select! {
                request = requests.recv() => match request {
                    Some(first) => Some(first),
                    None => break,
                },
                () = tokio::time::sleep(RECOVERY_INTERVAL) => None,
            },
        };
        let mut waiters: Vec<FlushReply> = first.into_iter().collect();
        while let Ok(more) = requests.try_recv() {
            waiters.push(more);
        }
        if let Some(why) = failing {
            for waiter in waiters {
                let _ = waiter.send(Err(StoreError::Failing(why.clone())));
            }
            recover(&shared, &mut durable).await;
            continue;
        }
        let trees = shared
            .trees
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let Some(trees) = trees else { continue };
        let started = Instant::now();
        let result = sync(&mut durable, &shared.dir, trees.clone())
            .await
            .map(|()| trees.epoch);
        shared.metrics.observe_flush(started.elapsed());
        if let Err(e) = &result {
            fail(&shared, e);
        }
        drop(trees);
        for waiter in waiters {
            let _ = waiter.send(result.clone());
        }
    }
}

/// One durable sync of `trees`' database, on a blocking thread.
async fn sync(
    durable: &mut Option<Durable>,
    dir: &Path,
    trees: Arc<Trees>,
) -> Result<(), StoreError> {
    let mut syncer = durable
        .take()
        .unwrap_or_else(|| Durable::new(dir, FlushHook::default()));
    let (syncer, result) = tokio::task::spawn_blocking(move || {
        let result = syncer.sync(&trees);
        (syncer, result)
    })
    .await
    .map_err(|_| StoreError::Closed)?;
    *durable = Some(syncer);
    result
}

fn fail(shared: &Shared, e: &StoreError) {
    tracing::error!(error = %e, "store flush failed: storage is failing; nothing is served until writes succeed again");
    shared.metrics.storage_failing.store(1, Relaxed);
    *shared.failing.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
    shared.failed.notify_one();
}

/// Takes the failed database out of service, reopens it from disk (so that nothing it
/// held only in memory can be served) and tries a durable sync on it; only when that
/// succeeds does the store serve again.
async fn recover(shared: &Arc<Shared>, durable: &mut Option<Durable>) {
    let taken = shared
        .trees
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(mut old) = taken {
        // Writes in progress hold the old database for microseconds; sled keeps its files
        // locked until the last handle is gone.
        let mut waited = 0;
        loop {
            match Arc::try_unwrap(old) {
                Ok(trees) => {
                    // Dropping a sled database flushes it: not on the runtime's threads.
                    let _ = tokio::task::spawn_blocking(move || drop(trees)).await;
                    break;
                }
                Err(held) if waited < 100 => {
                    old = held;
                    waited += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(held) => {
                    tracing::warn!("storage still failing: the failed database is still in use");
                    *shared.trees.write().unwrap_or_else(|e| e.into_inner()) = Some(held);
                    return;
                }
            }
        }
    }
    let epoch = shared.epoch.fetch_add(1, Relaxed) + 1;
    let (dir, cache) = (shared.dir.clone(), shared.cache_bytes);
    let opened = tokio::task::spawn_blocking(move || disk::open(&dir, cache, epoch))
        .await
        .unwrap_or(Err(StoreError::Closed));
    let trees = match opened {
        Ok(trees) => Arc::new(trees),
        Err(e) => {
            tracing::warn!(error = %e, "storage still failing: cannot reopen the database");
            *shared.failing.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
            return;
        }
    };
    if let Some(durable) = durable {
        durable.reopened();
    }
    let synced = sync(durable, &shared.dir, trees.clone()).await;
    *shared.trees.write().unwrap_or_else(|e| e.into_inner()) = Some(trees);
    match synced {
        Ok(()) => {
            *shared.failing.lock().unwrap_or_else(|e| e.into_inner()) = None;
            shared.metrics.storage_failing.store(0, Relaxed);
            tracing::info!("storage works again: the database was reopened from disk");
        }
        Err(e) => {
            tracing::warn!(error = %e, "storage still failing");
            *shared.failing.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
        }
    }
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
    async fn versions_read_back_whole_and_go_with_a_purged_document() {
        use crate::history::version::{Kind, Version};
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20, Arc::default()).unwrap();
        let (doc, other) = (name("d"), name("e"));
        let state = vec![7u8; 10_000];
        let mut ids = Vec::new();
        for d in [&doc, &other] {
            let id = store.next_version_id().unwrap();
            let version = Version::new(id.clone(), "v".into(), Kind::Named, &state, 3, 1);
            store.put_version(d, &version, &state).await.unwrap();
            ids.push(id);
        }
        assert_eq!(store.versions(&doc).unwrap().len(), 1);
        let (version, read) = store.version(&doc, &ids[0]).unwrap().unwrap();
        assert_eq!(
            (version.id.as_str(), read),
            (ids[0].as_str(), state.clone())
        );
        assert!(
            store.version(&doc, &ids[1]).unwrap().is_none(),
            "not another doc's"
        );
        store.purge(&doc).unwrap();
        assert!(store.versions(&doc).unwrap().is_empty());
        assert!(store.version(&doc, &ids[0]).unwrap().is_none());
        assert_eq!(
            store.versions(&other).unwrap().len(),
            1,
            "other documents keep theirs"
        );
    }

    #[tokio::test]
    async fn a_lost_log_under_metadata_that_counts_writes_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20, Arc::default()).unwrap();
        let (fresh, lost) = (name("fresh"), name("lost"));
        store
            .create(&fresh, &DocMeta::new("Neu", 1), None)
            .await
            .unwrap();
        assert!(store.load(&fresh).unwrap().tail.is_empty(), "new and empty");
        let mut meta = DocMeta::new("Verloren", 1);
        meta.size = 120;
        store.create(&lost, &meta, None).await.unwrap();
        match store.load(&lost) {
            Err(StoreError::Corrupt(why)) => assert!(why.contains("120 bytes"), "{why}"),
            other => panic!("an empty log under {meta:?} was served: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_log_shorter_than_its_metadata_counted_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20, Arc::default()).unwrap();
        let doc = name("kurz");
        store
            .create(&doc, &DocMeta::new("Kurz", 1), None)
            .await
            .unwrap();
        for seq in 0..3 {
            store
                .append(&doc, seq, seq.checked_sub(1), &record(&[seq as u8]))
                .unwrap();
        }
        store.update_meta(&doc, |meta| meta.head = Some(2)).unwrap();
        assert_eq!(store.load(&doc).unwrap().tail.len(), 3, "whole");
        // As if sled had rolled the log and its head back to the first record, but not
        // the metadata.
        let trees = store.trees().unwrap();
        trees
            .log
            .apply(
                Vec::new(),
                vec![keys::log_key(&doc, 1), keys::log_key(&doc, 2)],
            )
            .unwrap();
        trees
            .heads
            .insert(doc.as_str(), &0u64.to_be_bytes())
            .unwrap();
        match store.load(&doc) {
            Err(StoreError::Corrupt(why)) => {
                assert!(why.contains("counted record 2"), "{why}")
            }
            other => panic!("a log cut short was served: {other:?}"),
        }
    }

    #[tokio::test]
    async fn load_reads_snapshot_and_tail_and_keeps_history() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20, Arc::default()).unwrap();
        let doc = name("d");
        for seq in 0..5 {
            store
                .append(&doc, seq, seq.checked_sub(1), &record(&[seq as u8]))
                .unwrap();
        }
        store
            .append(&name("d.other"), 0, None, &record(&[99]))
            .unwrap();
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
            store
                .append(&doc, seq as u64, (seq as u64).checked_sub(1), record)
                .unwrap();
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
            store
                .append(&doc, seq, seq.checked_sub(1), &at(seq, None, seq as u8))
                .unwrap();
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

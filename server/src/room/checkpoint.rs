//! Checkpoints of a room's document: the snapshot that caches the state, the compaction
//! of the log it allows, and rebuilding a document from a snapshot and the log after it.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Transact, Update};

use super::RoomError;
use crate::name::DocName;
use crate::store::{Record, Runs, Store, StoreError};

/// When a document is checkpointed: after `every` log records, after `bytes` bytes of
/// updates, or `max_age` after the first change not yet in a snapshot, whichever comes
/// first. Bytes bound the replay after a crash (the time to load grows with them, not
/// with the record count: one record may hold a whole merged batch).
#[derive(Debug, Clone)]
pub struct Due {
    pub every: u64,
    pub bytes: u64,
    pub max_age: Duration,
}

/// What the room has logged since its last snapshot, and the snapshot being written.
pub(super) struct Schedule {
    /// Log records since the last snapshot.
    records: u64,
    /// Update bytes logged since the last snapshot.
    bytes: u64,
    /// When the first record not in a snapshot was logged.
    since: Option<Instant>,
    /// Log records from here on have not been compacted yet.
    compacted_to: u64,
    /// A snapshot being written off the room's task, and where its compaction began.
    in_flight: Option<(JoinHandle<Result<(), StoreError>>, u64)>,
}

impl Schedule {
    /// The schedule of a document just loaded with `tail` records after its snapshot.
    pub fn loaded(tail: &[Record], snapshot_seq: Option<u64>) -> Schedule {
        Schedule {
            records: tail.len() as u64,
            bytes: tail.iter().map(|r| r.update.len() as u64).sum(),
            since: (!tail.is_empty()).then(Instant::now),
            compacted_to: snapshot_seq.map_or(0, |upto| upto + 1),
            in_flight: None,
        }
    }

    pub fn appended(&mut self, update_bytes: u64) {
        self.records += 1;
        self.bytes += update_bytes;
        self.since.get_or_insert_with(Instant::now);
    }

    /// Whether a checkpoint is due and none is being written.
    pub fn due(&mut self, due: &Due) -> bool {
        self.settle();
        self.in_flight.is_none()
            && (self.records >= due.every
                || self.bytes >= due.bytes
                || self.since.is_some_and(|at| at.elapsed() >= due.max_age))
    }

    /// Takes note that `checkpoint` covers the log up to its `upto`.
    fn covered(&mut self, checkpoint: &Checkpoint, next_seq: u64) {
        self.records = next_seq - 1 - checkpoint.upto;
        if self.records == 0 {
            self.bytes = 0;
            self.since = None;
        }
        self.compacted_to = checkpoint.upto + 1;
    }

    /// Writes `checkpoint` now.
    pub fn write(
        &mut self,
        checkpoint: Checkpoint,
        store: &Store,
        next_seq: u64,
    ) -> Result<(), StoreError> {
        checkpoint.write(store)?;
        self.covered(&checkpoint, next_seq);
        Ok(())
    }

    /// Writes `checkpoint` on a blocking thread; the room goes on with the next batch.
    /// It counts as done at once; if the write fails, [`Schedule::settle`] opens the range
    /// again, so the next checkpoint (or the one at unload) covers it, and the log holds
    /// everything meanwhile.
    pub fn write_in_background(&mut self, checkpoint: Checkpoint, store: &Store, next_seq: u64) {
        let from = self.compacted_to;
        self.covered(&checkpoint, next_seq);
        let store = store.clone();
        let writing = tokio::task::spawn_blocking(move || checkpoint.write(&store));
        self.in_flight = Some((writing, from));
    }

    /// Waits for the snapshot being written, if any (before the room's last checkpoint,
    /// so that an older snapshot can never land after a newer one).
    pub async fn finish(&mut self) {
        if let Some((writing, from)) = self.in_flight.take() {
            let result = writing.await.unwrap_or(Err(StoreError::Closed));
            self.failed_from(result, from);
        }
    }

    fn settle(&mut self) {
        if self
            .in_flight
            .as_ref()
            .is_some_and(|(w, _)| w.is_finished())
        {
            if let Some((writing, from)) = self.in_flight.take() {
                let result = futures_util::FutureExt::now_or_never(writing)
                    .map_or(Err(StoreError::Closed), |r| {
                        r.unwrap_or(Err(StoreError::Closed))
                    });
                self.failed_from(result, from);
            }
        }
    }

    fn failed_from(&mut self, result: Result<(), StoreError>, from: u64) {
        if let Err(e) = result {
            tracing::warn!(error = %e, "checkpoint failed; the log still holds everything, the next one covers it again");
            self.compacted_to = self.compacted_to.min(from);
            self.records = self.records.max(1);
            self.since.get_or_insert_with(Instant::now);
        }
    }

    /// The document's logged state as a snapshot covering the log up to `next_seq - 1`,
    /// if the log has grown since the last one.
    pub fn snapshot(
        &self,
        name: &DocName,
        doc: &Doc,
        next_seq: u64,
    ) -> Result<Option<Checkpoint>, StoreError> {
        if self.records == 0 || next_seq == 0 {
            return Ok(None);
        }
        let state = catch_unwind(AssertUnwindSafe(|| {
            // Not `encode_state_as_update_v2`: that includes pending items, which no log
            // record holds. A snapshot holds exactly the logged state.
            doc.transact().encode_diff_v2(&StateVector::default())
        }))
        .map_err(|_| StoreError::Corrupt(format!("{name} cannot be encoded")))?;
        Ok(Some(Checkpoint {
            doc: name.clone(),
            compact_from: self.compacted_to,
            upto: next_seq - 1,
            state,
        }))
    }
}

/// Small records of one author within a second are merged when the log is compacted:
/// the history keeps about a second's granularity, and typing costs one record per
/// second or so instead of one per keystroke.
const HISTORY_RUNS: Runs = Runs {
    window_ms: 1000,
    small_record: 1024,
    max_run_bytes: 16 * 1024,
};

/// A snapshot to write, and the log range it lets us compact.
pub(super) struct Checkpoint {
    pub doc: DocName,
    pub compact_from: u64,
    pub upto: u64,
    pub state: Vec<u8>,
}

impl Checkpoint {
    pub fn write(&self, store: &Store) -> Result<(), StoreError> {
        store.put_snapshot(&self.doc, self.upto, &self.state)?;
        let done = store.compact(&self.doc, self.compact_from, self.upto, HISTORY_RUNS, merge)?;
        tracing::debug!(doc = %self.doc, upto = self.upto, ?done, "checkpoint written");
        Ok(())
    }
}

/// How many updates yrs merges at once. Its merge costs about the square of the number
/// of updates (a batch of 680 keystrokes: 3.7 ms at once, 1.3 ms in rounds of 32), so
/// long runs are merged in rounds: groups of this many, then the groups' results.
const MERGE_FAN_IN: usize = 32;

/// The v1 updates merged into one, or `None` if yrs cannot (or panics trying).
pub(super) fn merge(updates: &[&[u8]]) -> Option<Vec<u8>> {
    if updates.len() <= MERGE_FAN_IN {
        return merge_at_once(updates);
    }
    let groups = updates
        .chunks(MERGE_FAN_IN)
        .map(merge_at_once)
        .collect::<Option<Vec<_>>>()?;
    merge(&groups.iter().map(Vec::as_slice).collect::<Vec<_>>())
}

fn merge_at_once(updates: &[&[u8]]) -> Option<Vec<u8>> {
    catch_unwind(|| yrs::merge_updates_v1(updates.iter().copied()).ok())
        .ok()
        .flatten()
}

/// A document from a snapshot and the log records after it. Stored updates were checked
/// when they arrived, so a failure here means corruption, not hostility.
pub(super) fn rebuild(snapshot: Option<&[u8]>, tail: &[Record]) -> Result<Doc, RoomError> {
    let doc = crate::demo::server_doc();
    {
        let mut txn = doc.transact_mut();
        let load = |e: &dyn std::fmt::Display| RoomError::Load(e.to_string());
        if let Some(state) = snapshot {
            let update = Update::decode_v2(state).map_err(|e| load(&e))?;
            txn.apply_update(update).map_err(|e| load(&e))?;
        }
        for record in tail {
            let update = Update::decode_v1(&record.update).map_err(|e| load(&e))?;
            txn.apply_update(update).map_err(|e| load(&e))?;
        }
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use yrs::{GetString, Text};

    use super::*;

    #[test]
    fn merging_in_rounds_gives_the_document_of_every_update_applied() {
        let typed = Doc::with_client_id(7);
        let text = typed.get_or_insert_text("t");
        let mut updates = Vec::new();
        for i in 0..(MERGE_FAN_IN * MERGE_FAN_IN + 5) as u32 {
            let before = typed.transact().state_vector();
            {
                let mut txn = typed.transact_mut();
                let len = text.len(&txn);
                if i % 7 == 3 && len > 3 {
                    text.remove_range(&mut txn, len - 2, 1);
                } else {
                    text.insert(&mut txn, (i * 31) % (len + 1), "ab");
                }
            }
            updates.push(typed.transact().encode_diff_v1(&before));
        }
        let slices: Vec<&[u8]> = updates.iter().map(Vec::as_slice).collect();
        let merged = merge(&slices).expect("merges");

        let loaded = Doc::new();
        let update = Update::decode_v1(&merged).expect("decodes");
        loaded.transact_mut().apply_update(update).expect("applies");
        let loaded_text = loaded
            .get_or_insert_text("t")
            .get_string(&loaded.transact());
        assert_eq!(loaded_text, text.get_string(&typed.transact()));
        assert!(loaded.transact().store().pending_update().is_none());
        assert_eq!(
            loaded.transact().state_vector(),
            typed.transact().state_vector()
        );
    }
}

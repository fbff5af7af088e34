//! Checkpoints of a room's document: the snapshot that caches the state, the compaction
//! of the log it allows, and rebuilding a document from a snapshot and the log after it.

use std::panic::catch_unwind;

use yrs::updates::decoder::Decode;
use yrs::{Doc, Transact, Update};

use super::RoomError;
use crate::name::DocName;
use crate::store::{Record, Runs, Store, StoreError};

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

/// The v1 updates merged into one, or `None` if yrs cannot (or panics trying).
pub(super) fn merge(updates: &[&[u8]]) -> Option<Vec<u8>> {
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

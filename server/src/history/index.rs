//! What history requests keep of a document's log between them: its records, their
//! authorship, and states at points already replayed to. Pure: the caller reads the
//! store and hands new records in.
//!
//! A diff or a blame needs the authorship of the whole log, and the text at a moment a
//! replay of the log up to it. Both take tens of milliseconds on a long log, and a
//! moderator asks again and again (moving the slider, comparing one point with another),
//! so each document's index is kept and only the records written since are added. It is
//! memory only, off the live path: nothing of it is written, and the rooms never wait
//! for it.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use yrs::{Doc, ReadTxn, StateVector, Transact};

use super::authorship::Authorship;
use crate::store::Record;

/// Documents whose index is kept; the least recently used one goes first.
const DOCS: usize = 4;
/// States kept per document, and the fewest records a replay must cover before its end
/// is worth keeping: a shorter one is quickly done again.
const POINTS: usize = 16;
const POINT_GAP: usize = 32;
/// Bytes of states kept per document at most.
const POINT_BYTES: usize = 32 << 20;

/// One document's log as read so far.
#[derive(Default)]
pub struct Index {
    /// The store's count of log rewrites when the first record was read (see
    /// `Store::log_rewrites`): when it moved, the records here may be stale.
    rewrites: u64,
    seqs: Vec<u64>,
    records: Vec<Record>,
    authorship: Authorship,
    /// How many of the records `authorship` covers (it is read only when asked for).
    authored: usize,
    /// The state (a v1 update) after the first `n` records, oldest kept first.
    points: VecDeque<(usize, Arc<[u8]>)>,
}

impl Index {
    /// Starts over when the log was rewritten since this index read it (`rewrites` is
    /// the store's count, read before the records that follow).
    pub fn renew(&mut self, rewrites: u64) {
        if self.rewrites != rewrites {
            *self = Index {
                rewrites,
                ..Index::default()
            };
        }
    }

    /// The sequence number of the last record read, if any.
    pub fn last_seq(&self) -> Option<u64> {
        self.seqs.last().copied()
    }

    /// Adds the records written since [`Index::last_seq`], oldest first.
    pub fn extend(&mut self, records: impl IntoIterator<Item = (u64, Record)>) {
        for (seq, record) in records {
            if self.last_seq().is_some_and(|last| seq <= last) {
                continue;
            }
            self.seqs.push(seq);
            self.records.push(record);
        }
    }

    /// The sequence number of each record.
    pub fn seqs(&self) -> &[u64] {
        &self.seqs
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Who inserted and deleted each item, over every record read, and the records.
    pub fn authorship(&mut self) -> (&Authorship, &[Record]) {
        for (index, record) in self.records.iter().enumerate().skip(self.authored) {
            self.authorship.add(index, &record.update);
        }
        self.authored = self.records.len();
        (&self.authorship, &self.records)
    }

    /// The kept state after the most records up to `records`, with their count.
    pub fn point(&self, records: usize) -> Option<(usize, Arc<[u8]>)> {
        self.points
            .iter()
            .filter(|(n, _)| *n <= records)
            .max_by_key(|(n, _)| *n)
            .cloned()
    }

    /// Keeps `doc`, the state after the first `records` records, when the replay that
    /// made it went `replayed` records past the last state kept.
    pub fn remember(&mut self, records: usize, replayed: usize, doc: &Doc) {
        if replayed < POINT_GAP || self.points.iter().any(|(n, _)| *n == records) {
            return;
        }
        let state: Arc<[u8]> = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default())
            .into();
        self.points.push_back((records, state));
        let mut bytes: usize = self.points.iter().map(|(_, s)| s.len()).sum();
        while self.points.len() > POINTS || (bytes > POINT_BYTES && self.points.len() > 1) {
            if let Some((_, gone)) = self.points.pop_front() {
                bytes -= gone.len();
            }
        }
    }
}

/// The indexes of the documents history was last asked about.
#[derive(Default)]
pub struct Indexes(Mutex<VecDeque<(String, Arc<Mutex<Index>>)>>);

impl Indexes {
    /// The index of document `doc` (empty if it was not kept), now the most recently used.
    pub fn of(&self, doc: &str) -> Arc<Mutex<Index>> {
        let mut kept = lock(&self.0);
        let index = match kept.iter().position(|(name, _)| name == doc) {
            Some(at) => kept.remove(at).map(|(_, index)| index),
            None => None,
        }
        .unwrap_or_default();
        kept.push_back((doc.to_owned(), index.clone()));
        while kept.len() > DOCS {
            kept.pop_front();
        }
        index
    }

    /// Forgets document `doc`'s index.
    pub fn forget(&self, doc: &str) {
        lock(&self.0).retain(|(name, _)| name != doc);
    }
}

/// Locks `mutex`; a panic elsewhere while it was held left nothing half-done that matters
/// (an index is rebuilt when in doubt), so its poison is ignored.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{GetString, Text};

    fn record(update: Vec<u8>) -> Record {
        Record {
            ts_ms: 0,
            author: None,
            update,
        }
    }

    /// Records typing `words` one after the other into text `t`.
    fn typed(words: &[&str]) -> Vec<(u64, Record)> {
        let doc = Doc::with_client_id(1);
        let text = doc.get_or_insert_text("t");
        let mut out = Vec::new();
        for (seq, word) in words.iter().enumerate() {
            let mut txn = doc.transact_mut();
            let before = txn.state_vector();
            let len = text.len(&txn);
            text.insert(&mut txn, len, word);
            out.push((
                seq as u64 + 1,
                record(txn.encode_state_as_update_v1(&before)),
            ));
        }
        out
    }

    /// The record that inserted the character at `clock` of client 1.
    fn inserted(index: &mut Index, clock: u32) -> Option<usize> {
        let id = yrs::ID::new(yrs::ClientID::new(1), clock);
        index.authorship().0.inserted_by(&id).0
    }

    #[test]
    fn records_are_added_once_and_authorship_follows_them() {
        let log = typed(&["a", "b", "c"]);
        let mut index = Index::default();
        index.renew(0);
        index.extend(log[..2].iter().cloned());
        assert_eq!(inserted(&mut index, 1), Some(1));
        assert_eq!(inserted(&mut index, 2), None);
        // A read that overlaps what is there adds only what is new.
        index.extend(log.iter().cloned());
        assert_eq!(index.records().len(), 3);
        assert_eq!(index.last_seq(), Some(3));
        assert_eq!(index.seqs(), [1, 2, 3]);
        assert_eq!(inserted(&mut index, 2), Some(2));
    }

    #[test]
    fn a_rewritten_log_starts_the_index_over() {
        let mut index = Index::default();
        index.renew(0);
        index.extend(typed(&["a", "b"]));
        index.renew(0);
        assert_eq!(index.records().len(), 2, "nothing rewritten: kept");
        index.renew(1);
        assert_eq!(index.records().len(), 0);
        assert_eq!(index.last_seq(), None);
    }

    #[test]
    fn states_are_kept_after_long_replays_and_the_nearest_one_is_found() {
        let log = typed(&["x"; POINT_GAP + 8]);
        let doc = super::super::replay(
            None,
            &log.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>()[..POINT_GAP],
        );
        let mut index = Index::default();
        index.remember(POINT_GAP, POINT_GAP - 1, &doc);
        assert!(
            index.point(usize::MAX).is_none(),
            "a short replay is not kept"
        );
        index.remember(POINT_GAP, POINT_GAP, &doc);
        assert!(index.point(POINT_GAP - 1).is_none());
        let (n, state) = index.point(POINT_GAP + 5).expect("kept");
        assert_eq!(n, POINT_GAP);
        let again = super::super::restore::doc_of(&state).unwrap();
        let text = again.get_or_insert_text("t");
        assert_eq!(text.get_string(&again.transact()), "x".repeat(POINT_GAP));
    }

    #[test]
    fn the_least_recently_used_document_is_forgotten() {
        let indexes = Indexes::default();
        let first = indexes.of("a");
        lock(&first).extend(typed(&["a"]));
        for doc in ["b", "c", "d"] {
            indexes.of(doc);
        }
        assert_eq!(lock(&indexes.of("a")).records().len(), 1, "still kept");
        indexes.of("e");
        indexes.of("b");
        assert_eq!(lock(&indexes.of("c")).records().len(), 0, "c went first");
        indexes.forget("a");
        assert_eq!(lock(&indexes.of("a")).records().len(), 0);
    }
}

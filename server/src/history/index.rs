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

/// One document's log as read so far. Requests take the records and the authorship
/// out (both shared) and work on them without holding the index.
#[derive(Default)]
pub struct Index {
    /// The store's count of log rewrites when the first record was read (see
    /// `Store::log_rewrites`): when it moved, the records here may be stale.
    rewrites: u64,
    seqs: Vec<u64>,
    records: Arc<Vec<Record>>,
    authored: Arc<Mutex<Authored>>,
    /// The state (a v1 update) after the first `n` records, oldest kept first.
    points: VecDeque<(usize, Arc<[u8]>)>,
}

/// The authorship of a log's first records, read only when asked for.
#[derive(Default)]
pub struct Authored {
    authorship: Authorship,
    /// How many records it covers.
    records: usize,
}

impl Authored {
    /// The authorship of `records` (the log from its first record on; those read before
    /// are not read again).
    pub fn of(&mut self, records: &[Record]) -> &Authorship {
        for (index, record) in records.iter().enumerate().skip(self.records) {
            self.authorship.add(index, &record.update);
        }
        self.records = self.records.max(records.len());
        &self.authorship
    }
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
        let last = self.last_seq();
        let mut records = records
            .into_iter()
            .filter(|(seq, _)| last.is_none_or(|last| *seq > last))
            .peekable();
        if records.peek().is_none() {
            return;
        }
        // Copied only if a request still works on the records as they were.
        let kept = Arc::make_mut(&mut self.records);
        for (seq, record) in records {
            self.seqs.push(seq);
            kept.push(record);
        }
    }

    /// The sequence number of each record.
    pub fn seqs(&self) -> &[u64] {
        &self.seqs
    }

    /// The records, shared.
    pub fn records(&self) -> Arc<Vec<Record>> {
        self.records.clone()
    }

    /// The authorship of the records, to be read with [`Authored::of`].
    pub fn authored(&self) -> Arc<Mutex<Authored>> {
        self.authored.clone()
    }

    /// The kept state after the most records up to `records`, with their count.
    pub fn point(&self, records: usize) -> Option<(usize, Arc<[u8]>)> {
        self.points
            .iter()
            .filter(|(n, _)| *n <= records)
            .max_by_key(|(n, _)| *n)
            .cloned()
    }

    /// The store's count of log rewrites this index was read under (see [`Index::renew`]).
    pub fn rewrites(&self) -> u64 {
        self.rewrites
    }

    /// Keeps `doc`, the state after the first `records` records of the log as read under
    /// `rewrites`, when the replay that made it went `replayed` records past the last
    /// state kept. A state of a log since rewritten is not kept: its counts mean other
    /// records now.
    pub fn remember(&mut self, rewrites: u64, records: usize, replayed: usize, doc: &Doc) {
        if rewrites != self.rewrites
            || replayed < POINT_GAP
            || self.points.iter().any(|(n, _)| *n == records)
        {
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
        let authored = index.authored();
        let mut authored = lock(&authored);
        authored.of(&index.records()).inserted_by(&id).0
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
        index.renew(3);
        index.remember(3, POINT_GAP, POINT_GAP - 1, &doc);
        assert!(
            index.point(usize::MAX).is_none(),
            "a short replay is not kept"
        );
        index.remember(2, POINT_GAP, POINT_GAP, &doc);
        assert!(
            index.point(usize::MAX).is_none(),
            "nor one of a log since rewritten"
        );
        index.remember(3, POINT_GAP, POINT_GAP, &doc);
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

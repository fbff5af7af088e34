//! Who inserted and who deleted each item of a document, read from its log: every record
//! names its author, and its update names the items it inserted and deleted. Pure.
//!
//! Attribution is by CRDT id, not by comparing text: a character belongs to the record
//! whose update introduced its id, and a deletion to the first record whose delete set
//! covers the id.

use std::collections::{BTreeMap, HashMap};

use yrs::updates::decoder::Decode;
use yrs::{Update, ID};

/// Clock ranges of one client, each with the index of the record it belongs to.
/// Non-overlapping: a range is only added where no earlier record claimed the clocks.
#[derive(Debug, Default)]
struct Ranges(BTreeMap<u32, (u32, usize)>);

impl Ranges {
    /// The record that holds `clock`, and the clock where that answer changes: the end
    /// of its range, or the start of the next range if no record holds it.
    fn find(&self, clock: u32) -> (Option<usize>, u32) {
        if let Some((_, &(end, record))) = self.0.range(..=clock).next_back() {
            if clock < end {
                return (Some(record), end);
            }
        }
        let next = self
            .0
            .range(clock..)
            .next()
            .map_or(u32::MAX, |(&start, _)| start);
        (None, next)
    }

    /// Claims `start..end` for `record` where no earlier range holds it.
    fn claim(&mut self, start: u32, end: u32, record: usize) {
        let mut at = start;
        while at < end {
            if let Some((_, &(held_end, _))) =
                self.0.range(..=at).next_back().filter(|(_, r)| r.0 > at)
            {
                at = held_end;
                continue;
            }
            let next = self.0.range(at..end).next().map_or(end, |(&s, _)| s);
            self.0.insert(at, (next, record));
            at = next;
        }
    }
}

/// The authorship of every item in a document's log.
#[derive(Debug, Default)]
pub struct Authorship {
    inserted: HashMap<u64, Ranges>,
    deleted: HashMap<u64, Ranges>,
}

impl Authorship {
    /// Adds record `index` (the next in log order), whose update is `update`. A record
    /// that does not decode (it was accepted by the guard, so this is damage) attributes
    /// nothing.
    pub fn add(&mut self, index: usize, update: &[u8]) {
        let Ok(update) = Update::decode_v1(update) else {
            return;
        };
        for (client, ranges) in update.insertions(true).iter() {
            let claimed = self.inserted.entry(client.get()).or_default();
            for range in ranges.iter() {
                claimed.claim(range.start, range.end, index);
            }
        }
        for (client, ranges) in update.delete_set().iter() {
            let claimed = self.deleted.entry(client.get()).or_default();
            for range in ranges.iter() {
                claimed.claim(range.start, range.end, index);
            }
        }
    }

    /// The record that inserted the item `id`, and the clock (of `id`'s client) up to
    /// which the same holds: the ids `id.clock..end` share the answer.
    pub fn inserted_by(&self, id: &ID) -> (Option<usize>, u32) {
        Self::find(&self.inserted, id)
    }

    /// The first record that deleted the item `id`, and up to which clock that holds.
    pub fn deleted_by(&self, id: &ID) -> (Option<usize>, u32) {
        Self::find(&self.deleted, id)
    }

    fn find(claims: &HashMap<u64, Ranges>, id: &ID) -> (Option<usize>, u32) {
        claims
            .get(&id.client.get())
            .map_or((None, u32::MAX), |ranges| ranges.find(id.clock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Record;
    use yrs::{ClientID, Doc, GetString, ReadTxn, StateVector, Text, Transact};

    fn record(update: Vec<u8>) -> Record {
        Record {
            ts_ms: 0,
            author: None,
            update,
        }
    }

    fn id(client: u64, clock: u32) -> ID {
        ID::new(ClientID::new(client), clock)
    }

    #[test]
    fn each_character_belongs_to_the_record_that_typed_it_and_deletions_to_the_deleter() {
        let a = Doc::with_client_id(1);
        let text = a.get_or_insert_text("t");
        let mut records = Vec::new();
        let mut sv = StateVector::default();
        let mut step = |f: &dyn Fn(&mut yrs::TransactionMut)| {
            let mut txn = a.transact_mut();
            f(&mut txn);
            let update = txn.encode_state_as_update_v1(&sv);
            sv = txn.state_vector();
            records.push(record(update));
        };
        step(&|txn| text.insert(txn, 0, "abc"));
        step(&|txn| text.insert(txn, 3, "de"));
        step(&|txn| text.remove_range(txn, 1, 2));
        assert_eq!(text.get_string(&a.transact()), "ade");
        let mut authorship = Authorship::default();
        for (index, record) in records.iter().enumerate() {
            authorship.add(index, &record.update);
        }
        assert_eq!(authorship.inserted_by(&id(1, 0)), (Some(0), 3));
        assert_eq!(authorship.inserted_by(&id(1, 2)), (Some(0), 3));
        assert_eq!(authorship.inserted_by(&id(1, 3)), (Some(1), 5));
        assert_eq!(authorship.inserted_by(&id(1, 5)), (None, u32::MAX));
        assert_eq!(authorship.deleted_by(&id(1, 1)), (Some(2), 3));
        assert_eq!(authorship.deleted_by(&id(1, 2)), (Some(2), 3));
        assert_eq!(authorship.deleted_by(&id(1, 0)), (None, 1));
        assert_eq!(authorship.deleted_by(&id(2, 0)), (None, u32::MAX));
    }

    #[test]
    fn the_first_claim_wins_when_records_overlap() {
        let mut ranges = Ranges::default();
        ranges.claim(5, 10, 0);
        ranges.claim(0, 20, 1);
        ranges.claim(8, 12, 2);
        let owners: Vec<_> = (0..22).map(|c| ranges.find(c).0).collect();
        assert_eq!(
            ranges.find(3),
            (Some(1), 5),
            "the answer holds up to the range's end"
        );
        let mut expected = vec![Some(1); 5];
        expected.extend([Some(0); 5]);
        expected.extend([Some(1); 10]);
        expected.extend([None, None]);
        assert_eq!(owners, expected);
    }
}

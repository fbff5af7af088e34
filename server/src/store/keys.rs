//! The storage key and value layout, written down as code: the only place keys are built.
//!
//! Trees (all keys start with a document name, which never contains `0x00`):
//!
//! | tree     | key                                  | value                                   |
//! |----------|--------------------------------------|-----------------------------------------|
//! | `meta`   | `name`                               | JSON [`DocMeta`](super::DocMeta)        |
//! | `log`    | `name 0x00 seq:u64be`                | `0x01 ts_ms:u64be author_len:u16be author update_v1` |
//! | `snap`   | `name`                               | `0x02 upto_seq:u64be state_v2`          |
//! | `invites`| `invite_id` (16 hex digits)          | JSON [`Invite`](crate::access::invite::Invite) |
//! | `tokens` | first 16 bytes of the token's SHA-256| JSON [`TokenEntry`](crate::access::identity::TokenEntry) |
//! | `people` | `invite_id 0x00 n:u32be`             | JSON [`Person`](crate::access::identity::Person) |
//! | `audit`  | `scope 0x00 seq:u64be`               | JSON [`AuditEntry`](crate::access::audit::AuditEntry) |
//! | `settings`| `name`                              | JSON                                    |
//!
//! An audit scope is a document name, or `~` (never a name) for server-wide events.
//! Big-endian sequence numbers make sled's byte order the log order, so a prefix scan
//! reads a document's history in sequence. The leading version byte of each value lets a
//! later release change the layout without guessing.

use crate::name::DocName;

pub const META: &str = "meta";
pub const LOG: &str = "log";
pub const SNAP: &str = "snap";
pub const INVITES: &str = "invites";
pub const TOKENS: &str = "tokens";
pub const PEOPLE: &str = "people";
pub const AUDIT: &str = "audit";
pub const SETTINGS: &str = "settings";

/// The audit scope of server-wide events: not a valid document name.
pub const SERVER_SCOPE: &str = "~";

/// `invite_id 0x00`: the prefix of every person of a group link.
pub fn people_prefix(invite: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(invite.len() + 5);
    key.extend_from_slice(invite.as_bytes());
    key.push(0);
    key
}

/// `invite_id 0x00 n:u32be`.
pub fn person_key(invite: &str, n: u32) -> Vec<u8> {
    let mut key = people_prefix(invite);
    key.extend_from_slice(&n.to_be_bytes());
    key
}

/// `scope 0x00`: the prefix of a document's (or the server's) audit entries.
pub fn audit_prefix(scope: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(scope.len() + 9);
    key.extend_from_slice(scope.as_bytes());
    key.push(0);
    key
}

/// `scope 0x00 seq:u64be`.
pub fn audit_key(scope: &str, seq: u64) -> Vec<u8> {
    let mut key = audit_prefix(scope);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

const RECORD_V1: u8 = 1;
/// A snapshot holds the state as a Yjs v2 update: less than half the size of v1.
const SNAPSHOT_V2: u8 = 2;

/// `name 0x00`: the prefix of every log key of a document.
pub fn log_prefix(doc: &DocName) -> Vec<u8> {
    let mut key = Vec::with_capacity(doc.as_str().len() + 9);
    key.extend_from_slice(doc.as_str().as_bytes());
    key.push(0);
    key
}

/// `name 0x00 seq:u64be`.
pub fn log_key(doc: &DocName, seq: u64) -> Vec<u8> {
    let mut key = log_prefix(doc);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The sequence number of a log key, or `None` if it is not one.
pub fn log_seq(key: &[u8]) -> Option<u64> {
    let tail = key.len().checked_sub(8)?;
    (tail > 0 && key[tail - 1] == 0)
        .then(|| u64::from_be_bytes(key[tail..].try_into().unwrap_or([0; 8])))
}

/// One entry of the update log: when, who, and the v1 update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub ts_ms: u64,
    /// Filled in by authentication (a later issue); `None` until then.
    pub author: Option<String>,
    pub update: Vec<u8>,
}

pub fn encode_record(record: &Record) -> Vec<u8> {
    let author = record.author.as_deref().unwrap_or("").as_bytes();
    let author = &author[..author.len().min(u16::MAX as usize)];
    let mut value = Vec::with_capacity(11 + author.len() + record.update.len());
    value.push(RECORD_V1);
    value.extend_from_slice(&record.ts_ms.to_be_bytes());
    value.extend_from_slice(&(author.len() as u16).to_be_bytes());
    value.extend_from_slice(author);
    value.extend_from_slice(&record.update);
    value
}

pub fn decode_record(value: &[u8]) -> Option<Record> {
    let (&version, rest) = value.split_first()?;
    if version != RECORD_V1 || rest.len() < 10 {
        return None;
    }
    let ts_ms = u64::from_be_bytes(rest[..8].try_into().ok()?);
    let author_len = u16::from_be_bytes(rest[8..10].try_into().ok()?) as usize;
    let rest = &rest[10..];
    if rest.len() < author_len {
        return None;
    }
    let author = std::str::from_utf8(&rest[..author_len]).ok()?;
    Some(Record {
        ts_ms,
        author: (!author.is_empty()).then(|| author.to_owned()),
        update: rest[author_len..].to_vec(),
    })
}

pub fn encode_snapshot(upto_seq: u64, state: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(9 + state.len());
    value.push(SNAPSHOT_V2);
    value.extend_from_slice(&upto_seq.to_be_bytes());
    value.extend_from_slice(state);
    value
}

/// `(upto_seq, state_v2)` of a snapshot value.
pub fn decode_snapshot(value: &[u8]) -> Option<(u64, &[u8])> {
    let (&version, rest) = value.split_first()?;
    if version != SNAPSHOT_V2 || rest.len() < 8 {
        return None;
    }
    Some((u64::from_be_bytes(rest[..8].try_into().ok()?), &rest[8..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_keys_sort_by_sequence_and_stay_in_their_document() {
        let a = DocName::parse("a").unwrap();
        let ab = DocName::parse("a.b").unwrap();
        let keys = [log_key(&a, 1), log_key(&a, 256), log_key(&a, u64::MAX)];
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        assert!(keys.iter().all(|k| k.starts_with(&log_prefix(&a))));
        assert!(!log_key(&ab, 0).starts_with(&log_prefix(&a)));
        assert_eq!(log_seq(&log_key(&a, 256)), Some(256));
    }

    #[test]
    fn records_round_trip() {
        for author in [None, Some("anna".to_owned())] {
            let record = Record {
                ts_ms: 1_700_000_000_123,
                author,
                update: vec![1, 2, 3],
            };
            assert_eq!(decode_record(&encode_record(&record)), Some(record));
        }
        assert_eq!(decode_record(&[2, 0]), None);
    }

    #[test]
    fn snapshots_round_trip() {
        let value = encode_snapshot(42, &[9, 9]);
        assert_eq!(decode_snapshot(&value), Some((42, &[9u8, 9][..])));
    }
}

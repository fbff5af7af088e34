//! The storage key and value layout, written down as code: the only place keys are built.
//!
//! Trees (all keys start with a document name, which never contains `0x00`):
//!
//! | tree     | key                                  | value                                   |
//! |----------|--------------------------------------|-----------------------------------------|
//! | `meta`   | `name`                               | JSON [`DocMeta`](super::DocMeta)        |
//! | `log`    | `name 0x00 seq:u64be`                | `0x03 ts_ms:u64be prev:u64be author_len:u16be author update_v1` |
//! | `snap`   | `name`                               | `0x02 upto_seq:u64be state_v2`          |
//! | `heads`  | `name`                               | `last_seq:u64be`                        |
//! | `invites`| `invite_id` (16 hex digits)          | JSON [`Invite`](crate::access::invite::Invite) |
//! | `tokens` | first 16 bytes of the token's SHA-256| JSON [`TokenEntry`](crate::access::identity::TokenEntry) |
//! | `people` | `invite_id 0x00 n:u32be`             | JSON [`Person`](crate::access::identity::Person) |
//! | `audit`  | `scope 0x00 seq:u64be`               | JSON [`AuditEntry`](crate::access::audit::AuditEntry) |
//! | `settings`| `name`                              | JSON                                    |
//!
//! An audit scope is a document name, or `~` (never a name) for server-wide events.
//!
//! **Every value is sealed**: followed by the CRC-32 of its key and its bytes (4 bytes,
//! big-endian), checked on every read, so a flipped bit, or a value under the wrong key,
//! is noticed instead of served. `settings["format"]` says the data is sealed; a store
//! from before sealing is sealed once when it is opened.
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
pub const HEADS: &str = "heads";
/// Versions of documents: `name 0x00 n:u64be` → the version's metadata (JSON).
pub const VERSIONS: &str = "versions";
/// A version's state under the same key as its metadata (Yjs v1).
pub const VERSION_STATES: &str = "version_states";
/// The parts of large values (see `table`), keyed `id:u64be index:u32be`.
pub const PARTS: &str = "parts";
/// The archive of adopted texts: `n:u64be` → the entry's metadata (JSON). Never changed.
pub const ARCHIVE: &str = "archive";
/// What an archive entry froze (texts and state, JSON) under the same key.
pub const ARCHIVE_FROZEN: &str = "archive_frozen";

/// Every tree, for whole-store passes (sealing an old store).
pub const TREES: [&str; 13] = [
    META,
    LOG,
    SNAP,
    INVITES,
    TOKENS,
    PEOPLE,
    AUDIT,
    SETTINGS,
    HEADS,
    VERSIONS,
    VERSION_STATES,
    ARCHIVE,
    ARCHIVE_FROZEN,
];

/// The settings key that says the values are sealed, and its value.
pub const FORMAT: &str = "format";
pub const SEALED: &[u8] = b"sealed-crc32-v1";

/// `value ++ crc32(key ++ value)`.
pub fn seal(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::with_capacity(value.len() + 4);
    sealed.extend_from_slice(value);
    sealed.extend_from_slice(&checksum(key, value).to_be_bytes());
    sealed
}

/// The value inside a sealed one, if its checksum holds.
pub fn unseal<'a>(key: &[u8], sealed: &'a [u8]) -> Option<&'a [u8]> {
    match open(key, sealed)? {
        Sealed::Value(value) => Some(value),
        Sealed::Parts(_) => None,
    }
}

/// What a sealed value holds: the value itself, or (for a large one) the reference to
/// its parts. The two are told apart by the checksum: a reference's is flipped by
/// [`PARTS_TAG`], so neither can pass for the other.
pub enum Sealed<'a> {
    Value(&'a [u8]),
    Parts(&'a [u8]),
}

const PARTS_TAG: u32 = 0x5041_5254;

/// `reference ++ (crc32(key ++ reference) ^ PARTS_TAG)`.
pub fn seal_parts(key: &[u8], reference: &[u8]) -> Vec<u8> {
    let mut sealed = Vec::with_capacity(reference.len() + 4);
    sealed.extend_from_slice(reference);
    sealed.extend_from_slice(&(checksum(key, reference) ^ PARTS_TAG).to_be_bytes());
    sealed
}

/// A sealed value or parts reference, if its checksum holds.
pub fn open<'a>(key: &[u8], sealed: &'a [u8]) -> Option<Sealed<'a>> {
    let (value, sum) = sealed.split_at_checked(sealed.len().checked_sub(4)?)?;
    let sum = u32::from_be_bytes(sum.try_into().ok()?);
    let expected = checksum(key, value);
    if sum == expected {
        Some(Sealed::Value(value))
    } else if sum == expected ^ PARTS_TAG {
        Some(Sealed::Parts(value))
    } else {
        None
    }
}

/// The crc32 of a whole value, kept in its parts reference.
pub fn value_checksum(value: &[u8]) -> u32 {
    crc32fast::hash(value)
}

fn checksum(key: &[u8], value: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&(key.len() as u32).to_be_bytes());
    hasher.update(key);
    hasher.update(value);
    hasher.finalize()
}

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
/// Records since sealing also name the record before them, so a missing one is noticed.
const RECORD_V3: u8 = 3;
/// `prev` of a document's first record.
pub const NO_PREV: u64 = u64::MAX;
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

/// The document name part of a log key, or `None` if it is not one.
pub fn log_doc(key: &[u8]) -> Option<&[u8]> {
    log_seq(key).map(|_| &key[..key.len() - 9])
}

/// One entry of the update log: when, who, and the v1 update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub ts_ms: u64,
    /// The identity that made the change; `None` for content the server wrote itself.
    pub author: Option<String>,
    pub update: Vec<u8>,
}

/// A record as stored: its content and the sequence number of the record before it
/// (`None` for records from before sealing, which do not say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub record: Record,
    pub prev: Option<u64>,
}

pub fn encode_record(record: &Record, prev: u64) -> Vec<u8> {
    let author = record.author.as_deref().unwrap_or("").as_bytes();
    let author = &author[..author.len().min(u16::MAX as usize)];
    let mut value = Vec::with_capacity(19 + author.len() + record.update.len());
    value.push(RECORD_V3);
    value.extend_from_slice(&record.ts_ms.to_be_bytes());
    value.extend_from_slice(&prev.to_be_bytes());
    value.extend_from_slice(&(author.len() as u16).to_be_bytes());
    value.extend_from_slice(author);
    value.extend_from_slice(&record.update);
    value
}

pub fn decode_record(value: &[u8]) -> Option<Stored> {
    let (&version, rest) = value.split_first()?;
    let (prev, rest) = match version {
        RECORD_V3 if rest.len() >= 18 => {
            let prev = u64::from_be_bytes(rest[8..16].try_into().ok()?);
            let mut shifted = rest[..8].to_vec();
            shifted.extend_from_slice(&rest[16..]);
            (Some(prev), std::borrow::Cow::Owned(shifted))
        }
        RECORD_V1 => (None, std::borrow::Cow::Borrowed(rest)),
        _ => return None,
    };
    if rest.len() < 10 {
        return None;
    }
    let ts_ms = u64::from_be_bytes(rest[..8].try_into().ok()?);
    let author_len = u16::from_be_bytes(rest[8..10].try_into().ok()?) as usize;
    let rest = &rest[10..];
    if rest.len() < author_len {
        return None;
    }
    let author = std::str::from_utf8(&rest[..author_len]).ok()?;
    Some(Stored {
        record: Record {
            ts_ms,
            author: (!author.is_empty()).then(|| author.to_owned()),
            update: rest[author_len..].to_vec(),
        },
        prev,
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
    fn records_round_trip_with_their_predecessor() {
        for (author, prev) in [
            (None, NO_PREV),
            (Some("i:0123456789abcdef/2".to_owned()), 41),
        ] {
            let record = Record {
                ts_ms: 1_700_000_000_123,
                author,
                update: vec![1, 2, 3],
            };
            let stored = decode_record(&encode_record(&record, prev)).unwrap();
            assert_eq!(
                stored,
                Stored {
                    record,
                    prev: Some(prev)
                }
            );
        }
        assert_eq!(decode_record(&[2, 0]), None);
        assert_eq!(decode_record(&[3, 0, 0]), None);
    }

    #[test]
    fn records_from_before_sealing_still_read() {
        let mut v1 = vec![RECORD_V1];
        v1.extend_from_slice(&7u64.to_be_bytes());
        v1.extend_from_slice(&4u16.to_be_bytes());
        v1.extend_from_slice(b"anna");
        v1.extend_from_slice(&[9, 9]);
        let stored = decode_record(&v1).unwrap();
        assert_eq!(stored.prev, None);
        assert_eq!(stored.record.author.as_deref(), Some("anna"));
        assert_eq!(stored.record.update, vec![9, 9]);
    }

    #[test]
    fn sealed_values_notice_any_flipped_bit_and_a_wrong_key() {
        let value = b"{\"title\":\"Leitbild\"}".to_vec();
        let sealed = seal(b"doc", &value);
        assert_eq!(unseal(b"doc", &sealed), Some(&value[..]));
        assert_eq!(
            unseal(b"other", &sealed),
            None,
            "a value under the wrong key"
        );
        for bit in 0..sealed.len() * 8 {
            let mut flipped = sealed.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(unseal(b"doc", &flipped), None, "bit {bit}");
        }
        assert_eq!(unseal(b"doc", &sealed[..3]), None, "too short");
        assert_eq!(unseal(b"", &seal(b"", b"")), Some(&b""[..]));
    }

    #[test]
    fn snapshots_round_trip() {
        let value = encode_snapshot(42, &[9, 9]);
        assert_eq!(decode_snapshot(&value), Some((42, &[9u8, 9][..])));
    }
}

//! Hostile-input checks in front of yrs: size, length, nesting and identity limits on
//! y-protocols messages, checked before yrs decodes them, and a guarded apply.
//!
//! yrs 0.28 trusts its input: a length prefix makes it reserve memory, nested values make
//! it recurse, oversized ids and clocks are truncated, and some odd but decodable updates
//! leave a document that panics later. So nothing reaches a yrs decoder before the
//! iterative pre-scan in [`scan`] has accepted every byte of it. This module is pure: no
//! I/O, no async, no storage; the room decides what to do with a [`Rejection`].
//! See `docs/hostile-input.md` for the attack list.

#[cfg(any(test, feature = "attacks"))]
pub mod attacks;
mod scan;
#[cfg(test)]
mod tests;

use std::panic::{catch_unwind, AssertUnwindSafe};

use yrs::branch::{Branch, BranchPtr};
use yrs::sync::{AwarenessUpdate, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::{
    BranchID, ClientID, Doc, ReadTxn, StateVector, Transact, TransactionMut, Update, Xml, ID,
};

// y-protocols message types (y-websocket framing).
const MSG_SYNC: u32 = 0;
const MSG_AWARENESS: u32 = 1;
const MSG_AUTH: u32 = 2;
const MSG_QUERY_AWARENESS: u32 = 3;
// Sync message subtypes.
const SYNC_STEP1: u32 = 0;
const SYNC_STEP2: u32 = 1;
const SYNC_UPDATE: u32 = 2;

/// Limits on what a peer may send. All are configurable through `Config`.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest y-protocols message (one websocket frame) in bytes.
    pub max_message_bytes: usize,
    /// Deepest nesting of `Any` values (arrays/maps) and of XML/type content.
    pub max_depth: usize,
    /// Most client entries in one awareness update.
    pub max_awareness_clients: usize,
    /// Largest JSON state of one awareness entry in bytes.
    pub max_awareness_state_bytes: usize,
    /// Most bytes of updates and deletions yrs may hold back as pending (waiting for
    /// missing dependencies) in one document. A reconnecting client may leave a small gap,
    /// but every pending update is re-merged on each later apply, so an unbounded pending
    /// set is both a memory and a CPU sink.
    pub max_pending_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 8 * 1024 * 1024,
            max_depth: 64,
            max_awareness_clients: 1000,
            max_awareness_state_bytes: 8 * 1024,
            max_pending_bytes: 64 * 1024,
        }
    }
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("message too big")]
    TooBig,
    #[error("malformed message: {0}")]
    Malformed(&'static str),
    #[error("unsafe update: {0}")]
    Unsafe(&'static str),
}

impl Rejection {
    /// The websocket close code a peer gets for this rejection.
    pub fn close_code(&self) -> u16 {
        match self {
            Rejection::TooBig => 1009,
            Rejection::Malformed(_) | Rejection::Unsafe(_) => 1007,
        }
    }

    /// A short stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::TooBig => "too_big",
            Rejection::Malformed(_) => "malformed",
            Rejection::Unsafe(_) => "unsafe",
        }
    }
}

/// A checked y-protocols message, ready for the room.
#[derive(Debug)]
pub enum Inbound {
    SyncStep1(StateVector),
    /// A v1 update carried by SyncStep2 (e.g. a client's offline edits).
    SyncStep2(Vec<u8>),
    /// A v1 update.
    Update(Vec<u8>),
    Awareness(AwarenessUpdate),
    AwarenessQuery,
    /// Anything else y-protocols allows that the server ignores (auth, custom types).
    Ignored,
}

/// Checks and decodes one y-protocols message (one websocket binary frame).
///
/// Framing rules: exactly one message per frame, trailing bytes are `Malformed`. Auth
/// messages (type 2) are accepted and ignored when well-formed: the server authenticates
/// at the HTTP upgrade, not in-band. Other message types follow the yrs convention of a
/// single length-prefixed payload; they are `Ignored` when well-formed and `Malformed`
/// otherwise, so a text frame sent as binary is almost always refused.
pub fn parse_message(bytes: &[u8], limits: &Limits) -> Result<Inbound, Rejection> {
    if bytes.len() > limits.max_message_bytes {
        return Err(Rejection::TooBig);
    }
    scan_frame(bytes, limits)?;
    // Only now is it safe to let yrs decode: every length, count, id and nesting level in
    // `bytes` has been checked above.
    let message =
        Message::decode_v1(bytes).map_err(|_| Rejection::Malformed("undecodable message"))?;
    Ok(match message {
        Message::Sync(SyncMessage::SyncStep1(sv)) => Inbound::SyncStep1(sv),
        Message::Sync(SyncMessage::SyncStep2(update)) => Inbound::SyncStep2(update),
        Message::Sync(SyncMessage::Update(update)) => Inbound::Update(update),
        Message::Awareness(update) => Inbound::Awareness(update),
        Message::AwarenessQuery => Inbound::AwarenessQuery,
        Message::Auth(_) | Message::Custom(..) => Inbound::Ignored,
    })
}

/// Walks the y-protocols envelope and scans its payload.
fn scan_frame(bytes: &[u8], limits: &Limits) -> Result<(), Rejection> {
    let mut r = scan::Reader::new(bytes);
    match r.var_u32()? {
        MSG_SYNC => match r.var_u32()? {
            SYNC_STEP1 => scan::state_vector(r.buf()?)?,
            SYNC_STEP2 | SYNC_UPDATE => {
                let update = r.buf()?;
                if update.is_empty() {
                    return Err(Rejection::Malformed("empty update"));
                }
                scan::update(update, limits)?;
            }
            _ => return Err(Rejection::Malformed("unknown sync message")),
        },
        MSG_AWARENESS => scan::awareness(r.buf()?, limits)?,
        MSG_AUTH => {
            // 0 = permission denied, followed by a reason; yrs reads the kind as a u8.
            match r.var_u32()? {
                0 => {
                    r.string()?;
                }
                kind if kind > u8::MAX as u32 => return Err(Rejection::Malformed("bad auth")),
                _ => {}
            }
        }
        MSG_QUERY_AWARENESS => {}
        tag if tag > u8::MAX as u32 => return Err(Rejection::Malformed("unknown message type")),
        _ => {
            r.buf()?;
        }
    }
    if !r.is_empty() {
        return Err(Rejection::Malformed("trailing bytes"));
    }
    Ok(())
}

/// Applies a v1 update that passed [`parse_message`] to `doc`. Returns what the document
/// gained, as a v1 update, or `None` if nothing changed. That delta, not the input, is what
/// must be persisted and broadcast: it includes earlier pending updates that this one made
/// integrable, and leaves out what is still pending. On `Err` the document may be tainted
/// and the caller must discard it and reload from storage.
///
/// The update is scanned again (a few hundred nanoseconds for a typical keystroke), so
/// bytes from any source — a peer, the log, an import — get the same protection.
pub fn apply_update(
    doc: &Doc,
    update: &[u8],
    limits: &Limits,
) -> Result<Option<Vec<u8>>, Rejection> {
    if update.len() > limits.max_message_bytes {
        return Err(Rejection::TooBig);
    }
    let shape = scan::update(update, limits)?;
    let decoded =
        Update::decode_v1(update).map_err(|_| Rejection::Malformed("undecodable update"))?;
    // yrs signals some inconsistencies only by panicking (index and unwrap failures deep in
    // integrate/encode). Catching the unwind keeps one bad update from taking down the
    // room task; the caller treats the document as tainted, so the broken state that the
    // unwind may have left behind is never used again.
    match catch_unwind(AssertUnwindSafe(|| {
        apply_checked(doc, decoded, shape, limits)
    })) {
        Ok(result) => result,
        Err(_) => Err(Rejection::Unsafe("update broke the document")),
    }
}

/// Whether applying `update` (a v1 update that passed [`parse_message`]) would add
/// anything to `doc`: an item the document lacks (also one it would hold back as pending),
/// or a deletion of something not yet deleted. Decides about a reader's sync without
/// touching the document. Anything that cannot be judged counts as new.
pub fn adds_to(doc: &Doc, update: &[u8]) -> bool {
    let Ok(update) = Update::decode_v1(update) else {
        return true;
    };
    catch_unwind(AssertUnwindSafe(|| {
        let txn = doc.transact();
        let sv = txn.state_vector();
        let inserts_new = update
            .insertions(true)
            .iter()
            .any(|(client, ranges)| ranges.iter().any(|r| r.end > sv.get(client)));
        if inserts_new {
            return true;
        }
        // A client's sync step 2 carries its whole delete set; all of it is usually known.
        !update.delete_set().is_empty()
            && !update
                .delete_set()
                .diff(&txn.snapshot().delete_set)
                .is_empty()
    }))
    .unwrap_or(true)
}

fn apply_checked(
    doc: &Doc,
    update: Update,
    shape: scan::UpdateShape,
    limits: &Limits,
) -> Result<Option<Vec<u8>>, Rejection> {
    let mut txn = doc.transact_mut();
    check_contiguous(&txn, &update)?;
    txn.apply_update(update)
        .map_err(|_| Rejection::Malformed("update does not apply"))?;
    check_pending(&txn, limits)?;
    if !shape.types.is_empty() {
        check_type_depth(&txn, &shape.types, limits)?;
    }
    if !txn.has_changes() {
        return Ok(None);
    }
    // The delta is what the room persists and broadcasts. Decoding it again also proves
    // the document can still describe what this transaction did: a full
    // `encode_state_as_update_v1` would catch more, but costs O(document) per update, and
    // the server ingests >100k small updates/s. Broken states that yrs can reach from a
    // scanned update show up here (see the regression tests), because they corrupt the
    // structs the transaction touched.
    let delta = txn.encode_update_v1();
    Update::decode_v1(&delta).map_err(|_| Rejection::Unsafe("unencodable update"))?;
    // Commit (observers, GC, squashing) runs inside the caller's catch_unwind too.
    drop(txn);
    Ok(Some(delta))
}

/// Refuses an update whose structs of some client do not continue that client's history
/// in the document: a gap inside the update, or a first struct past the document's clock.
/// yrs would integrate such structs out of order behind a Skip, and later structs that
/// fill the gap can then corrupt its block store (a segfault, which no `catch_unwind`
/// stops: `attacks::GC_GAP_FILL`). A client's own changes and a sync answer always
/// continue where the other side is; a peer whose message was refused reconnects and
/// sends them again from the server's state.
fn check_contiguous(txn: &TransactionMut<'_>, update: &Update) -> Result<(), Rejection> {
    let sv = txn.state_vector();
    for (client, ranges) in update.insertions(true).iter() {
        let mut ranges = ranges.iter();
        if let Some(first) = ranges.next() {
            if first.start > sv.get(client) {
                return Err(Rejection::Unsafe("update skips ahead of the document"));
            }
        }
        if ranges.next().is_some() {
            return Err(Rejection::Unsafe("update has a gap"));
        }
    }
    Ok(())
}

/// Refuses to let pending (not yet integrable) state grow past `max_pending_bytes`.
/// Costs nothing when nothing is pending, which is the normal case.
fn check_pending(txn: &TransactionMut<'_>, limits: &Limits) -> Result<(), Rejection> {
    let store = txn.store();
    let mut bytes = 0;
    if let Some(pending) = store.pending_update() {
        // Encoding is O(pending), but yrs has just merged the whole pending update anyway.
        bytes += yrs::updates::encoder::Encode::encode_v1(&pending.update).len();
    }
    if let Some(ds) = store.pending_ds() {
        bytes += yrs::updates::encoder::Encode::encode_v1(ds).len();
    }
    if bytes > limits.max_pending_bytes {
        return Err(Rejection::Unsafe("too much pending state"));
    }
    Ok(())
}

/// A shared type seen only through the `Xml` trait, to reach its parent with public API.
struct Node(BranchPtr);

impl AsRef<Branch> for Node {
    fn as_ref(&self) -> &Branch {
        self.0.as_ref()
    }
}

impl Xml for Node {}

/// Refuses XML nested deeper than `max_depth`. yrs applies and encodes deep nesting fine,
/// but `get_string` (and any recursive renderer) overflows the stack at a few thousand
/// levels, which aborts the process. Depth grows one level per update at most, so
/// walking up from each new type item (bounded by `max_depth` steps) is enough.
/// Only XML parents are followed: that is what the editor nests and renders.
fn check_type_depth(
    txn: &TransactionMut<'_>,
    types: &[(u64, u32)],
    limits: &Limits,
) -> Result<(), Rejection> {
    for &(client, clock) in types {
        let id = ID::new(ClientID::new(client), clock);
        let Some(branch) = BranchID::get_nested(txn, &id) else {
            continue; // pending or already garbage collected
        };
        let mut node = Node(branch);
        let mut depth = 0;
        while let Some(parent) = node.parent() {
            depth += 1;
            if depth > limits.max_depth {
                return Err(Rejection::Unsafe("xml nested too deep"));
            }
            node = Node(BranchPtr::from(parent.as_ref()));
        }
    }
    Ok(())
}

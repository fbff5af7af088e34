//! Hostile-input checks in front of yrs: size, length, nesting and identity limits on
//! y-protocols messages, checked before yrs decodes them, and a guarded apply.

use yrs::sync::AwarenessUpdate;
use yrs::{Doc, StateVector};

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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 8 * 1024 * 1024,
            max_depth: 64,
            max_awareness_clients: 16,
            max_awareness_state_bytes: 8 * 1024,
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
pub fn parse_message(bytes: &[u8], limits: &Limits) -> Result<Inbound, Rejection> {
    let _ = (bytes, limits);
    todo!("guard helper")
}

/// Applies a v1 update that passed [`parse_message`] to `doc`. Returns whether the document
/// changed. On `Err` the document may be tainted and the caller must discard it and reload
/// from storage.
pub fn apply_update(doc: &Doc, update: &[u8], limits: &Limits) -> Result<bool, Rejection> {
    let _ = (doc, update, limits);
    todo!("guard helper")
}

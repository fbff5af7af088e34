//! A version: a named (or automatic) point of a document's history, with its full state.
//! Pure values; the store keeps them sealed, a version's state beside its metadata.

use serde::{Deserialize, Serialize};

/// Why a version exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Named by a moderator.
    Named,
    /// Taken by the server: when a burst of editing ended, before a restore, or when the
    /// document was closed after edits.
    Auto,
    /// The text a restore brought back.
    Restore,
}

/// A version's metadata. Its state (a Yjs v1 update of the whole document) is stored
/// beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    /// `v{n}`: unique in the server, increasing.
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub kind: Kind,
    /// ms since the epoch.
    pub created_at: u64,
    /// The identity that named it; `None` for the server's own.
    pub created_by: Option<String>,
    /// The document's state vector (Yjs v1 encoding), base64.
    pub state_vector: String,
    /// How many log records of the document the version covers (`next_seq` then).
    pub log_records: u64,
    /// For a restore: the version that was restored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<String>,
}

impl Version {
    /// A version of `state` (Yjs v1, the whole document) after `log_records` records;
    /// no note, no author, nothing restored.
    pub fn new(
        id: String,
        name: String,
        kind: Kind,
        state: &[u8],
        log_records: u64,
        created_at: u64,
    ) -> Version {
        use base64::Engine as _;
        let vector = super::restore::state_vector_of(state).unwrap_or_default();
        Version {
            id,
            name,
            note: None,
            kind,
            created_at,
            created_by: None,
            state_vector: base64::engine::general_purpose::STANDARD.encode(vector),
            log_records,
            restored_from: None,
        }
    }
}

/// The version id of a number.
pub fn version_id(n: u64) -> String {
    format!("v{n}")
}

/// The number of a version id, if it is one.
pub fn version_number(id: &str) -> Option<u64> {
    let digits = id.strip_prefix('v')?;
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_junk_is_no_id() {
        assert_eq!(version_number(&version_id(42)), Some(42));
        for junk in [
            "",
            "v",
            "42",
            "v-1",
            "v1a",
            "now",
            "v99999999999999999999999",
        ] {
            assert_eq!(version_number(junk), None, "{junk}");
        }
    }
}

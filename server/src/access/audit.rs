//! The audit log's entries: who did what to a document (or to the server), when. Pure
//! values; the store appends them and never changes or removes one.

use serde::{Deserialize, Serialize};

/// Everything the audit log records. Later issues add versions, restores and adoptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    InviteCreated,
    InviteRevoked,
    PersonJoined,
    PersonRevoked,
    DocCreated,
    DocRenamed,
    DocDeleted,
    DocRestored,
    DocPurged,
    AdminLinkIssued,
    VersionNamed,
    VersionRestored,
    VersionAdopted,
}

/// One entry. `detail` carries what the event needs to be understood later (an invite's
/// role and name, a title before and after), never a secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// ms since the epoch.
    pub at: u64,
    /// The identity that acted (`admin`, `i:…`, or `operator` for the local CLI).
    pub actor: String,
    pub event: Event,
    #[serde(default)]
    pub detail: serde_json::Value,
}

//! The role model: which role may do what, as one table. Pure: no I/O, no requests.
//!
//! Roles are per document, except `Admin`, which holds on every document. A new role is a
//! new row in [`GRANTS`] (and a variant); handlers ask [`Role::allows`] for an [`Action`]
//! and never compare roles themselves.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What someone may be to a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees the text, its history and its archive; changes nothing.
    Reader,
    /// A stakeholder who writes.
    Editor,
    /// Writes, and runs the process: invites, audit (later: versions, restore, adoption).
    Moderator,
    /// Everything on every document, and the documents themselves.
    Admin,
}

/// Everything the server lets someone do, named by what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read the text and its metadata; receive live updates and presence.
    Read,
    /// Change the text.
    Write,
    /// Create, list and revoke invites of the document; see who joined.
    ManageInvites,
    /// Read the document's audit log.
    ReadAudit,
    /// Name versions of the document and restore one.
    ManageVersions,
    /// Adopt a version into the archive of adopted texts.
    Adopt,
    /// Create documents (also implicitly, by opening a websocket to a new name).
    CreateDoc,
    /// Rename a document.
    RenameDoc,
    /// Move a document to the trash, list the trash and restore from it.
    DeleteDoc,
    /// Issue a new admin sign-in link.
    ManageAdmins,
}

/// The table: each role with everything it may do.
const GRANTS: &[(Role, &[Action])] = &[
    (Role::Reader, &[Action::Read]),
    (Role::Editor, &[Action::Read, Action::Write]),
    (
        Role::Moderator,
        &[
            Action::Read,
            Action::Write,
            Action::ManageInvites,
            Action::ReadAudit,
            Action::ManageVersions,
            Action::Adopt,
        ],
    ),
    (
        Role::Admin,
        &[
            Action::Read,
            Action::Write,
            Action::ManageInvites,
            Action::ReadAudit,
            Action::ManageVersions,
            Action::Adopt,
            Action::CreateDoc,
            Action::RenameDoc,
            Action::DeleteDoc,
            Action::ManageAdmins,
        ],
    ),
];

impl Role {
    /// Every role, weakest first.
    pub const ALL: [Role; 4] = [Role::Reader, Role::Editor, Role::Moderator, Role::Admin];

    pub fn allows(self, action: Action) -> bool {
        GRANTS
            .iter()
            .any(|(role, actions)| *role == self && actions.contains(&action))
    }

    /// Whether someone with this role may hand out `other` by invitation: only document
    /// roles, and none beyond one's own. Admin is never given by a link.
    pub fn may_invite(self, other: Role) -> bool {
        self.allows(Action::ManageInvites) && other != Role::Admin && other.rank() <= self.rank()
    }

    /// Of two grants on the same document, the stronger one counts.
    pub fn rank(self) -> u8 {
        Role::ALL.iter().position(|r| *r == self).unwrap_or(0) as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Editor => "editor",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a string is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: use reader, editor or moderator")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_ACTION: [Action; 10] = [
        Action::Read,
        Action::Write,
        Action::ManageInvites,
        Action::ReadAudit,
        Action::ManageVersions,
        Action::Adopt,
        Action::CreateDoc,
        Action::RenameDoc,
        Action::DeleteDoc,
        Action::ManageAdmins,
    ];

    fn allowed(role: Role) -> Vec<Action> {
        EVERY_ACTION
            .into_iter()
            .filter(|a| role.allows(*a))
            .collect()
    }

    #[test]
    fn each_role_may_do_exactly_its_row() {
        assert_eq!(allowed(Role::Reader), [Action::Read]);
        assert_eq!(allowed(Role::Editor), [Action::Read, Action::Write]);
        assert_eq!(
            allowed(Role::Moderator),
            [
                Action::Read,
                Action::Write,
                Action::ManageInvites,
                Action::ReadAudit,
                Action::ManageVersions,
                Action::Adopt
            ]
        );
        assert_eq!(allowed(Role::Admin), EVERY_ACTION);
    }

    #[test]
    fn every_role_has_a_row_and_stronger_roles_include_weaker_ones() {
        for role in Role::ALL {
            assert!(GRANTS.iter().any(|(r, _)| *r == role), "{role} has no row");
        }
        for pair in Role::ALL.windows(2) {
            for action in allowed(pair[0]) {
                assert!(pair[1].allows(action), "{} lacks {action:?}", pair[1]);
            }
        }
    }

    #[test]
    fn invites_never_exceed_ones_own_role_nor_make_admins() {
        assert!(Role::Moderator.may_invite(Role::Reader));
        assert!(Role::Moderator.may_invite(Role::Editor));
        assert!(Role::Moderator.may_invite(Role::Moderator));
        assert!(!Role::Moderator.may_invite(Role::Admin));
        assert!(Role::Admin.may_invite(Role::Moderator));
        assert!(!Role::Admin.may_invite(Role::Admin));
        assert!(!Role::Editor.may_invite(Role::Reader));
        assert!(!Role::Reader.may_invite(Role::Reader));
    }

    #[test]
    fn roles_parse_from_their_names_only() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        for bad in ["", "Editor", "owner", "admin "] {
            assert!(bad.parse::<Role>().is_err(), "{bad:?}");
        }
    }
}

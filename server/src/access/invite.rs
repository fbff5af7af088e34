//! Invites: a role on one document, for one named person or for a group link. Pure: the
//! record, its state at a given time, and the checks on a moderator's request.

use serde::{Deserialize, Serialize};

use super::identity::{clean_text, BadText, MAX_GROUP, MAX_NAME};
use super::role::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// For one named person.
    Personal,
    /// For many people: each enters their own name and becomes their own identity.
    Group,
}

/// An invite as stored. Times are ms since the epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    pub id: String,
    pub doc: String,
    pub role: Role,
    pub kind: Kind,
    /// The person's name (personal), or a label of the link (group, optional).
    pub name: Option<String>,
    /// Organisation or stakeholder group.
    pub group: Option<String>,
    pub created_at: u64,
    /// The identity that created it.
    pub created_by: String,
    pub expires_at: Option<u64>,
    /// Group links: most people who may join.
    pub max_people: Option<u32>,
    /// Group links: people who have joined so far.
    pub people: u32,
    pub revoked_at: Option<u64>,
}

/// Whether an invite works at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Expired,
    Revoked,
}

impl Invite {
    pub fn status(&self, now_ms: u64) -> Status {
        if self.revoked_at.is_some() {
            Status::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now_ms) {
            Status::Expired
        } else {
            Status::Active
        }
    }

    /// Whether one more person may join this group link.
    pub fn has_room(&self) -> bool {
        self.kind == Kind::Group && self.max_people.is_none_or(|max| self.people < max)
    }
}

/// A moderator's request for an invite, as the API receives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInvite {
    pub role: Role,
    #[serde(default = "personal")]
    pub kind: Kind,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default, with = "crate::timestamp::option")]
    pub expires_at: Option<u64>,
    #[serde(default)]
    pub max_people: Option<u32>,
}

fn personal() -> Kind {
    Kind::Personal
}

/// Why an invite request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadInvite {
    #[error("a personal invite needs the person's name")]
    NameMissing,
    #[error(transparent)]
    Text(#[from] BadText),
    #[error("max_people is only for group links, and must be at least 1")]
    MaxPeople,
    #[error("expires_at lies in the past")]
    Expired,
    #[error("{0}s cannot invite someone as {1}")]
    RoleTooHigh(Role, Role),
}

impl NewInvite {
    /// The request checked against the inviter's role and the time, with its texts cleaned.
    pub fn checked(mut self, inviter: Role, now_ms: u64) -> Result<NewInvite, BadInvite> {
        if !inviter.may_invite(self.role) {
            return Err(BadInvite::RoleTooHigh(inviter, self.role));
        }
        let optional = |what, text: Option<String>, max| -> Result<Option<String>, BadText> {
            match text.as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some(text) => clean_text(what, text, max).map(Some),
            }
        };
        self.name = optional("name", self.name, MAX_NAME)?;
        self.group = optional("group", self.group, MAX_GROUP)?;
        match self.kind {
            Kind::Personal if self.name.is_none() => return Err(BadInvite::NameMissing),
            Kind::Personal if self.max_people.is_some() => return Err(BadInvite::MaxPeople),
            Kind::Group if self.max_people == Some(0) => return Err(BadInvite::MaxPeople),
            _ => {}
        }
        if self.expires_at.is_some_and(|at| at <= now_ms) {
            return Err(BadInvite::Expired);
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(json: &str) -> NewInvite {
        serde_json::from_str(json).unwrap()
    }

    fn invite() -> Invite {
        Invite {
            id: "0123456789abcdef".into(),
            doc: "d".into(),
            role: Role::Editor,
            kind: Kind::Group,
            name: None,
            group: Some("Kitas".into()),
            created_at: 0,
            created_by: "admin".into(),
            expires_at: Some(100),
            max_people: Some(2),
            people: 0,
            revoked_at: None,
        }
    }

    #[test]
    fn an_invite_is_active_until_it_expires_or_is_revoked() {
        let mut i = invite();
        assert_eq!(i.status(99), Status::Active);
        assert_eq!(i.status(100), Status::Expired);
        i.revoked_at = Some(50);
        assert_eq!(i.status(10), Status::Revoked);
    }

    #[test]
    fn group_links_fill_up() {
        let mut i = invite();
        assert!(i.has_room());
        i.people = 2;
        assert!(!i.has_room());
        i.max_people = None;
        assert!(i.has_room());
        i.kind = Kind::Personal;
        assert!(!i.has_room(), "nobody joins a personal invite");
    }

    #[test]
    fn requests_are_checked_and_cleaned() {
        let ok = request(
            r#"{"role":"editor","name":"  Anna Krüger ","group":"Kita-Verbund Parchim",
                "expires_at":"2030-01-01T00:00:00+01:00"}"#,
        )
        .checked(Role::Moderator, 0)
        .unwrap();
        assert_eq!(ok.kind, Kind::Personal);
        assert_eq!(ok.name.as_deref(), Some("Anna Krüger"));
        assert_eq!(ok.expires_at, Some(1_893_452_400_000));

        let group =
            request(r#"{"role":"reader","kind":"group","group":"Konferenz","max_people":200}"#)
                .checked(Role::Moderator, 0)
                .unwrap();
        assert_eq!(group.name, None);

        let refused = |json: &str, inviter: Role| request(json).checked(inviter, 10).unwrap_err();
        assert_eq!(
            refused(r#"{"role":"editor"}"#, Role::Admin),
            BadInvite::NameMissing
        );
        assert_eq!(
            refused(r#"{"role":"editor","name":"  "}"#, Role::Admin),
            BadInvite::NameMissing
        );
        assert_eq!(
            refused(
                r#"{"role":"editor","name":"A","max_people":3}"#,
                Role::Admin
            ),
            BadInvite::MaxPeople
        );
        assert_eq!(
            refused(
                r#"{"role":"editor","kind":"group","max_people":0}"#,
                Role::Admin
            ),
            BadInvite::MaxPeople
        );
        assert_eq!(
            refused(
                r#"{"role":"editor","name":"A","expires_at":"1970-01-01T00:00:00Z"}"#,
                Role::Admin
            ),
            BadInvite::Expired
        );
        assert_eq!(
            refused(r#"{"role":"moderator","name":"A"}"#, Role::Editor),
            BadInvite::RoleTooHigh(Role::Editor, Role::Moderator)
        );
        assert_eq!(
            refused(r#"{"role":"admin","name":"A"}"#, Role::Admin),
            BadInvite::RoleTooHigh(Role::Admin, Role::Admin)
        );
        assert!(matches!(
            refused(
                &format!(r#"{{"role":"editor","name":"{}"}}"#, "x".repeat(81)),
                Role::Admin
            ),
            BadInvite::Text(BadText::TooLong(..))
        ));
        for bad in [
            r#"{"role":"owner","name":"A"}"#,
            r#"{"role":"editor","name":"A","expires_at":"tomorrow"}"#,
            r#"{"role":"editor","name":"A","extra":1}"#,
            r#"{"role":"editor","kind":"crowd"}"#,
        ] {
            assert!(serde_json::from_str::<NewInvite>(bad).is_err(), "{bad}");
        }
    }
}

//! Who someone is: identities (what a log record's author slot holds), grants (what a
//! session holds), and what a token stands for. Pure values; the store keeps them as JSON.
//!
//! An identity is stable: it names the invite (and, for a group link, the person within
//! it), never the person's name, so renaming someone later renames them everywhere.

use serde::{Deserialize, Serialize};

/// The stable id of whoever made a change: `admin`, `i:{invite}` (a personal invite, or a
/// group link used directly as a token), or `i:{invite}/{n}` (person `n` of a group link).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Identity(String);

impl Identity {
    pub fn admin() -> Identity {
        Identity("admin".into())
    }

    pub fn invite(invite: &str) -> Identity {
        Identity(format!("i:{invite}"))
    }

    pub fn member(invite: &str, person: u32) -> Identity {
        Identity(format!("i:{invite}/{person}"))
    }

    /// Reads an identity back from its text (e.g. a log record's author slot).
    pub fn parse(text: &str) -> Option<Identity> {
        let identity = Identity(text.to_owned());
        identity.parts().is_some().then_some(identity)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `None` for the admin; else the invite and, for a group member, the person.
    pub fn invite_part(&self) -> Option<(&str, Option<u32>)> {
        self.parts().flatten()
    }

    fn parts(&self) -> Option<Option<(&str, Option<u32>)>> {
        if self.0 == "admin" {
            return Some(None);
        }
        let rest = self.0.strip_prefix("i:")?;
        let (invite, person) = match rest.split_once('/') {
            Some((invite, n)) => (invite, Some(n.parse().ok()?)),
            None => (rest, None),
        };
        valid_invite_id(invite).then_some(Some((invite, person)))
    }
}

impl std::fmt::Display for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Invite ids are 16 lower-case hex digits.
pub fn valid_invite_id(id: &str) -> bool {
    id.len() == 16
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// One right a session holds. A session is a key ring: opening a second invite link in the
/// same browser adds its grant, so one person can take part in several documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Grant {
    /// Admin through the configured token (`credential` = `cfg:` and the start of its
    /// hash) or through a generated sign-in link (its id).
    Admin { credential: String },
    /// An invite, as its named person or as person `person` of a group link.
    Invite {
        invite: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        person: Option<u32>,
    },
}

impl Grant {
    pub fn identity(&self) -> Identity {
        match self {
            Grant::Admin { .. } => Identity::admin(),
            Grant::Invite {
                invite,
                person: None,
            } => Identity::invite(invite),
            Grant::Invite {
                invite,
                person: Some(n),
            } => Identity::member(invite, *n),
        }
    }

    /// Whether revoking `revoked` takes this grant away.
    pub fn rests_on(&self, revoked: &Revoked) -> bool {
        match (self, revoked) {
            (Grant::Admin { credential }, Revoked::Admin { except }) => {
                credential != except && !credential.starts_with(CONFIGURED_ADMIN)
            }
            (Grant::Invite { invite, .. }, Revoked::Invite(id)) => invite == id,
            (
                Grant::Invite {
                    invite,
                    person: Some(n),
                },
                Revoked::Person(id, p),
            ) => invite == id && n == p,
            _ => false,
        }
    }
}

/// The prefix of the admin credential configured with `--admin-token`, which only a
/// change of the configuration revokes.
pub const CONFIGURED_ADMIN: &str = "cfg:";

/// A credential taken away: its holders lose access at once, open connections included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    Invite(String),
    Person(String, u32),
    /// Every admin credential but the configured one and `except` (the new link).
    Admin {
        except: String,
    },
}

/// What a stored token stands for, with its full hash for the constant-time comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// The token's SHA-256, hex.
    pub hash: String,
    pub what: TokenKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// An invite link's token.
    Invite { id: String },
    /// A generated admin sign-in link.
    Admin { id: String },
    /// A browser session: the grants it has collected.
    Session { grants: Vec<Grant>, created_at: u64 },
}

/// A person who joined through a group link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Empty until they have told us their name.
    pub name: String,
    pub joined_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
}

/// How someone is shown: their name and, where there is one, their organisation or group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Display {
    pub name: String,
    pub group: Option<String>,
}

/// Longest name and group, in characters.
pub const MAX_NAME: usize = 80;
pub const MAX_GROUP: usize = 120;

/// Why a name or group is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadText {
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0} is too long (at most {1} characters)")]
    TooLong(&'static str, usize),
    #[error("{0} must not contain control characters")]
    Control(&'static str),
}

/// A display text (a name, a group, a title) trimmed and checked: 1 to `max` characters,
/// no control characters.
pub fn clean_text(what: &'static str, text: &str, max: usize) -> Result<String, BadText> {
    let text = text.trim();
    if text.is_empty() {
        return Err(BadText::Empty(what));
    }
    if text.chars().count() > max {
        return Err(BadText::TooLong(what, max));
    }
    if text.chars().any(char::is_control) {
        return Err(BadText::Control(what));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef";

    #[test]
    fn identities_round_trip_and_name_their_invite() {
        for identity in [
            Identity::admin(),
            Identity::invite(ID),
            Identity::member(ID, 7),
        ] {
            assert_eq!(Identity::parse(identity.as_str()), Some(identity.clone()));
        }
        assert_eq!(Identity::member(ID, 7).invite_part(), Some((ID, Some(7))));
        assert_eq!(Identity::admin().invite_part(), None);
        for bad in ["", "Admin", "i:", "i:xyz", "i:0123456789abcdef/x", "anna"] {
            assert_eq!(Identity::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn grants_give_their_identity_and_fall_with_their_credential() {
        let member = Grant::Invite {
            invite: ID.into(),
            person: Some(2),
        };
        assert_eq!(member.identity(), Identity::member(ID, 2));
        assert!(member.rests_on(&Revoked::Invite(ID.into())));
        assert!(member.rests_on(&Revoked::Person(ID.into(), 2)));
        assert!(!member.rests_on(&Revoked::Person(ID.into(), 3)));
        assert!(!member.rests_on(&Revoked::Invite("fedcba9876543210".into())));
        let admin = Grant::Admin {
            credential: "old".into(),
        };
        assert!(admin.rests_on(&Revoked::Admin {
            except: "new".into()
        }));
        assert!(!admin.rests_on(&Revoked::Admin {
            except: "old".into()
        }));
        assert!(!admin.rests_on(&Revoked::Invite(ID.into())));
        let configured = Grant::Admin {
            credential: format!("{CONFIGURED_ADMIN}abc"),
        };
        assert!(!configured.rests_on(&Revoked::Admin {
            except: "new".into()
        }));
    }

    #[test]
    fn grants_serialize_compactly() {
        let json = serde_json::to_string(&Grant::Invite {
            invite: ID.into(),
            person: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"kind":"invite","invite":"0123456789abcdef"}"#);
    }

    #[test]
    fn texts_are_trimmed_bounded_and_printable() {
        assert_eq!(
            clean_text("name", "  Anna Krüger ", MAX_NAME),
            Ok("Anna Krüger".into())
        );
        assert_eq!(
            clean_text("name", "   ", MAX_NAME),
            Err(BadText::Empty("name"))
        );
        assert!(clean_text("name", &"ü".repeat(MAX_NAME), MAX_NAME).is_ok());
        assert_eq!(
            clean_text("name", &"ü".repeat(MAX_NAME + 1), MAX_NAME),
            Err(BadText::TooLong("name", MAX_NAME))
        );
        assert_eq!(
            clean_text("name", "a\u{7}b", MAX_NAME),
            Err(BadText::Control("name"))
        );
    }
}

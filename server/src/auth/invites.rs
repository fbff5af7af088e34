//! Invites and the people behind identities: creating, listing and revoking invites,
//! resolving an identity to the name the others see, renaming, and the audit log.

use rand::RngCore;
use serde::Serialize;

use super::{Auth, Resolved};
use crate::access::audit::{AuditEntry, Event};
use crate::access::identity::{
    clean_text, BadText, Display, Identity, Revoked, TokenEntry, TokenKind, MAX_NAME,
};
use crate::access::invite::{Invite, Kind, NewInvite, Status};
use crate::access::token::Token;
use crate::name::DocName;
use crate::store::{now_ms, Scope, StoreError};
use crate::timestamp;

/// A new invite or credential id: 64 random bits as 16 hex digits (not a secret).
pub fn new_id() -> String {
    format!("{:016x}", rand::rngs::OsRng.next_u64())
}

/// An identity as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PersonRef {
    pub identity: String,
    pub name: String,
    pub group: Option<String>,
}

/// A person who joined through a group link.
#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    pub person: u32,
    pub identity: String,
    pub name: String,
    #[serde(with = "timestamp::required")]
    pub joined_at: u64,
    #[serde(with = "timestamp::option")]
    pub revoked_at: Option<u64>,
}

/// An invite as the API shows it (never its token, which only its creator sees, once).
#[derive(Debug, Clone, Serialize)]
pub struct InviteView {
    pub id: String,
    pub doc: String,
    pub role: crate::access::role::Role,
    pub kind: Kind,
    pub name: Option<String>,
    pub group: Option<String>,
    #[serde(with = "timestamp::required")]
    pub created_at: u64,
    pub created_by: PersonRef,
    #[serde(with = "timestamp::option")]
    pub expires_at: Option<u64>,
    pub max_people: Option<u32>,
    pub people: u32,
    #[serde(with = "timestamp::option")]
    pub revoked_at: Option<u64>,
    pub status: Status,
    /// Group links: who joined.
    pub members: Vec<MemberView>,
}

/// An audit entry as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    pub id: u64,
    #[serde(with = "timestamp::required")]
    pub at: u64,
    pub actor: PersonRef,
    pub event: Event,
    pub detail: serde_json::Value,
}

impl Auth {
    /// Creates an invite for `doc` on behalf of `inviter` (whose role the request was
    /// checked against). Returns it with its token, which is shown this once.
    pub async fn create_invite(
        &self,
        doc: &DocName,
        inviter: &Resolved,
        request: NewInvite,
    ) -> Result<(InviteView, Token), StoreError> {
        let now = now_ms();
        let token = Token::generate();
        let hash = token.hash();
        let invite = Invite {
            id: new_id(),
            doc: doc.to_string(),
            role: request.role,
            kind: request.kind,
            name: request.name,
            group: request.group,
            created_at: now,
            created_by: inviter.identity().to_string(),
            expires_at: request.expires_at,
            max_people: request.max_people,
            people: 0,
            revoked_at: None,
        };
        let entry = TokenEntry {
            hash: hash.to_hex(),
            what: TokenKind::Invite {
                id: invite.id.clone(),
            },
        };
        let store = self.store();
        store.create_invite(&invite, hash.lookup_key(), &entry)?;
        let detail = serde_json::json!({
            "invite": invite.id, "role": invite.role, "kind": invite.kind,
            "name": invite.name, "group": invite.group,
            "expires_at": invite.expires_at.map(timestamp::to_rfc3339),
            "max_people": invite.max_people,
        });
        self.record(
            Scope::Doc(doc),
            &inviter.identity(),
            Event::InviteCreated,
            detail,
        )?;
        store.flush().await?;
        Ok((self.view(invite)?, token))
    }

    /// A document's invites, oldest first.
    pub fn invites(&self, doc: &DocName) -> Result<Vec<InviteView>, StoreError> {
        self.store()
            .invites_of(doc)?
            .into_iter()
            .map(|i| self.view(i))
            .collect()
    }

    /// Revokes an invite of `doc`. `None` if `doc` has no such invite. Revoking twice is
    /// harmless; the first revocation's time stays.
    pub async fn revoke_invite(
        &self,
        doc: &DocName,
        id: &str,
        actor: &Identity,
    ) -> Result<Option<(InviteView, Revoked)>, StoreError> {
        let store = self.store();
        match store.invite(id)? {
            Some(invite) if invite.doc == doc.as_str() => {}
            _ => return Ok(None),
        }
        let now = now_ms();
        let mut first = false;
        let Some(invite) = store.update_invite(id, |invite| {
            if invite.revoked_at.is_none() {
                invite.revoked_at = Some(now);
                first = true;
            }
        })?
        else {
            return Ok(None);
        };
        if first {
            let detail = serde_json::json!({
                "invite": invite.id, "role": invite.role, "name": invite.name, "group": invite.group,
            });
            self.record(Scope::Doc(doc), actor, Event::InviteRevoked, detail)?;
        }
        store.flush().await?;
        Ok(Some((self.view(invite)?, Revoked::Invite(id.to_owned()))))
    }

    /// Revokes one person of a group link of `doc`.
    pub async fn revoke_person(
        &self,
        doc: &DocName,
        id: &str,
        n: u32,
        actor: &Identity,
    ) -> Result<Option<Revoked>, StoreError> {
        let store = self.store();
        match store.invite(id)? {
            Some(invite) if invite.doc == doc.as_str() => {}
            _ => return Ok(None),
        }
        let Some(mut person) = store.person(id, n)? else {
            return Ok(None);
        };
        if person.revoked_at.is_none() {
            person.revoked_at = Some(now_ms());
            store.put_person(id, n, &person)?;
            let detail = serde_json::json!({
                "invite": id, "person": n, "name": person.name,
            });
            self.record(Scope::Doc(doc), actor, Event::PersonRevoked, detail)?;
            store.flush().await?;
        }
        Ok(Some(Revoked::Person(id.to_owned(), n)))
    }

    /// How an identity is shown. Names are looked up now, so a renamed person shows up
    /// under the new name everywhere, also for what they wrote before.
    pub fn display(&self, identity: &Identity) -> Result<Display, StoreError> {
        let store = self.store();
        Ok(match identity.invite_part() {
            None => Display {
                name: store
                    .setting::<String>(ADMIN_NAME)?
                    .unwrap_or_else(|| DEFAULT_ADMIN_NAME.into()),
                group: None,
            },
            Some((id, person)) => {
                let invite = store.invite(id)?;
                let group = invite.as_ref().and_then(|i| i.group.clone());
                let name = match person {
                    Some(n) => store
                        .person(id, n)?
                        .map(|p| p.name)
                        .filter(|name| !name.is_empty())
                        .unwrap_or_else(|| format!("{GUEST} {n}")),
                    None => invite
                        .as_ref()
                        .and_then(|i| i.name.clone().or_else(|| i.group.clone()))
                        .unwrap_or_else(|| UNKNOWN.into()),
                };
                Display { name, group }
            }
        })
    }

    pub fn person_ref(&self, identity: &Identity) -> Result<PersonRef, StoreError> {
        let Display { name, group } = self.display(identity)?;
        Ok(PersonRef {
            identity: identity.to_string(),
            name,
            group,
        })
    }

    /// Whether this identity still has to tell us its name (a new person of a group link).
    pub fn needs_name(&self, identity: &Identity) -> Result<bool, StoreError> {
        Ok(match identity.invite_part() {
            Some((id, Some(n))) => self
                .store()
                .person(id, n)?
                .is_some_and(|p| p.name.is_empty()),
            _ => false,
        })
    }

    /// Sets the name an identity is shown under.
    pub async fn rename(&self, identity: &Identity, name: &str) -> Result<Display, RenameError> {
        let name = clean_text("name", name, MAX_NAME)?;
        let store = self.store();
        match identity.invite_part() {
            None => store.put_setting(ADMIN_NAME, &name)?,
            Some((id, Some(n))) => {
                let mut person = store.person(id, n)?.ok_or(RenameError::Unknown)?;
                person.name = name;
                store.put_person(id, n, &person)?;
            }
            Some((id, None)) => {
                let updated = store.update_invite(id, |invite| {
                    if invite.kind == Kind::Personal {
                        invite.name = Some(name.clone());
                    }
                })?;
                if updated.is_none_or(|i| i.kind != Kind::Personal) {
                    return Err(RenameError::GroupLink);
                }
            }
        }
        store.flush().await?;
        Ok(self.display(identity)?)
    }

    /// Appends to the audit log (durable with the caller's next flush).
    pub fn record(
        &self,
        scope: Scope<'_>,
        actor: &Identity,
        event: Event,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            at: now_ms(),
            actor: actor.to_string(),
            event,
            detail,
        };
        self.store().append_audit(scope, &entry)?;
        Ok(())
    }

    /// The audit log of a document (or, with `None`, the server's own), newest first.
    pub fn audit(&self, doc: Option<&DocName>) -> Result<Vec<AuditView>, StoreError> {
        let scope = doc.map_or(Scope::Server, Scope::Doc);
        let mut entries = self
            .store()
            .audit(scope)?
            .into_iter()
            .map(|(id, entry)| {
                let actor = Identity::parse(&entry.actor).map_or_else(
                    || {
                        Ok(PersonRef {
                            identity: entry.actor.clone(),
                            name: entry.actor.clone(),
                            group: None,
                        })
                    },
                    |identity| self.person_ref(&identity),
                )?;
                Ok(AuditView {
                    id,
                    at: entry.at,
                    actor,
                    event: entry.event,
                    detail: entry.detail,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        entries.reverse();
        Ok(entries)
    }

    pub(super) fn audit_joined(&self, invite: &Invite, n: u32, _now: u64) {
        let Ok(doc) = DocName::parse(&invite.doc) else {
            return;
        };
        let identity = Identity::member(&invite.id, n);
        let detail = serde_json::json!({ "invite": invite.id, "person": n, "group": invite.group });
        if let Err(e) = self.record(Scope::Doc(&doc), &identity, Event::PersonJoined, detail) {
            tracing::warn!(error = %e, "cannot record a join in the audit log");
        }
    }

    fn view(&self, invite: Invite) -> Result<InviteView, StoreError> {
        let now = now_ms();
        let created_by = match Identity::parse(&invite.created_by) {
            Some(identity) => self.person_ref(&identity)?,
            None => PersonRef {
                identity: invite.created_by.clone(),
                name: invite.created_by.clone(),
                group: None,
            },
        };
        let members = if invite.kind == Kind::Group {
            self.store()
                .people_of(&invite.id)?
                .into_iter()
                .map(|(n, p)| MemberView {
                    person: n,
                    identity: Identity::member(&invite.id, n).to_string(),
                    name: if p.name.is_empty() {
                        format!("{GUEST} {n}")
                    } else {
                        p.name
                    },
                    joined_at: p.joined_at,
                    revoked_at: p.revoked_at,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(InviteView {
            status: invite.status(now),
            id: invite.id,
            doc: invite.doc,
            role: invite.role,
            kind: invite.kind,
            name: invite.name,
            group: invite.group,
            created_at: invite.created_at,
            created_by,
            expires_at: invite.expires_at,
            max_people: invite.max_people,
            people: invite.people,
            revoked_at: invite.revoked_at,
            members,
        })
    }
}

/// Why a rename is refused.
#[derive(Debug, thiserror::Error)]
pub enum RenameError {
    #[error(transparent)]
    Text(#[from] BadText),
    #[error("a group link has no name of its own: open it in a browser to join as a person")]
    GroupLink,
    #[error("unknown person")]
    Unknown,
    #[error(transparent)]
    Store(#[from] StoreError),
}

const ADMIN_NAME: &str = "admin_name";
const DEFAULT_ADMIN_NAME: &str = "Administration";
/// Shown for a person of a group link who has not given a name yet.
const GUEST: &str = "Gast";
const UNKNOWN: &str = "Unbekannt";

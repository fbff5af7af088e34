//! The store's access records: invites, tokens (hashes only), group members, the audit
//! log and server settings. Typed methods over sled; what the records mean is decided in
//! `crate::access` and `crate::auth`.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{keys, Store, StoreError};
use crate::access::audit::AuditEntry;
use crate::access::identity::{Person, TokenEntry};
use crate::access::invite::{Invite, Status};
use crate::name::DocName;

/// Where an audit entry belongs.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    Doc(&'a DocName),
    Server,
}

impl Scope<'_> {
    fn key(&self) -> &str {
        match self {
            Scope::Doc(doc) => doc.as_str(),
            Scope::Server => keys::SERVER_SCOPE,
        }
    }
}

/// The outcome of joining a group link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Joined {
    /// The new person's number within the link.
    Person(u32),
    Full,
    Closed(Status),
    NotAGroup,
}

impl Store {
    /// Stores a new invite and its token's hash. Durable with the next flush.
    pub fn create_invite(
        &self,
        invite: &Invite,
        lookup: [u8; 16],
        token: &TokenEntry,
    ) -> Result<(), StoreError> {
        self.write(|trees| {
            // The invite first: a crash in between leaves an invite nobody can use, never a
            // token that points nowhere.
            trees.invites.insert_json(invite.id.as_bytes(), invite)?;
            trees.tokens.insert_json(lookup, token)
        })
    }

    pub fn invite(&self, id: &str) -> Result<Option<Invite>, StoreError> {
        self.trees()?.invites.get_json(id.as_bytes())
    }

    /// A document's invites, oldest first.
    pub fn invites_of(&self, doc: &DocName) -> Result<Vec<Invite>, StoreError> {
        let trees = self.trees()?;
        let mut invites = Vec::new();
        for entry in trees.invites.iter() {
            let (key, value) = entry?;
            let invite: Invite = trees.invites.decode(&key, &value)?;
            if invite.doc == doc.as_str() {
                invites.push(invite);
            }
        }
        invites.sort_by_key(|i| i.created_at);
        Ok(invites)
    }

    /// Changes an invite atomically; `None` if there is no such invite.
    pub fn update_invite(
        &self,
        id: &str,
        change: impl FnMut(&mut Invite),
    ) -> Result<Option<Invite>, StoreError> {
        self.write(|trees| trees.invites.update_json(id.as_bytes(), change))
    }

    /// Lets one more person join a group link, if it is active and not full; the count
    /// goes up atomically, so `max_people` holds under concurrent joins.
    pub fn join_group(&self, id: &str, now_ms: u64, name: &str) -> Result<Joined, StoreError> {
        let mut joined = Joined::NotAGroup;
        self.update_invite(id, |invite| {
            joined = match invite.status(now_ms) {
                Status::Active if invite.has_room() => {
                    invite.people += 1;
                    Joined::Person(invite.people)
                }
                Status::Active if invite.kind == crate::access::invite::Kind::Group => Joined::Full,
                Status::Active => Joined::NotAGroup,
                closed => Joined::Closed(closed),
            };
        })?
        .ok_or(StoreError::Missing)?;
        if let Joined::Person(n) = joined {
            let person = Person {
                name: name.to_owned(),
                joined_at: now_ms,
                revoked_at: None,
            };
            self.put_person(id, n, &person)?;
        }
        Ok(joined)
    }

    pub fn person(&self, invite: &str, n: u32) -> Result<Option<Person>, StoreError> {
        self.trees()?.people.get_json(keys::person_key(invite, n))
    }

    pub fn put_person(&self, invite: &str, n: u32, person: &Person) -> Result<(), StoreError> {
        self.write(|trees| {
            trees
                .people
                .insert_json(keys::person_key(invite, n), person)
        })
    }

    /// The people of a group link, in the order they joined.
    pub fn people_of(&self, invite: &str) -> Result<Vec<(u32, Person)>, StoreError> {
        let trees = self.trees()?;
        let prefix = keys::people_prefix(invite);
        trees
            .people
            .scan_prefix(&prefix)
            .map(|entry| {
                let (key, value) = entry?;
                let n = key[prefix.len()..]
                    .try_into()
                    .map(u32::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("person key".into()))?;
                Ok((n, trees.people.decode(&key, &value)?))
            })
            .collect()
    }

    /// The record of a token, by the first 16 bytes of its hash.
    pub fn token(&self, lookup: [u8; 16]) -> Result<Option<TokenEntry>, StoreError> {
        self.trees()?.tokens.get_json(lookup)
    }

    pub fn put_token(&self, lookup: [u8; 16], entry: &TokenEntry) -> Result<(), StoreError> {
        self.write(|trees| trees.tokens.insert_json(lookup, entry))
    }

    pub fn remove_token(&self, lookup: [u8; 16]) -> Result<(), StoreError> {
        self.write(|trees| trees.tokens.remove(lookup))
    }

    /// Changes a token's record atomically (a session collecting another grant).
    pub fn update_token(
        &self,
        lookup: [u8; 16],
        change: impl FnMut(&mut TokenEntry),
    ) -> Result<Option<TokenEntry>, StoreError> {
        self.write(|trees| trees.tokens.update_json(lookup, change))
    }

    /// Appends an audit entry. Append-only: nothing changes or removes one.
    pub fn append_audit(&self, scope: Scope<'_>, entry: &AuditEntry) -> Result<u64, StoreError> {
        self.write(|trees| {
            // sled's ids are unique and increasing across restarts.
            let seq = trees.db.generate_id()?;
            trees
                .audit
                .insert_json(keys::audit_key(scope.key(), seq), entry)?;
            Ok(seq)
        })
    }

    /// The audit entries of a scope, oldest first.
    pub fn audit(&self, scope: Scope<'_>) -> Result<Vec<(u64, AuditEntry)>, StoreError> {
        let trees = self.trees()?;
        let prefix = keys::audit_prefix(scope.key());
        trees
            .audit
            .scan_prefix(&prefix)
            .map(|entry| {
                let (key, value) = entry?;
                let seq = key[prefix.len()..]
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError::Corrupt("audit key".into()))?;
                Ok((seq, trees.audit.decode(&key, &value)?))
            })
            .collect()
    }

    pub fn setting<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, StoreError> {
        self.trees()?.settings.get_json(name)
    }

    pub fn put_setting<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        self.write(|trees| trees.settings.insert_json(name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::invite::Kind;
    use crate::access::role::Role;
    use std::sync::Arc;

    fn group(max: Option<u32>) -> Invite {
        Invite {
            id: "0123456789abcdef".into(),
            doc: "d".into(),
            role: Role::Editor,
            kind: Kind::Group,
            name: None,
            group: Some("Konferenz".into()),
            created_at: 1,
            created_by: "admin".into(),
            expires_at: None,
            max_people: max,
            people: 0,
            revoked_at: None,
        }
    }

    #[tokio::test]
    async fn group_links_count_their_people_up_to_the_maximum() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20, Arc::default()).unwrap();
        let invite = group(Some(2));
        let token = TokenEntry {
            hash: "00".repeat(32),
            what: crate::access::identity::TokenKind::Invite {
                id: invite.id.clone(),
            },
        };
        store.create_invite(&invite, [7; 16], &token).unwrap();
        assert_eq!(store.token([7; 16]).unwrap(), Some(token));
        assert_eq!(
            store.join_group(&invite.id, 5, "").unwrap(),
            Joined::Person(1)
        );
        assert_eq!(
            store.join_group(&invite.id, 5, "B").unwrap(),
            Joined::Person(2)
        );
        assert_eq!(store.join_group(&invite.id, 5, "C").unwrap(), Joined::Full);
        assert_eq!(
            store
                .people_of(&invite.id)
                .unwrap()
                .into_iter()
                .map(|(n, p)| (n, p.name))
                .collect::<Vec<_>>(),
            vec![(1, String::new()), (2, "B".into())]
        );
        store
            .update_invite(&invite.id, |i| i.revoked_at = Some(6))
            .unwrap();
        assert_eq!(
            store.join_group(&invite.id, 7, "D").unwrap(),
            Joined::Closed(Status::Revoked)
        );
        assert!(matches!(
            store.join_group("ffffffffffffffff", 7, "D"),
            Err(StoreError::Missing)
        ));
    }

    #[tokio::test]
    async fn audit_entries_stay_in_their_scope_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20, Arc::default()).unwrap();
        let doc = DocName::parse("d").unwrap();
        let other = DocName::parse("d.x").unwrap();
        let entry = |at| AuditEntry {
            at,
            actor: "admin".into(),
            event: crate::access::audit::Event::DocRenamed,
            detail: serde_json::Value::Null,
        };
        for at in [3, 1, 2] {
            store.append_audit(Scope::Doc(&doc), &entry(at)).unwrap();
        }
        store.append_audit(Scope::Doc(&other), &entry(9)).unwrap();
        store.append_audit(Scope::Server, &entry(8)).unwrap();
        let ats = |scope| -> Vec<u64> {
            store
                .audit(scope)
                .unwrap()
                .into_iter()
                .map(|(_, e)| e.at)
                .collect()
        };
        assert_eq!(
            ats(Scope::Doc(&doc)),
            vec![3, 1, 2],
            "in the order appended"
        );
        assert_eq!(ats(Scope::Doc(&other)), vec![9]);
        assert_eq!(ats(Scope::Server), vec![8]);
    }
}

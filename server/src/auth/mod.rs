//! Authentication: turns what a request presents into a [`Caller`] by looking its token up
//! in the store, signs people in (a link's token becomes a session), and keeps the admin
//! credential. The rules themselves (roles, invites, tokens) are the pure `crate::access`;
//! this is its thin shell over the store. Nothing here knows HTTP or websockets.

mod invites;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::access::identity::{Grant, Identity, Revoked, TokenEntry, TokenKind, CONFIGURED_ADMIN};
use crate::access::invite::{Kind, Status};
use crate::access::limiter::FailureLimiter;
use crate::access::presented::{Presented, Source};
use crate::access::role::{Action, Role};
use crate::access::token::{self, Token, TokenHash};
use crate::name::DocName;
use crate::store::{now_ms, Joined, Store, StoreError};

pub use invites::{AuditView, InviteView, MemberView, PersonRef, RenameError};

/// Why a request is not let in. The HTTP layer maps these to 401, 403 and 429.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("sign-in required: open your invite link")]
    Missing,
    #[error("this link or token is not valid")]
    Unknown,
    #[error("your session has ended: open your invite link again")]
    StaleSession,
    #[error("this link has been revoked")]
    Revoked,
    #[error("this link has expired")]
    Expired,
    #[error("this group link is full")]
    Full,
    #[error("too many failed sign-in attempts; try again in {0} s")]
    Limited(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One grant that holds right now, with what it gives.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub grant: Grant,
    pub role: Role,
    /// The document it is for; `None` for an admin (every document).
    pub doc: Option<DocName>,
    /// When it stops holding (ms), if ever.
    pub expires_at: Option<u64>,
}

impl Resolved {
    pub fn identity(&self) -> Identity {
        self.grant.identity()
    }
}

/// Who made a request: every grant that holds, and where the credential came from.
#[derive(Debug, Clone)]
pub struct Caller {
    pub grants: Vec<Resolved>,
    pub source: Source,
}

impl Caller {
    /// The local operator (the CLI on the control socket): admin on everything.
    pub fn operator() -> Caller {
        Caller {
            grants: vec![Resolved {
                grant: Grant::Admin {
                    credential: "operator".into(),
                },
                role: Role::Admin,
                doc: None,
                expires_at: None,
            }],
            source: Source::Bearer,
        }
    }

    pub fn admin(&self) -> Option<&Resolved> {
        self.grants.iter().find(|g| g.role == Role::Admin)
    }

    /// The strongest grant that covers `doc`.
    pub fn on(&self, doc: &DocName) -> Option<&Resolved> {
        self.admin().or_else(|| {
            self.grants
                .iter()
                .filter(|g| g.doc.as_ref() == Some(doc))
                .max_by_key(|g| g.role.rank())
        })
    }

    /// The grant that lets the caller do `action` on `doc`, if any.
    pub fn may(&self, doc: &DocName, action: Action) -> Option<&Resolved> {
        self.on(doc).filter(|g| g.role.allows(action))
    }

    /// The grant for server-wide `action` (only admins have those).
    pub fn may_globally(&self, action: Action) -> Option<&Resolved> {
        self.admin().filter(|g| g.role.allows(action))
    }
}

/// The outcome of opening a link: the session to set as the cookie, and who that is now.
pub struct SignedIn {
    pub session: String,
    pub caller: Caller,
}

/// The generated admin credential, as kept in the settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AdminCredential {
    id: String,
    /// The token's lookup key, hex, so the old token can be removed when a new one is made.
    lookup: String,
    created_at: u64,
}

const ADMIN_SETTING: &str = "admin_credential";

/// The access service. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    configured_admin: Option<TokenHash>,
    limiter: FailureLimiter,
}

impl Auth {
    pub fn new(store: Store, admin_token: Option<&str>, failures_per_minute: u32) -> Auth {
        Auth {
            inner: Arc::new(Inner {
                store,
                configured_admin: admin_token
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(TokenHash::of),
                limiter: FailureLimiter::new(failures_per_minute),
            }),
        }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Makes an admin sign-in token when there is no admin credential at all (a new data
    /// directory and no `--admin-token`). Only its hash is stored; the token is returned
    /// once, for the welcome message.
    pub async fn bootstrap(&self) -> Result<Option<Token>, StoreError> {
        if self.inner.configured_admin.is_some()
            || self
                .store()
                .setting::<AdminCredential>(ADMIN_SETTING)?
                .is_some()
        {
            return Ok(None);
        }
        let (token, _) = self.issue_admin_token().await?;
        Ok(Some(token))
    }

    /// A new admin sign-in token; the previous generated one (and every session made with
    /// it) stops working. The configured `--admin-token` is not affected.
    pub async fn issue_admin_token(&self) -> Result<(Token, Revoked), StoreError> {
        let store = self.store();
        let token = Token::generate();
        let hash = token.hash();
        let credential = AdminCredential {
            id: invites::new_id(),
            lookup: hex(&hash.lookup_key()),
            created_at: now_ms(),
        };
        let entry = TokenEntry {
            hash: hash.to_hex(),
            what: TokenKind::Admin {
                id: credential.id.clone(),
            },
        };
        store.put_token(hash.lookup_key(), &entry)?;
        if let Some(old) = store.setting::<AdminCredential>(ADMIN_SETTING)? {
            if let Some(lookup) = unhex16(&old.lookup) {
                store.remove_token(lookup)?;
            }
        }
        store.put_setting(ADMIN_SETTING, &credential)?;
        store.flush().await?;
        Ok((
            token,
            Revoked::Admin {
                except: credential.id,
            },
        ))
    }

    /// Who presents `presented`. Failed guesses count against `ip`; an address over its
    /// limit gets nothing checked at all.
    pub fn authenticate(
        &self,
        presented: &Presented,
        ip: Option<IpAddr>,
    ) -> Result<Caller, AuthError> {
        let (secret, source) = match (&presented.token, &presented.session) {
            (Some((token, source)), _) => (token.as_str(), *source),
            (None, Some(session)) => (session.as_str(), Source::Cookie),
            (None, None) => return Err(AuthError::Missing),
        };
        // Only explicit tokens count as attempts. Browsers send their cookie by
        // themselves, so an old tab with a session the server no longer knows would
        // otherwise lock out everybody behind the same address.
        let explicit = source != Source::Cookie;
        if explicit {
            self.check_limit(ip)?;
        }
        let grants = match self.lookup(secret) {
            Ok(Found::Grants(grants)) => grants,
            Ok(Found::Nothing) if explicit => {
                self.failed(ip);
                return Err(AuthError::Unknown);
            }
            Ok(Found::Nothing) => return Err(AuthError::StaleSession),
            Err(e) => return Err(e.into()),
        };
        let grants = self.resolve(&grants)?;
        Ok(Caller { grants, source })
    }

    /// Opens a link: exchanges the presented token for a session (the caller's existing
    /// one, which then holds one more grant, or a new one). A group link makes the caller
    /// a new person of the group, unless this session already is one of its people.
    pub async fn sign_in(
        &self,
        presented: &Presented,
        ip: Option<IpAddr>,
    ) -> Result<SignedIn, AuthError> {
        let Some((secret, _)) = &presented.token else {
            return Err(AuthError::Missing);
        };
        self.check_limit(ip)?;
        let store = self.store();
        // The session this browser already has, if it is one.
        let existing = presented
            .session
            .as_deref()
            .and_then(|s| self.session_grants(s).ok().flatten().map(|g| (s, g)));
        let grant = match self.lookup(secret)? {
            Found::Nothing => {
                self.failed(ip);
                return Err(AuthError::Unknown);
            }
            Found::Grants(grants) => match grants.as_slice() {
                [Grant::Invite {
                    invite,
                    person: None,
                }] => self.join(invite, existing.as_ref().map(|(_, g)| g.as_slice()))?,
                [one] => one.clone(),
                _ => {
                    // A session's own token opened as a link: move that session here.
                    self.resolve(&grants)?;
                    store.flush().await?;
                    let caller = self.authenticate(presented, ip)?;
                    return Ok(SignedIn {
                        session: secret.clone(),
                        caller,
                    });
                }
            },
        };
        // Check the grant holds before anything is written for it.
        self.resolve(std::slice::from_ref(&grant))?;
        let session = match existing {
            Some((session, grants)) if grants.contains(&grant) => session.to_owned(),
            Some((session, _)) => {
                let lookup = TokenHash::of(session).lookup_key();
                store.update_token(lookup, |entry| {
                    if let TokenKind::Session { grants, .. } = &mut entry.what {
                        if !grants.contains(&grant) {
                            grants.push(grant.clone());
                        }
                    }
                })?;
                session.to_owned()
            }
            None => {
                let token = Token::generate();
                let hash = token.hash();
                let entry = TokenEntry {
                    hash: hash.to_hex(),
                    what: TokenKind::Session {
                        grants: vec![grant],
                        created_at: now_ms(),
                    },
                };
                store.put_token(hash.lookup_key(), &entry)?;
                token.as_str().to_owned()
            }
        };
        store.flush().await?;
        let with_session = Presented {
            token: None,
            session: Some(session.clone()),
        };
        let caller = self.authenticate(&with_session, ip)?;
        Ok(SignedIn { session, caller })
    }

    /// The grant a group link gives this browser: its existing person of that group, or a
    /// new one (name still empty: the person tells us next).
    fn join(&self, invite_id: &str, existing: Option<&[Grant]>) -> Result<Grant, AuthError> {
        let store = self.store();
        let invite = store.invite(invite_id)?.ok_or(AuthError::Unknown)?;
        if invite.kind == Kind::Personal {
            return Ok(Grant::Invite {
                invite: invite.id,
                person: None,
            });
        }
        let member_already = existing.into_iter().flatten().find(
            |g| matches!(g, Grant::Invite { invite, person: Some(_) } if *invite == invite_id),
        );
        if let Some(grant) = member_already {
            // The same browser again: the same person, also when that person was revoked
            // (reopening the link must not make a revoked member a new one).
            self.resolve(std::slice::from_ref(grant))?;
            return Ok(grant.clone());
        }
        let now = now_ms();
        match store.join_group(invite_id, now, "")? {
            Joined::Person(n) => {
                self.audit_joined(&invite, n, now);
                Ok(Grant::Invite {
                    invite: invite.id,
                    person: Some(n),
                })
            }
            Joined::Full => Err(AuthError::Full),
            Joined::Closed(Status::Expired) => Err(AuthError::Expired),
            Joined::Closed(_) => Err(AuthError::Revoked),
            Joined::NotAGroup => Err(AuthError::Unknown),
        }
    }

    fn check_limit(&self, ip: Option<IpAddr>) -> Result<(), AuthError> {
        match ip.map(|ip| self.inner.limiter.check(ip, Instant::now())) {
            Some(Err(wait)) => Err(AuthError::Limited(wait.as_secs().max(1))),
            _ => Ok(()),
        }
    }

    fn failed(&self, ip: Option<IpAddr>) {
        if let Some(ip) = ip {
            self.inner.limiter.fail(ip, Instant::now());
        }
    }

    /// The grants a secret stands for, before checking whether they still hold.
    fn lookup(&self, secret: &str) -> Result<Found, StoreError> {
        if !token::well_formed(secret) {
            return Ok(Found::Nothing);
        }
        let hash = TokenHash::of(secret);
        if let Some(configured) = &self.inner.configured_admin {
            if configured.matches(&hash) {
                return Ok(Found::Grants(vec![Grant::Admin {
                    credential: configured_credential(configured),
                }]));
            }
        }
        let Some(entry) = self.store().token(hash.lookup_key())? else {
            return Ok(Found::Nothing);
        };
        let stored = TokenHash::from_hex(&entry.hash)
            .ok_or_else(|| StoreError::Corrupt("token hash".into()))?;
        if !stored.matches(&hash) {
            return Ok(Found::Nothing);
        }
        Ok(Found::Grants(match entry.what {
            TokenKind::Invite { id } => vec![Grant::Invite {
                invite: id,
                person: None,
            }],
            TokenKind::Admin { id } => vec![Grant::Admin { credential: id }],
            TokenKind::Session { grants, .. } => grants,
        }))
    }

    fn session_grants(&self, session: &str) -> Result<Option<Vec<Grant>>, StoreError> {
        if !token::well_formed(session) {
            return Ok(None);
        }
        let hash = TokenHash::of(session);
        let Some(entry) = self.store().token(hash.lookup_key())? else {
            return Ok(None);
        };
        let matches = TokenHash::from_hex(&entry.hash).is_some_and(|stored| stored.matches(&hash));
        Ok(match entry.what {
            TokenKind::Session { grants, .. } if matches => Some(grants),
            _ => None,
        })
    }

    /// The grants that hold now. None holding is an error saying why the first failed.
    fn resolve(&self, grants: &[Grant]) -> Result<Vec<Resolved>, AuthError> {
        let now = now_ms();
        let mut held = Vec::new();
        let mut first_failure = None;
        for grant in grants {
            match self.resolve_one(grant, now)? {
                Ok(resolved) => held.push(resolved),
                Err(why) => {
                    first_failure.get_or_insert(why);
                }
            }
        }
        match first_failure {
            Some(why) if held.is_empty() => Err(why),
            _ if held.is_empty() => Err(AuthError::Unknown),
            _ => Ok(held),
        }
    }

    fn resolve_one(
        &self,
        grant: &Grant,
        now: u64,
    ) -> Result<Result<Resolved, AuthError>, StoreError> {
        let store = self.store();
        let (role, doc, expires_at) = match grant {
            Grant::Admin { credential } => {
                let holds = match &self.inner.configured_admin {
                    Some(c) if *credential == configured_credential(c) => true,
                    _ => store
                        .setting::<AdminCredential>(ADMIN_SETTING)?
                        .is_some_and(|current| current.id == *credential),
                };
                if !holds {
                    return Ok(Err(AuthError::Revoked));
                }
                (Role::Admin, None, None)
            }
            Grant::Invite { invite, person } => {
                let Some(invite) = store.invite(invite)? else {
                    return Ok(Err(AuthError::Unknown));
                };
                match invite.status(now) {
                    Status::Active => {}
                    Status::Expired => return Ok(Err(AuthError::Expired)),
                    Status::Revoked => return Ok(Err(AuthError::Revoked)),
                }
                if let Some(n) = person {
                    match store.person(&invite.id, *n)? {
                        Some(p) if p.revoked_at.is_none() => {}
                        Some(_) => return Ok(Err(AuthError::Revoked)),
                        None => return Ok(Err(AuthError::Unknown)),
                    }
                }
                let Ok(doc) = DocName::parse(&invite.doc) else {
                    return Ok(Err(AuthError::Unknown));
                };
                (invite.role, Some(doc), invite.expires_at)
            }
        };
        Ok(Ok(Resolved {
            grant: grant.clone(),
            role,
            doc,
            expires_at,
        }))
    }
}

enum Found {
    Nothing,
    Grants(Vec<Grant>),
}

fn configured_credential(hash: &TokenHash) -> String {
    format!("{CONFIGURED_ADMIN}{}", &hash.to_hex()[..16])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex16(text: &str) -> Option<[u8; 16]> {
    if text.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

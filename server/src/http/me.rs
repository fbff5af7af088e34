//! The caller's own identity: who am I (`/api/me`), what I am called, signing in with a
//! token and out again, and a new admin sign-in link.

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::caller::Origin;
use super::{doc_name, forbidden, ApiError, AppState};
use crate::access::audit::Event;
use crate::access::identity::Grant;
use crate::access::presented::{cleared_cookie, session_cookie, Presented, Source};
use crate::access::role::{Action, Role};
use crate::access::token::TokenHash;
use crate::auth::{Caller, Resolved};
use crate::store::Scope;
use crate::timestamp;

/// The caller as `/api/me` shows them.
#[derive(Serialize)]
pub struct Me {
    /// The stable id their changes are recorded under (for the document asked about).
    pub identity: String,
    pub name: String,
    pub group: Option<String>,
    /// `admin`, `personal` (a named invite), `group` (a group link used as a token), or
    /// `member` (a person who joined through a group link).
    pub kind: &'static str,
    pub admin: bool,
    /// The role on the document asked about with `?doc=` (or the first grant's role).
    pub role: Role,
    /// A new member of a group link who has not told us their name yet.
    pub needs_name: bool,
    #[serde(with = "timestamp::option")]
    pub expires_at: Option<u64>,
    /// Every document the caller holds a role on (admins: every document).
    pub roles: BTreeMap<String, Role>,
}

#[derive(Deserialize)]
pub struct MeQuery {
    doc: Option<String>,
}

fn me(state: &AppState, caller: &Caller, doc: Option<&str>) -> Result<Me, ApiError> {
    let grant = match doc {
        Some(doc) => caller.on(&doc_name(doc)?).ok_or_else(forbidden)?,
        None => caller
            .admin()
            .or_else(|| caller.grants.first())
            .ok_or_else(forbidden)?,
    };
    describe(state, caller, grant)
}

fn describe(state: &AppState, caller: &Caller, grant: &Resolved) -> Result<Me, ApiError> {
    let identity = grant.identity();
    let display = state.auth.display(&identity)?;
    let kind = match &grant.grant {
        Grant::Admin { .. } => "admin",
        Grant::Invite {
            person: Some(_), ..
        } => "member",
        Grant::Invite { invite, .. } => match state.store.invite(invite)?.map(|i| i.kind) {
            Some(crate::access::invite::Kind::Group) => "group",
            _ => "personal",
        },
    };
    let roles = caller
        .grants
        .iter()
        .filter_map(|g| Some((g.doc.as_ref()?.to_string(), g.role)))
        .fold(BTreeMap::new(), |mut roles, (doc, role)| {
            let best: &mut Role = roles.entry(doc).or_insert(role);
            if role.rank() > best.rank() {
                *best = role;
            }
            roles
        });
    Ok(Me {
        needs_name: state.auth.needs_name(&identity)?,
        identity: identity.to_string(),
        name: display.name,
        group: display.group,
        kind,
        admin: caller.admin().is_some(),
        role: grant.role,
        expires_at: grant.expires_at,
        roles,
    })
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Query(query): Query<MeQuery>,
) -> Result<Json<Me>, ApiError> {
    Ok(Json(me(&state, &caller, query.doc.as_deref())?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewName {
    name: String,
    /// The document whose identity is meant (a session may hold several).
    doc: Option<String>,
}

pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<NewName>, JsonRejection>,
) -> Result<Json<Me>, ApiError> {
    let Json(new) = body.map_err(|e| {
        ApiError::BadRequest(format!("expected {{\"name\": \"...\"}}: {}", e.body_text()))
    })?;
    let me_before = me(&state, &caller, new.doc.as_deref())?;
    let identity = crate::access::identity::Identity::parse(&me_before.identity)
        .ok_or_else(|| ApiError::Internal("identity".into()))?;
    let display = state
        .auth
        .rename(&identity, &new.name)
        .await
        .map_err(|e| match e {
            crate::auth::RenameError::Store(e) => e.into(),
            e => ApiError::BadRequest(e.to_string()),
        })?;
    state.rooms.rename(identity, display).await;
    Ok(Json(me(&state, &caller, new.doc.as_deref())?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    token: String,
}

/// `POST /api/session {"token"}`: the same exchange as opening a link, for scripts.
pub async fn sign_in(
    State(state): State<AppState>,
    origin: Origin,
    headers: HeaderMap,
    body: Result<Json<SignIn>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{\"token\": \"...\"}}: {}",
            e.body_text()
        ))
    })?;
    let mut presented = Presented::from_parts(&headers, None);
    presented.token = Some((body.token, Source::Bearer));
    let signed = state.auth.sign_in(&presented, origin.ip).await?;
    let me = me(&state, &signed.caller, None)?;
    let cookie = session_cookie(&signed.session, origin.secure);
    let mut response = (StatusCode::OK, Json(me)).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// `DELETE /api/session`: forgets this browser's session, on the server too.
pub async fn sign_out(
    State(state): State<AppState>,
    caller: Caller,
    origin: Origin,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if caller.source == Source::Cookie {
        if let Some(session) = Presented::from_parts(&headers, None).session {
            state
                .store
                .remove_token(TokenHash::of(&session).lookup_key())?;
            state.store.flush().await?;
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = HeaderValue::from_str(&cleared_cookie(origin.secure)) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

#[derive(Serialize)]
pub struct AdminLink {
    link: String,
    token: String,
}

/// `POST /api/admin/link`: a new admin sign-in link. The previous generated one, and every
/// session opened with it, stops working at once.
pub async fn admin_link(
    State(state): State<AppState>,
    caller: Caller,
    origin: Origin,
) -> Result<(StatusCode, Json<AdminLink>), ApiError> {
    let admin = caller
        .may_globally(Action::ManageAdmins)
        .ok_or_else(forbidden)?;
    let (token, revoked) = state.auth.issue_admin_token().await?;
    state.auth.record(
        Scope::Server,
        &admin.identity(),
        Event::AdminLinkIssued,
        serde_json::Value::Null,
    )?;
    state.store.flush().await?;
    state.rooms.revoke(revoked).await;
    Ok((
        StatusCode::CREATED,
        Json(AdminLink {
            link: format!("{}/?token={}", origin.base, token.as_str()),
            token: token.as_str().to_owned(),
        }),
    ))
}

//! Invites and the audit log of a document: moderators list, create and revoke links;
//! revoking closes the holders' connections before the answer goes out.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use super::caller::Origin;
use super::{doc_name, forbidden, ApiError, AppState};
use crate::access::invite::NewInvite;
use crate::access::role::Action;
use crate::auth::{AuditView, Caller, InviteView};
use crate::name::DocName;
use crate::store::now_ms;

/// A new invite as its creator sees it, the one time the link is shown.
#[derive(Serialize)]
pub struct Created {
    #[serde(flatten)]
    invite: InviteView,
    /// `http://HOST/d/{doc}?token=…`
    link: String,
    token: String,
}

/// The document, if it exists and is not in the trash.
fn existing(state: &AppState, doc: &str) -> Result<DocName, ApiError> {
    let name = doc_name(doc)?;
    match state.store.meta(&name)? {
        Some(meta) if meta.deleted_at.is_none() => Ok(name),
        _ => Err(ApiError::NotFound),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
) -> Result<Json<Vec<InviteView>>, ApiError> {
    let name = existing(&state, &doc)?;
    caller
        .may(&name, Action::ManageInvites)
        .ok_or_else(forbidden)?;
    Ok(Json(state.auth.invites(&name)?))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    origin: Origin,
    Path(doc): Path<String>,
    body: Result<Json<NewInvite>, JsonRejection>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let name = existing(&state, &doc)?;
    let inviter = caller
        .may(&name, Action::ManageInvites)
        .ok_or_else(forbidden)?;
    let Json(request) = body.map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{\"role\": \"reader|editor|moderator\", \"kind\": \"personal|group\", \
             \"name\"?, \"group\"?, \"expires_at\"?, \"max_people\"?}}: {}",
            e.body_text()
        ))
    })?;
    let request = request
        .checked(inviter.role, now_ms())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let (invite, token) = state.auth.create_invite(&name, inviter, request).await?;
    let link = format!("{}/d/{}?token={}", origin.base, name, token.as_str());
    Ok((
        StatusCode::CREATED,
        Json(Created {
            invite,
            link,
            token: token.as_str().to_owned(),
        }),
    ))
}

pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((doc, id)): Path<(String, String)>,
) -> Result<Json<InviteView>, ApiError> {
    let name = existing(&state, &doc)?;
    let moderator = caller
        .may(&name, Action::ManageInvites)
        .ok_or_else(forbidden)?;
    let (invite, revoked) = state
        .auth
        .revoke_invite(&name, &id, &moderator.identity())
        .await?
        .ok_or(ApiError::NotFound)?;
    // Before answering: when the moderator sees "revoked", those people are out.
    state.rooms.revoke(revoked).await;
    Ok(Json(invite))
}

/// `DELETE /api/invites/{id}`: the same, for whoever knows only the invite's id (the CLI).
pub async fn revoke_by_id(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<InviteView>, ApiError> {
    let doc = state
        .store
        .invite(&id)
        .ok()
        .flatten()
        .filter(|_| crate::access::identity::valid_invite_id(&id))
        .map(|invite| invite.doc)
        .ok_or(ApiError::NotFound)?;
    revoke(State(state), caller, Path((doc, id))).await
}

pub async fn revoke_person(
    State(state): State<AppState>,
    caller: Caller,
    Path((doc, id, person)): Path<(String, String, u32)>,
) -> Result<Json<InviteView>, ApiError> {
    let name = existing(&state, &doc)?;
    let moderator = caller
        .may(&name, Action::ManageInvites)
        .ok_or_else(forbidden)?;
    let revoked = state
        .auth
        .revoke_person(&name, &id, person, &moderator.identity())
        .await?
        .ok_or(ApiError::NotFound)?;
    state.rooms.revoke(revoked).await;
    let invite = state
        .auth
        .invites(&name)?
        .into_iter()
        .find(|i| i.id == id)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(invite))
}

pub async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    let name = doc_name(&doc)?;
    // The audit log stays readable for admins while the document is in the trash.
    let meta = state.store.meta(&name)?;
    let visible = match &meta {
        Some(m) if m.deleted_at.is_none() => caller.may(&name, Action::ReadAudit).is_some(),
        _ => caller.may_globally(Action::DeleteDoc).is_some(),
    };
    if !visible {
        return Err(if meta.is_some() {
            forbidden()
        } else {
            ApiError::NotFound
        });
    }
    Ok(Json(state.auth.audit(Some(&name))?))
}

/// Server-wide events (new admin links), for admins.
pub async fn server_audit(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    caller
        .may_globally(Action::ManageAdmins)
        .ok_or_else(forbidden)?;
    Ok(Json(state.auth.audit(None)?))
}

//! Documents: listing what the caller may see, creating, renaming, the trash (delete,
//! restore, purge after 30 days), and the rendered text.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{doc_name, forbidden, ApiError, AppState, TRASH_KEEP};
use crate::access::audit::Event;
use crate::access::identity::{clean_text, Identity, Revoked};
use crate::access::role::{Action, Role};
use crate::auth::{Auth, Caller};
use crate::name::DocName;
use crate::render::Format;
use crate::room::Close;
use crate::rooms::Rooms;
use crate::store::{now_ms, DocMeta, Record, Scope, Store, StoreError};
use crate::timestamp;

/// A document as the API lists it.
#[derive(Debug, Serialize, Deserialize)]
pub struct DocEntry {
    pub id: String,
    pub title: String,
    /// When this document was created (ms). A document created again under an old id
    /// (after its data was lost) has a new `created_at`: clients key offline copies by it.
    pub created_at: u64,
    pub updated_at: u64,
    pub size: u64,
    /// Words in the text (counted at most once a second while people type).
    pub words: u64,
    /// Who edited last: `{"id", "name"}`; absent before the first edit by a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_by: Option<Person>,
    /// The caller's role on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// In the trash since (ms); only trash listings have it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<u64>,
    /// When the trash lets go of it for good (RFC 3339); only trash listings have it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_at: Option<String>,
}

/// A person as the document list names them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Person {
    pub id: String,
    pub name: String,
}

impl DocEntry {
    fn new(name: &DocName, meta: DocMeta, role: Option<Role>) -> Self {
        let purge_at = meta
            .deleted_at
            .map(|at| timestamp::to_rfc3339(at + TRASH_KEEP.as_millis() as u64));
        DocEntry {
            id: name.to_string(),
            title: meta.title,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
            size: meta.size,
            words: meta.words,
            updated_by: meta.updated_by.map(|id| Person {
                name: String::new(),
                id,
            }),
            role,
            deleted_at: meta.deleted_at,
            purge_at,
        }
    }
}

/// The document's metadata, unless it does not exist or is in the trash.
fn live_meta(store: &Store, name: &DocName) -> Result<Option<DocMeta>, StoreError> {
    Ok(store.meta(name)?.filter(|m| m.deleted_at.is_none()))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DocEntry>>, ApiError> {
    let mut docs: Vec<DocEntry> = state
        .store
        .list()?
        .into_iter()
        .filter(|(_, m)| m.deleted_at.is_none())
        .filter_map(|(n, m)| {
            let role = caller.may(&n, Action::Read)?.role;
            Some(DocEntry::new(&n, m, Some(role)))
        })
        .collect();
    let mut names = super::history::Names::default();
    for person in docs.iter_mut().filter_map(|d| d.updated_by.as_mut()) {
        person.name = names.name(&state, &person.id);
    }
    docs.sort_by_key(|d| std::cmp::Reverse(d.updated_at));
    Ok(Json(docs))
}

#[derive(Deserialize)]
pub struct Title {
    title: String,
}

fn title_from(body: Result<Json<Title>, JsonRejection>) -> Result<String, ApiError> {
    let Json(new) = body.map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{\"title\": \"...\"}}: {}",
            e.body_text()
        ))
    })?;
    clean_text("title", &new.title, 200)
        .map_err(|_| ApiError::BadRequest("title must be 1 to 200 characters".into()))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<Json<Title>, JsonRejection>,
) -> Result<(StatusCode, Json<DocEntry>), ApiError> {
    let admin = caller
        .may_globally(Action::CreateDoc)
        .ok_or_else(forbidden)?;
    let title = title_from(body)?;
    let base = slug(&title);
    for attempt in 0..20u32 {
        let id = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}-{}", suffix(attempt))
        };
        let name = doc_name(&id)?;
        match create_named(&state, &name, &title, &admin.identity()).await {
            Ok(meta) => {
                let entry = DocEntry::new(&name, meta, Some(Role::Admin));
                return Ok((StatusCode::CREATED, Json(entry)));
            }
            Err(StoreError::Exists) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable("could not find a free document id"))
}

/// Creates an empty document `name` (also when an admin opens a websocket to a new name),
/// recorded in the audit log. [`StoreError::Exists`] if the name is taken, trash included.
pub async fn create_named(
    state: &AppState,
    name: &DocName,
    title: &str,
    actor: &Identity,
) -> Result<DocMeta, StoreError> {
    let meta = DocMeta::new(title, now_ms());
    state.store.create(name, &meta, None).await?;
    let detail = serde_json::json!({ "title": title });
    state
        .auth
        .record(Scope::Doc(name), actor, Event::DocCreated, detail)?;
    state.store.flush().await?;
    Ok(meta)
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
) -> Result<Json<DocEntry>, ApiError> {
    let name = doc_name(&doc)?;
    let meta = live_meta(&state.store, &name)?.ok_or(ApiError::NotFound)?;
    let grant = caller.may(&name, Action::Read).ok_or_else(forbidden)?;
    Ok(Json(DocEntry::new(&name, meta, Some(grant.role))))
}

pub async fn rename(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
    body: Result<Json<Title>, JsonRejection>,
) -> Result<Json<DocEntry>, ApiError> {
    let name = doc_name(&doc)?;
    let admin = caller
        .may_globally(Action::RenameDoc)
        .ok_or_else(forbidden)?;
    let title = title_from(body)?;
    let before = live_meta(&state.store, &name)?.ok_or(ApiError::NotFound)?;
    let meta = state
        .store
        .update_meta(&name, |meta| meta.title = title.clone())?
        .ok_or(ApiError::NotFound)?;
    let detail = serde_json::json!({ "from": before.title, "to": title });
    state.auth.record(
        Scope::Doc(&name),
        &admin.identity(),
        Event::DocRenamed,
        detail,
    )?;
    state.store.flush().await?;
    Ok(Json(DocEntry::new(&name, meta, Some(Role::Admin))))
}

/// Moves a document to the trash: it disappears for everyone, its connections close, and
/// an admin can restore it for 30 days.
pub async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
) -> Result<Json<DocEntry>, ApiError> {
    let name = doc_name(&doc)?;
    let admin = caller
        .may_globally(Action::DeleteDoc)
        .ok_or_else(forbidden)?;
    live_meta(&state.store, &name)?.ok_or(ApiError::NotFound)?;
    let now = now_ms();
    let meta = state
        .store
        .update_meta(&name, |meta| meta.deleted_at = Some(now))?
        .ok_or(ApiError::NotFound)?;
    state.auth.record(
        Scope::Doc(&name),
        &admin.identity(),
        Event::DocDeleted,
        serde_json::json!({ "title": meta.title }),
    )?;
    state.store.flush().await?;
    state.rooms.close(&name, Close::DELETED).await;
    Ok(Json(DocEntry::new(&name, meta, Some(Role::Admin))))
}

pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
) -> Result<Json<DocEntry>, ApiError> {
    let name = doc_name(&doc)?;
    let admin = caller
        .may_globally(Action::DeleteDoc)
        .ok_or_else(forbidden)?;
    let meta = state.store.meta(&name)?.ok_or(ApiError::NotFound)?;
    if meta.deleted_at.is_none() {
        return Err(ApiError::Conflict(
            "the document is not in the trash".into(),
        ));
    }
    let meta = state
        .store
        .update_meta(&name, |meta| meta.deleted_at = None)?
        .ok_or(ApiError::NotFound)?;
    state.auth.record(
        Scope::Doc(&name),
        &admin.identity(),
        Event::DocRestored,
        serde_json::json!({ "title": meta.title }),
    )?;
    state.store.flush().await?;
    Ok(Json(DocEntry::new(&name, meta, Some(Role::Admin))))
}

pub async fn trash(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DocEntry>>, ApiError> {
    caller
        .may_globally(Action::DeleteDoc)
        .ok_or_else(forbidden)?;
    let mut docs: Vec<DocEntry> = state
        .store
        .list()?
        .into_iter()
        .filter(|(_, m)| m.deleted_at.is_some())
        .map(|(n, m)| DocEntry::new(&n, m, Some(Role::Admin)))
        .collect();
    docs.sort_by_key(|d| std::cmp::Reverse(d.deleted_at));
    Ok(Json(docs))
}

/// Removes documents that have been in the trash for longer than 30 days, and revokes
/// their invites (so a document created later under the same name does not inherit
/// them). Their audit entries stay. Returns how many were purged.
pub async fn purge_expired(store: &Store, auth: &Auth, rooms: &Rooms) -> Result<usize, StoreError> {
    let now = now_ms();
    let keep = TRASH_KEEP.as_millis() as u64;
    let mut purged = 0;
    for (name, meta) in store.list()? {
        let Some(deleted_at) = meta.deleted_at else {
            continue;
        };
        if deleted_at.saturating_add(keep) > now {
            continue;
        }
        rooms.close(&name, Close::DELETED).await;
        for invite in store.invites_of(&name)? {
            if invite.revoked_at.is_none() {
                store.update_invite(&invite.id, |i| i.revoked_at = Some(now))?;
                rooms.revoke(Revoked::Invite(invite.id.clone())).await;
            }
        }
        store.purge(&name)?;
        let detail = serde_json::json!({ "title": meta.title });
        auth.record(
            Scope::Doc(&name),
            &Identity::admin(),
            Event::DocPurged,
            detail,
        )?;
        purged += 1;
    }
    if purged > 0 {
        store.flush().await?;
        tracing::info!(purged, "documents purged from the trash after 30 days");
    }
    Ok(purged)
}

#[derive(Deserialize)]
pub struct TextQuery {
    format: Option<String>,
}

pub async fn text(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
    Query(query): Query<TextQuery>,
) -> Result<Response, ApiError> {
    let name = doc_name(&doc)?;
    let format: Format = query
        .format
        .as_deref()
        .unwrap_or("md")
        .parse()
        .map_err(|e: crate::render::UnknownFormat| ApiError::BadRequest(e.to_string()))?;
    live_meta(&state.store, &name)?.ok_or(ApiError::NotFound)?;
    caller.may(&name, Action::Read).ok_or_else(forbidden)?;
    let text = state.rooms.render(&name, format).await?;
    Ok(([(header::CONTENT_TYPE, format.content_type())], text).into_response())
}

/// Writes the demo document into an empty store, so that a newcomer sees something real.
pub async fn seed_demo(store: &Store) -> Result<(), StoreError> {
    if !store.list()?.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let update = crate::demo::demo_update();
    let mut meta = DocMeta::new(crate::demo::DEMO_TITLE, now);
    meta.size = update.len() as u64;
    meta.words = crate::history::restore::doc_of(&update)
        .map(|doc| {
            crate::render::render(&doc, crate::render::Format::Text)
                .split_whitespace()
                .count() as u64
        })
        .unwrap_or(0);
    let name =
        DocName::parse(crate::demo::DEMO_ID).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let record = Record {
        ts_ms: now,
        author: None,
        update,
    };
    match store.create(&name, &meta, Some(record)).await {
        Ok(()) | Err(StoreError::Exists) => Ok(()),
        Err(e) => Err(e),
    }
}

/// A document id from a title: lower-case ASCII, German letters spelled out, dashes.
fn slug(title: &str) -> String {
    let mut out = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        let spelled = match c {
            'ä' => "ae",
            'ö' => "oe",
            'ü' => "ue",
            'ß' => "ss",
            c if c.is_ascii_alphanumeric() => {
                out.push(c);
                continue;
            }
            _ => "-",
        };
        if spelled != "-" || !out.ends_with('-') {
            out.push_str(spelled);
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(60).collect();
    let trimmed = trimmed.trim_end_matches('-');
    if trimmed.is_empty() {
        "dokument".into()
    } else {
        trimmed.into()
    }
}

fn suffix(attempt: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{:04x}",
        (nanos ^ attempt.wrapping_mul(0x9e37_79b9)) & 0xffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_valid_names() {
        assert_eq!(slug("Übergang Schule–Beruf"), "uebergang-schule-beruf");
        assert_eq!(slug("  Bildung 2030!! "), "bildung-2030");
        assert_eq!(slug("???"), "dokument");
        for title in ["Übergang Schule–Beruf", "a/b/../c", &"x".repeat(300)] {
            assert!(DocName::parse(&slug(title)).is_ok());
        }
    }
}

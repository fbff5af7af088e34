//! The archive API and its public pages: adopting a version (moderators), reading the
//! adopted texts in every format, comparing editions, checking the hash chain, and the
//! Atom feed. Entries are never changed: every modifying method is refused.
//!
//! Reading is open to everyone unless the server runs with `--private-archive`; then any
//! signed-in person (a reader of some document, or an admin) may read.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use super::{doc_name, forbidden, ApiError, AppState};
use crate::access::audit::Event;
use crate::access::role::Action;
use crate::archive::entry::{canonical_text, Adoption, Draft};
use crate::archive::page::{self, Lang};
use crate::archive::{self, Entry, Frozen};
use crate::auth::Caller;
use crate::history::restore::doc_of;
use crate::render::{self, Format};
use crate::store::{now_ms, Appended, Scope};
use crate::timestamp;

/// The longest `Idempotency-Key` taken.
const MAX_KEY: usize = 200;

/// Whether this request may read the archive.
pub(super) fn may_read(state: &AppState, caller: Result<Caller, ApiError>) -> Result<(), ApiError> {
    if !state.private_archive {
        return Ok(());
    }
    match caller? {
        caller if !caller.grants.is_empty() => Ok(()),
        _ => Err(forbidden()),
    }
}

/// The Yjs state an entry froze.
pub(super) fn state_of(frozen: &Frozen) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(&frozen.state)
        .map_err(|_| ApiError::Damaged("an archive entry's state is not base64".into()))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "Idempotency-Key must be 1 to {MAX_KEY} visible ASCII characters"
            ))
        })?;
    Ok(Some(key.to_owned()))
}

/// `POST /api/docs/{doc}/versions/{id}/adopt`: freezes the version into the archive.
pub async fn adopt(
    State(state): State<AppState>,
    caller: Caller,
    Path((doc, version_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Json<Adoption>, JsonRejection>,
) -> Result<Response, ApiError> {
    let name = doc_name(&doc)?;
    let meta = state
        .store
        .meta(&name)?
        .filter(|m| m.deleted_at.is_none())
        .ok_or(ApiError::NotFound)?;
    let grant = caller.may(&name, Action::Adopt).ok_or_else(forbidden)?;
    let identity = grant.identity();
    let Json(adoption) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let adoption = adoption
        .checked()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let key = idempotency_key(&headers)?;
    let (version, version_state) = state
        .store
        .version(&name, &version_id)?
        .ok_or_else(|| ApiError::BadRequest(format!("unknown version {version_id}")))?;
    let adopter_name = state
        .auth
        .display(&identity)
        .map(|d| d.name)
        .unwrap_or_default();
    let (doc_id, adopter) = (name.as_str().to_owned(), identity.as_str().to_owned());
    let draft = tokio::task::spawn_blocking(move || -> Result<Draft, ApiError> {
        let doc = doc_of(&version_state).map_err(|e| ApiError::Damaged(e.to_string()))?;
        Ok(Draft {
            adoption,
            adopted_at: timestamp::to_rfc3339(now_ms()),
            adopter,
            adopter_name,
            doc: doc_id,
            doc_title: meta.title,
            version: version.id,
            frozen: Frozen {
                markdown: canonical_text(&render::render(&doc, Format::Markdown)),
                html: canonical_text(&render::render(&doc, Format::Html)),
                text: canonical_text(&render::render(&doc, Format::Text)),
                state: base64::engine::general_purpose::STANDARD.encode(&version_state),
            },
            state: version_state,
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let (entry, replayed) = match state.store.append_to_archive(draft, key.as_deref()).await? {
        Appended::New(entry) => {
            state.auth.record(
                Scope::Doc(&name),
                &identity,
                Event::VersionAdopted,
                json!({ "entry": entry.id, "version": entry.version, "title": entry.title }),
            )?;
            state.store.flush().await?;
            (entry, false)
        }
        Appended::Replayed(entry) => (entry, true),
        Appended::KeyReused(entry) => {
            return Err(ApiError::Conflict(format!(
                "this Idempotency-Key was used for another adoption (version {} of {}, entry {}); send a new key",
                entry.version, entry.doc, entry.id
            )))
        }
    };
    let mut response = (StatusCode::CREATED, Json(entry)).into_response();
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    doc: Option<String>,
}

/// `GET /api/archive`: every entry, newest first (`?doc=` only that document's).
pub async fn list(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Entry>>, ApiError> {
    may_read(&state, caller)?;
    let mut entries = state.store.archive_entries()?;
    if let Some(doc) = query.doc {
        entries.retain(|e| e.doc == doc);
    }
    entries.reverse();
    Ok(Json(entries))
}

#[derive(Debug, Deserialize)]
pub struct ShowQuery {
    format: Option<String>,
}

/// One entry: `?format=` json (the default), md, html, txt, docx, or record (the bytes
/// its `entry_sha256` is taken over).
pub async fn show(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path(id): Path<String>,
    Query(query): Query<ShowQuery>,
) -> Result<Response, ApiError> {
    may_read(&state, caller)?;
    let (entry, frozen) = state.store.archive_entry(&id)?.ok_or(ApiError::NotFound)?;
    let text = |body: String, content_type: &'static str, extension: &str| {
        (
            [
                (header::CONTENT_TYPE, content_type.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"leitbild-{id}.{extension}\""),
                ),
            ],
            body,
        )
            .into_response()
    };
    Ok(match query.format.as_deref().unwrap_or("json") {
        "json" => Json(entry).into_response(),
        "md" => text(frozen.markdown, Format::Markdown.content_type(), "md"),
        "html" => text(frozen.html, Format::Html.content_type(), "html"),
        "txt" => text(frozen.text, Format::Text.content_type(), "txt"),
        "record" => text(entry.record(), "text/plain; charset=utf-8", "record.txt"),
        "docx" => {
            let bytes = docx_of(entry, frozen).await?;
            (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
                            .to_owned(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"leitbild-{id}.docx\""),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown format {other:?}: expected json, md, html, txt, docx or record"
            )))
        }
    })
}

/// The entry as a Word file, with its title block and the hash at the end.
async fn docx_of(entry: Entry, frozen: Frozen) -> Result<Vec<u8>, ApiError> {
    let state = state_of(&frozen)?;
    tokio::task::spawn_blocking(move || {
        let doc = doc_of(&state).map_err(|e| ApiError::Damaged(e.to_string()))?;
        let title = render::docx::TitleBlock {
            title: entry.title.clone(),
            lines: vec![
                entry.adopted_by.clone(),
                format!("Beschlossen am {}", german_date(&entry.decided_on)),
            ],
            footer: vec![
                format!("Archiv-Eintrag {} ({}. Fassung)", entry.id, entry.edition),
                format!("SHA-256 der Markdown-Fassung: {}", entry.sha256),
            ],
        };
        render::docx::docx(&doc, &title).map_err(|e| ApiError::Internal(e.to_string()))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
}

/// `2026-09-29` as `29.09.2026`.
fn german_date(date: &str) -> String {
    let mut parts = date.split('-');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(y), Some(m), Some(d)) => format!("{d}.{m}.{y}"),
        _ => date.to_owned(),
    }
}

/// `GET /api/archive/verify`: every hash and the chain recomputed; 200 when intact, 409
/// with the first inconsistency when not.
pub async fn verify(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
) -> Result<Response, ApiError> {
    may_read(&state, caller)?;
    let store = state.store.clone();
    let report =
        tokio::task::spawn_blocking(move || store.archive_as_stored().map(archive::verify))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
    let status = if report.ok {
        StatusCode::OK
    } else {
        tracing::error!(problem = ?report.problem, "the archive failed verification");
        StatusCode::CONFLICT
    };
    Ok((status, Json(report)).into_response())
}

/// The structured diff of two entries' texts (no authors: editions are compared as texts).
pub(super) async fn compared(
    state: &AppState,
    a: &str,
    b: &str,
) -> Result<(Entry, Entry, crate::history::Compared), ApiError> {
    let (entry_a, frozen_a) = state.store.archive_entry(a)?.ok_or(ApiError::NotFound)?;
    let (entry_b, frozen_b) = state.store.archive_entry(b)?.ok_or(ApiError::NotFound)?;
    let (state_a, state_b) = (state_of(&frozen_a)?, state_of(&frozen_b)?);
    let compared = tokio::task::spawn_blocking(move || {
        let from = doc_of(&state_a).map_err(|e| ApiError::Damaged(e.to_string()))?;
        let to = doc_of(&state_b).map_err(|e| ApiError::Damaged(e.to_string()))?;
        let nobody = crate::history::authorship::Authorship::default();
        Ok::<_, ApiError>(crate::history::compare(&from, &to, &nobody, &[], 0))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    Ok((entry_a, entry_b, compared))
}

/// `GET /api/archive/{a}/compare/{b}`: what changed from edition `a` to edition `b`.
pub async fn compare(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    Path((a, b)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    may_read(&state, caller)?;
    let (from, to, compared) = compared(&state, &a, &b).await?;
    Ok(Json(json!({ "from": from, "to": to, "diff": compared })).into_response())
}

/// Any modifying method on an archive path.
pub async fn refuse() -> Response {
    let mut response = (
        StatusCode::METHOD_NOT_ALLOWED,
        Json(json!({
            "error": "archive entries can never be changed or deleted",
            "code": "archive_immutable",
        })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

// ---------------------------------------------------------------------------------------
// The public pages.

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    lang: Option<String>,
}

/// The page's language: `?lang=`, else the browser's preference.
fn lang(headers: &HeaderMap, query: &PageQuery) -> Lang {
    query
        .lang
        .as_deref()
        .and_then(Lang::from_code)
        .unwrap_or_else(|| {
            Lang::from_accept_language(
                headers
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok()),
            )
        })
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `/archive`: the adopted texts, newest first.
pub async fn list_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Result<Response, ApiError> {
    may_read(&state, caller)?;
    let entries = state.store.archive_entries()?;
    Ok(html(
        StatusCode::OK,
        page::list(&entries, lang(&headers, &query)),
    ))
}

/// `/archive/{id}`: the adopted text, print-ready.
pub async fn entry_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<Response, ApiError> {
    may_read(&state, caller)?;
    let lang = lang(&headers, &query);
    Ok(match state.store.archive_entry(&id)? {
        Some((entry, frozen)) => html(StatusCode::OK, page::entry(&entry, &frozen, lang)),
        None => html(StatusCode::NOT_FOUND, page::not_found(lang)),
    })
}

/// `/archive/{a}/compare/{b}`: what changed between two editions.
pub async fn compare_page(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
    Path((a, b)): Path<(String, String)>,
    Query(query): Query<PageQuery>,
) -> Result<Response, ApiError> {
    may_read(&state, caller)?;
    let lang = lang(&headers, &query);
    match compared(&state, &a, &b).await {
        Ok((from, to, compared)) => {
            let diff = page::diff_html(&compared.diff, lang);
            Ok(html(StatusCode::OK, page::compare(&from, &to, &diff, lang)))
        }
        Err(ApiError::NotFound) => Ok(html(StatusCode::NOT_FOUND, page::not_found(lang))),
        Err(e) => Err(e),
    }
}

/// `/archive.atom`: the feed of adoptions.
pub async fn feed(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    may_read(&state, caller)?;
    let entries = state.store.archive_entries()?;
    let base = state.links.base(&headers, false);
    Ok((
        [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
        archive::feed::atom(&entries, &base),
    )
        .into_response())
}

/// The pages' style sheet and script (the CSP allows no inline ones).
pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        page::STYLESHEET,
    )
        .into_response()
}

pub async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        page::SCRIPT,
    )
        .into_response()
}

//! The HTTP surface: routes, handlers, and `ApiError`, the one mapping of failures to
//! status codes and short JSON bodies. Details of a failure go to the log, not the client.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::assets;
use crate::connection::{self, ConnectionSettings};
use crate::metrics::Metrics;
use crate::name::DocName;
use crate::render::Format;
use crate::room::Close;
use crate::rooms::{Rooms, RoomsError};
use crate::store::{now_ms, DocMeta, Record, Store, StoreError};

/// The Content-Security-Policy the web app is built to satisfy: no inline scripts, no
/// inline style sheets; inline style attributes only (editor carets are coloured that way).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; \
    font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub rooms: Rooms,
    pub metrics: Arc<Metrics>,
    pub connection: ConnectionSettings,
    pub max_connections: usize,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/d/{doc}", get(page))
        .route("/assets/{*path}", get(asset))
        .route("/sw.js", get(service_worker))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/ws/{doc}", get(websocket))
        .route("/api/docs", get(list_docs).post(create_doc))
        .route("/api/docs/{doc}", get(doc_meta))
        .route("/api/docs/{doc}/text", get(doc_text))
        .fallback(|| async { ApiError::NotFound })
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .with_state(state)
}

/// Every way a request can fail, as the client sees it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl From<RoomsError> for ApiError {
    fn from(e: RoomsError) -> Self {
        match e {
            RoomsError::ShuttingDown => ApiError::Unavailable("the server is shutting down"),
            RoomsError::TooManyDocs => {
                ApiError::Unavailable("too many open documents, try again later")
            }
            RoomsError::Room(e) => ApiError::Internal(e.to_string()),
        }
    }
}

fn doc_name(raw: &str) -> Result<DocName, ApiError> {
    DocName::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))
}

async fn page(headers: HeaderMap) -> Response {
    assets::index(&headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    assets::file(&format!("assets/{path}"), &headers)
}

async fn service_worker(headers: HeaderMap) -> Response {
    assets::file("sw.js", &headers)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// Query parameters of `/ws/{doc}`; anything else (such as `?token=`) is ignored.
#[derive(Deserialize)]
struct WsQuery {
    /// The `created_at` of the document the client's local copy belongs to.
    created: Option<String>,
}

async fn websocket(
    State(state): State<AppState>,
    Path(doc): Path<String>,
    Query(query): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let doc = doc_name(&doc)?;
    // A client whose local copy belongs to an earlier document of the same name (the data
    // was lost and the document created anew) must not merge that copy into the new one.
    let created = query.created.and_then(|c| c.parse::<u64>().ok());
    let stale = match created {
        Some(created) => state
            .store
            .meta(&doc)?
            .is_some_and(|m| m.created_at != created),
        None => false,
    };
    let open = state.metrics.connections.fetch_add(1, Relaxed);
    let slot = ConnectionSlot(state.metrics.clone());
    if open as usize >= state.max_connections {
        state.metrics.reject("too_many_connections");
        return Err(ApiError::Unavailable(
            "too many connections, try again later",
        ));
    }
    // Refuse a connection over the document cap before upgrading; the room itself is only
    // opened once the peer joins, so requests that never upgrade open nothing.
    state.rooms.check_capacity(&doc)?;
    let limit = state
        .connection
        .limits
        .max_message_bytes
        .saturating_add(64 * 1024);
    Ok(ws
        // A little headroom so that the guard, not tungstenite, answers most oversize
        // messages, with close code 1009.
        .max_message_size(limit)
        .max_frame_size(limit)
        // tungstenite zero-fills its whole read buffer per read (128 KiB by default), so
        // that buffer is resident memory per connection: keep it small. Idle peers cost
        // little; large messages take a few more reads.
        .read_buffer_size(8 * 1024)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            if stale {
                return connection::refuse(socket, Close::RECREATED).await;
            }
            connection::serve_peer(
                socket,
                doc,
                state.rooms,
                state.metrics.clone(),
                state.connection,
            )
            .await
        }))
}

/// Counts a connection from the upgrade request until the peer is gone.
struct ConnectionSlot(Arc<Metrics>);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Relaxed);
    }
}

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
}

impl DocEntry {
    fn new(name: &DocName, meta: DocMeta) -> Self {
        DocEntry {
            id: name.to_string(),
            title: meta.title,
            created_at: meta.created_at,
            updated_at: meta.updated_at,
            size: meta.size,
        }
    }
}

async fn list_docs(State(state): State<AppState>) -> Result<Json<Vec<DocEntry>>, ApiError> {
    let mut docs: Vec<DocEntry> = state
        .store
        .list()?
        .into_iter()
        .map(|(n, m)| DocEntry::new(&n, m))
        .collect();
    docs.sort_by_key(|d| std::cmp::Reverse(d.updated_at));
    Ok(Json(docs))
}

#[derive(Deserialize)]
struct NewDoc {
    title: String,
}

async fn create_doc(
    State(state): State<AppState>,
    body: Result<Json<NewDoc>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<DocEntry>), ApiError> {
    let Json(new) = body.map_err(|e| {
        ApiError::BadRequest(format!(
            "expected {{\"title\": \"...\"}}: {}",
            e.body_text()
        ))
    })?;
    let title = new.title.trim();
    if title.is_empty() || title.chars().count() > 200 || title.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(
            "title must be 1 to 200 characters".into(),
        ));
    }
    let now = now_ms();
    let meta = DocMeta {
        title: title.to_owned(),
        created_at: now,
        updated_at: now,
        size: 0,
    };
    let base = slug(title);
    for attempt in 0..20u32 {
        let id = if attempt == 0 {
            base.clone()
        } else {
            format!("{base}-{}", suffix(attempt))
        };
        let name = doc_name(&id)?;
        match state.store.create(&name, &meta, None).await {
            Ok(()) => return Ok((StatusCode::CREATED, Json(DocEntry::new(&name, meta)))),
            Err(StoreError::Exists) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable("could not find a free document id"))
}

async fn doc_meta(
    State(state): State<AppState>,
    Path(doc): Path<String>,
) -> Result<Json<DocEntry>, ApiError> {
    let name = doc_name(&doc)?;
    let meta = state.store.meta(&name)?.ok_or(ApiError::NotFound)?;
    Ok(Json(DocEntry::new(&name, meta)))
}

#[derive(Deserialize)]
struct TextQuery {
    format: Option<String>,
}

async fn doc_text(
    State(state): State<AppState>,
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
    if state.store.meta(&name)?.is_none() {
        return Err(ApiError::NotFound);
    }
    let text = state.rooms.render(&name, format).await?;
    let content_type = match format {
        Format::Markdown => "text/markdown; charset=utf-8",
        Format::Html => "text/html; charset=utf-8",
        Format::Text => "text/plain; charset=utf-8",
    };
    Ok(([(header::CONTENT_TYPE, content_type)], text).into_response())
}

/// Writes the demo document into an empty store, so that a newcomer sees something real.
pub async fn seed_demo(store: &Store) -> Result<(), StoreError> {
    if !store.list()?.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let update = crate::demo::demo_update();
    let meta = DocMeta {
        title: crate::demo::DEMO_TITLE.into(),
        created_at: now,
        updated_at: now,
        size: update.len() as u64,
    };
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

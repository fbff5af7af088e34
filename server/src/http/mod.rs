//! The HTTP surface: the router, the shared state, and `ApiError`, the one mapping of
//! failures to status codes and short JSON bodies. Details of a failure go to the log,
//! not the client. Handlers live beside this file, one file per kind of resource; every
//! one of them that touches a document asks the [`Caller`] for a role first.

mod archive;
mod caller;
mod docs;
mod history;
mod invites;
mod me;
mod operations;
mod pages;
mod ws;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, MethodRouter};
use axum::{Json, Router};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::access::presented::cleared_cookie;
use crate::auth::{Auth, AuthError};
use crate::connection::ConnectionSettings;
use crate::history::index::Indexes;
use crate::metrics::Metrics;
use crate::name::DocName;
use crate::room::RoomError;
use crate::rooms::{Rooms, RoomsError};
use crate::store::{Store, StoreError};

pub use caller::Operator;
pub use docs::{purge_expired, seed_demo};

/// The Content-Security-Policy the web app is built to satisfy: no inline scripts, no
/// inline style sheets; inline style attributes only (editor carets are coloured that way).
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    style-src-attr 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; \
    font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub rooms: Rooms,
    pub auth: Auth,
    pub metrics: Arc<Metrics>,
    pub connection: ConnectionSettings,
    pub max_connections: usize,
    pub links: Links,
    /// `--private-archive`: the archive is for signed-in people only.
    pub private_archive: bool,
    /// What history requests keep of the logs they read.
    pub history: Arc<Indexes>,
}

/// How the server names itself in links it hands out, and which other origins it trusts.
#[derive(Clone, Debug)]
pub struct Links {
    /// `--public-url`, if set: used for every link, and it decides `Secure` cookies.
    pub public_url: Option<String>,
    /// `http://ADDR` of the listener, for links made on the control socket.
    pub listen_url: String,
    /// `--allowed-origins`: browser origins besides our own allowed to call us.
    pub allowed_origins: Vec<String>,
}

impl Links {
    /// The base (`scheme://host[:port]`) of links answered to this request.
    pub fn base(&self, headers: &HeaderMap, operator: bool) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        match host {
            Some(host) if !operator => format!("{}://{host}", self.scheme(headers)),
            _ => self.listen_url.clone(),
        }
    }

    /// Whether the browser talks to us over https (directly configured, or through a
    /// proxy that says so): then cookies are `Secure`.
    pub fn secure(&self, headers: &HeaderMap) -> bool {
        self.scheme(headers) == "https"
    }

    fn scheme(&self, headers: &HeaderMap) -> &'static str {
        let configured = self
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
        let forwarded = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        if configured || forwarded {
            "https"
        } else {
            "http"
        }
    }
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/me", get(me::show).patch(me::rename))
        .route("/api/session", post(me::sign_in).delete(me::sign_out))
        .route("/api/admin/link", post(me::admin_link))
        .route("/api/admin/check", get(operations::check))
        .route("/api/admin/export", get(operations::export))
        .route("/api/audit", get(invites::server_audit))
        .route("/api/trash", get(docs::trash))
        .route("/api/docs", get(docs::list).post(docs::create))
        .route(
            "/api/docs/{doc}",
            get(docs::show).patch(docs::rename).delete(docs::remove),
        )
        .route("/api/docs/{doc}/restore", post(docs::restore))
        .route("/api/docs/{doc}/text", get(docs::text))
        .route(
            "/api/docs/{doc}/versions",
            get(history::list).post(history::create),
        )
        .route("/api/docs/{doc}/versions/{id}", get(history::show))
        .route(
            "/api/docs/{doc}/versions/{id}/restore",
            post(history::restore),
        )
        .route("/api/docs/{doc}/versions/{id}/adopt", post(archive::adopt))
        .route("/api/docs/{doc}/at", get(history::at))
        .route("/api/docs/{doc}/diff", get(history::diff))
        .route("/api/docs/{doc}/blame", get(history::blame))
        .route("/api/docs/{doc}/audit", get(invites::audit))
        .route(
            "/api/docs/{doc}/invites",
            get(invites::list).post(invites::create),
        )
        .route("/api/docs/{doc}/invites/{id}", delete(invites::revoke))
        .route("/api/invites/{id}", delete(invites::revoke_by_id))
        .route(
            "/api/docs/{doc}/invites/{id}/people/{person}",
            delete(invites::revoke_person),
        )
        .route("/api/archive", archive_reads(get(archive::list)))
        .route("/api/archive/verify", archive_reads(get(archive::verify)))
        .route("/api/archive/{id}", archive_reads(get(archive::show)))
        .route(
            "/api/archive/{a}/compare/{b}",
            archive_reads(get(archive::compare)),
        );
    Router::new()
        .route("/", get(pages::page))
        .route("/d/{doc}", get(pages::page))
        .route("/assets/{*path}", get(pages::asset))
        .route("/sw.js", get(pages::service_worker))
        .route("/healthz", get(pages::health))
        .route("/metrics", get(pages::metrics))
        .route("/ws/{doc}", get(ws::websocket))
        .route("/archive", archive_reads(get(archive::list_page)))
        .route("/archive/{id}", archive_reads(get(archive::entry_page)))
        .route(
            "/archive/{a}/compare/{b}",
            archive_reads(get(archive::compare_page)),
        )
        .route("/archive.atom", archive_reads(get(archive::feed)))
        .route("/archive.css", get(archive::stylesheet))
        .route("/archive.js", get(archive::script))
        .merge(api)
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
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
    #[error("{0}")]
    Unauthorized(Denied),
    #[error("{0}")]
    Forbidden(Denied),
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Gone(&'static str),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("{0}")]
    Unavailable(&'static str),
    #[error("storage is failing: {0}")]
    StorageFailing(String),
    #[error("the stored document is damaged; the operator has been told")]
    Damaged(String),
    #[error("internal error")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::StorageFailing(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Damaged(detail) => {
                tracing::error!(%detail, "damaged document refused");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let body = Json(serde_json::json!({ "error": self.to_string(), "code": self.code() }));
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::Unauthorized(denied) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                if *denied == Denied::StaleSession {
                    // Tell the browser to stop sending a session the server does not know.
                    if let Ok(clear) = HeaderValue::from_str(&cleared_cookie(false)) {
                        headers.insert(header::SET_COOKIE, clear);
                    }
                }
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
                    headers.insert(header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response
    }
}

/// Why a request was not let in, with a stable code clients can translate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("sign-in required: open your invite link")]
    SignInRequired,
    #[error("this link or token is not valid")]
    InvalidCredential,
    #[error("this link has been revoked")]
    Revoked,
    #[error("this link has expired")]
    Expired,
    #[error("this group link is full")]
    LinkFull,
    #[error("your role does not allow this")]
    Role,
    #[error("your link is for another document")]
    OtherDocument,
    #[error("cross-site request refused")]
    CrossSite,
    #[error("a token is required: programs cannot use a browser's session cookie")]
    TokenRequired,
    #[error("your session has ended: open your invite link again")]
    StaleSession,
}

impl Denied {
    pub fn code(self) -> &'static str {
        match self {
            Denied::SignInRequired => "sign_in_required",
            Denied::InvalidCredential => "invalid_credential",
            Denied::Revoked => "revoked",
            Denied::Expired => "expired",
            Denied::LinkFull => "link_full",
            Denied::Role => "role",
            Denied::OtherDocument => "other_document",
            Denied::CrossSite => "cross_site",
            Denied::TokenRequired => "token_required",
            Denied::StaleSession => "session_ended",
        }
    }
}

impl ApiError {
    /// A stable, machine-readable code for the JSON body (`"code"`), so clients can say
    /// what went wrong in their own language.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(denied) | ApiError::Forbidden(denied) => denied.code(),
            ApiError::NotFound => "not_found",
            ApiError::Gone(_) => "gone",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::TooManyRequests { .. } => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::StorageFailing(_) => "storage_failing",
            ApiError::Damaged(_) => "damaged",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Failing(why) => ApiError::StorageFailing(why),
            StoreError::Corrupt(detail) => ApiError::Damaged(detail),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<RoomsError> for ApiError {
    fn from(e: RoomsError) -> Self {
        match e {
            RoomsError::ShuttingDown => ApiError::Unavailable("the server is shutting down"),
            RoomsError::TooManyDocs => {
                ApiError::Unavailable("too many open documents, try again later")
            }
            RoomsError::Room(RoomError::Store(e)) => e.into(),
            RoomsError::Room(RoomError::Load(detail)) => ApiError::Damaged(detail),
            RoomsError::Room(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Missing => ApiError::Unauthorized(Denied::SignInRequired),
            AuthError::Unknown => ApiError::Unauthorized(Denied::InvalidCredential),
            AuthError::StaleSession => ApiError::Unauthorized(Denied::StaleSession),
            AuthError::Revoked => ApiError::Forbidden(Denied::Revoked),
            AuthError::Expired => ApiError::Forbidden(Denied::Expired),
            AuthError::Full => ApiError::Forbidden(Denied::LinkFull),
            AuthError::Limited(seconds) => ApiError::TooManyRequests {
                message: e.to_string(),
                retry_after: seconds,
            },
            AuthError::Store(e) => e.into(),
        }
    }
}

/// An archive route: its reads, and every modifying method refused with a clear 405.
fn archive_reads(reads: MethodRouter<AppState>) -> MethodRouter<AppState> {
    reads
        .post(archive::refuse)
        .put(archive::refuse)
        .patch(archive::refuse)
        .delete(archive::refuse)
}

fn doc_name(raw: &str) -> Result<DocName, ApiError> {
    DocName::parse(raw).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// The answer for a request whose caller lacks the role for it.
fn forbidden() -> ApiError {
    ApiError::Forbidden(Denied::Role)
}

/// How long a deleted document stays restorable.
pub const TRASH_KEEP: Duration = Duration::from_secs(30 * 24 * 3600);

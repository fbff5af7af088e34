//! The pages: the web app's shell and files, the service worker, metrics, and the one
//! thing a page request can do besides: open an invite link. `/d/{doc}?token=…` (or
//! `/?token=…`) exchanges the token for a session cookie and sends the browser on to the
//! same address without the token, so it never stays in the address bar or the history.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::caller::Origin;
use super::AppState;
use crate::access::presented::{query_without, session_cookie, Presented, Source};
use crate::assets;
use crate::auth::AuthError;

pub async fn page(
    State(state): State<AppState>,
    origin: Origin,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let presented = Presented::from_parts(&headers, uri.query());
    if !matches!(presented.token, Some((_, Source::Query))) {
        return assets::index(&headers);
    }
    let rest = query_without(uri.query().unwrap_or(""), "token");
    let (outcome, cookie) = match state.auth.sign_in(&presented, origin.ip).await {
        Ok(signed) => (None, Some(session_cookie(&signed.session, origin.secure))),
        Err(e) => {
            tracing::info!(error = %e, "link not accepted");
            let why = match e {
                AuthError::Missing | AuthError::Unknown | AuthError::StaleSession => "invalid",
                AuthError::Revoked => "revoked",
                AuthError::Expired => "expired",
                AuthError::Full => "full",
                AuthError::Limited(_) => "limited",
                AuthError::Store(_) => "failed",
            };
            (Some(why), None)
        }
    };
    // The app reads `signin=` to tell the person why the link did not work.
    let query = match outcome {
        Some(why) if rest.is_empty() => format!("signin={why}"),
        Some(why) => format!("{rest}&signin={why}"),
        None => rest,
    };
    let location = if query.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{query}", uri.path())
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(location) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    assets::file(&format!("assets/{path}"), &headers)
}

pub async fn service_worker(headers: HeaderMap) -> Response {
    assets::file("sw.js", &headers)
}

/// `ok`, or 503 with the reason while storage is failing (it recovers by itself once a
/// write succeeds again).
pub async fn health(State(state): State<AppState>) -> Result<&'static str, super::ApiError> {
    state
        .store
        .health()
        .map(|()| "ok")
        .map_err(super::ApiError::StorageFailing)
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

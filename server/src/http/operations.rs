//! `GET /api/admin/check`: the whole data directory checked on the running server (the
//! CLI's `leitbild check` asks this when the server holds the data directory).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::{forbidden, ApiError, AppState};
use crate::auth::Caller;

/// 200 with the report when everything is intact, 409 with it when not (admins only).
pub async fn check(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.admin().ok_or_else(forbidden)?;
    let store = state.store.clone();
    let report = tokio::task::spawn_blocking(move || crate::check::check(&store, |_| {}))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let status = if report.ok {
        StatusCode::OK
    } else {
        tracing::error!(
            findings = report.findings.len(),
            "the data directory check found damage"
        );
        StatusCode::CONFLICT
    };
    Ok((status, Json(report)).into_response())
}

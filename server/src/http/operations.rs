//! Operations on the running server: `GET /api/admin/check` (the whole data directory
//! checked) and `GET /api/admin/export` (a portable export, for backups). The CLI asks
//! these when the server holds the data directory.

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

/// `GET /api/admin/export`: a portable export of everything, made while the server goes
/// on (admins only; `leitbild backup` and `leitbild export` ask this of a running server).
pub async fn export(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    caller.admin().ok_or_else(forbidden)?;
    let store = state.store.clone();
    let bytes = crate::backup::at_low_priority(move || {
        let mut bytes = Vec::new();
        crate::portable::export(&store, &mut bytes, |_| {}).map(|_| bytes)
    })
    .await
    .ok_or_else(|| ApiError::Internal("the export thread failed".into()))?
    .map_err(|e| match e {
        crate::portable::PortableError::Store(e) => ApiError::from(e),
        other => ApiError::Internal(other.to_string()),
    })?;
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/gzip"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"leitbild-export.jsonl.gz\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

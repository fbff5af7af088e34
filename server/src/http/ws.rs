//! The websocket upgrade: origin, credentials and role are checked before anything is
//! loaded; only then does the connection join the document's room.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde::Deserialize;

use super::caller::Origin;
use super::{doc_name, docs, ApiError, AppState, Denied};
use crate::access::presented::{origin_allowed, Presented};
use crate::access::role::Action;
use crate::connection;
use crate::metrics::Metrics;
use crate::room::{Close, Participant};
use crate::store::StoreError;

/// Query parameters of `/ws/{doc}` besides `?token=`.
#[derive(Deserialize)]
pub struct WsQuery {
    /// The `created_at` of the document the client's local copy belongs to.
    created: Option<String>,
}

pub async fn websocket(
    State(state): State<AppState>,
    Path(doc): Path<String>,
    Query(query): Query<WsQuery>,
    origin: Origin,
    uri: Uri,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let doc = doc_name(&doc)?;
    let mut presented = Presented::from_parts(&headers, uri.query());
    match origin_allowed(&headers, &state.links.allowed_origins) {
        Some(true) => {}
        Some(false) => {
            tracing::warn!(%doc, "cross-origin websocket refused");
            state.metrics.reject("forbidden");
            return Err(ApiError::Forbidden(Denied::CrossSite));
        }
        // Browsers always send an Origin on websockets, so a request without one is a
        // program: it must show a token, not ride on a cookie.
        None if presented.token.is_none() && presented.session.is_some() => {
            return Err(ApiError::Unauthorized(Denied::TokenRequired));
        }
        None => presented.session = None,
    }
    let caller = state
        .auth
        .authenticate(&presented, origin.ip)
        .inspect_err(|e| {
            tracing::info!(%doc, error = %e, "websocket not let in");
            state.metrics.reject("unauthenticated");
        })?;

    let meta = match state.store.meta(&doc)? {
        Some(meta) if meta.deleted_at.is_some() => {
            return Err(match caller.may_globally(Action::DeleteDoc) {
                Some(_) => {
                    ApiError::Conflict("the document is in the trash: restore it first".into())
                }
                None => ApiError::NotFound,
            })
        }
        Some(meta) => meta,
        // Only an admin brings a document into being by connecting to it (any Yjs
        // client holding the admin token can start one, as before access control).
        None => match caller.may_globally(Action::CreateDoc) {
            Some(admin) => {
                match docs::create_named(&state, &doc, doc.as_str(), &admin.identity()).await {
                    Ok(meta) => meta,
                    Err(StoreError::Exists) => state.store.meta(&doc)?.ok_or(ApiError::NotFound)?,
                    Err(e) => return Err(e.into()),
                }
            }
            None => return Err(ApiError::NotFound),
        },
    };
    let Some(grant) = caller.may(&doc, Action::Read) else {
        state.metrics.reject("forbidden");
        return Err(ApiError::Forbidden(Denied::OtherDocument));
    };
    let identity = grant.identity();
    let who = Arc::new(Participant {
        grant: grant.grant.clone(),
        display: state.auth.display(&identity)?,
        identity,
        writable: grant.role.allows(Action::Write),
    });
    let expires_at = grant.expires_at;

    // A client whose local copy belongs to an earlier document of the same name (the data
    // was lost and the document created anew) must not merge that copy into the new one.
    let stale = query
        .created
        .and_then(|c| c.parse::<u64>().ok())
        .is_some_and(|created| created != meta.created_at);
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
                who,
                expires_at,
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

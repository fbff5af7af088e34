//! The `Caller` of an API request, as an axum extractor: credentials from the request,
//! checked by `Auth`, and the cross-site check for cookie-borne requests that change
//! something. A handler that takes a `Caller` never runs for an unauthenticated request.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::{ApiError, AppState, Denied};
use crate::access::presented::{is_safe, origin_allowed, Presented, Source};
use crate::auth::Caller;

/// Marks requests that came in on the control socket: the local operator, who may do
/// everything (access to the socket file is access to the data directory anyway).
#[derive(Clone, Copy, Debug)]
pub struct Operator;

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if parts.extensions.get::<Operator>().is_some() {
            return Ok(Caller::operator());
        }
        let presented = Presented::from_parts(&parts.headers, parts.uri.query());
        let caller = state
            .auth
            .authenticate(&presented, client_ip(parts))
            .inspect_err(|e| {
                tracing::debug!(error = %e, path = %parts.uri.path(), "request not let in");
                state.metrics.reject("unauthenticated");
            })?;
        // A cookie comes along on requests other sites make us send; a token does not.
        // So a cookie-borne change must prove it comes from a page of ours.
        if caller.source == Source::Cookie
            && !is_safe(&parts.method)
            && origin_allowed(&parts.headers, &state.links.allowed_origins) != Some(true)
        {
            tracing::warn!(path = %parts.uri.path(), "cross-site request refused");
            state.metrics.reject("forbidden");
            return Err(ApiError::Forbidden(Denied::CrossSite));
        }
        Ok(caller)
    }
}

/// The peer address of the connection, if it is a TCP one.
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}

/// Whether the request came in on the control socket.
pub fn is_operator(parts: &Parts) -> bool {
    parts.extensions.get::<Operator>().is_some()
}

/// What handlers need to know about where a request came from: the base of links to hand
/// out, whether cookies must be `Secure`, and the client's address.
pub struct Origin {
    pub base: String,
    pub secure: bool,
    pub ip: Option<IpAddr>,
}

impl FromRequestParts<AppState> for Origin {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, std::convert::Infallible> {
        Ok(Origin {
            base: state.links.base(&parts.headers, is_operator(parts)),
            secure: state.links.secure(&parts.headers),
            ip: client_ip(parts),
        })
    }
}

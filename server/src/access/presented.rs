//! What a request presents: a token (`Authorization: Bearer`, or `?token=`), a session
//! cookie, an `Origin`. Pure: reads headers and the query string, decides nothing about
//! whether a credential is valid (that is the store's business), only where it came from.

use axum::http::{header, HeaderMap, Method};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "leitbild_session";

/// Where a credential came from. Cookies ride along on cross-site requests; the others do
/// not, which is why only cookie-borne requests are checked for their origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Bearer,
    Query,
    Cookie,
}

/// The credentials of one request, unverified.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Presented {
    /// An explicit token: Bearer wins over `?token=`.
    pub token: Option<(String, Source)>,
    /// The session cookie's value.
    pub session: Option<String>,
}

impl Presented {
    pub fn from_parts(headers: &HeaderMap, query: Option<&str>) -> Presented {
        let bearer = headers
            .get_all(header::AUTHORIZATION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_owned())
            })
            .filter(|t| !t.is_empty())
            .map(|t| (t, Source::Bearer));
        let query = query
            .and_then(|q| query_value(q, "token"))
            .filter(|t| !t.is_empty())
            .map(|t| (t, Source::Query));
        Presented {
            token: bearer.or(query),
            session: cookie(headers, SESSION_COOKIE),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.token.is_none() && self.session.is_none()
    }
}

/// The first value of `name` in a query string, percent-decoded.
pub fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

/// A query string without `name` (to send the browser to the address without the token).
pub fn query_without(query: &str, name: &str) -> String {
    query
        .split('&')
        .filter(|pair| !pair.is_empty() && pair.split('=').next() != Some(name))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_decode(value: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16);
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(&hi), Some(&lo)) if hex(hi).is_some() && hex(lo).is_some() => {
                out.push((hex(hi).unwrap_or(0) * 16 + hex(lo).unwrap_or(0)) as u8);
                i += 2;
            }
            (b, _, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.trim_matches('"').to_owned())
        })
}

/// The `Set-Cookie` value that stores a session for a year, readable by no script
/// (HttpOnly), sent on top-level navigation from other sites (Lax: an invite link opened
/// from a mail must arrive signed in) but not on their subrequests, `Secure` over https.
pub fn session_cookie(token: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=31536000{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn cleared_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Methods that change nothing; everything else needs a same-origin proof when it rides
/// on a cookie.
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request's `Origin` is one we serve: the request's own host, or one of the
/// configured `allowed` origins (`scheme://host[:port]`). `None` when there is no Origin
/// header (non-browser clients, and browsers on same-origin GETs).
pub fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> Option<bool> {
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?.trim();
    if origin == "null" {
        return Some(false);
    }
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return Some(true);
    }
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    Some(matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn bearer_wins_over_the_query_and_the_cookie_rides_along() {
        let h = headers(&[
            (header::AUTHORIZATION, "Bearer abc"),
            (header::COOKIE, "x=1; leitbild_session=sess; y=2"),
        ]);
        let p = Presented::from_parts(&h, Some("token=q&created=1"));
        assert_eq!(p.token, Some(("abc".into(), Source::Bearer)));
        assert_eq!(p.session.as_deref(), Some("sess"));
        let p = Presented::from_parts(&HeaderMap::new(), Some("created=1&token=q%2D1"));
        assert_eq!(p.token, Some(("q-1".into(), Source::Query)));
        assert!(Presented::from_parts(&HeaderMap::new(), Some("token=")).is_empty());
        let basic = headers(&[(header::AUTHORIZATION, "Basic abc")]);
        assert!(Presented::from_parts(&basic, None).is_empty());
    }

    #[test]
    fn queries_lose_the_token_and_keep_the_rest() {
        assert_eq!(query_without("token=a&x=1&y", "token"), "x=1&y");
        assert_eq!(query_without("token=a", "token"), "");
        assert_eq!(query_value("a=%zz&b=%41+", "a").as_deref(), Some("%zz"));
        assert_eq!(query_value("a=%zz&b=%41+", "b").as_deref(), Some("A "));
        assert_eq!(query_value("b=%4", "b").as_deref(), Some("%4"));
        assert_eq!(query_value("b=%ä1", "b").as_deref(), Some("%ä1"));
    }

    #[test]
    fn origins_match_the_host_or_the_allowed_list() {
        let same = headers(&[
            (header::ORIGIN, "http://127.0.0.1:8080"),
            (header::HOST, "127.0.0.1:8080"),
        ]);
        assert_eq!(origin_allowed(&same, &[]), Some(true));
        let other = headers(&[
            (header::ORIGIN, "https://evil.example"),
            (header::HOST, "127.0.0.1:8080"),
        ]);
        assert_eq!(origin_allowed(&other, &[]), Some(false));
        assert_eq!(
            origin_allowed(&other, &["https://evil.example/".into()]),
            Some(true)
        );
        let null = headers(&[(header::ORIGIN, "null"), (header::HOST, "x")]);
        assert_eq!(origin_allowed(&null, &[]), Some(false));
        assert_eq!(origin_allowed(&HeaderMap::new(), &[]), None);
    }

    #[test]
    fn session_cookies_are_http_only_lax_and_secure_over_https() {
        let c = session_cookie("t", false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Path=/"));
        assert!(!c.contains("Secure"));
        assert!(session_cookie("t", true).ends_with("; Secure"));
        assert!(cleared_cookie(false).contains("Max-Age=0"));
    }
}

//! The operator's commands (`leitbild invite …`, `leitbild admin-link`): they talk to the
//! running server over its control socket in the data directory, with the same HTTP API a
//! browser uses. sled lets one process open the data, so the server does the work; whoever
//! can open the socket (the user running the server) acts as admin.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use serde_json::Value;

use crate::access::role::Role;
use crate::config::control_socket;
use crate::timestamp;

/// Where the running server keeps its data (and so its control socket).
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// The data directory of the running server.
    #[arg(long, env = "LEITBILD_DATA", default_value = "./data")]
    pub data: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Invite a person (or, with --kind group, a group) to a document; prints the link.
    Create {
        /// The document's id (as in /d/{id}).
        #[arg(long)]
        doc: String,
        /// reader, editor or moderator.
        #[arg(long)]
        role: Role,
        /// The person's name (for a group link: an optional label).
        #[arg(long)]
        name: Option<String>,
        /// Organisation or stakeholder group.
        #[arg(long)]
        group: Option<String>,
        /// personal (one named person) or group (many people, each names themselves).
        #[arg(long, default_value = "personal")]
        kind: String,
        /// When the link stops working: an RFC 3339 time, a date (valid through that
        /// day, UTC), or a number of days such as 30d.
        #[arg(long)]
        expires: Option<String>,
        /// Group links: most people who may join.
        #[arg(long)]
        max_people: Option<u32>,
        #[command(flatten)]
        target: Target,
    },
    /// List a document's invites.
    List {
        #[arg(long)]
        doc: String,
        #[command(flatten)]
        target: Target,
    },
    /// Revoke an invite: its link stops working, and its holders are disconnected.
    Revoke {
        /// The invite's id (from `invite list`).
        id: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Why an operator command failed, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(
        "cannot reach a running server through {}: {source}\n\
         Start the server first (leitbild serve --data {}), or pass the --data directory it uses.",
        .socket.display(), .data.display()
    )]
    NotRunning {
        socket: PathBuf,
        data: PathBuf,
        source: std::io::Error,
    },
    #[error("the server answered {status}: {message}")]
    Refused { status: StatusCode, message: String },
    #[error("{0}")]
    Usage(String),
    #[error("talking to the server failed: {0}")]
    Protocol(String),
}

pub async fn invite(command: InviteCommand) -> Result<(), CliError> {
    match command {
        InviteCommand::Create {
            doc,
            role,
            name,
            group,
            kind,
            expires,
            max_people,
            target,
        } => {
            let expires_at = expires.as_deref().map(parse_expiry).transpose()?;
            let body = serde_json::json!({
                "role": role, "kind": kind, "name": name, "group": group,
                "expires_at": expires_at, "max_people": max_people,
            });
            let created = call(
                &target.data,
                Method::POST,
                &format!("/api/docs/{doc}/invites"),
                Some(body),
            )
            .await?;
            println!("{}", text(&created, "link"));
            println!(
                "Invite {} for {} as {}{}.",
                text(&created, "id"),
                who(&created),
                text(&created, "role"),
                created["expires_at"]
                    .as_str()
                    .map(|at| format!(", valid until {at}"))
                    .unwrap_or_default()
            );
            println!("The link is shown only now: pass it on to the person it is for.");
        }
        InviteCommand::List { doc, target } => {
            let invites = call(
                &target.data,
                Method::GET,
                &format!("/api/docs/{doc}/invites"),
                None,
            )
            .await?;
            let rows = invites.as_array().cloned().unwrap_or_default();
            if rows.is_empty() {
                println!("No invites for {doc}.");
            }
            for invite in rows {
                let people = match invite["kind"].as_str() {
                    Some("group") => format!(
                        "  {}{} joined",
                        invite["people"],
                        invite["max_people"]
                            .as_u64()
                            .map(|m| format!("/{m}"))
                            .unwrap_or_default()
                    ),
                    _ => String::new(),
                };
                println!(
                    "{}  {:<9} {:<8} {:<8} {}{}{}",
                    text(&invite, "id"),
                    text(&invite, "role"),
                    text(&invite, "kind"),
                    text(&invite, "status"),
                    who(&invite),
                    invite["expires_at"]
                        .as_str()
                        .map(|at| format!("  until {at}"))
                        .unwrap_or_default(),
                    people,
                );
            }
        }
        InviteCommand::Revoke { id, target } => {
            let invite = call(
                &target.data,
                Method::DELETE,
                &format!("/api/invites/{id}"),
                None,
            )
            .await?;
            println!("Revoked invite {} ({}).", text(&invite, "id"), who(&invite));
        }
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Recompute every archive entry's hashes and the chain; exit code 0 only when intact.
    /// Reads a stopped server's data directory, or asks the running server.
    Verify {
        #[command(flatten)]
        target: Target,
    },
}

/// Runs an archive command; `Ok(false)` when the archive is not intact.
pub async fn archive(command: ArchiveCommand) -> Result<bool, CliError> {
    let ArchiveCommand::Verify { target } = command;
    let report = match open_stopped(&target.data)? {
        Some(store) => {
            let stored = store
                .archive_as_stored()
                .map_err(|e| CliError::Usage(format!("cannot read the archive: {e}")))?;
            serde_json::to_value(crate::archive::verify(stored)).unwrap_or(Value::Null)
        }
        None => {
            let (status, report) =
                request(&target.data, Method::GET, "/api/archive/verify", None).await?;
            if !status.is_success() && status != StatusCode::CONFLICT {
                let message = report["error"].as_str().unwrap_or("no details").to_owned();
                return Err(CliError::Refused { status, message });
            }
            report
        }
    };
    let entries = report["entries"].as_u64().unwrap_or(0);
    if report["ok"].as_bool() == Some(true) {
        println!(
            "The archive is intact: {entries} entries, chain head {}.",
            if entries == 0 {
                "(none)"
            } else {
                text(&report, "head")
            }
        );
        return Ok(true);
    }
    println!(
        "The archive is NOT intact: entry {} {}.",
        report["problem"]["entry"].as_str().unwrap_or("?"),
        report["problem"]["what"]
            .as_str()
            .unwrap_or("is inconsistent")
    );
    Ok(false)
}

/// `leitbild check`: where the data is, or which server to ask.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub target: Target,
    /// Ask the server at this URL (http://HOST:PORT) instead; needs the admin token.
    #[arg(long)]
    pub server: Option<String>,
    /// The admin token, for --server.
    #[arg(long, env = "LEITBILD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// Checks every document, version and archive entry; `Ok(false)` when anything is
/// damaged. Reads a stopped server's data directory itself, and asks a running one.
pub async fn check(args: CheckArgs) -> Result<bool, CliError> {
    let report = match &args.server {
        Some(url) => {
            let token = args.admin_token.as_deref().ok_or_else(|| {
                CliError::Usage("--server needs the admin token (LEITBILD_ADMIN_TOKEN)".into())
            })?;
            let (status, report) = over_tcp(url, token, "/api/admin/check").await?;
            answered_report(status, report)?
        }
        None => match open_stopped(&args.target.data)? {
            Some(store) => {
                eprintln!("Checking {} …", args.target.data.display());
                let mut seen = 0;
                let report = crate::check::check(&store, |name| {
                    seen += 1;
                    eprintln!("  document {seen}: {name}");
                })
                .map_err(|e| CliError::Usage(format!("cannot read the data directory: {e}")))?;
                serde_json::to_value(report).unwrap_or(Value::Null)
            }
            None => {
                eprintln!(
                    "A server runs on {}; asking it …",
                    args.target.data.display()
                );
                let (status, report) =
                    request(&args.target.data, Method::GET, "/api/admin/check", None).await?;
                answered_report(status, report)?
            }
        },
    };
    let count = |field: &str| report[field].as_u64().unwrap_or(0);
    println!(
        "{} documents, {} log records, {} versions, {} archive entries checked.",
        count("documents"),
        count("log_records"),
        count("versions"),
        count("archive_entries")
    );
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    if report["ok"].as_bool() == Some(true) {
        println!("Everything is intact.");
        return Ok(true);
    }
    for finding in &findings {
        println!(
            "DAMAGED: {}: {}",
            finding["subject"].as_str().unwrap_or("?"),
            finding["problem"].as_str().unwrap_or("?")
        );
    }
    println!("{} problem(s) found.", findings.len().max(1));
    Ok(false)
}

/// A report the server answered: 200 (intact) or 409 (damaged); anything else is an error.
fn answered_report(status: StatusCode, report: Value) -> Result<Value, CliError> {
    if status.is_success() || status == StatusCode::CONFLICT {
        return Ok(report);
    }
    let message = report["error"].as_str().unwrap_or("no details").to_owned();
    Err(CliError::Refused { status, message })
}

/// One GET with the admin token to a server at `url` (plain HTTP).
async fn over_tcp(url: &str, token: &str, path: &str) -> Result<(StatusCode, Value), CliError> {
    let authority = url
        .strip_prefix("http://")
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--server {url}: give an http:// address (for https, run the check on the server's machine with --data)"
            ))
        })?
        .trim_end_matches('/');
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| CliError::Usage(format!("cannot reach {url}: {e}")))?;
    let protocol = |e: &dyn std::fmt::Display| CliError::Protocol(e.to_string());
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| protocol(&e))?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .map_err(|e| protocol(&e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| protocol(&e))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| protocol(&e))?
        .to_bytes();
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}

/// The store in `data` if no server holds it; `None` if a server runs on it (then ask the
/// server).
fn open_stopped(data: &Path) -> Result<Option<crate::store::Store>, CliError> {
    if !crate::store::Store::exists_in(data) {
        return Err(CliError::Usage(format!(
            "{} holds no Leitbild data: pass the server's data directory with --data",
            data.display()
        )));
    }
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    match crate::store::Store::open(data, 16 << 20, metrics) {
        Ok(store) => Ok(Some(store)),
        Err(crate::store::StoreError::Locked) => Ok(None),
        Err(e) => Err(CliError::Usage(format!(
            "cannot open the data directory {}: {e}",
            data.display()
        ))),
    }
}

/// Prints a new admin sign-in link; the previous one stops working.
pub async fn admin_link(target: Target) -> Result<(), CliError> {
    let answer = call(&target.data, Method::POST, "/api/admin/link", None).await?;
    println!("{}", text(&answer, "link"));
    println!("Open this link to sign in as admin. The previous admin link no longer works.");
    Ok(())
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or("")
}

fn who(invite: &Value) -> String {
    match (invite["name"].as_str(), invite["group"].as_str()) {
        (Some(name), Some(group)) => format!("{name}, {group}"),
        (Some(name), None) => name.to_owned(),
        (None, Some(group)) => format!("group link {group}"),
        (None, None) => "group link".to_owned(),
    }
}

/// An expiry as the API wants it (RFC 3339) from what an operator types.
pub fn parse_expiry(text: &str) -> Result<String, CliError> {
    let text = text.trim();
    if timestamp::parse_rfc3339(text).is_some() {
        return Ok(text.to_owned());
    }
    if let Some(days) = text.strip_suffix('d').and_then(|d| d.parse::<u64>().ok()) {
        let at = crate::store::now_ms().saturating_add(days.saturating_mul(86_400_000));
        return Ok(timestamp::to_rfc3339(at));
    }
    let end_of_day = format!("{text}T23:59:59Z");
    if timestamp::parse_rfc3339(&end_of_day).is_some() {
        return Ok(end_of_day);
    }
    Err(CliError::Usage(format!(
        "--expires {text:?}: use a date (2027-03-31), a number of days (30d) or an RFC 3339 time"
    )))
}

/// One API request over the control socket; the JSON answer, or the server's error.
async fn call(
    data: &Path,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, CliError> {
    let (status, value) = request(data, method, path, body).await?;
    if !status.is_success() {
        let message = value["error"].as_str().unwrap_or("no details").to_owned();
        return Err(CliError::Refused { status, message });
    }
    Ok(value)
}

/// One API request over the control socket: the status and the JSON answer, whatever
/// the status.
async fn request(
    data: &Path,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(StatusCode, Value), CliError> {
    let socket = control_socket(data);
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .map_err(|source| CliError::NotRunning {
            socket: socket.clone(),
            data: data.to_path_buf(),
            source,
        })?;
    let protocol = |e: &dyn std::fmt::Display| CliError::Protocol(e.to_string());
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| protocol(&e))?;
    tokio::spawn(connection);
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| protocol(&e))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| protocol(&e))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| protocol(&e))?
        .to_bytes();
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_read_dates_days_and_times() {
        assert_eq!(parse_expiry("2027-03-31").unwrap(), "2027-03-31T23:59:59Z");
        assert_eq!(
            parse_expiry("2027-03-31T12:00:00+02:00").unwrap(),
            "2027-03-31T12:00:00+02:00"
        );
        let in_30_days = timestamp::parse_rfc3339(&parse_expiry("30d").unwrap()).unwrap();
        let now = crate::store::now_ms();
        assert!(in_30_days > now + 29 * 86_400_000 && in_30_days <= now + 30 * 86_400_000);
        assert!(parse_expiry("next week").is_err());
        assert!(parse_expiry("2027-13-45").is_err());
    }
}

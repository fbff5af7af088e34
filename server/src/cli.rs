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

/// `leitbild export`: everything in a portable file.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub target: Target,
    /// The file to write (gzip'd JSON Lines).
    #[arg(long)]
    pub out: PathBuf,
}

/// `leitbild import`: a portable file into a new data directory.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The export (or backup) file.
    pub file: PathBuf,
    /// The data directory to create; it must not hold data yet (unless --merge).
    #[arg(long)]
    pub data: PathBuf,
    /// Add the export's documents, invites, audit and archive to a data directory that
    /// holds data (of a stopped server). Refused, with nothing written, when a document,
    /// an invite or a token is in both, or when both hold adopted texts.
    #[arg(long)]
    pub merge: bool,
}

/// `leitbild backup`: a backup of a running (or stopped) server into a directory.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub target: Target,
    /// The directory to put the backup file in.
    #[arg(long)]
    pub to: PathBuf,
}

/// `leitbild restore`: the newest backup in a directory (or one backup file) into a new
/// data directory.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// A backup directory (its newest backup is taken) or a backup file.
    #[arg(long)]
    pub from: PathBuf,
    /// The data directory to create; it must not hold data yet.
    #[arg(long)]
    pub data: PathBuf,
}

/// Writes an export of `data` to `out`: read directly when no server runs on it, else
/// made by the server. Written to a temporary name and renamed when whole.
async fn export_to(data: &Path, out: &Path) -> Result<crate::portable::Moved, CliError> {
    let failed =
        |e: &dyn std::fmt::Display| CliError::Usage(format!("cannot write {}: {e}", out.display()));
    let partial = out.with_extension("partial");
    let moved = match open_stopped(data)? {
        Some(store) => {
            eprintln!("Exporting {} …", data.display());
            let file = std::fs::File::create(&partial).map_err(|e| failed(&e))?;
            let mut writer = std::io::BufWriter::new(file);
            let moved = crate::portable::export(&store, &mut writer, |n| {
                eprintln!("  {n} items");
            })
            .map_err(|e| failed(&e))?;
            let file = writer.into_inner().map_err(|e| failed(&e.into_error()))?;
            file.sync_all().map_err(|e| failed(&e))?;
            moved
        }
        None => {
            eprintln!("A server runs on {}; it makes the export …", data.display());
            let (status, bytes) = request_bytes(data, "/api/admin/export").await?;
            if !status.is_success() {
                let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let message = value["error"].as_str().unwrap_or("no details").to_owned();
                return Err(CliError::Refused { status, message });
            }
            std::fs::write(&partial, &bytes).map_err(|e| failed(&e))?;
            std::fs::File::open(&partial)
                .and_then(|f| f.sync_all())
                .map_err(|e| failed(&e))?;
            crate::portable::Moved {
                items: 0,
                bytes: bytes.len() as u64,
            }
        }
    };
    std::fs::rename(&partial, out).map_err(|e| failed(&e))?;
    Ok(moved)
}

pub async fn export(args: ExportArgs) -> Result<(), CliError> {
    let started = std::time::Instant::now();
    export_to(&args.target.data, &args.out).await?;
    let size = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "Exported to {} ({} KiB) in {:.1} s.",
        args.out.display(),
        size / 1024,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn backup(args: BackupArgs) -> Result<(), CliError> {
    let name = crate::backup::file_name(crate::store::now_ms());
    std::fs::create_dir_all(&args.to)
        .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", args.to.display())))?;
    let out = args.to.join(name);
    export_to(&args.target.data, &out).await?;
    println!("Backup written: {}", out.display());
    Ok(())
}

/// Imports `file` into the new data directory `data`, then checks the result; `Ok(false)`
/// when the check finds damage.
async fn import_into(file: &Path, data: &Path, merge: bool) -> Result<bool, CliError> {
    let input = std::fs::File::open(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?;
    std::fs::create_dir_all(data)
        .map_err(|e| CliError::Usage(format!("cannot create {}: {e}", data.display())))?;
    let metrics = std::sync::Arc::new(crate::metrics::Metrics::default());
    let store = match crate::store::Store::open(data, 64 << 20, metrics) {
        Ok(store) => store,
        Err(crate::store::StoreError::Locked) => {
            return Err(CliError::Usage(format!(
                "a server runs on {}: stop it first, or import into a new data directory",
                data.display()
            )))
        }
        Err(e) => {
            return Err(CliError::Usage(format!(
                "cannot open {}: {e}",
                data.display()
            )))
        }
    };
    if !merge && !store.is_empty_for_import().unwrap_or(false) {
        return Err(CliError::Usage(format!(
            "{} already holds data: import into a new, empty data directory, or pass --merge to add the export's documents to it",
            data.display()
        )));
    }
    eprintln!("Importing {} into {} …", file.display(), data.display());
    let moved = crate::portable::import(&store, std::io::BufReader::new(input), merge, |n| {
        eprintln!("  {n} items");
    })
    .map_err(|e| CliError::Usage(format!("{}: {e}", file.display())))?;
    store
        .flush()
        .await
        .map_err(|e| CliError::Usage(format!("cannot write {}: {e}", data.display())))?;
    println!("Imported {} items into {}.", moved.items, data.display());
    let report = crate::check::check(&store, |_| {})
        .map_err(|e| CliError::Usage(format!("cannot check {}: {e}", data.display())))?;
    if report.ok {
        println!(
            "Checked: {} documents, {} versions, {} archive entries, all intact.",
            report.documents, report.versions, report.archive_entries
        );
    } else {
        for finding in &report.findings {
            println!("DAMAGED: {}: {}", finding.subject, finding.problem);
        }
    }
    Ok(report.ok)
}

pub async fn import(args: ImportArgs) -> Result<bool, CliError> {
    import_into(&args.file, &args.data, args.merge).await
}

pub async fn restore(args: RestoreArgs) -> Result<bool, CliError> {
    let file = if args.from.is_dir() {
        crate::backup::list(&args.from)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.from.display())))?
            .pop()
            .ok_or_else(|| CliError::Usage(format!("{} holds no backups", args.from.display())))?
    } else {
        args.from.clone()
    };
    println!("Restoring {} …", file.display());
    import_into(&file, &args.data, false).await
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
    let request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .map_err(|e| CliError::Protocol(e.to_string()))?;
    let (status, bytes) = exchange(stream, request).await?;
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

/// One GET over the control socket: the status and the body's bytes.
async fn request_bytes(data: &Path, path: &str) -> Result<(StatusCode, Bytes), CliError> {
    raw_request(data, Method::GET, path, None).await
}

/// One API request over the control socket: the status and the JSON answer, whatever
/// the status.
async fn request(
    data: &Path,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(StatusCode, Value), CliError> {
    let (status, bytes) = raw_request(data, method, path, body).await?;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, value))
}

/// One request over the control socket: the status and the body's bytes.
async fn raw_request(
    data: &Path,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Result<(StatusCode, Bytes), CliError> {
    let socket = control_socket(data);
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .map_err(|source| CliError::NotRunning {
            socket: socket.clone(),
            data: data.to_path_buf(),
            source,
        })?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| CliError::Protocol(e.to_string()))?;
    exchange(stream, request).await
}

/// Sends `request` over `stream` (HTTP/1.1): the status and the body's bytes.
async fn exchange<S>(
    stream: S,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), CliError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let protocol = |e: &dyn std::fmt::Display| CliError::Protocol(e.to_string());
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| protocol(&e))?;
    tokio::spawn(connection);
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
    Ok((status, bytes))
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

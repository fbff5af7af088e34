//! The history API: versions (list, name, read, restore), the text at any moment, diffs
//! between two points with their authors, and blame. Readers read history; moderators
//! name versions and restore them.
//!
//! The work (replaying the log, diffing, attributing) runs on a blocking thread: it is
//! CPU-bound and can take tens of milliseconds on a long history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use yrs::Doc;

use super::{doc_name, forbidden, ApiError, AppState};
use crate::access::audit::Event;
use crate::access::identity::{clean_text, Identity};
use crate::access::role::Action;
use crate::auth::Caller;
use crate::history::authorship::Authorship;
use crate::history::diff::{BlockDiff, Summary};
use crate::history::index::{lock, Authored, Index};
use crate::history::restore::doc_of;
use crate::history::version::{Kind, Version};
use crate::history::{self, Point};
use crate::name::DocName;
use crate::render::{self, Format};
use crate::room::Participant;
use crate::store::{now_ms, DocMeta, Record, Scope};
use crate::timestamp;

const MAX_NAME: usize = 200;
const MAX_NOTE: usize = 2000;

/// The document's metadata if the caller may do `action` on it; 404 if it does not exist
/// (or is in the trash), 403 if the caller may not.
fn allowed(
    state: &AppState,
    caller: &Caller,
    name: &DocName,
    action: Action,
) -> Result<DocMeta, ApiError> {
    let meta = state
        .store
        .meta(name)?
        .filter(|m| m.deleted_at.is_none())
        .ok_or(ApiError::NotFound)?;
    caller.may(name, action).ok_or_else(forbidden)?;
    Ok(meta)
}

/// A version as the API shows it: its metadata, with times as ms and RFC 3339, and who
/// made it by name.
#[derive(Debug, Serialize)]
pub struct VersionView {
    #[serde(flatten)]
    version: Version,
    created_at_rfc3339: String,
    created_by_name: Option<String>,
}

fn view(state: &AppState, version: Version, names: &mut Names) -> VersionView {
    VersionView {
        created_at_rfc3339: timestamp::to_rfc3339(version.created_at),
        created_by_name: version
            .created_by
            .as_deref()
            .map(|id| names.name(state, id)),
        version,
    }
}

/// Display names of identities, looked up once each.
#[derive(Default)]
pub(super) struct Names(HashMap<String, String>);

impl Names {
    pub(super) fn name(&mut self, state: &AppState, id: &str) -> String {
        if let Some(name) = self.0.get(id) {
            return name.clone();
        }
        let name = Identity::parse(id)
            .and_then(|identity| state.auth.display(&identity).ok())
            .map(|display| display.name)
            .unwrap_or_else(|| "Server".to_owned());
        self.0.insert(id.to_owned(), name.clone());
        name
    }

    fn author(&mut self, state: &AppState, id: &str) -> Value {
        json!({ "id": id, "name": self.name(state, id) })
    }
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// `false` hides the automatic versions.
    auto: Option<bool>,
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<VersionView>>, ApiError> {
    let name = doc_name(&doc)?;
    allowed(&state, &caller, &name, Action::Read)?;
    let mut names = Names::default();
    let mut versions: Vec<VersionView> = state
        .store
        .versions(&name)?
        .into_iter()
        .filter(|v| query.auto.unwrap_or(true) || v.kind != Kind::Auto)
        .map(|v| view(&state, v, &mut names))
        .collect();
    versions.reverse();
    Ok(Json(versions))
}

#[derive(Debug, Deserialize)]
pub struct NewVersion {
    name: String,
    note: Option<String>,
}

/// Takes a version of the current text.
async fn take(
    state: &AppState,
    name: &DocName,
    kind: Kind,
    title: String,
    note: Option<String>,
    by: Option<&Identity>,
    restored_from: Option<String>,
) -> Result<(Version, Vec<u8>), ApiError> {
    let (doc_state, log_records) = state.rooms.state(name).await?;
    let version = Version {
        note,
        created_by: by.map(|i| i.as_str().to_owned()),
        restored_from,
        ..Version::new(
            state.store.next_version_id()?,
            title,
            kind,
            &doc_state,
            log_records,
            now_ms(),
        )
    };
    state.store.put_version(name, &version, &doc_state).await?;
    Ok((version, doc_state))
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
    body: Result<Json<NewVersion>, JsonRejection>,
) -> Result<(StatusCode, Json<VersionView>), ApiError> {
    let name = doc_name(&doc)?;
    allowed(&state, &caller, &name, Action::ManageVersions)?;
    let Json(body) = body.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let title = clean_text("name", &body.name, MAX_NAME)
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if title.is_empty() {
        return Err(ApiError::BadRequest("a version needs a name".into()));
    }
    let note = match body.note.as_deref().map(str::trim) {
        Some(note) if !note.is_empty() => Some(
            clean_text("note", note, MAX_NOTE).map_err(|e| ApiError::BadRequest(e.to_string()))?,
        ),
        _ => None,
    };
    let grant = caller
        .may(&name, Action::ManageVersions)
        .ok_or_else(forbidden)?;
    let identity = grant.identity();
    let (version, _) = take(
        &state,
        &name,
        Kind::Named,
        title,
        note,
        Some(&identity),
        None,
    )
    .await?;
    state.auth.record(
        Scope::Doc(&name),
        &identity,
        Event::VersionNamed,
        json!({ "version": version.id, "name": version.name }),
    )?;
    state.store.flush().await?;
    let mut names = Names::default();
    Ok((StatusCode::CREATED, Json(view(&state, version, &mut names))))
}

#[derive(Debug, Deserialize)]
pub struct FormatQuery {
    format: Option<String>,
}

/// `md`, `html`, `txt`, or `json` (the default: metadata and all three).
fn format(raw: Option<&str>) -> Result<Option<Format>, ApiError> {
    match raw {
        None | Some("json") => Ok(None),
        Some(other) => other
            .parse()
            .map(Some)
            .map_err(|e: render::UnknownFormat| ApiError::BadRequest(format!("{e} (or json)"))),
    }
}

fn text_response(doc: &Doc, format: Format) -> Response {
    (
        [(header::CONTENT_TYPE, format.content_type())],
        render::render(doc, format),
    )
        .into_response()
}

fn texts(doc: &Doc) -> Value {
    json!({
        "markdown": render::render(doc, Format::Markdown),
        "html": render::render(doc, Format::Html),
        "text": render::render(doc, Format::Text),
    })
}

pub async fn show(
    State(state): State<AppState>,
    caller: Caller,
    Path((doc, id)): Path<(String, String)>,
    Query(query): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let name = doc_name(&doc)?;
    allowed(&state, &caller, &name, Action::Read)?;
    let format = format(query.format.as_deref())?;
    let (version, doc_state) = state.store.version(&name, &id)?.ok_or(ApiError::NotFound)?;
    let doc = doc_of(&doc_state).map_err(|e| ApiError::Damaged(e.to_string()))?;
    if let Some(format) = format {
        return Ok(text_response(&doc, format));
    }
    let mut names = Names::default();
    let mut body = serde_json::to_value(view(&state, version, &mut names))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    if let (Value::Object(body), Value::Object(texts)) = (&mut body, texts(&doc)) {
        body.extend(texts);
    }
    Ok(Json(body).into_response())
}

pub async fn restore(
    State(state): State<AppState>,
    caller: Caller,
    Path((doc, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let name = doc_name(&doc)?;
    allowed(&state, &caller, &name, Action::ManageVersions)?;
    let grant = caller
        .may(&name, Action::ManageVersions)
        .ok_or_else(forbidden)?;
    let (target, target_state) = state.store.version(&name, &id)?.ok_or(ApiError::NotFound)?;
    let identity = grant.identity();
    let who = Arc::new(Participant {
        grant: grant.grant.clone(),
        display: state.auth.display(&identity)?,
        identity: identity.clone(),
        writable: true,
    });
    let (current, _) = state.rooms.state(&name).await?;
    let current = doc_of(&current).map_err(|e| ApiError::Damaged(e.to_string()))?;
    let wanted = doc_of(&target_state).map_err(|e| ApiError::Damaged(e.to_string()))?;
    if history::restore::fingerprint(&current) == history::restore::fingerprint(&wanted) {
        return Ok(Json(json!({
            "changed": false,
            "message": "Der aktuelle Text ist bereits der dieser Version; nichts wurde geändert.",
        })));
    }
    let (before, _) = take(
        &state,
        &name,
        Kind::Auto,
        format!("Vor der Wiederherstellung von „{}“", target.name),
        None,
        Some(&identity),
        None,
    )
    .await?;
    let changed = state
        .rooms
        .restore(&name, target_state, who)
        .await
        .map_err(ApiError::from)?;
    let mut names = Names::default();
    let restored = if changed {
        let (version, _) = take(
            &state,
            &name,
            Kind::Restore,
            format!("Wiederhergestellt: {}", target.name),
            None,
            Some(&identity),
            Some(target.id.clone()),
        )
        .await?;
        Some(view(&state, version, &mut names))
    } else {
        None
    };
    state.auth.record(
        Scope::Doc(&name),
        &identity,
        Event::VersionRestored,
        json!({ "version": target.id, "name": target.name, "changed": changed }),
    )?;
    state.store.flush().await?;
    Ok(Json(json!({
        "changed": changed,
        "before": view(&state, before, &mut names),
        "restore": restored,
    })))
}

/// What a point resolved to: its document and how many log records it covers.
struct Resolved {
    doc: Doc,
    records: usize,
    view: Value,
}

/// A document's history index (see [`history::index`]) as [`read_log`] found it, up to
/// date with its log: the records and their authorship (shared with the index, used
/// without holding it) and a copy of what resolving a point asks. The index itself is
/// locked only briefly, and only on blocking threads.
struct Log {
    index: Arc<Mutex<Index>>,
    records: Arc<Vec<Record>>,
    authored: Arc<Mutex<Authored>>,
    /// The store's count of log rewrites the records were read under.
    rewrites: u64,
    /// Each record's sequence number and time.
    seqs: Vec<u64>,
    times: Vec<u64>,
}

impl Log {
    /// How many records have a sequence number below `next_seq`.
    fn before_seq(&self, next_seq: u64) -> usize {
        self.seqs.partition_point(|&s| s < next_seq)
    }

    /// Runs `with` on the authorship of every record (read first where it was not yet).
    fn with_authorship<T>(&self, with: impl FnOnce(&Authorship, &[Record]) -> T) -> T {
        let mut authored = lock(&self.authored);
        with(authored.of(&self.records), &self.records)
    }

    /// Starts reading the authorship on a blocking thread of its own, beside whatever
    /// else the request does first (a replay, decoding the current state).
    fn read_authorship_early(self: &Arc<Self>) {
        let log = self.clone();
        tokio::task::spawn_blocking(move || log.with_authorship(|_, _| ()));
    }
}

/// The index of document `name`, with the records written since it was last read.
fn read_log(state: &AppState, name: &DocName) -> Result<Log, ApiError> {
    let index = state.history.of(name.as_str());
    let mut kept = lock(&index);
    // The count first: a rewrite after it makes the next request start over.
    kept.renew(state.store.log_rewrites());
    let tail = state
        .store
        .history_after(name, kept.last_seq())
        .collect::<Result<Vec<_>, _>>()?;
    kept.extend(tail);
    let records = kept.records();
    let authored = kept.authored();
    let rewrites = kept.rewrites();
    let seqs = kept.seqs().to_vec();
    drop(kept);
    let times = records.iter().map(|r| r.ts_ms).collect();
    Ok(Log {
        index,
        records,
        authored,
        rewrites,
        seqs,
        times,
    })
}

/// The document holding `state`, decoded on a blocking thread.
async fn decoded(state: Vec<u8>) -> Result<Doc, ApiError> {
    tokio::task::spawn_blocking(move || doc_of(&state))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Damaged(e.to_string()))
}

/// Resolves `point` (as text) for `name`. Readers of the log get the "now" state from the
/// room, so that it is exactly what the editors see.
async fn resolve(
    state: &AppState,
    name: &DocName,
    meta: &DocMeta,
    raw: &str,
    log: &Arc<Log>,
) -> Result<Resolved, ApiError> {
    let point: Point = raw
        .parse()
        .map_err(|e: history::BadPoint| ApiError::BadRequest(e.to_string()))?;
    match point {
        Point::Now => {
            let (doc_state, next_seq) = state.rooms.state(name).await?;
            Ok(Resolved {
                doc: decoded(doc_state).await?,
                records: log.before_seq(next_seq),
                view: json!({ "point": "now", "kind": "now", "at": timestamp::to_rfc3339(now_ms()) }),
            })
        }
        Point::Version(id) => {
            let (version, doc_state) = state
                .store
                .version(name, &id)?
                .ok_or_else(|| ApiError::BadRequest(format!("unknown version {id}")))?;
            Ok(Resolved {
                doc: decoded(doc_state).await?,
                records: log.before_seq(version.log_records),
                view: json!({
                    "point": id,
                    "kind": "version",
                    "at": timestamp::to_rfc3339(version.created_at),
                    "name": version.name,
                }),
            })
        }
        Point::Archived(id) => {
            let (entry, frozen) = state
                .store
                .archive_entry(&id)?
                .ok_or_else(|| ApiError::BadRequest(format!("unknown archive entry {id}")))?;
            let doc_state = super::archive::state_of(&frozen)?;
            // The log records the adopted version covered, when it is this document's.
            let covered = if entry.doc == name.as_str() {
                state
                    .store
                    .version(name, &entry.version)?
                    .map(|(v, _)| v.log_records)
            } else {
                None
            };
            Ok(Resolved {
                doc: decoded(doc_state).await?,
                records: covered.map_or(0, |seq| log.before_seq(seq)),
                view: json!({
                    "point": id,
                    "kind": "archive",
                    "at": entry.adopted_at,
                    "name": entry.title,
                    "decided_on": entry.decided_on,
                }),
            })
        }
        Point::At(t) => {
            if t < meta.created_at {
                return Err(ApiError::BadRequest(format!(
                    "{raw} is before the document existed (created {})",
                    timestamp::to_rfc3339(meta.created_at)
                )));
            }
            let records = log.times.partition_point(|&ts| ts <= t);
            // A replay of a long log takes a while: not on the runtime's threads.
            let (state, name, log) = (state.clone(), name.clone(), log.clone());
            let doc =
                tokio::task::spawn_blocking(move || replay_until(&state, &name, &log, t, records))
                    .await
                    .map_err(|e| ApiError::Internal(e.to_string()))??;
            Ok(Resolved {
                doc,
                records,
                view: json!({ "point": raw, "kind": "time", "at": timestamp::to_rfc3339(t) }),
            })
        }
    }
}

/// The document after its first `records` records (those written by `t`), replayed from
/// the state that covers the most of them: the latest version taken by then, or a state
/// an earlier request replayed to.
fn replay_until(
    state: &AppState,
    name: &DocName,
    log: &Log,
    t: u64,
    records: usize,
) -> Result<Doc, ApiError> {
    let version = state
        .store
        .versions(name)?
        .into_iter()
        .filter(|v| v.created_at <= t)
        .max_by_key(|v| v.log_records)
        .map(|v| state.store.version(name, &v.id))
        .transpose()?
        .flatten();
    let version = version.map(|(v, state)| (log.before_seq(v.log_records), state.into()));
    let point = lock(&log.index).point(records);
    let base = version
        .into_iter()
        .chain(point)
        .max_by_key(|(covered, _)| *covered);
    let (from, state) = match &base {
        Some((covered, state)) => ((*covered).min(records), Some(&state[..])),
        None => (0, None),
    };
    let doc = history::replay(state, &log.records[from..records]);
    lock(&log.index).remember(log.rewrites, records, records - from, &doc);
    Ok(doc)
}

#[derive(Debug, Deserialize)]
pub struct AtQuery {
    t: Option<String>,
    format: Option<String>,
}

pub async fn at(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
    Query(query): Query<AtQuery>,
) -> Result<Response, ApiError> {
    let name = doc_name(&doc)?;
    let meta = allowed(&state, &caller, &name, Action::Read)?;
    let format = format(query.format.as_deref())?;
    let t = query
        .t
        .ok_or_else(|| ApiError::BadRequest("t (an RFC 3339 time) is missing".into()))?;
    if t.parse::<Point>().is_ok_and(|p| !matches!(p, Point::At(_))) {
        return Err(ApiError::BadRequest(format!(
            "t must be an RFC 3339 time, not {t:?}"
        )));
    }
    let log = Arc::new(blocking(&state, &name, read_log).await?);
    let resolved = resolve(&state, &name, &meta, &t, &log).await?;
    if let Some(format) = format {
        return Ok(text_response(&resolved.doc, format));
    }
    let mut body = resolved.view;
    if let (Value::Object(body), Value::Object(texts)) = (&mut body, texts(&resolved.doc)) {
        body.extend(texts);
        body.insert("records".into(), json!(resolved.records));
    }
    Ok(Json(body).into_response())
}

/// Reads on a blocking thread.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    name: &DocName,
    read: fn(&AppState, &DocName) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let (state, name) = (state.clone(), name.clone());
    tokio::task::spawn_blocking(move || read(&state, &name))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
}

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
    /// `unified`: a unified diff of the Markdown, as a download.
    format: Option<String>,
}

pub async fn diff(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
    Query(query): Query<DiffQuery>,
) -> Result<Response, ApiError> {
    let name = doc_name(&doc)?;
    let meta = allowed(&state, &caller, &name, Action::Read)?;
    let from = query
        .from
        .ok_or_else(|| ApiError::BadRequest("from is missing".into()))?;
    let to = query.to.unwrap_or_else(|| "now".to_owned());
    let unified = match query.format.as_deref() {
        None | Some("json") => false,
        Some("unified") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown format {other:?}: expected json or unified"
            )))
        }
    };
    let log = Arc::new(blocking(&state, &name, read_log).await?);
    if !unified {
        log.read_authorship_early();
    }
    // Both at once: replaying one and decoding the other take a core each.
    let (a, b) = tokio::try_join!(
        resolve(&state, &name, &meta, &from, &log),
        resolve(&state, &name, &meta, &to, &log)
    )?;
    if unified {
        let text = history::diff::unified(
            &render::render(&a.doc, Format::Markdown),
            &render::render(&b.doc, Format::Markdown),
            &from,
            &to,
        );
        let file = format!("attachment; filename=\"{}-diff.md.diff\"", name.as_str());
        return Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "text/x-diff; charset=utf-8".to_owned(),
                ),
                (header::CONTENT_DISPOSITION, file),
            ],
            text,
        )
            .into_response());
    }
    let (a_doc, b_doc, b_records) = (a.doc, b.doc, b.records);
    let compared = tokio::task::spawn_blocking(move || {
        log.with_authorship(|authorship, records| {
            history::compare(&a_doc, &b_doc, authorship, records, b_records)
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut names = Names::default();
    let authors: Vec<Value> = compared
        .authors
        .iter()
        .map(|id| names.author(&state, id))
        .collect();
    let diff = compared
        .diff
        .named(|i| authors.get(i as usize).unwrap_or(&Value::Null));
    Ok(Json(DiffBody {
        blocks: diff.blocks,
        summary: diff.summary,
        from: a.view,
        to: b.view,
        authors: &authors,
    })
    .into_response())
}

/// A diff as `GET /diff` answers it: authors named `{id, name}` in every segment and
/// share, the points as they were resolved, and the authors in order of appearance.
#[derive(Serialize)]
struct DiffBody<'a> {
    blocks: Vec<BlockDiff<&'a Value>>,
    summary: Summary<&'a Value>,
    from: Value,
    to: Value,
    authors: &'a [Value],
}

#[derive(Debug, Deserialize)]
pub struct BlameQuery {
    at: Option<String>,
}

pub async fn blame(
    State(state): State<AppState>,
    caller: Caller,
    Path(doc): Path<String>,
    Query(query): Query<BlameQuery>,
) -> Result<Json<Value>, ApiError> {
    let name = doc_name(&doc)?;
    let meta = allowed(&state, &caller, &name, Action::Read)?;
    let at = query.at.unwrap_or_else(|| "now".to_owned());
    let log = Arc::new(blocking(&state, &name, read_log).await?);
    log.read_authorship_early();
    let resolved = resolve(&state, &name, &meta, &at, &log).await?;
    let (doc, records) = (resolved.doc, resolved.records);
    let spans = tokio::task::spawn_blocking(move || {
        log.with_authorship(|authorship, all| {
            history::blame(&doc, authorship, &all[..records.min(all.len())])
        })
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut names = Names::default();
    let mut legend: Vec<Value> = Vec::new();
    let spans: Vec<Value> = spans
        .into_iter()
        .map(|span| {
            let author = span.author.as_deref().map(|id| names.author(&state, id));
            if let Some(author) = &author {
                if !legend.contains(author) {
                    legend.push(author.clone());
                }
            }
            json!({
                "block": span.block,
                "text": span.text,
                "author": author,
                "at": span.at.map(timestamp::to_rfc3339),
            })
        })
        .collect();
    Ok(Json(
        json!({ "at": resolved.view, "spans": spans, "authors": legend }),
    ))
}

//! History: versions, the text at any moment, diffs and blame, all read from the log.
//!
//! Pure: the caller reads the log records (and versions) from the store and hands them
//! in; nothing here does I/O. Every record carries its time and author, so the text at a
//! moment is a replay of the records up to it, and who wrote or deleted a passage is read
//! from the CRDT ids the records introduced (`authorship`), never guessed from text.

pub mod authorship;
pub mod blocks;
pub mod diff;
pub mod restore;
pub mod version;

use std::cell::RefCell;
use std::collections::HashMap;

use serde::Serialize;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Transact, Update};

use crate::store::Record;
use authorship::Authorship;

/// A moment of a document's history, as a request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Point {
    /// The current text.
    Now,
    /// A version, by id (`v12`).
    Version(String),
    /// An adopted text in the archive, by id (`a3`).
    Archived(String),
    /// A moment (ms since the epoch).
    At(u64),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a point of history: expected \"now\", a version id (v12), an archive entry (a3) or an RFC 3339 time"
)]
pub struct BadPoint(pub String);

impl std::str::FromStr for Point {
    type Err = BadPoint;

    fn from_str(text: &str) -> Result<Point, BadPoint> {
        if text == "now" {
            return Ok(Point::Now);
        }
        if version::version_number(text).is_some() {
            return Ok(Point::Version(text.to_owned()));
        }
        if crate::archive::entry::entry_number(text).is_some() {
            return Ok(Point::Archived(text.to_owned()));
        }
        crate::timestamp::parse_rfc3339(text)
            .map(Point::At)
            .ok_or_else(|| BadPoint(text.to_owned()))
    }
}

/// How many of the records (in log order) were written at or before `t_ms`.
pub fn records_until(records: &[Record], t_ms: u64) -> usize {
    records.partition_point(|r| r.ts_ms <= t_ms)
}

/// The document after `state` (a v1 update, or nothing) and then `records`, replayed one
/// transaction each. (In one transaction, yrs's squashing at its end moves the whole
/// block list once per merged range: 2,576 records of the automerge-paper trace took
/// 621 ms so, 69 ms one by one.) A record that does not decode is skipped (the guard
/// accepted it, so that is damage the store reports elsewhere).
pub fn replay(state: Option<&[u8]>, records: &[Record]) -> Doc {
    let doc = Doc::new();
    let updates = state
        .into_iter()
        .chain(records.iter().map(|r| &r.update[..]));
    for update in updates {
        if let Ok(update) = Update::decode_v1(update) {
            let _ = doc.transact_mut().apply_update(update);
        }
    }
    doc
}

/// Diff of two points, with authors named by identity.
#[derive(Debug, Serialize)]
pub struct Compared {
    #[serde(flatten)]
    pub diff: diff::Diff,
    /// `authors[i]` is the identity behind author index `i` in the diff.
    pub authors: Vec<String>,
}

/// Identities by author index, as the diff names them.
#[derive(Default)]
struct AuthorTable {
    ids: Vec<String>,
    index: HashMap<String, u32>,
}

impl AuthorTable {
    fn of(&mut self, record: Option<&Record>) -> Option<u32> {
        let author = author_of(record?);
        let next = self.ids.len() as u32;
        Some(*self.index.entry(author.clone()).or_insert_with(|| {
            self.ids.push(author);
            next
        }))
    }
}

/// The identity behind a record; `server` for content the server wrote on its own.
fn author_of(record: &Record) -> String {
    record.author.clone().unwrap_or_else(|| "server".to_owned())
}

/// Compares the text of `from` with `to` (the document after its first `to_records`
/// records). What `to` has and `from` had not is attributed to whoever inserted it, what
/// `from` had and `to` has not to whoever deleted it, both from `records`, the
/// document's whole log.
pub fn compare(from: &Doc, to: &Doc, records: &[Record], to_records: usize) -> Compared {
    let authorship = Authorship::of(records);
    let table = RefCell::new(AuthorTable::default());
    let within = |index: Option<usize>| {
        index
            .filter(|&i| i < to_records)
            .and_then(|i| records.get(i))
    };
    let from_blocks = blocks::blocks(from, &|id| {
        table.borrow_mut().of(within(authorship.deleted_by(id)))
    });
    let to_blocks = blocks::blocks(to, &|id| {
        table.borrow_mut().of(within(authorship.inserted_by(id)))
    });
    Compared {
        diff: diff::diff(&from_blocks, &to_blocks),
        authors: table.into_inner().ids,
    }
}

/// A passage of text and who wrote it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Span {
    /// The block (heading, paragraph, list item, …) it belongs to, counted from 0.
    pub block: usize,
    pub text: String,
    /// The identity whose change inserted it; `None` for text of unknown origin.
    pub author: Option<String>,
    /// When it was last written within this span (ms since the epoch).
    pub at: Option<u64>,
}

/// Who wrote each passage of `doc`, from the records that made it. Adjacent text of one
/// author is one span, dated by its latest record.
pub fn blame(doc: &Doc, records: &[Record]) -> Vec<Span> {
    let authorship = Authorship::of(records);
    let blocks = blocks::blocks(doc, &|id| {
        authorship
            .inserted_by(id)
            .and_then(|i| u32::try_from(i).ok())
    });
    let mut spans: Vec<Span> = Vec::new();
    for (block, runs) in blocks.iter().map(|b| &b.runs).enumerate() {
        for run in runs {
            let record = run.author.and_then(|i| records.get(i as usize));
            let author = record.map(author_of);
            let at = record.map(|r| r.ts_ms);
            match spans.last_mut() {
                Some(last) if last.block == block && last.author == author => {
                    last.text.push_str(&run.text);
                    last.at = last.at.max(at);
                }
                _ => spans.push(Span {
                    block,
                    text: run.text.clone(),
                    author,
                    at,
                }),
            }
        }
    }
    spans
}

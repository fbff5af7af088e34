//! History: versions, the text at any moment, diffs and blame, all read from the log.
//!
//! Pure: the caller reads the log records (and versions) from the store and hands them
//! in; nothing here does I/O. Every record carries its time and author, so the text at a
//! moment is a replay of the records up to it, and who wrote or deleted a passage is read
//! from the CRDT ids the records introduced (`authorship`), never guessed from text.

pub mod authorship;
pub mod blocks;
pub mod diff;
pub mod index;
pub mod restore;
pub mod version;

use std::cell::RefCell;
use std::collections::HashMap;

use serde::Serialize;
use yrs::updates::decoder::Decode;
use yrs::{Doc, Transact, Update, ID};

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

/// Identities by author index, as the diff names them, and each record's author index
/// once it was asked for.
struct AuthorTable<'r> {
    records: &'r [Record],
    ids: Vec<String>,
    index: HashMap<&'r str, u32>,
    by_record: Vec<Option<u32>>,
}

impl<'r> AuthorTable<'r> {
    fn new(records: &'r [Record]) -> Self {
        AuthorTable {
            records,
            ids: Vec::new(),
            index: HashMap::new(),
            by_record: vec![None; records.len()],
        }
    }

    /// The author index of record `index`; `None` if there is no such record.
    fn of(&mut self, index: usize) -> Option<u32> {
        let record = self.records.get(index)?;
        if let Some(known) = self.by_record[index] {
            return Some(known);
        }
        let author = record.author.as_deref().unwrap_or(SERVER);
        let next = self.ids.len() as u32;
        let id = *self.index.entry(author).or_insert_with(|| {
            self.ids.push(author.to_owned());
            next
        });
        self.by_record[index] = Some(id);
        Some(id)
    }
}

/// Who wrote what the server wrote on its own.
const SERVER: &str = "server";

/// The identity behind a record; `server` for content the server wrote on its own.
fn author_of(record: &Record) -> String {
    record.author.as_deref().unwrap_or(SERVER).to_owned()
}

/// Compares the text of `from` with `to` (the document after its first `to_records`
/// records). What `to` has and `from` had not is attributed to whoever inserted it, what
/// `from` had and `to` has not to whoever deleted it, both from `authorship` of
/// `records`, the document's whole log.
pub fn compare(
    from: &Doc,
    to: &Doc,
    authorship: &Authorship,
    records: &[Record],
    to_records: usize,
) -> Compared {
    let records = &records[..to_records.min(records.len())];
    let side = |doc: &Doc, claim: fn(&Authorship, &ID) -> (Option<usize>, u32)| {
        let table = RefCell::new(AuthorTable::new(records));
        let blocks = blocks::blocks(doc, &|id| {
            let (record, until) = claim(authorship, id);
            (record.and_then(|i| table.borrow_mut().of(i)), until)
        });
        (blocks, table.into_inner().ids)
    };
    // The two documents are read at once, on two threads, each with its own table.
    let ((from_blocks, mut authors), (mut to_blocks, to_authors)) = std::thread::scope(|s| {
        let from_side = s.spawn(|| side(from, Authorship::deleted_by));
        let to_side = side(to, Authorship::inserted_by);
        let from_side = from_side
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (from_side, to_side)
    });
    // One table: FROM's authors in the order found, then those new in TO.
    let renumbered: Vec<u32> = to_authors
        .into_iter()
        .map(|id| {
            let at = authors.iter().position(|known| *known == id);
            at.unwrap_or_else(|| {
                authors.push(id);
                authors.len() - 1
            }) as u32
        })
        .collect();
    for run in to_blocks.iter_mut().flat_map(|b| b.runs.iter_mut()) {
        run.author = run.author.and_then(|a| renumbered.get(a as usize).copied());
    }
    Compared {
        diff: diff::diff(&from_blocks, &to_blocks),
        authors,
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

/// Who wrote each passage of `doc`, the document after `records` (a prefix of the log
/// `authorship` was read from). Adjacent text of one author is one span, dated by its
/// latest record.
pub fn blame(doc: &Doc, authorship: &Authorship, records: &[Record]) -> Vec<Span> {
    let blocks = blocks::blocks(doc, &|id| {
        let (record, until) = authorship.inserted_by(id);
        let record = record.filter(|&i| i < records.len());
        (record.and_then(|i| u32::try_from(i).ok()), until)
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

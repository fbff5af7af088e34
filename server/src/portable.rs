//! The portable export: everything a server holds, in a file that does not depend on
//! sled (gzip'd JSON Lines, docs/storage.md). Export, import, backups and restores all
//! read and write this one format.

use std::io::{BufRead, BufReader, Read, Write};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::store::{Store, StoreError};

/// The first line's `format`, and the layout's version.
pub const FORMAT: &str = "leitbild-export";
pub const VERSION: u64 = 1;

/// Why an export cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum PortableError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export failed: {0}")]
    Write(std::io::Error),
    #[error("line {line}: {why}")]
    Bad { line: u64, why: String },
    #[error("the file ends before its last line: it is cut off ({0} items read)")]
    Truncated(u64),
    #[error("cannot merge: {0}")]
    Conflicts(String),
}

/// How much an export or import moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Moved {
    pub items: u64,
    pub bytes: u64,
}

/// Writes an export of `store` to `out` (gzip'd); `progress` hears the item count now
/// and then.
pub fn export(
    store: &Store,
    out: impl Write,
    mut progress: impl FnMut(u64),
) -> Result<Moved, PortableError> {
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::fast());
    let header = json!({
        "format": FORMAT,
        "version": VERSION,
        "exported_at": crate::timestamp::to_rfc3339(crate::store::now_ms()),
    });
    let mut moved = Moved::default();
    let mut line = |value: &Value, gz: &mut dyn Write| -> Result<(), PortableError> {
        let mut bytes = serde_json::to_vec(value).unwrap_or_default();
        bytes.push(b'\n');
        moved.bytes += bytes.len() as u64;
        gz.write_all(&bytes).map_err(PortableError::Write)
    };
    line(&header, &mut gz)?;
    let mut items = 0u64;
    let mut failed = None;
    store
        .export_values(|tree, key, value| {
            if let Err(e) = line(&item(tree, key, value), &mut gz) {
                failed = Some(e);
                return Err(StoreError::Closed);
            }
            items += 1;
            if items.is_multiple_of(10_000) {
                progress(items);
            }
            Ok(())
        })
        .map_err(|e| failed.take().unwrap_or(PortableError::Store(e)))?;
    line(&json!({ "end": true, "items": items }), &mut gz)?;
    gz.finish().map_err(PortableError::Write)?;
    moved.items = items;
    Ok(moved)
}

/// One stored value as a line: the key as text when it is text, else base64; the value
/// as JSON when it is JSON, else base64.
fn item(tree: &str, key: &[u8], value: &[u8]) -> Value {
    let mut line = json!({ "tree": tree });
    match std::str::from_utf8(key) {
        Ok(text) if !text.chars().any(char::is_control) => line["key"] = json!(text),
        _ => line["key_b64"] = json!(B64.encode(key)),
    }
    match serde_json::from_slice::<Value>(value) {
        Ok(json) if value.first().is_some_and(|b| *b == b'{' || *b == b'[') => line["json"] = json,
        _ => line["value_b64"] = json!(B64.encode(value)),
    }
    line
}

/// Reads an export from `input` into `store`: an empty one, or with `merge` one that
/// holds data, if nothing collides (then nothing is written). `progress` hears the item
/// count now and then. The caller flushes the store.
pub fn import(
    store: &Store,
    input: impl Read,
    merge: bool,
    mut progress: impl FnMut(u64),
) -> Result<Moved, PortableError> {
    let (items, bytes) = read(input)?;
    if merge {
        let conflicts =
            store.merge_conflicts(items.iter().map(|(t, k, _)| (t.as_str(), k.as_slice())))?;
        if !conflicts.is_empty() {
            return Err(PortableError::Conflicts(conflicts.join("; ")));
        }
    }
    for (n, (tree, key, value)) in items.iter().enumerate() {
        store
            .import_value(tree, key, value, merge)
            .map_err(|e| PortableError::Bad {
                line: n as u64 + 2,
                why: e.to_string(),
            })?;
        if (n as u64 + 1).is_multiple_of(10_000) {
            progress(n as u64 + 1);
        }
    }
    Ok(Moved {
        items: items.len() as u64,
        bytes,
    })
}

/// An export's items, after checking its first line and its end line.
type Items = Vec<(String, Vec<u8>, Vec<u8>)>;

/// Every item of an export, checked for its header and its end line before any is used.
fn read(input: impl Read) -> Result<(Items, u64), PortableError> {
    let reader = BufReader::new(flate2::read::GzDecoder::new(input));
    let mut items = Vec::new();
    let mut bytes = 0;
    let mut ended = false;
    for (index, text) in reader.lines().enumerate() {
        let n = index as u64 + 1;
        let bad = |why: String| PortableError::Bad { line: n, why };
        let text =
            text.map_err(|e| bad(format!("cannot be read ({e}); is this a Leitbild export?")))?;
        bytes += text.len() as u64 + 1;
        if ended {
            return Err(bad("comes after the end line".into()));
        }
        let line: Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("is not JSON: {e}")))?;
        if n == 1 {
            if line["format"] != FORMAT {
                return Err(bad("this is not a Leitbild export".into()));
            }
            if line["version"].as_u64() != Some(VERSION) {
                return Err(bad(format!(
                    "an export of version {}; this release reads version {VERSION}",
                    line["version"]
                )));
            }
            continue;
        }
        if line["end"] == true {
            if line["items"].as_u64() != Some(items.len() as u64) {
                return Err(bad(format!(
                    "the end line counts {} items, the file holds {}",
                    line["items"],
                    items.len()
                )));
            }
            ended = true;
            continue;
        }
        let tree = line["tree"]
            .as_str()
            .ok_or_else(|| bad("has no tree".into()))?;
        let key = match (&line["key"], &line["key_b64"]) {
            (Value::String(key), _) => key.as_bytes().to_vec(),
            (_, Value::String(key)) => B64.decode(key).map_err(|e| bad(format!("key: {e}")))?,
            _ => return Err(bad("has no key".into())),
        };
        let value = match (&line["json"], &line["value_b64"]) {
            (Value::Null, Value::String(value)) => {
                B64.decode(value).map_err(|e| bad(format!("value: {e}")))?
            }
            (Value::Null, _) => return Err(bad("has no value".into())),
            (json, _) => serde_json::to_vec(json).unwrap_or_default(),
        };
        items.push((tree.to_owned(), key, value));
    }
    if !ended {
        return Err(PortableError::Truncated(items.len() as u64));
    }
    Ok((items, bytes))
}

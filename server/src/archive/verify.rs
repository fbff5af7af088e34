//! Checking the archive: every entry's hashes recomputed from its frozen bytes, and the
//! chain from the first entry to the last. Reports the first inconsistency.

use base64::Engine as _;
use serde::Serialize;

use super::entry::{entry_id, sha256_hex, Entry, Frozen};

/// The first thing found wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The entry concerned (`a3`).
    pub entry: String,
    /// What differs, in words.
    pub what: String,
}

/// The outcome of a check of the whole archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ok: bool,
    /// How many entries were checked (up to and including a broken one).
    pub entries: u64,
    /// The last entry's `entry_sha256`: the head of the chain (empty for no entries).
    pub head: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// One stored entry as the store read it: its number, and either its contents or why
/// they could not be read (a checksum that does not match, a missing part).
pub type Stored = (u64, Result<(Entry, Frozen), String>);

/// Checks entries in order of their numbers.
pub fn verify(entries: impl IntoIterator<Item = Stored>) -> Report {
    let mut checked = 0;
    let mut prev: Option<Entry> = None;
    for (n, stored) in entries {
        checked += 1;
        let problem = |what: String| Report {
            ok: false,
            entries: checked,
            head: String::new(),
            problem: Some(Problem {
                entry: entry_id(n),
                what,
            }),
        };
        let (entry, frozen) = match stored {
            Ok(stored) => stored,
            Err(why) => return problem(format!("cannot be read: {why}")),
        };
        if let Some(what) = inconsistency(n, &entry, &frozen, prev.as_ref()) {
            return problem(what);
        }
        prev = Some(entry);
    }
    Report {
        ok: true,
        entries: checked,
        head: prev.map(|p| p.entry_sha256).unwrap_or_default(),
        problem: None,
    }
}

/// What is wrong with entry `n`, coming after `prev`.
fn inconsistency(n: u64, entry: &Entry, frozen: &Frozen, prev: Option<&Entry>) -> Option<String> {
    let expected_n = prev.map_or(1, |p| number_of(p) + 1);
    if n != expected_n {
        return Some(format!(
            "follows {} but is number {n} (an entry is missing)",
            prev.map_or("the start".to_owned(), |p| p.id.clone())
        ));
    }
    if entry.id != entry_id(n) {
        return Some(format!(
            "is stored as {} but says it is {}",
            entry_id(n),
            entry.id
        ));
    }
    let hash = |name: &str, stored: &str, computed: String| {
        (stored != computed).then(|| {
            format!("the {name} was changed: its SHA-256 is {computed}, the entry records {stored}")
        })
    };
    let state = match base64::engine::general_purpose::STANDARD.decode(&frozen.state) {
        Ok(state) => state,
        Err(_) => return Some("the Yjs state is not valid base64".into()),
    };
    let link = prev.map(|p| p.entry_sha256.clone()).unwrap_or_default();
    hash(
        "Markdown",
        &entry.sha256,
        sha256_hex(frozen.markdown.as_bytes()),
    )
    .or_else(|| {
        hash(
            "HTML",
            &entry.html_sha256,
            sha256_hex(frozen.html.as_bytes()),
        )
    })
    .or_else(|| {
        hash(
            "plain text",
            &entry.text_sha256,
            sha256_hex(frozen.text.as_bytes()),
        )
    })
    .or_else(|| hash("Yjs state", &entry.state_sha256, sha256_hex(&state)))
    .or_else(|| {
        (entry.prev_sha256 != link).then(|| {
            format!(
                "its link to the entry before is {:?}, but that entry's hash is {link:?}",
                entry.prev_sha256
            )
        })
    })
    .or_else(|| hash("metadata", &entry.entry_sha256, entry.record_sha256()))
}

fn number_of(entry: &Entry) -> u64 {
    super::entry::entry_number(&entry.id).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::entry::{Adoption, Draft};

    fn chain(count: u64) -> Vec<(Entry, Frozen)> {
        let mut entries: Vec<(Entry, Frozen)> = Vec::new();
        for n in 1..=count {
            let state = vec![n as u8; 3];
            let draft = Draft {
                adoption: Adoption {
                    title: format!("Leitbild {n}"),
                    adopted_by: "Lenkungsausschuss".into(),
                    decided_on: "2026-09-29".into(),
                    note: None,
                },
                adopted_at: "2026-10-01T08:00:00Z".into(),
                adopter: "p-1".into(),
                adopter_name: "Anna".into(),
                doc: "bildung".into(),
                doc_title: "Bildung".into(),
                version: format!("v{n}"),
                frozen: Frozen {
                    markdown: format!("# Leitbild {n}\n"),
                    html: format!("<h1>Leitbild {n}</h1>"),
                    text: format!("Leitbild {n}\n"),
                    state: base64::engine::general_purpose::STANDARD.encode(&state),
                },
                state,
            };
            let prev = entries.last().map(|(e, _)| e);
            let sealed = draft.seal(n, n, prev);
            entries.push(sealed);
        }
        entries
    }

    fn stored(entries: &[(Entry, Frozen)]) -> Vec<Stored> {
        entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i as u64 + 1, Ok(e.clone())))
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_and_reports_its_head() {
        let entries = chain(4);
        let report = verify(stored(&entries));
        assert!(report.ok, "{report:?}");
        assert_eq!(report.entries, 4);
        assert_eq!(report.head, entries[3].0.entry_sha256);
        assert!(verify(Vec::new()).ok);
    }

    #[test]
    fn every_kind_of_change_is_found_and_named() {
        let entries = chain(4);
        type Damage = Box<dyn Fn(&mut Vec<Stored>)>;
        let cases: Vec<(&str, Damage)> = vec![
            (
                "Markdown",
                Box::new(|s| edit(s, 2, |_, f| f.markdown.push('x'))),
            ),
            ("HTML", Box::new(|s| edit(s, 2, |_, f| f.html.push('x')))),
            (
                "plain text",
                Box::new(|s| edit(s, 2, |_, f| f.text.push('x'))),
            ),
            (
                "Yjs state",
                Box::new(|s| edit(s, 2, |_, f| f.state = "AAAA".into())),
            ),
            (
                "metadata",
                Box::new(|s| edit(s, 2, |e, _| e.decided_on = "2026-09-30".into())),
            ),
            (
                "link",
                Box::new(|s| edit(s, 2, |e, _| e.prev_sha256 = "0".repeat(64))),
            ),
            (
                "missing",
                Box::new(|s| {
                    drop(s.remove(2));
                }),
            ),
            (
                "read",
                Box::new(|s| s[2].1 = Err("checksum mismatch".into())),
            ),
        ];
        for (what, damage) in cases {
            let mut damaged = stored(&entries);
            damage(&mut damaged);
            let report = verify(damaged);
            assert!(!report.ok, "{what}");
            let problem = report.problem.expect("a problem");
            let expected = if what == "missing" { "a4" } else { "a3" };
            assert_eq!(problem.entry, expected, "{what}: {problem:?}");
            assert!(problem.what.contains(what), "{what}: {}", problem.what);
        }
    }

    fn edit(stored: &mut [Stored], index: usize, change: impl Fn(&mut Entry, &mut Frozen)) {
        if let Ok((entry, frozen)) = &mut stored[index].1 {
            change(entry, frozen);
        }
    }
}

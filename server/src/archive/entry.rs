//! An archive entry: the adoption's metadata, the frozen texts and state, and the hashes
//! that tie them to each other and to the entry before (docs/archive.md defines the bytes).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The first line of an entry's record (the bytes `entry_sha256` is taken over).
pub const RECORD_HEADER: &str = "leitbild-archive-entry 1";

/// What a moderator sends to adopt a version.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adoption {
    pub title: String,
    /// The adopting body ("Lenkungsausschuss der Bildungsregion …").
    pub adopted_by: String,
    /// The date of the decision, `YYYY-MM-DD`.
    pub decided_on: String,
    #[serde(default)]
    pub note: Option<String>,
}

/// Why an adoption request cannot be taken as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadAdoption {
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("{0} is too long (at most {1} characters)")]
    TooLong(&'static str, usize),
    #[error("{0} must be one line without control characters")]
    NotOneLine(&'static str),
    #[error("decided_on must be a date as YYYY-MM-DD, got {0:?}")]
    BadDate(String),
}

impl Adoption {
    /// The request with surrounding blanks trimmed, or why it cannot be adopted.
    pub fn checked(self) -> Result<Adoption, BadAdoption> {
        let line = |name: &'static str, value: &str, max: usize| {
            let value = value.trim();
            if value.is_empty() {
                return Err(BadAdoption::Empty(name));
            }
            if value.chars().count() > max {
                return Err(BadAdoption::TooLong(name, max));
            }
            if value.chars().any(char::is_control) {
                return Err(BadAdoption::NotOneLine(name));
            }
            Ok(value.to_owned())
        };
        let title = line("title", &self.title, 300)?;
        let adopted_by = line("adopted_by", &self.adopted_by, 300)?;
        let decided_on = self.decided_on.trim().to_owned();
        if !is_date(&decided_on) {
            return Err(BadAdoption::BadDate(self.decided_on));
        }
        let note = match self.note.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(note) if note.chars().count() > 4000 => {
                return Err(BadAdoption::TooLong("note", 4000))
            }
            Some(note) => Some(note.replace("\r\n", "\n")),
        };
        Ok(Adoption {
            title,
            adopted_by,
            decided_on,
            note,
        })
    }
}

/// A real calendar date written `YYYY-MM-DD`.
fn is_date(text: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    text.len() == 10 && time::Date::parse(text, &format).is_ok()
}

/// What an entry freezes besides its metadata: the texts as adopted and the Yjs state
/// they were rendered from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frozen {
    /// The canonical Markdown: the bytes `sha256` is taken over.
    pub markdown: String,
    pub html: String,
    pub text: String,
    /// The document's state (a Yjs v1 update of the whole document), base64.
    pub state: String,
}

/// An archive entry's metadata: what `GET /api/archive/{id}` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// `a{n}`: the n-th entry of this server's archive, from 1.
    pub id: String,
    /// The how-many-th adopted text of its document (1 for the first).
    pub edition: u64,
    pub title: String,
    pub adopted_by: String,
    pub decided_on: String,
    #[serde(default)]
    pub note: Option<String>,
    /// When it was adopted, RFC 3339 (UTC).
    pub adopted_at: String,
    /// Who adopted it: the moderator's identity and the name they went by.
    pub adopter: String,
    pub adopter_name: String,
    /// The source document, its title then, and the version adopted.
    pub doc: String,
    pub doc_title: String,
    pub version: String,
    /// SHA-256 (hex) of the canonical Markdown.
    pub sha256: String,
    pub html_sha256: String,
    pub text_sha256: String,
    /// SHA-256 of the state's bytes (decoded from base64).
    pub state_sha256: String,
    /// The previous entry's `entry_sha256`; empty for the first.
    pub prev_sha256: String,
    /// SHA-256 of this entry's record ([`Entry::record`]): the link the next entry holds.
    pub entry_sha256: String,
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The texts' line endings made `\n` and the end made exactly one `\n` (empty stays
/// empty): the canonical form of each frozen text.
pub fn canonical_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let trimmed = text.trim_end_matches('\n');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("{trimmed}\n")
    }
}

/// A record value on one line: `\` as `\\`, a line feed as `\n`, a carriage return as `\r`.
fn escaped(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

impl Entry {
    /// The record of this entry: the bytes its `entry_sha256` is taken over. One
    /// `name: value` line per field, in this order, each ending in `\n`.
    pub fn record(&self) -> String {
        let fields: [(&str, String); 17] = [
            ("id", self.id.clone()),
            ("edition", self.edition.to_string()),
            ("title", self.title.clone()),
            ("adopted_by", self.adopted_by.clone()),
            ("decided_on", self.decided_on.clone()),
            ("note", self.note.clone().unwrap_or_default()),
            ("adopted_at", self.adopted_at.clone()),
            ("adopter", self.adopter.clone()),
            ("adopter_name", self.adopter_name.clone()),
            ("doc", self.doc.clone()),
            ("doc_title", self.doc_title.clone()),
            ("version", self.version.clone()),
            ("sha256", self.sha256.clone()),
            ("html_sha256", self.html_sha256.clone()),
            ("text_sha256", self.text_sha256.clone()),
            ("state_sha256", self.state_sha256.clone()),
            ("prev_sha256", self.prev_sha256.clone()),
        ];
        let mut record = format!("{RECORD_HEADER}\n");
        for (name, value) in &fields {
            record.push_str(name);
            record.push_str(": ");
            record.push_str(&escaped(value));
            record.push('\n');
        }
        record
    }

    /// The hash of [`Entry::record`].
    pub fn record_sha256(&self) -> String {
        sha256_hex(self.record().as_bytes())
    }
}

/// The id of the n-th entry.
pub fn entry_id(n: u64) -> String {
    format!("a{n}")
}

/// The n of an entry id; `None` for anything that is not one.
pub fn entry_number(id: &str) -> Option<u64> {
    let digits = id.strip_prefix('a')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.starts_with('0') {
        return None;
    }
    digits.parse().ok()
}

/// What an adoption freezes, before it has its place in the chain.
pub struct Draft {
    pub adoption: Adoption,
    pub adopted_at: String,
    pub adopter: String,
    pub adopter_name: String,
    pub doc: String,
    pub doc_title: String,
    pub version: String,
    pub frozen: Frozen,
    /// The state's bytes (the same as `frozen.state`, decoded).
    pub state: Vec<u8>,
}

impl Draft {
    /// The entry with number `n` after the entry `prev` (`None` for the first), the
    /// `edition`-th of its document.
    pub fn seal(self, n: u64, edition: u64, prev: Option<&Entry>) -> (Entry, Frozen) {
        let mut entry = Entry {
            id: entry_id(n),
            edition,
            title: self.adoption.title,
            adopted_by: self.adoption.adopted_by,
            decided_on: self.adoption.decided_on,
            note: self.adoption.note,
            adopted_at: self.adopted_at,
            adopter: self.adopter,
            adopter_name: self.adopter_name,
            doc: self.doc,
            doc_title: self.doc_title,
            version: self.version,
            sha256: sha256_hex(self.frozen.markdown.as_bytes()),
            html_sha256: sha256_hex(self.frozen.html.as_bytes()),
            text_sha256: sha256_hex(self.frozen.text.as_bytes()),
            state_sha256: sha256_hex(&self.state),
            prev_sha256: prev.map(|p| p.entry_sha256.clone()).unwrap_or_default(),
            entry_sha256: String::new(),
        };
        entry.entry_sha256 = entry.record_sha256();
        (entry, self.frozen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adoption(title: &str, decided_on: &str) -> Adoption {
        Adoption {
            title: title.into(),
            adopted_by: "Lenkungsausschuss".into(),
            decided_on: decided_on.into(),
            note: Some("  Beschluss 12/2026\r\nTOP 3  ".into()),
        }
    }

    #[test]
    fn adoptions_are_checked_and_trimmed() {
        let ok = adoption("  Leitbild Bildung ", "2026-09-29")
            .checked()
            .unwrap();
        assert_eq!(ok.title, "Leitbild Bildung");
        assert_eq!(ok.note.as_deref(), Some("Beschluss 12/2026\nTOP 3"));
        assert_eq!(
            adoption(" ", "2026-09-29").checked().unwrap_err(),
            BadAdoption::Empty("title")
        );
        assert_eq!(
            adoption("a\nb", "2026-09-29").checked().unwrap_err(),
            BadAdoption::NotOneLine("title")
        );
        for date in ["2026-02-30", "29.09.2026", "2026-9-29", ""] {
            assert!(matches!(
                adoption("t", date).checked(),
                Err(BadAdoption::BadDate(_))
            ));
        }
    }

    #[test]
    fn canonical_text_ends_in_one_line_feed() {
        assert_eq!(canonical_text("# A\r\n\r\nb\n\n\n"), "# A\n\nb\n");
        assert_eq!(canonical_text("\n\n"), "");
    }

    #[test]
    fn ids_round_trip_and_junk_is_no_id() {
        assert_eq!(entry_number(&entry_id(7)), Some(7));
        for junk in ["", "a", "a0", "a01", "7", "v7", "a7b", "a-1"] {
            assert_eq!(entry_number(junk), None, "{junk}");
        }
    }

    fn draft(markdown: &str) -> Draft {
        Draft {
            adoption: adoption("Leitbild", "2026-09-29").checked().unwrap(),
            adopted_at: "2026-10-01T08:00:00Z".into(),
            adopter: "p-1".into(),
            adopter_name: "Anna".into(),
            doc: "bildung".into(),
            doc_title: "Leitbild Bildung".into(),
            version: "v3".into(),
            frozen: Frozen {
                markdown: markdown.into(),
                html: "<p>x</p>".into(),
                text: "x\n".into(),
                state: String::new(),
            },
            state: vec![1, 2, 3],
        }
    }

    #[test]
    fn the_record_covers_every_field_and_the_chain_links_entries() {
        let (first, _) = draft("# Leitbild\n").seal(1, 1, None);
        assert_eq!(first.prev_sha256, "");
        assert_eq!(first.sha256, sha256_hex(b"# Leitbild\n"));
        assert!(first
            .record()
            .starts_with("leitbild-archive-entry 1\nid: a1\n"));
        assert!(first.record().contains("note: Beschluss 12/2026\\nTOP 3\n"));
        let (second, _) = draft("# Leitbild 2\n").seal(2, 2, Some(&first));
        assert_eq!(second.prev_sha256, first.entry_sha256);
        assert_eq!(second.entry_sha256, sha256_hex(second.record().as_bytes()));

        // Any field changed changes the record's hash.
        let mut changed = first.clone();
        changed.decided_on = "2026-09-30".into();
        assert_ne!(changed.record_sha256(), first.entry_sha256);
        let mut changed = first.clone();
        changed.note = None;
        assert_ne!(changed.record_sha256(), first.entry_sha256);
    }
}

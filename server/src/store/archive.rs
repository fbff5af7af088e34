//! The store's archive of adopted texts: entries are appended one at a time, each linked
//! to the one before, what they froze written before their metadata, and made durable
//! before anyone hears of them. Nothing here changes or removes an entry.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError};
use crate::archive::entry::{entry_number, Draft};
use crate::archive::verify::Stored;
use crate::archive::{Entry, Frozen};

fn key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// An entry's metadata as stored: the entry, and the idempotency key of the request
/// that made it (not part of the entry: a retry's key is nobody's business).
#[derive(Serialize, Deserialize)]
struct Kept {
    entry: Entry,
    #[serde(default)]
    key: Option<String>,
}

/// What [`Store::append_to_archive`] did.
#[derive(Debug)]
pub enum Appended {
    /// A new entry, durable.
    New(Entry),
    /// The request with this idempotency key made this entry before.
    Replayed(Entry),
    /// The idempotency key was used for a different adoption (another version, or other
    /// words for the same one).
    KeyReused(Entry),
}

impl Store {
    /// Appends `draft` to the archive as its next entry, unless an entry was made with
    /// the same idempotency `key` before, and makes it durable. A crash leaves the whole
    /// entry or nothing: the frozen texts are written first, the metadata (which alone
    /// makes an entry) last, in one write.
    pub async fn append_to_archive(
        &self,
        draft: Draft,
        key_used: Option<&str>,
    ) -> Result<Appended, StoreError> {
        let _one_at_a_time = self.shared.archive_append.lock().await;
        let kept = self.kept_entries()?;
        if let Some(key_used) = key_used {
            if let Some(earlier) = kept.iter().find(|k| k.key.as_deref() == Some(key_used)) {
                let (e, a) = (&earlier.entry, &draft.adoption);
                let same = e.doc == draft.doc
                    && e.version == draft.version
                    && e.title == a.title
                    && e.adopted_by == a.adopted_by
                    && e.decided_on == a.decided_on
                    && e.note == a.note;
                let entry = earlier.entry.clone();
                // It was durable when it was answered; flush in case that answer was lost
                // in a crash before the flush returned.
                self.flush().await?;
                return Ok(if same {
                    Appended::Replayed(entry)
                } else {
                    Appended::KeyReused(entry)
                });
            }
        }
        let last = kept.last().map(|k| &k.entry);
        let n = last.and_then(|e| entry_number(&e.id)).unwrap_or(0) + 1;
        let edition = kept.iter().filter(|k| k.entry.doc == draft.doc).count() as u64 + 1;
        let (entry, frozen) = draft.seal(n, edition, last);
        let stored = Kept {
            entry,
            key: key_used.map(str::to_owned),
        };
        self.write(|trees| {
            trees.archive_frozen.insert_json(key(n), &frozen)?;
            trees.archive.insert_json(key(n), &stored)
        })?;
        self.flush().await?;
        Ok(Appended::New(stored.entry))
    }

    fn kept_entries(&self) -> Result<Vec<Kept>, StoreError> {
        let trees = self.trees()?;
        trees
            .archive
            .iter()
            .map(|entry| {
                let (key, value) = entry?;
                trees.archive.decode::<Kept>(&key, &value)
            })
            .collect::<Result<_, _>>()
            .map_err(|e| self.damaged(e))
    }

    /// Every archive entry, oldest first.
    pub fn archive_entries(&self) -> Result<Vec<Entry>, StoreError> {
        Ok(self.kept_entries()?.into_iter().map(|k| k.entry).collect())
    }

    /// One entry and what it froze; `None` if there is no such entry.
    pub fn archive_entry(&self, id: &str) -> Result<Option<(Entry, Frozen)>, StoreError> {
        let Some(n) = entry_number(id) else {
            return Ok(None);
        };
        let trees = self.trees()?;
        let read = || -> Result<Option<(Entry, Frozen)>, StoreError> {
            let Some(kept) = trees.archive.get_json::<Kept>(key(n))? else {
                return Ok(None);
            };
            let frozen = trees.archive_frozen.get_json(key(n))?.ok_or_else(|| {
                StoreError::Corrupt(format!("archive entry {id}: its frozen texts are missing"))
            })?;
            Ok(Some((kept.entry, frozen)))
        };
        read().map_err(|e| self.damaged(e))
    }

    /// Every entry as stored, for [`crate::archive::verify`]: an entry that cannot be read
    /// (a checksum that does not match, a missing part) is reported, not skipped.
    pub fn archive_as_stored(&self) -> Result<Vec<Stored>, StoreError> {
        let trees = self.trees()?;
        let mut stored = Vec::new();
        for key in trees.archive.keys_with_prefix(&[]) {
            let key = key?;
            let n = match <[u8; 8]>::try_from(key.as_slice()) {
                Ok(bytes) => u64::from_be_bytes(bytes),
                Err(_) => {
                    return Err(StoreError::Corrupt(format!(
                        "archive: a key of {} bytes",
                        key.len()
                    )))
                }
            };
            let read = || -> Result<(Entry, Frozen), StoreError> {
                let kept: Kept = trees
                    .archive
                    .get_json(&key)?
                    .ok_or_else(|| StoreError::Corrupt("removed while read".into()))?;
                let frozen = trees
                    .archive_frozen
                    .get_json(&key)?
                    .ok_or_else(|| StoreError::Corrupt("its frozen texts are missing".into()))?;
                Ok((kept.entry, frozen))
            };
            stored.push((n, read().map_err(|e| e.to_string())));
        }
        Ok(stored)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use base64::Engine as _;

    use super::*;
    use crate::archive::entry::Adoption;
    use crate::archive::verify;
    use crate::metrics::Metrics;

    fn draft(doc: &str, version: &str, text: &str) -> Draft {
        let state = text.as_bytes().to_vec();
        Draft {
            adoption: Adoption {
                title: "Leitbild".into(),
                adopted_by: "Lenkungsausschuss".into(),
                decided_on: "2026-09-29".into(),
                note: None,
            },
            adopted_at: "2026-10-01T08:00:00Z".into(),
            adopter: "p-1".into(),
            adopter_name: "Anna".into(),
            doc: doc.into(),
            doc_title: doc.into(),
            version: version.into(),
            frozen: Frozen {
                markdown: format!("{text}\n"),
                html: format!("<p>{text}</p>"),
                text: format!("{text}\n"),
                state: base64::engine::general_purpose::STANDARD.encode(&state),
            },
            state,
        }
    }

    fn open(dir: &std::path::Path) -> Store {
        Store::open(dir, 1 << 20, Arc::new(Metrics::default())).unwrap()
    }

    #[tokio::test]
    async fn entries_chain_count_editions_and_keys_replay() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let Appended::New(a1) = store
            .append_to_archive(draft("x", "v1", "eins"), Some("k1"))
            .await
            .unwrap()
        else {
            panic!("new")
        };
        let Appended::New(a2) = store
            .append_to_archive(draft("y", "v2", "zwei"), None)
            .await
            .unwrap()
        else {
            panic!("new")
        };
        let Appended::New(a3) = store
            .append_to_archive(draft("x", "v3", "drei"), Some("k3"))
            .await
            .unwrap()
        else {
            panic!("new")
        };
        assert_eq!(
            (a1.id.as_str(), a2.id.as_str(), a3.id.as_str()),
            ("a1", "a2", "a3")
        );
        assert_eq!((a1.edition, a2.edition, a3.edition), (1, 1, 2));
        assert_eq!(a2.prev_sha256, a1.entry_sha256);
        assert_eq!(a3.prev_sha256, a2.entry_sha256);

        match store
            .append_to_archive(draft("x", "v1", "eins"), Some("k1"))
            .await
            .unwrap()
        {
            Appended::Replayed(entry) => assert_eq!(entry, a1),
            other => panic!("{other:?}"),
        }
        let mut other_words = draft("x", "v1", "eins");
        other_words.adoption.decided_on = "2026-09-30".into();
        match store
            .append_to_archive(other_words, Some("k1"))
            .await
            .unwrap()
        {
            Appended::KeyReused(entry) => assert_eq!(entry.id, "a1"),
            other => panic!("{other:?}"),
        }
        match store
            .append_to_archive(draft("y", "v9", "neun"), Some("k1"))
            .await
            .unwrap()
        {
            Appended::KeyReused(entry) => assert_eq!(entry.id, "a1"),
            other => panic!("{other:?}"),
        }
        assert_eq!(store.archive_entries().unwrap().len(), 3);
        let (entry, frozen) = store.archive_entry("a2").unwrap().unwrap();
        assert_eq!((entry, frozen.markdown.as_str()), (a2, "zwei\n"));
        assert!(store.archive_entry("a4").unwrap().is_none());
        assert!(store.archive_entry("junk").unwrap().is_none());
        let report = verify(store.archive_as_stored().unwrap());
        assert!(report.ok, "{report:?}");
        assert_eq!(report.head, a3.entry_sha256);
    }

    #[tokio::test]
    async fn a_rewritten_entry_fails_verification_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        for (version, text) in [("v1", "eins"), ("v2", "zwei"), ("v3", "drei")] {
            store
                .append_to_archive(draft("x", version, text), None)
                .await
                .unwrap();
        }
        // Underneath the API: the frozen Markdown rewritten, checksums and all.
        let trees = store.trees().unwrap();
        let mut frozen: Frozen = trees.archive_frozen.get_json(key(2)).unwrap().unwrap();
        frozen.markdown = "zwei!\n".into();
        trees.archive_frozen.insert_json(key(2), &frozen).unwrap();
        let report = verify(store.archive_as_stored().unwrap());
        assert!(!report.ok);
        let problem = report.problem.unwrap();
        assert_eq!(problem.entry, "a2");
        assert!(problem.what.contains("Markdown"), "{}", problem.what);
    }
}

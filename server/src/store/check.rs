//! Reading the whole store for `leitbild check`: every tree's values against their
//! checksums, every document's log from its first record, its snapshot and its
//! versions. Every finding is kept (as text); nothing here stops at the first one.

use super::{keys, DocMeta, Record, Store, StoreError};
use crate::history::version::Version;
use crate::name::DocName;

/// A document as the check reads it.
pub struct DocForCheck {
    pub name: String,
    pub meta: Result<DocMeta, String>,
    /// The whole log, oldest first, with the first break in it (a damaged record, a gap).
    pub log: Vec<(u64, Record)>,
    pub log_problem: Option<String>,
    /// The snapshot (`upto`, Yjs v2 state), if there is one.
    pub snapshot: Option<Result<(u64, Vec<u8>), String>>,
    /// Each version and its state (Yjs v1).
    pub versions: Vec<Result<(Version, Vec<u8>), String>>,
}

impl Store {
    /// Every value of every tree whose checksum does not match, as `tree: key: why`.
    pub fn damaged_values(&self) -> Result<Vec<String>, StoreError> {
        let trees = self.trees()?;
        let mut damaged = Vec::new();
        for (name, table) in trees.all() {
            for entry in table.iter() {
                if let Err(e) = entry {
                    damaged.push(format!("{name}: {e}"));
                }
            }
        }
        Ok(damaged)
    }

    /// The names of every document with metadata or a log, in name order.
    pub fn doc_names_for_check(&self) -> Result<Vec<String>, StoreError> {
        let trees = self.trees()?;
        let mut names = std::collections::BTreeSet::new();
        for key in trees.meta.keys_with_prefix(&[]) {
            names.insert(String::from_utf8_lossy(&key?).into_owned());
        }
        for key in trees.log.keys_with_prefix(&[]) {
            let key = key?;
            if let Some(doc) = keys::log_doc(&key) {
                names.insert(String::from_utf8_lossy(doc).into_owned());
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Reads one document whole.
    pub fn doc_for_check(&self, name: &str) -> Result<DocForCheck, StoreError> {
        let trees = self.trees()?;
        let meta = match trees.meta.get_json::<DocMeta>(name) {
            Ok(Some(meta)) => Ok(meta),
            Ok(None) => Err("has a log but no metadata".to_owned()),
            Err(e) => Err(e.to_string()),
        };
        let mut doc = DocForCheck {
            name: name.to_owned(),
            meta,
            log: Vec::new(),
            log_problem: None,
            snapshot: None,
            versions: Vec::new(),
        };
        let Ok(doc_name) = DocName::parse(name) else {
            doc.log_problem = Some("its name is not a valid document name".into());
            return Ok(doc);
        };
        {
            let _exclusive = self
                .shared
                .log_rewrite
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let mut expected_prev = keys::NO_PREV;
            for entry in trees.log.scan_prefix(&keys::log_prefix(&doc_name)) {
                let broken = match entry {
                    Err(e) => Some(format!("a log record is damaged: {e}")),
                    Ok((key, value)) => match (keys::log_seq(&key), keys::decode_record(&value)) {
                        (Some(seq), Some(stored)) => match stored.prev {
                            Some(prev) if prev != expected_prev => Some(format!(
                                "records are missing before record {seq} (it follows {}, the log before it ends at {})",
                                seq_text(prev),
                                seq_text(expected_prev)
                            )),
                            _ => {
                                expected_prev = seq;
                                doc.log.push((seq, stored.record));
                                None
                            }
                        },
                        (seq, _) => Some(format!(
                            "log record {} cannot be read",
                            seq.map_or("?".into(), |s| s.to_string())
                        )),
                    },
                };
                if let Some(problem) = broken {
                    doc.log_problem = Some(problem);
                    break;
                }
            }
            if doc.log_problem.is_none() {
                match trees.heads.get(name) {
                    Ok(Some(value)) => match <[u8; 8]>::try_from(value.as_slice()) {
                        Ok(bytes) => {
                            let head = u64::from_be_bytes(bytes);
                            if expected_prev == keys::NO_PREV || expected_prev < head {
                                doc.log_problem = Some(format!(
                                    "the log ends at {}, but record {head} was written",
                                    seq_text(expected_prev)
                                ));
                            }
                        }
                        Err(_) => doc.log_problem = Some("its head is unreadable".into()),
                    },
                    Ok(None) => {}
                    Err(e) => doc.log_problem = Some(format!("its head is damaged: {e}")),
                }
            }
        }
        doc.snapshot = match trees.snap.get(name) {
            Ok(None) => None,
            Ok(Some(value)) => Some(
                keys::decode_snapshot(&value)
                    .map(|(upto, state)| (upto, state.to_vec()))
                    .ok_or_else(|| "the snapshot cannot be read".to_owned()),
            ),
            Err(e) => Some(Err(format!("the snapshot is damaged: {e}"))),
        };
        for key in trees
            .versions
            .keys_with_prefix(&keys::log_prefix(&doc_name))
        {
            let key = key?;
            let read = || -> Result<(Version, Vec<u8>), StoreError> {
                let version: Version = trees
                    .versions
                    .get_json(&key)?
                    .ok_or_else(|| StoreError::Corrupt("removed while read".into()))?;
                let state = trees.version_states.get(&key)?.ok_or_else(|| {
                    StoreError::Corrupt(format!("the state of version {} is missing", version.id))
                })?;
                Ok((version, state))
            };
            doc.versions.push(read().map_err(|e| e.to_string()));
        }
        Ok(doc)
    }
}

fn seq_text(seq: u64) -> String {
    if seq == keys::NO_PREV {
        "nothing".into()
    } else {
        seq.to_string()
    }
}

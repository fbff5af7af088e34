//! The check of a whole data directory (`leitbild check`): every value against its
//! checksum, every document's log for continuity and its snapshot against the replayed
//! log, every version's state, and the archive's hashes and chain.

use base64::Engine as _;
use serde::Serialize;
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, Transact, Update};

use crate::history::{self, restore};
use crate::store::{DocForCheck, Store, StoreError};

/// One thing found wrong: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `document bildungsleitbild`, `version v3 of bildungsleitbild`, `archive entry a2`,
    /// or the tree of a damaged value.
    pub subject: String,
    pub problem: String,
}

/// What the check read and found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub ok: bool,
    pub documents: u64,
    pub log_records: u64,
    pub versions: u64,
    pub archive_entries: u64,
    pub findings: Vec<Finding>,
}

/// Checks everything in `store`; `progress` hears about each document as it starts.
pub fn check(store: &Store, mut progress: impl FnMut(&str)) -> Result<Report, StoreError> {
    let mut report = Report::default();
    let mut findings = Vec::new();
    for damaged in store.damaged_values()? {
        findings.push(Finding {
            subject: "stored value".into(),
            problem: damaged,
        });
    }
    for name in store.doc_names_for_check()? {
        progress(&name);
        let doc = store.doc_for_check(&name)?;
        report.documents += 1;
        report.log_records += doc.log.len() as u64;
        report.versions += doc.versions.len() as u64;
        findings.extend(check_doc(&doc));
    }
    let archive = crate::archive::verify(store.archive_as_stored()?);
    report.archive_entries = archive.entries;
    if let Some(problem) = archive.problem {
        findings.push(Finding {
            subject: format!("archive entry {}", problem.entry),
            problem: problem.what,
        });
    }
    report.ok = findings.is_empty();
    report.findings = findings;
    Ok(report)
}

/// What is wrong with one document: its metadata, its log, its snapshot (which must hold
/// exactly what the log up to it holds) and its versions.
pub fn check_doc(doc: &DocForCheck) -> Vec<Finding> {
    let subject = format!("document {}", doc.name);
    let mut findings = Vec::new();
    let mut add = |subject: &str, problem: String| {
        findings.push(Finding {
            subject: subject.to_owned(),
            problem,
        })
    };
    if let Err(problem) = &doc.meta {
        add(&subject, format!("its metadata: {problem}"));
    }
    if let Some(problem) = &doc.log_problem {
        add(&subject, problem.clone());
    }
    if let Ok(meta) = &doc.meta {
        let last = doc.log.last().map(|(seq, _)| *seq);
        if meta.size > 0 && doc.log.is_empty() && doc.log_problem.is_none() {
            add(
                &subject,
                format!(
                    "its log is empty, but {} bytes were written to it",
                    meta.size
                ),
            );
        } else if let Some(head) = meta.head.filter(|&h| last.is_some_and(|l| l < h)) {
            if doc.log_problem.is_none() {
                add(
                    &subject,
                    format!(
                        "its log ends at {}, but its metadata counted record {head}",
                        last.map_or("nothing".into(), |l| l.to_string())
                    ),
                );
            }
        }
    }
    match &doc.snapshot {
        None | Some(Ok(_)) if doc.log_problem.is_some() => {}
        None => {}
        Some(Err(problem)) => add(&subject, problem.clone()),
        Some(Ok((upto, state))) => {
            let covered = doc.log.partition_point(|(seq, _)| seq <= upto);
            let records: Vec<_> = doc.log[..covered].iter().map(|(_, r)| r.clone()).collect();
            let replayed = history::replay(None, &records);
            match snapshot_doc(state) {
                None => add(&subject, "the snapshot does not decode".into()),
                Some(snapshot) => {
                    if let Some(what) = differs(&snapshot, &replayed) {
                        add(
                            &subject,
                            format!(
                                "the snapshot (up to record {upto}) differs from the log: {what}"
                            ),
                        );
                    }
                }
            }
        }
    }
    for version in &doc.versions {
        match version {
            Err(problem) => add(&subject, format!("a version: {problem}")),
            Ok((version, state)) => {
                let subject = format!("version {} of {}", version.id, doc.name);
                match restore::state_vector_of(state) {
                    Err(_) => add(&subject, "its state does not decode".into()),
                    Ok(vector) => {
                        let recorded = base64::engine::general_purpose::STANDARD
                            .decode(&version.state_vector)
                            .unwrap_or_default();
                        if vector != recorded {
                            add(
                                &subject,
                                "its state does not match its recorded state vector".into(),
                            );
                        }
                    }
                }
            }
        }
    }
    findings
}

fn snapshot_doc(state: &[u8]) -> Option<Doc> {
    let doc = Doc::new();
    let update = Update::decode_v2(state).ok()?;
    doc.transact_mut().apply_update(update).ok()?;
    Some(doc)
}

/// How two documents differ, if they do: their state vectors, or their text.
fn differs(a: &Doc, b: &Doc) -> Option<String> {
    if a.transact().state_vector() != b.transact().state_vector() {
        return Some("they hold different changes".into());
    }
    (restore::fingerprint(a) != restore::fingerprint(b)).then(|| "their texts differ".to_owned())
}

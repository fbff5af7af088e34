//! `leitbild check`: an intact data directory passes (on a stopped server, through a
//! running one, and over HTTP with the admin token); a flipped byte in a log record, a
//! removed record and a changed archive entry each fail it, named.

use serde_json::{json, Value};

use crate::archive::{
    adopted, base, copy_dir, doc_with_version, leitbild, tamper, tamper_json, wait_until_unlocked,
};
use crate::support::{TestServer, ADMIN};

/// The key of record `seq` of `doc` in the `log` tree (`server/src/store/keys.rs`).
fn log_key(doc: &str, seq: u64) -> Vec<u8> {
    let mut key = doc.as_bytes().to_vec();
    key.push(0);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

/// The sequence numbers of `doc`'s log records, read from the stopped server's data.
fn log_seqs(data: &std::path::Path, doc: &str) -> Vec<u64> {
    wait_until_unlocked(data);
    let db = sled::open(data).unwrap();
    let log = db.open_tree("log").unwrap();
    let mut prefix = doc.as_bytes().to_vec();
    prefix.push(0);
    let seqs = log
        .scan_prefix(&prefix)
        .keys()
        .map(|k| u64::from_be_bytes(k.unwrap()[prefix.len()..].try_into().unwrap()))
        .collect();
    drop((log, db));
    wait_until_unlocked(data);
    seqs
}

#[tokio::test]
async fn check_passes_an_intact_data_dir_and_names_each_kind_of_damage() {
    let server = TestServer::start_with(|config| config.checkpoint_every = 3).await;
    let (doc, version) = doc_with_version(&server, "Prüfung", "Erster Absatz.").await;
    let writer = server.connect(&doc).await;
    for n in 0..6 {
        writer.push_paragraph(&format!("Absatz {n}.")).await;
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    }
    adopted(&base(&server), ADMIN, &doc, &version, "Leitbild").await;
    writer.close().await;

    // Through the running server: over its control socket, and over HTTP as admin.
    let (code, out) = leitbild(&server.data, &["check"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("Everything is intact."), "{out}");
    let output = tokio::process::Command::new(crate::binary::binary())
        .args(["check", "--server", &base(&server)])
        .env("LEITBILD_ADMIN_TOKEN", ADMIN)
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("1 archive entries"), "{out}");
    let unauthorised = tokio::process::Command::new(crate::binary::binary())
        .args(["check", "--server", &base(&server)])
        .env("LEITBILD_ADMIN_TOKEN", "not-the-token-0123456789abcdef0123")
        .output()
        .await
        .unwrap();
    assert_eq!(unauthorised.status.code(), Some(1));

    let data = server.data.clone();
    let _dir = server.stop().await;
    let (code, out) = leitbild(&data, &["check"]).await;
    assert_eq!(code, 0, "the stopped server's data: {out}");
    assert!(
        out.contains(&format!("document 2: {doc}")) || out.contains(&doc),
        "{out}"
    );
    let seqs = log_seqs(&data, &doc);
    assert!(seqs.len() >= 2, "several records: {seqs:?}");

    let copies = tempfile::tempdir().unwrap();
    let [flipped, removed, changed, snapshot, rolled] =
        ["flipped", "removed", "changed", "snapshot", "rolled"].map(|n| copies.path().join(n));
    for copy in [&flipped, &removed, &changed, &snapshot, &rolled] {
        copy_dir(&data, copy);
    }

    // A flipped byte in a log record: its checksum tells.
    tamper(
        &flipped,
        "log",
        &log_key(&doc, seqs[seqs.len() - 1]),
        false,
        |sealed| {
            let at = sealed.len() / 2;
            sealed[at] ^= 0x20;
        },
    );
    let (code, out) = leitbild(&flipped, &["check"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("DAMAGED") && out.contains(&doc), "{out}");

    // A record removed (not the last: the head would tell): the next one names the gap.
    wait_until_unlocked(&removed);
    {
        let db = sled::open(&removed).unwrap();
        let log = db.open_tree("log").unwrap();
        log.remove(log_key(&doc, seqs[seqs.len() - 2])).unwrap();
        db.flush().unwrap();
    }
    wait_until_unlocked(&removed);
    let (code, out) = leitbild(&removed, &["check"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("document {doc}")) && out.contains("missing"),
        "{out}"
    );

    // The log and its head rolled back by a record, the metadata not (damage sled
    // recovers from silently, page by page): the metadata tells, to check and to a load.
    let last = seqs[seqs.len() - 1];
    let before = seqs[seqs.len() - 2];
    tamper(&rolled, "heads", doc.as_bytes(), true, |head| {
        *head = before.to_be_bytes().to_vec();
    });
    wait_until_unlocked(&rolled);
    {
        let db = sled::open(&rolled).unwrap();
        let log = db.open_tree("log").unwrap();
        log.remove(log_key(&doc, last)).unwrap();
        db.flush().unwrap();
    }
    wait_until_unlocked(&rolled);
    let (code, out) = leitbild(&rolled, &["check"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("counted record {last}")), "{out}");
    let server = TestServer::start_in(&rolled, |_| {}).await;
    let text = crate::support::admin_get(server.url(&format!("/api/docs/{doc}/text")))
        .await
        .unwrap();
    assert_eq!(text.status(), 500, "refused, not served short");
    let _ = server.stop().await;

    // An archive entry changed (its checksum made to match): its hash tells.
    tamper_json(
        &changed,
        "archive",
        &1u64.to_be_bytes(),
        |kept: &mut Value| {
            kept["entry"]["adopted_by"] = json!("Jemand anderes");
        },
    );
    let (code, out) = leitbild(&changed, &["check"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("archive entry a1"), "{out}");

    // A snapshot that holds less than the log up to it.
    let empty = {
        use yrs::{ReadTxn, StateVector, Transact};
        yrs::Doc::new()
            .transact()
            .encode_state_as_update_v2(&StateVector::default())
    };
    tamper(&snapshot, "snap", doc.as_bytes(), true, |value| {
        // The layout byte and `upto` stay; the state becomes an empty document's.
        value.truncate(9);
        value.extend_from_slice(&empty);
    });
    let (code, out) = leitbild(&snapshot, &["check"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("snapshot"), "{out}");
}

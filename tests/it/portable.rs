//! Export, import, backups and restores: a round trip keeps texts, history (diffs and
//! blame), invites (a token still works), audit and archive hashes; a backup taken while
//! someone types holds everything acknowledged before it began and passes the check;
//! periodic backups are pruned; an import refuses a non-empty directory and a cut file.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::archive::{
    adopted, base, get, get_json, invite, leitbild, name_version, wait_for_text,
    wait_until_unlocked,
};
use crate::support::{create_doc, TestServer, ADMIN};

/// Runs `leitbild ARGS` (no --data added); exit code and output.
async fn run(args: &[&str]) -> (i32, String) {
    let output = tokio::process::Command::new(crate::binary::binary())
        .args(args)
        .env("LEITBILD_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// What a data directory serves, read through a server on it: texts, versions, a diff
/// and blame per document, invites, audit, the archive.
async fn served(server: &TestServer, docs: &[String]) -> Vec<Value> {
    let base = base(server);
    let mut seen = Vec::new();
    for doc in docs {
        let text = get(&base, &format!("/api/docs/{doc}/text?format=md"), ADMIN)
            .await
            .text()
            .await
            .unwrap();
        seen.push(Value::String(text));
        let versions = get_json(&base, &format!("/api/docs/{doc}/versions"), ADMIN).await;
        let oldest = versions.as_array().unwrap().last().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        seen.push(versions);
        let mut diff = get_json(
            &base,
            &format!("/api/docs/{doc}/diff?from={oldest}&to=now"),
            ADMIN,
        )
        .await;
        diff["to"]["at"] = Value::Null; // "now" is the time of asking
        seen.push(diff);
        seen.push(get_json(&base, &format!("/api/docs/{doc}/blame"), ADMIN).await["spans"].clone());
        seen.push(get_json(&base, &format!("/api/docs/{doc}/invites"), ADMIN).await);
        seen.push(get_json(&base, &format!("/api/docs/{doc}/audit"), ADMIN).await);
    }
    seen.push(get_json(&base, "/api/archive", "").await);
    seen.push(get_json(&base, "/api/archive/verify", "").await);
    seen
}

#[tokio::test]
async fn an_export_imports_into_the_same_texts_history_invites_and_archive() {
    let server = TestServer::start().await;
    let base = base(&server);
    let mut docs = Vec::new();
    let mut tokens = Vec::new();
    for (title, words) in [
        ("Leitbild Bildung", ["Bildung", "für", "alle"]),
        ("Kita", ["Frühe", "Bildung", "zählt"]),
    ] {
        let doc = create_doc(&server, title).await;
        let token = invite(&server, &doc, "editor", &format!("Editorin {title}")).await;
        let writer = crate::support::Client::connect(&server.ws_url_with(&doc, &token)).await;
        writer.push_paragraph(words[0]).await;
        wait_for_text(&base, &doc, words[0]).await;
        name_version(&base, ADMIN, &doc, "Erster Entwurf").await;
        let rest = format!("{} {}", words[1], words[2]);
        writer.push_paragraph(&rest).await;
        wait_for_text(&base, &doc, &format!("{}\n\n{rest}", words[0])).await;
        let version = name_version(&base, ADMIN, &doc, "Zweiter Entwurf").await;
        adopted(&base, ADMIN, &doc, &version, title).await;
        writer.close().await;
        docs.push(doc);
        tokens.push(token);
    }
    // What the data serves once the server has closed the documents (which takes an
    // automatic version of each), read again after a restart.
    let data = server.data.clone();
    let _kept = server.stop().await;
    let server = TestServer::start_in(&data, |_| {}).await;
    let before = served(&server, &docs).await;
    assert_eq!(before.last().unwrap()["entries"], 2, "two archive entries");
    server.stop().await;
    wait_until_unlocked(&data);
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("export.jsonl.gz");
    let (code, out) = leitbild(&data, &["export", "--out", file.to_str().unwrap()]).await;
    assert_eq!(code, 0, "{out}");
    let imported = out_dir.path().join("imported");
    let (code, out) = run(&[
        "import",
        file.to_str().unwrap(),
        "--data",
        imported.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all intact"), "{out}");

    // Not into a directory that holds data, and not from a file cut short.
    let (code, out) = run(&[
        "import",
        file.to_str().unwrap(),
        "--data",
        imported.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("already holds data"), "{out}");
    let bytes = std::fs::read(&file).unwrap();
    let cut = out_dir.path().join("cut.jsonl.gz");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (code, out) = run(&[
        "import",
        cut.to_str().unwrap(),
        "--data",
        out_dir.path().join("from-cut").to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 1, "{out}");

    let server = TestServer::start_in(&imported, |_| {}).await;
    let after = served(&server, &docs).await;
    let imported_base = crate::archive::base(&server);
    for (was, is) in before.iter().zip(&after) {
        assert_eq!(was, is);
    }
    assert_eq!(before.len(), after.len());
    // An invite's token still lets its holder in.
    let me = get_json(
        &imported_base,
        &format!("/api/me?doc={}", docs[0]),
        &tokens[0],
    )
    .await;
    assert_eq!(me["name"], "Editorin Leitbild Bildung", "{me}");
}

/// The shared text `text` of `doc` (what the test's typist appends to) on a server
/// started on `data` (then stopped).
async fn text_in(data: &Path, doc: &str) -> String {
    let server = TestServer::start_in(data, |_| {}).await;
    let reader = server.connect(doc).await;
    let text = reader.text();
    reader.close().await;
    server.stop().await;
    text
}

#[tokio::test]
async fn a_backup_while_someone_types_holds_everything_acknowledged_before_it() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Getippt").await;
    let writer = server.connect(&doc).await;
    let observer = server.connect(&doc).await;
    writer.push_paragraph("start").await;
    let typing = {
        let writer = std::sync::Arc::new(writer);
        let typist = writer.clone();
        let task = tokio::spawn(async move {
            for n in 0..150 {
                typist.append(&format!(" w{n}")).await;
                tokio::time::sleep(Duration::from_millis(20)).await; // 50 updates/s
            }
        });
        (writer, task)
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    // What the observer has seen was acknowledged (durable before anyone saw it).
    let seen_before = observer.text();
    let backups = tempfile::tempdir().unwrap();
    let (code, out) = leitbild(
        &server.data,
        &["backup", "--to", backups.path().to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    typing.1.await.unwrap();
    server.stop().await;

    let restored = backups.path().join("restored");
    let (code, out) = run(&[
        "restore",
        "--from",
        backups.path().to_str().unwrap(),
        "--data",
        restored.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    wait_until_unlocked(&restored);
    let (code, out) = leitbild(&restored, &["check"]).await;
    assert_eq!(code, 0, "{out}");
    let text = text_in(&restored, &doc).await;
    let seen_words: Vec<&str> = seen_before.split_whitespace().collect();
    assert!(seen_words.len() > 5, "typing had begun: {seen_before:?}");
    assert!(
        text.trim_end().starts_with(seen_before.trim_end()),
        "the backup lacks what was acknowledged before it:\nseen {seen_before:?}\nrestored {text:?}"
    );
}

#[tokio::test]
async fn periodic_backups_are_taken_and_the_oldest_pruned() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_path_buf();
    let server = TestServer::start_with(|config| {
        config.backup_dir = Some(dir.clone());
        config.backup_every = Duration::from_secs(1);
        config.backup_keep = 2;
    })
    .await;
    tokio::time::sleep(Duration::from_millis(4500)).await;
    server.stop().await;
    let files: Vec<_> = std::fs::read_dir(backups.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.starts_with("leitbild-backup-") && f.ends_with(".jsonl.gz")),
        "{files:?}"
    );
    let restored = backups.path().join("restored");
    let (code, out) = run(&[
        "restore",
        "--from",
        backups.path().to_str().unwrap(),
        "--data",
        restored.to_str().unwrap(),
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all intact"), "{out}");
}

/// Writes `file`'s export without the items of document `doc` (as if it never had it).
fn without_doc(file: &Path, doc: &str, out: &Path) {
    use std::io::{BufRead, Write};
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(file).unwrap(),
    ));
    let mut kept: Vec<String> = Vec::new();
    for line in reader.lines() {
        let line = line.unwrap();
        let item: Value = serde_json::from_str(&line).unwrap();
        let key = item["key"]
            .as_str()
            .map(|k| k.as_bytes().to_vec())
            .or_else(|| {
                item["key_b64"].as_str().map(|k| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::STANDARD.decode(k).unwrap()
                })
            });
        if key.is_some_and(|k| k.starts_with(doc.as_bytes())) || item["end"] == true {
            continue;
        }
        kept.push(line);
    }
    kept.push(format!(r#"{{"end":true,"items":{}}}"#, kept.len() - 1));
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(out).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all((kept.join("\n") + "\n").as_bytes()).unwrap();
    gz.finish().unwrap();
}

#[tokio::test]
async fn a_merge_adds_documents_and_refuses_collisions_without_writing() {
    // Server A with "alpha", server B with "beta"; both have the demo document.
    let mut exports = Vec::new();
    let work = tempfile::tempdir().unwrap();
    let mut kept_dirs = Vec::new();
    let mut tokens = Vec::new();
    for title in ["Alpha", "Beta"] {
        let server = TestServer::start().await;
        let doc = create_doc(&server, title).await;
        let token = invite(&server, &doc, "editor", &format!("Person {title}")).await;
        let writer = crate::support::Client::connect(&server.ws_url_with(&doc, &token)).await;
        writer.push_paragraph(&format!("Text von {title}")).await;
        wait_for_text(&base(&server), &doc, &format!("Text von {title}")).await;
        writer.close().await;
        let data = server.data.clone();
        kept_dirs.push(server.stop().await);
        wait_until_unlocked(&data);
        let file = work.path().join(format!("{doc}.jsonl.gz"));
        let (code, out) = leitbild(&data, &["export", "--out", file.to_str().unwrap()]).await;
        assert_eq!(code, 0, "{out}");
        exports.push((doc, data, file));
        tokens.push(token);
    }
    let (alpha, _, alpha_file) = &exports[0];
    let (beta, beta_data, _) = &exports[1];

    // The demo document is in both: refused, and nothing of alpha written.
    let (code, out) = run(&[
        "import",
        alpha_file.to_str().unwrap(),
        "--data",
        beta_data.to_str().unwrap(),
        "--merge",
    ])
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("document bildungsleitbild exists in both"),
        "{out}"
    );
    let server = TestServer::start_in(beta_data, |_| {}).await;
    let docs = get_json(&base(&server), "/api/docs", ADMIN).await;
    assert!(!docs.to_string().contains(alpha.as_str()), "{docs}");
    server.stop().await;
    wait_until_unlocked(beta_data);

    // Without the demo document, alpha merges into beta's data.
    let alpha_only = work.path().join("alpha-only.jsonl.gz");
    without_doc(alpha_file, "bildungsleitbild", &alpha_only);
    let (code, out) = run(&[
        "import",
        alpha_only.to_str().unwrap(),
        "--data",
        beta_data.to_str().unwrap(),
        "--merge",
    ])
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all intact"), "{out}");
    let server = TestServer::start_in(beta_data, |_| {}).await;
    let base = base(&server);
    for (doc, title) in [(alpha, "Alpha"), (beta, "Beta")] {
        let text = get(&base, &format!("/api/docs/{doc}/text?format=txt"), ADMIN)
            .await
            .text()
            .await
            .unwrap();
        assert_eq!(text.trim_end(), format!("Text von {title}"));
    }
    // Both documents' invitees still get in, each to their own document.
    let me = get_json(&base, &format!("/api/me?doc={alpha}"), &tokens[0]).await;
    assert_eq!(me["name"], "Person Alpha", "{me}");
    let me = get_json(&base, &format!("/api/me?doc={beta}"), &tokens[1]).await;
    assert_eq!(me["name"], "Person Beta", "{me}");
    let audit = get_json(&base, &format!("/api/docs/{alpha}/audit"), ADMIN).await;
    assert!(
        !audit.as_array().unwrap().is_empty(),
        "alpha's audit came along"
    );
}

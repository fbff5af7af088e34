//! The archive of adopted texts through the API, its public pages and the operator's
//! command: a moderator adopts a version, every format reads back with the hashes the
//! entry records, entries chain, nothing changes them through the API, changes made
//! underneath it are found and name the entry, entries outlive their document, and an
//! adoption survives SIGKILL whole or not at all, so that a retry with its
//! Idempotency-Key makes it exactly once.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::Path;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use yrs::{
    ReadTxn, Text, Transact, TransactionMut, XmlElementPrelim, XmlFragment, XmlOut, XmlTextPrelim,
};

use crate::binary::{binary, spawn};
use crate::support::{admin_http, create_doc, Client, TestServer, ADMIN};

/// An invite's token.
pub(crate) async fn invite(server: &TestServer, doc: &str, role: &str, name: &str) -> String {
    let response = admin_http()
        .post(server.url(&format!("/api/docs/{doc}/invites")))
        .json(&json!({ "role": role, "name": name }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// A request to `base` + `path`, signed in with `token` (anonymous if empty).
fn request(method: Method, base: &str, path: &str, token: &str) -> reqwest::RequestBuilder {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let builder = client.request(method, format!("{base}{path}"));
    if token.is_empty() {
        builder
    } else {
        builder.bearer_auth(token)
    }
}

pub(crate) fn base(server: &TestServer) -> String {
    format!("http://{}", server.addr)
}

pub(crate) async fn get(base: &str, path: &str, token: &str) -> reqwest::Response {
    request(Method::GET, base, path, token)
        .send()
        .await
        .unwrap()
}

/// `GET` as JSON, expecting 200.
pub(crate) async fn get_json(base: &str, path: &str, token: &str) -> Value {
    let response = get(base, path, token).await;
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

/// The request body of an adoption titled `title`.
fn adoption(title: &str) -> Value {
    json!({
        "title": title,
        "adopted_by": "Lenkungsausschuss der Bildungsregion",
        "decided_on": "2026-09-29",
        "note": "Beschluss 12/2026, TOP 3",
    })
}

/// `POST /api/docs/{doc}/versions/{version}/adopt` with an optional Idempotency-Key.
async fn adopt(
    base: &str,
    token: &str,
    doc: &str,
    version: &str,
    body: &Value,
    key: Option<&str>,
) -> reqwest::Response {
    let path = format!("/api/docs/{doc}/versions/{version}/adopt");
    let mut builder = request(Method::POST, base, &path, token).json(body);
    if let Some(key) = key {
        builder = builder.header("Idempotency-Key", key);
    }
    builder.send().await.unwrap()
}

/// Adopts and expects a new entry.
pub(crate) async fn adopted(
    base: &str,
    token: &str,
    doc: &str,
    version: &str,
    title: &str,
) -> Value {
    let response = adopt(base, token, doc, version, &adoption(title), None).await;
    assert_eq!(response.status(), 201, "adopting {doc} {version}");
    assert!(response.headers().get("idempotent-replayed").is_none());
    response.json().await.unwrap()
}

/// Names the document's current text as a version; returns its id.
pub(crate) async fn name_version(base: &str, token: &str, doc: &str, name: &str) -> String {
    let made = request(
        Method::POST,
        base,
        &format!("/api/docs/{doc}/versions"),
        token,
    )
    .json(&json!({ "name": name }))
    .send()
    .await
    .unwrap();
    assert_eq!(made.status(), 201, "naming a version of {doc}");
    let version: Value = made.json().await.unwrap();
    version["id"].as_str().unwrap().to_owned()
}

/// Waits until the server's plain text of `doc` is `expected` (so a version taken now
/// holds it).
pub(crate) async fn wait_for_text(base: &str, doc: &str, expected: &str) {
    let path = format!("/api/docs/{doc}/text?format=txt");
    let mut text = String::new();
    for _ in 0..400 {
        text = get(base, &path, ADMIN).await.text().await.unwrap();
        if text.trim_end() == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the server's text of {doc} is {text:?}, not {expected:?}");
}

/// Edits the first paragraph of the editor's fragment (created if there is none) as
/// `client` and sends the change.
async fn edit(client: &Client, change: impl FnOnce(&mut TransactionMut, &yrs::XmlTextRef)) {
    use yrs::sync::{Message, SyncMessage};
    let update = {
        let root = client.doc.get_or_insert_xml_fragment("default");
        let mut txn = client.doc.transact_mut();
        let before = txn.state_vector();
        let text = match root.get(&txn, 0) {
            Some(XmlOut::Element(p)) => match p.get(&txn, 0) {
                Some(XmlOut::Text(text)) => text,
                _ => p.push_back(&mut txn, XmlTextPrelim::new("")),
            },
            _ => root
                .push_back(&mut txn, XmlElementPrelim::empty("paragraph"))
                .push_back(&mut txn, XmlTextPrelim::new("")),
        };
        change(&mut txn, &text);
        txn.encode_diff_v1(&before)
    };
    client
        .send(Message::Sync(SyncMessage::Update(update)))
        .await;
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The text of `word/document.xml` inside a DOCX file.
fn docx_body(bytes: &[u8]) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("the DOCX is a zip");
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .expect("the DOCX has word/document.xml")
        .read_to_string(&mut xml)
        .unwrap();
    xml
}

/// Reads `entry` back in every format (anonymously unless `token` is given) and checks
/// each against the hashes the entry records; returns the Markdown.
async fn read_whole(base: &str, entry: &Value, token: &str) -> String {
    let id = entry["id"].as_str().unwrap();
    let path = |format: &str| format!("/api/archive/{id}?format={format}");
    let download = |format: &'static str| {
        let path = path(format);
        async move {
            let response = get(base, &path, token).await;
            assert_eq!(response.status(), 200, "{path}");
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (content_type, response.bytes().await.unwrap().to_vec())
        }
    };
    assert_eq!(
        &get_json(base, &format!("/api/archive/{id}"), token).await,
        entry,
        "{id} as JSON"
    );
    assert_eq!(&get_json(base, &path("json"), token).await, entry);

    let (content_type, markdown) = download("md").await;
    assert!(content_type.starts_with("text/markdown"), "{content_type}");
    assert_eq!(
        sha256_hex(&markdown),
        entry["sha256"],
        "{id}: Markdown hash"
    );
    let (content_type, html) = download("html").await;
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert_eq!(sha256_hex(&html), entry["html_sha256"], "{id}: HTML hash");
    let (_, text) = download("txt").await;
    assert_eq!(sha256_hex(&text), entry["text_sha256"], "{id}: text hash");
    let (_, record) = download("record").await;
    assert_eq!(
        sha256_hex(&record),
        entry["entry_sha256"],
        "{id}: the record is what entry_sha256 is taken over"
    );
    let record = String::from_utf8(record).unwrap();
    assert!(
        record.contains(&format!("\nid: {id}\n"))
            && record.contains(&format!(
                "\nprev_sha256: {}\n",
                entry["prev_sha256"].as_str().unwrap()
            ))
            && record.contains(&format!(
                "\nsha256: {}\n",
                entry["sha256"].as_str().unwrap()
            )),
        "{record}"
    );
    let (content_type, docx) = download("docx").await;
    assert_eq!(
        content_type,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    let body = docx_body(&docx);
    assert!(
        body.contains(entry["title"].as_str().unwrap()),
        "{id}: the DOCX names the title"
    );
    String::from_utf8(markdown).unwrap()
}

/// The ids of a list of entries.
fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect()
}

/// Every segment of a diff with op `op`, as text.
fn segments(diff: &Value, op: &str) -> Vec<String> {
    diff["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["segments"].as_array().unwrap().iter())
        .filter(|s| s["op"] == op)
        .map(|s| s["text"].as_str().unwrap().to_owned())
        .collect()
}

/// A document with one typed paragraph and a version of it; returns the doc and version.
pub(crate) async fn doc_with_version(
    server: &TestServer,
    title: &str,
    text: &str,
) -> (String, String) {
    let doc = create_doc(server, title).await;
    let writer = server.connect(&doc).await;
    writer.push_paragraph(text).await;
    wait_for_text(&base(server), &doc, text).await;
    let version = name_version(&base(server), ADMIN, &doc, "Beschlussvorlage").await;
    (doc, version)
}

#[tokio::test]
async fn an_adopted_version_reads_back_in_every_format_with_its_hashes_and_entries_chain() {
    let server = TestServer::start().await;
    let base = base(&server);
    let doc = create_doc(&server, "Leitbild Bildung").await;
    let moderator = invite(&server, &doc, "moderator", "Mona Moderatorin").await;
    let writer = server.connect(&doc).await;
    writer
        .push_paragraph("Bildung ist ein Recht für alle.")
        .await;
    wait_for_text(&base, &doc, "Bildung ist ein Recht für alle.").await;
    let v1 = name_version(&base, &moderator, &doc, "Vorlage").await;

    let response = adopt(
        &base,
        &moderator,
        &doc,
        &v1,
        &adoption("Leitbild der Bildungsregion"),
        None,
    )
    .await;
    assert_eq!(response.status(), 201);
    let a1: Value = response.json().await.unwrap();
    assert_eq!(a1["id"], "a1");
    assert_eq!(a1["edition"], 1);
    assert_eq!(a1["title"], "Leitbild der Bildungsregion");
    assert_eq!(a1["adopted_by"], "Lenkungsausschuss der Bildungsregion");
    assert_eq!(a1["decided_on"], "2026-09-29");
    assert_eq!(a1["note"], "Beschluss 12/2026, TOP 3");
    assert_eq!(a1["adopter_name"], "Mona Moderatorin");
    assert!(!a1["adopter"].as_str().unwrap().is_empty());
    assert_eq!(a1["doc"], doc.as_str());
    assert_eq!(a1["doc_title"], "Leitbild Bildung");
    assert_eq!(a1["version"], v1.as_str());
    assert_eq!(a1["prev_sha256"], "", "the first entry links to nothing");
    assert!(leitbild::timestamp::parse_rfc3339(a1["adopted_at"].as_str().unwrap()).is_some());
    for field in [
        "sha256",
        "html_sha256",
        "text_sha256",
        "state_sha256",
        "entry_sha256",
    ] {
        let hash = a1[field].as_str().unwrap();
        assert!(
            hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "{field}: {hash}"
        );
    }

    // Read back (anonymously: the archive is public by default) in every format.
    let markdown = read_whole(&base, &a1, "").await;
    assert_eq!(markdown.trim_end(), "Bildung ist ein Recht für alle.");
    let html = get(&base, "/api/archive/a1?format=html", "")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Bildung ist ein Recht für alle."), "{html}");
    let text = get(&base, "/api/archive/a1?format=txt", "")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text.trim_end(), "Bildung ist ein Recht für alle.");
    let docx = get(&base, "/api/archive/a1?format=docx", "")
        .await
        .bytes()
        .await
        .unwrap();
    let body = docx_body(&docx);
    assert!(
        body.contains("Bildung ist ein Recht für alle."),
        "the DOCX holds the adopted text: {body}"
    );

    // The document goes on; what was adopted does not.
    writer.push_paragraph("Wir lernen gemeinsam.").await;
    wait_for_text(
        &base,
        &doc,
        "Bildung ist ein Recht für alle.\n\nWir lernen gemeinsam.",
    )
    .await;
    let v2 = name_version(&base, &moderator, &doc, "Vorlage 2").await;
    let a2 = adopted(&base, &moderator, &doc, &v2, "Leitbild, 2. Fassung").await;
    assert_eq!(a2["id"], "a2");
    assert_eq!(a2["edition"], 2, "the second adopted text of this document");
    assert_eq!(a2["prev_sha256"], a1["entry_sha256"], "a2 links to a1");
    let markdown = read_whole(&base, &a2, "").await;
    assert!(markdown.contains("Wir lernen gemeinsam."), "{markdown}");
    assert_eq!(
        get_json(&base, "/api/archive/a1", "").await,
        a1,
        "a1 is unchanged"
    );
    assert_eq!(
        get(&base, "/api/archive/a1?format=md", "")
            .await
            .text()
            .await
            .unwrap()
            .trim_end(),
        "Bildung ist ein Recht für alle."
    );

    // Another document's first adoption is its edition 1, and still links to a2.
    let (other, other_version) = doc_with_version(&server, "Kita", "Spielen ist Lernen.").await;
    let a3 = adopted(&base, ADMIN, &other, &other_version, "Kita-Leitbild").await;
    assert_eq!((&a3["id"], &a3["edition"]), (&json!("a3"), &json!(1)));
    assert_eq!(a3["prev_sha256"], a2["entry_sha256"]);

    let all = get_json(&base, "/api/archive", "").await;
    assert_eq!(ids(&all), ["a3", "a2", "a1"], "newest first");
    assert_eq!(all[1], a2);
    let mine = get_json(&base, &format!("/api/archive?doc={doc}"), "").await;
    assert_eq!(ids(&mine), ["a2", "a1"]);
    let verified = get_json(&base, "/api/archive/verify", "").await;
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["entries"], 3);
    assert_eq!(verified["head"], a3["entry_sha256"]);

    // Bad adoptions are clear 4xx answers, and add nothing.
    let bad = |change: fn(&mut Value)| {
        let mut body = adoption("Leitbild");
        change(&mut body);
        body
    };
    for (what, body, version, status) in [
        (
            "a date as 29.09.2026",
            bad(|b| b["decided_on"] = json!("29.09.2026")),
            &v1,
            400,
        ),
        (
            "a date that does not exist",
            bad(|b| b["decided_on"] = json!("2026-02-30")),
            &v1,
            400,
        ),
        (
            "an empty title",
            bad(|b| b["title"] = json!("  ")),
            &v1,
            400,
        ),
        (
            "no adopting body",
            bad(|b| b["adopted_by"] = json!("")),
            &v1,
            400,
        ),
        (
            "no date",
            bad(|b| drop(b.as_object_mut().unwrap().remove("decided_on"))),
            &v1,
            400,
        ),
        (
            "an unknown version",
            adoption("Leitbild"),
            &"v999999".to_owned(),
            400,
        ),
    ] {
        let response = adopt(&base, &moderator, &doc, version, &body, None).await;
        assert_eq!(response.status(), status, "{what}");
        let error: Value = response.json().await.unwrap();
        assert!(error["error"].is_string(), "{what}: {error}");
    }
    let response = adopt(&base, ADMIN, "gibt-es-nicht", &v1, &adoption("L"), None).await;
    assert_eq!(response.status(), 404, "an unknown document");
    for (path, status) in [
        ("/api/archive/a4", 404),
        ("/api/archive/a0", 404),
        ("/api/archive/v1", 404),
        ("/api/archive/a1?format=pdf", 400),
        ("/api/archive/a1/compare/a9", 404),
    ] {
        assert_eq!(get(&base, path, "").await.status(), status, "{path}");
    }
    assert_eq!(
        get_json(&base, "/api/archive", "")
            .await
            .as_array()
            .unwrap()
            .len(),
        3,
        "nothing was added by the bad requests"
    );
}

#[tokio::test]
async fn archive_entries_cannot_be_changed_and_only_moderators_adopt() {
    let server = TestServer::start().await;
    let base = base(&server);
    let (doc, version) = doc_with_version(&server, "Leitbild", "Bildung ist ein Recht.").await;
    let moderator = invite(&server, &doc, "moderator", "Mona Moderatorin").await;
    let editor = invite(&server, &doc, "editor", "Anna Schule").await;
    let reader = invite(&server, &doc, "reader", "Rita Leserin").await;
    let (elsewhere, _) = doc_with_version(&server, "Anderes", "Etwas anderes.").await;
    let moderator_elsewhere = invite(&server, &elsewhere, "moderator", "Otto Anders").await;

    for (who, token, status) in [
        ("an editor", editor.as_str(), 403),
        ("a reader", reader.as_str(), 403),
        (
            "a moderator of another document",
            moderator_elsewhere.as_str(),
            403,
        ),
        ("nobody signed in", "", 401),
    ] {
        let response = adopt(&base, token, &doc, &version, &adoption("Leitbild"), None).await;
        assert_eq!(response.status(), status, "{who} may not adopt");
    }
    assert_eq!(
        get_json(&base, "/api/archive", "").await,
        json!([]),
        "refused adoptions leave no entry"
    );
    let a1 = adopted(&base, &moderator, &doc, &version, "Leitbild").await;

    // Nothing changes an entry: every modifying method on every archive path is refused,
    // with credentials (even the admin's) or without.
    for path in [
        "/api/archive",
        "/api/archive/a1",
        "/api/archive/verify",
        "/api/archive/a1/compare/a1",
    ] {
        for method in [Method::PUT, Method::PATCH, Method::DELETE, Method::POST] {
            for token in [ADMIN, moderator.as_str(), ""] {
                let response = request(method.clone(), &base, path, token)
                    .json(&json!({ "title": "Umgeschrieben" }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 405, "{method} {path}");
                let body: Value = response.json().await.expect("a JSON answer");
                assert!(body["error"].is_string(), "{method} {path}: {body}");
            }
        }
    }
    assert_eq!(get_json(&base, "/api/archive/a1", "").await, a1);
    assert_eq!(get_json(&base, "/api/archive/verify", "").await["ok"], true);

    // Readers (and everyone) read.
    read_whole(&base, &a1, &reader).await;
    read_whole(&base, &a1, &editor).await;
    assert_eq!(ids(&get_json(&base, "/api/archive", &reader).await), ["a1"]);

    // A private archive is for signed-in people only.
    let server = server.restart_with(|c| c.private_archive = true).await;
    let base = self::base(&server);
    for path in [
        "/api/archive",
        "/api/archive/a1",
        "/api/archive/a1?format=md",
        "/api/archive/a1?format=docx",
        "/api/archive/verify",
        "/api/archive/a1/compare/a1",
    ] {
        assert_eq!(get(&base, path, "").await.status(), 401, "{path}");
        assert_eq!(
            get(&base, path, "not-a-token").await.status(),
            401,
            "{path}"
        );
        assert_eq!(get(&base, path, &reader).await.status(), 200, "{path}");
        assert_eq!(get(&base, path, ADMIN).await.status(), 200, "{path}");
    }
    read_whole(&base, &a1, &reader).await;
}

#[tokio::test]
async fn an_idempotency_key_makes_one_entry_however_often_it_is_sent() {
    let server = TestServer::start().await;
    let base = base(&server);
    let (doc, v1) = doc_with_version(&server, "Leitbild", "Bildung ist ein Recht.").await;
    let v2 = name_version(&base, ADMIN, &doc, "Noch eine").await;
    let body = adoption("Leitbild");

    let first = adopt(&base, ADMIN, &doc, &v1, &body, Some("beschluss-12")).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    let again = adopt(&base, ADMIN, &doc, &v1, &body, Some("beschluss-12")).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        first,
        "the same entry"
    );

    // Retries racing each other still make one entry.
    let racing: Vec<_> = (0..6)
        .map(|_| {
            let (base, doc, v2, body) = (base.clone(), doc.clone(), v2.clone(), body.clone());
            tokio::spawn(async move {
                let response = adopt(&base, ADMIN, &doc, &v2, &body, Some("beschluss-13")).await;
                assert_eq!(response.status(), 201);
                response.json::<Value>().await.unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
        })
        .collect();
    let mut made = BTreeSet::new();
    for race in racing {
        made.insert(race.await.unwrap());
    }
    assert_eq!(made.len(), 1, "one entry for one key: {made:?}");

    // The key of one adoption cannot adopt something else.
    let reused = adopt(&base, ADMIN, &doc, &v2, &body, Some("beschluss-12")).await;
    assert_eq!(reused.status(), 409);
    let error: Value = reused.json().await.unwrap();
    assert!(error["error"].is_string(), "{error}");
    let (other, other_version) = doc_with_version(&server, "Kita", "Spielen.").await;
    let reused = adopt(
        &base,
        ADMIN,
        &other,
        &other_version,
        &body,
        Some("beschluss-12"),
    )
    .await;
    assert_eq!(reused.status(), 409, "not even in another document");

    let all = get_json(&base, "/api/archive", "").await;
    assert_eq!(ids(&all), ["a2", "a1"]);
    assert_eq!(all[1], first);
    assert_eq!(all[0]["version"], v2.as_str());

    // A replay after a restart is still a replay.
    let server = server.restart().await;
    let base = self::base(&server);
    let after = adopt(&base, ADMIN, &doc, &v1, &body, Some("beschluss-12")).await;
    assert_eq!(after.status(), 201);
    assert_eq!(after.headers()["idempotent-replayed"], "true");
    assert_eq!(after.json::<Value>().await.unwrap(), first);
    assert_eq!(
        ids(&get_json(&base, "/api/archive", "").await),
        ["a2", "a1"]
    );
}

/// Runs `leitbild ARGS --data DIR`; returns exit code and stdout plus stderr.
pub(crate) async fn leitbild(data: &Path, args: &[&str]) -> (i32, String) {
    let output = tokio::process::Command::new(binary())
        .args(args)
        .arg("--data")
        .arg(data)
        .env("LEITBILD_LOG", "warn")
        .output()
        .await
        .expect("runs");
    (
        output.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The store's seal (`server/src/store/keys.rs`): the value, then the CRC-32 of the key's
/// length (u32be), the key and the value, big-endian.
fn checksum(key: &[u8], value: &[u8]) -> [u8; 4] {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&(key.len() as u32).to_be_bytes());
    hasher.update(key);
    hasher.update(value);
    hasher.finalize().to_be_bytes()
}

/// Changes the value under `key` in the store's tree `tree`, underneath the server (which
/// must be stopped). `change` gets the value inside its seal; with `reseal` the changed
/// value gets a matching checksum (someone who knows the format), without it the sealed
/// bytes are changed as they are (a bit flipped on disk).
pub(crate) fn tamper(
    data: &Path,
    tree: &str,
    key: &[u8],
    reseal: bool,
    change: impl FnOnce(&mut Vec<u8>),
) {
    wait_until_unlocked(data);
    let db = sled::open(data).expect("the stopped server's database opens");
    let tree = db.open_tree(tree).unwrap();
    let sealed = tree.get(key).unwrap().expect("the value is there").to_vec();
    let (value, sum) = sealed.split_at(sealed.len() - 4);
    assert_eq!(
        sum,
        checksum(key, value),
        "the value is kept in one piece (not in parts): the test keeps documents small"
    );
    let changed = if reseal {
        let mut value = value.to_vec();
        change(&mut value);
        let sum = checksum(key, &value);
        value.extend_from_slice(&sum);
        value
    } else {
        let mut sealed = sealed.clone();
        change(&mut sealed);
        sealed
    };
    assert_ne!(changed, sealed, "the value was changed");
    tree.insert(key, changed).unwrap();
    db.flush().unwrap();
    drop((tree, db));
    wait_until_unlocked(data);
}

extern "C" {
    fn flock(fd: i32, operation: i32) -> i32;
}

/// Waits until nothing holds the database's lock (sled's `flock` on `db`): sled's own
/// threads can hold it a moment after the last handle is dropped, and a command that
/// finds it held would ask a running server instead of opening the directory.
pub(crate) fn wait_until_unlocked(data: &Path) {
    use std::os::fd::AsRawFd;
    const LOCK_EX: i32 = 2;
    const LOCK_NB: i32 = 4;
    const LOCK_UN: i32 = 8;
    let file = std::fs::File::open(data.join("db")).unwrap();
    for _ in 0..1000 {
        // SAFETY: flock(2) on a descriptor this function owns.
        if unsafe { flock(file.as_raw_fd(), LOCK_EX | LOCK_NB) } == 0 {
            // SAFETY: as above.
            unsafe { flock(file.as_raw_fd(), LOCK_UN) };
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("{} stays locked", data.display());
}

/// Changes a sealed JSON value underneath the server, with a matching checksum.
pub(crate) fn tamper_json(data: &Path, tree: &str, key: &[u8], change: impl FnOnce(&mut Value)) {
    tamper(data, tree, key, true, |value| {
        let mut json: Value = serde_json::from_slice(value).unwrap();
        change(&mut json);
        *value = serde_json::to_vec(&json).unwrap();
    });
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The archive verified by the server: status and report.
async fn verified(server: &TestServer) -> (u16, Value) {
    let response = get(&base(server), "/api/archive/verify", "").await;
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn changes_underneath_the_api_are_found_and_name_the_entry() {
    let server = TestServer::start().await;
    let base = base(&server);
    let (doc, v1) = doc_with_version(&server, "Leitbild", "Bildung ist ein Recht.").await;
    let mut entries = Vec::new();
    for title in ["Erste Fassung", "Zweite Fassung", "Dritte Fassung"] {
        entries.push(adopted(&base, ADMIN, &doc, &v1, title).await);
    }

    // Intact: the command says so, through the running server and on the stopped one.
    let (code, out) = leitbild(&server.data, &["archive", "verify"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact"), "{out}");
    let data = server.data.clone();
    let dir = server.stop().await;
    wait_until_unlocked(&data);
    let (code, out) = leitbild(&data, &["archive", "verify"]).await;
    assert_eq!(code, 0, "on the stopped server's data: {out}");
    assert!(out.contains("intact: 3 entries"), "{out}");
    let copies = tempfile::tempdir().unwrap();
    let [flipped, backdated, relinked] =
        ["flipped", "backdated", "relinked"].map(|name| copies.path().join(name));
    for copy in [&flipped, &backdated, &relinked] {
        copy_dir(&data, copy);
    }

    // The adopted Markdown of a2 rewritten, its checksum made to match: only the entry's
    // hash tells.
    let a2 = 2u64.to_be_bytes();
    tamper_json(&data, "archive_frozen", &a2, |frozen| {
        let markdown = frozen["markdown"]
            .as_str()
            .unwrap()
            .replace("ein Recht", "eine Pflicht");
        frozen["markdown"] = json!(markdown);
    });
    let (code, out) = leitbild(&data, &["archive", "verify"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("entry a2 ") && out.contains("Markdown"),
        "{out}"
    );
    let server = TestServer::start_in(&data, |_| {}).await;
    let (status, report) = verified(&server).await;
    assert_eq!(status, 409, "{report}");
    assert_eq!(report["ok"], false);
    assert_eq!(report["problem"]["entry"], "a2", "{report}");
    assert_eq!(report["entries"], 2, "{report}");
    assert!(report["problem"]["what"]
        .as_str()
        .unwrap()
        .contains("Markdown"));
    // The command asks the running server, and says the same.
    let (code, out) = leitbild(&data, &["archive", "verify"]).await;
    assert_eq!(code, 1, "through the running server: {out}");
    assert!(out.contains("entry a2 "), "{out}");
    drop(server.stop().await);
    drop(dir);

    // One bit flipped on disk in a2's frozen texts: the store's checksum tells.
    tamper(&flipped, "archive_frozen", &a2, false, |sealed| {
        sealed[20] ^= 0x01
    });
    let (code, out) = leitbild(&flipped, &["archive", "verify"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("entry a2 "), "{out}");
    let server = TestServer::start_in(&flipped, |_| {}).await;
    let (status, report) = verified(&server).await;
    assert_eq!(
        (status, &report["problem"]["entry"]),
        (409, &json!("a2")),
        "{report}"
    );
    let a1 = get_json(&self::base(&server), "/api/archive/a1", "").await;
    assert_eq!(a1, entries[0], "the entries before it still read");
    drop(server.stop().await);

    // The decision of a2 backdated, its checksum made to match.
    tamper_json(&backdated, "archive", &a2, |kept| {
        kept["entry"]["decided_on"] = json!("2026-01-01");
    });
    let (code, out) = leitbild(&backdated, &["archive", "verify"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("entry a2 ") && out.contains("metadata"),
        "{out}"
    );

    // Backdated and its own hash recomputed too: a3's link to it no longer holds.
    tamper_json(&relinked, "archive", &a2, |kept| {
        let mut entry: leitbild::archive::Entry =
            serde_json::from_value(kept["entry"].clone()).unwrap();
        entry.decided_on = "2026-01-01".into();
        entry.entry_sha256 = entry.record_sha256();
        kept["entry"] = serde_json::to_value(entry).unwrap();
    });
    let (code, out) = leitbild(&relinked, &["archive", "verify"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("entry a3 "),
        "the link of the entry after it breaks: {out}"
    );
}

#[tokio::test]
async fn adopted_texts_outlive_their_document_its_trash_and_restarts() {
    let server = TestServer::start().await;
    let base = base(&server);
    let (doc, v1) = doc_with_version(&server, "Leitbild", "Bildung ist ein Recht.").await;
    let a1 = adopted(&base, ADMIN, &doc, &v1, "Leitbild").await;
    let deleted = request(Method::DELETE, &base, &format!("/api/docs/{doc}"), ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(
        read_whole(&base, &a1, "").await.trim_end(),
        "Bildung ist ein Recht."
    );
    assert_eq!(
        adopt(&base, ADMIN, &doc, &v1, &adoption("L"), None)
            .await
            .status(),
        404,
        "a document in the trash adopts nothing"
    );

    let server = server.restart().await;
    let base = self::base(&server);
    assert_eq!(
        get_json(&base, "/api/archive", "").await,
        json!([a1.clone()])
    );
    read_whole(&base, &a1, "").await;

    // Purged: its deletion moved back beyond the 30 days the trash keeps it, so the
    // next start purges it.
    let data = server.data.clone();
    let dir = server.stop().await;
    tamper_json(&data, "meta", doc.as_bytes(), |meta| {
        meta["deleted_at"] = json!(1000)
    });
    let server = TestServer::start_in(&data, |_| {}).await;
    let base = self::base(&server);
    let mut trash = json!(null);
    for _ in 0..400 {
        trash = get_json(&base, "/api/trash", ADMIN).await;
        if trash.as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(trash, json!([]), "the document was purged");
    assert_eq!(
        get(&base, &format!("/api/docs/{doc}/versions"), ADMIN)
            .await
            .status(),
        404
    );
    assert_eq!(
        read_whole(&base, &a1, "").await.trim_end(),
        "Bildung ist ein Recht."
    );
    let compared = get_json(&base, "/api/archive/a1/compare/a1", "").await;
    assert!(segments(&compared["diff"], "insert").is_empty());
    let (status, report) = verified(&server).await;
    assert_eq!((status, &report["ok"]), (200, &json!(true)), "{report}");

    let server = server.restart().await;
    assert_eq!(
        get_json(&self::base(&server), "/api/archive", "").await,
        json!([a1])
    );
    drop(server.stop().await);
    drop(dir);
}

#[tokio::test]
async fn two_editions_compare_word_by_word() {
    let server = TestServer::start().await;
    let base = base(&server);
    let doc = create_doc(&server, "Leitbild").await;
    let writer = server.connect(&doc).await;
    edit(&writer, |txn, t| t.insert(txn, 0, "Bildung ist ein Recht.")).await;
    wait_for_text(&base, &doc, "Bildung ist ein Recht.").await;
    let v1 = name_version(&base, ADMIN, &doc, "Erste").await;
    adopted(&base, ADMIN, &doc, &v1, "Erste Fassung").await;
    edit(&writer, |txn, t| t.insert(txn, 16, "gemeinsames ")).await;
    wait_for_text(&base, &doc, "Bildung ist ein gemeinsames Recht.").await;
    let v2 = name_version(&base, ADMIN, &doc, "Zweite").await;
    adopted(&base, ADMIN, &doc, &v2, "Zweite Fassung").await;

    let compared = get_json(&base, "/api/archive/a1/compare/a2", "").await;
    assert_eq!(compared["from"]["id"], "a1");
    assert_eq!(compared["to"]["id"], "a2");
    let inserted: Vec<String> = segments(&compared["diff"], "insert");
    assert_eq!(inserted.concat().trim(), "gemeinsames", "{compared}");
    assert!(
        segments(&compared["diff"], "delete").is_empty(),
        "{compared}"
    );
    let back = get_json(&base, "/api/archive/a2/compare/a1", "").await;
    assert_eq!(
        segments(&back["diff"], "delete").concat().trim(),
        "gemeinsames"
    );
    assert!(segments(&back["diff"], "insert").is_empty());

    // The document's own diff takes archive entries as points of its history.
    edit(&writer, |txn, t| t.insert(txn, 0, "Gute ")).await;
    wait_for_text(&base, &doc, "Gute Bildung ist ein gemeinsames Recht.").await;
    let diff = get_json(
        &base,
        &format!("/api/docs/{doc}/diff?from=a1&to=now"),
        ADMIN,
    )
    .await;
    assert_eq!(diff["from"]["point"], "a1", "{diff}");
    let mut inserted = segments(&diff, "insert");
    inserted.iter_mut().for_each(|s| *s = s.trim().to_owned());
    assert_eq!(inserted, ["Gute", "gemeinsames"], "{diff}");
    let diff = get_json(
        &base,
        &format!("/api/docs/{doc}/diff?from=a2&to=now"),
        ADMIN,
    )
    .await;
    assert_eq!(segments(&diff, "insert").concat().trim(), "Gute", "{diff}");
    assert_eq!(
        get(
            &base,
            &format!("/api/docs/{doc}/diff?from=a9&to=now"),
            ADMIN
        )
        .await
        .status(),
        400,
        "an unknown entry is a bad point"
    );
}

/// A directory that holds no store is an error, not an empty and intact archive: a
/// mistyped `--data` must neither pass the check nor leave a new database behind.
#[tokio::test]
async fn verify_refuses_a_directory_that_holds_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = leitbild(dir.path(), &["archive", "verify"]).await;
    assert_eq!(code, 1, "{out}");
    assert!(!out.contains("intact"), "{out}");
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(written.is_empty(), "a check writes nothing: {written:?}");
}

/// Adoptions under SIGKILL: each round fires an adoption with its own Idempotency-Key and
/// kills the real binary 0–30 ms later. After a restart that entry is whole or absent,
/// every acknowledged one is there, and the retry makes it exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_an_adoption_leaves_it_whole_or_absent_and_a_retry_makes_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, addr) = spawn(dir.path()).await;
    let base = format!("http://{addr}");
    let created = request(Method::POST, &base, "/api/docs", ADMIN)
        .json(&json!({ "title": "Leitbild" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let doc = created.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Long enough that what an entry freezes is kept in parts, and rendering it takes a
    // moment for the kill to fall into.
    let writer = Client::connect(&format!("ws://{addr}/ws/{doc}?token={ADMIN}")).await;
    let paragraphs: Vec<String> = (0..60)
        .map(|i| format!("Absatz {i}: Bildung ist ein Recht für alle, überall."))
        .collect();
    for paragraph in &paragraphs {
        writer.push_paragraph(paragraph).await;
    }
    wait_for_text(&base, &doc, &paragraphs.join("\n\n")).await;
    let version = name_version(&base, ADMIN, &doc, "Vorlage").await;
    drop(writer);
    server.start_kill().expect("SIGKILL");
    server.wait().await.expect("server exits");

    // Adoptions killed before they were answered: [absent after the restart, made].
    let mut unanswered = [0; 2];
    for round in 0..6usize {
        let (mut server, addr) = spawn(dir.path()).await;
        let base = format!("http://{addr}");
        let key = format!("runde-{round}");
        let title = format!("Fassung {round}");
        let body = adoption(&title);
        let fired = {
            let (base, doc, version, key, body) = (
                base.clone(),
                doc.clone(),
                version.clone(),
                key.clone(),
                body.clone(),
            );
            tokio::spawn(async move {
                let path = format!("/api/docs/{doc}/versions/{version}/adopt");
                let response = request(Method::POST, &base, &path, ADMIN)
                    .header("Idempotency-Key", key)
                    .json(&body)
                    .send()
                    .await
                    .ok()?;
                let status = response.status();
                let entry: Value = response.json().await.ok()?;
                (status == 201).then_some(entry)
            })
        };
        tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % 31)).await;
        server.start_kill().expect("SIGKILL");
        server.wait().await.expect("server exits");
        let acknowledged = fired.await.unwrap();

        let (mut server, addr) = spawn(dir.path()).await;
        let base = format!("http://{addr}");
        let list = get_json(&base, "/api/archive", "").await;
        let found: Vec<&Value> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["title"] == title)
            .collect();
        assert!(found.len() <= 1, "round {round}: made at most once: {list}");
        assert_eq!(
            list.as_array().unwrap().len(),
            round + found.len(),
            "round {round}: every earlier entry is there: {list}"
        );
        if let Some(acknowledged) = &acknowledged {
            assert_eq!(
                found,
                [acknowledged],
                "round {round}: an acknowledged adoption survives the kill"
            );
        }
        if let Some(entry) = found.first() {
            read_whole(&base, entry, "").await;
        }
        if acknowledged.is_none() {
            unanswered[found.len()] += 1;
        }
        let report = get_json(&base, "/api/archive/verify", "").await;
        assert_eq!(report["ok"], true, "round {round}: {report}");

        // The retry: the same entry if it was made, else a new one; either way one.
        let retried = adopt(&base, ADMIN, &doc, &version, &body, Some(&key)).await;
        assert_eq!(retried.status(), 201, "round {round}");
        let replayed = retried.headers().get("idempotent-replayed").is_some();
        let entry: Value = retried.json().await.unwrap();
        assert_eq!(replayed, !found.is_empty(), "round {round}");
        if let Some(earlier) = found.first() {
            assert_eq!(
                &&entry, earlier,
                "round {round}: the retry answers the entry made"
            );
        }
        read_whole(&base, &entry, "").await;
        let list = get_json(&base, "/api/archive", "").await;
        let titles: BTreeSet<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles.len(), round + 1, "round {round}: {list}");
        assert_eq!(list.as_array().unwrap().len(), round + 1, "round {round}");
        let report = get_json(&base, "/api/archive/verify", "").await;
        assert_eq!(report["ok"], true, "round {round}: {report}");
        assert_eq!(report["entries"], round + 1);
        server.start_kill().expect("SIGKILL");
        server.wait().await.expect("server exits");
    }
    println!(
        "of 6 adoptions, {} were killed before they were made and {} after, before the answer",
        unanswered[0], unanswered[1]
    );
}

/// `GET` a page: status, content type and body.
async fn page(base: &str, path: &str, token: &str) -> (u16, String, String) {
    let response = get(base, path, token).await;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn the_public_pages_show_each_adopted_text_with_its_proof_and_escape_what_people_typed() {
    let server = TestServer::start().await;
    let base = base(&server);
    let doc = create_doc(&server, "Leitbild <em>Bildung</em>").await;
    let reader = invite(&server, &doc, "reader", "Rita Leserin").await;
    let writer = server.connect(&doc).await;
    edit(&writer, |txn, t| {
        t.insert(
            txn,
            0,
            "Bildung ist ein Recht <img src=x onerror=alert(2)> & mehr.",
        )
    })
    .await;
    wait_for_text(
        &base,
        &doc,
        "Bildung ist ein Recht <img src=x onerror=alert(2)> & mehr.",
    )
    .await;
    let v1 = name_version(&base, ADMIN, &doc, "Erste").await;
    let hostile = json!({
        "title": "Leitbild <script>alert(1)</script> & Co",
        "adopted_by": "Rat \"Nord\" <i>Süd</i>",
        "decided_on": "2026-09-29",
    });
    let a1 = adopt(&base, ADMIN, &doc, &v1, &hostile, None).await;
    assert_eq!(a1.status(), 201);
    let a1: Value = a1.json().await.unwrap();
    edit(&writer, |txn, t| t.insert(txn, 16, "gemeinsames ")).await;
    wait_for_text(
        &base,
        &doc,
        "Bildung ist ein gemeinsames Recht <img src=x onerror=alert(2)> & mehr.",
    )
    .await;
    let v2 = name_version(&base, ADMIN, &doc, "Zweite").await;
    let a2 = adopted(&base, ADMIN, &doc, &v2, "Leitbild, 2. Fassung").await;

    // Nothing anyone typed (title, body, document title, the text) becomes markup.
    let unescaped = ["<script>alert", "<img src=x", "<em>Bildung", "<i>Süd"];
    let escaped_everywhere = |path: &str, body: &str| {
        for markup in unescaped {
            assert!(
                !body.contains(markup),
                "{path} lets {markup:?} through:\n{body}"
            );
        }
    };

    let (status, content_type, list) = page(&base, "/archive", "").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    escaped_everywhere("/archive", &list);
    let (at_a2, at_a1) = (
        list.find("/archive/a2").expect("a2 is listed"),
        list.find("/archive/a1").expect("a1 is listed"),
    );
    assert!(at_a2 < at_a1, "newest first");
    assert!(list.contains("Leitbild, 2. Fassung") && list.contains("alert(1)"));

    let (status, _, entry) = page(&base, "/archive/a1", "").await;
    assert_eq!(status, 200);
    escaped_everywhere("/archive/a1", &entry);
    assert!(entry.contains("Bildung ist ein Recht"), "the adopted text");
    assert!(!entry.contains("gemeinsames"), "as adopted, not as now");
    assert!(entry.contains("29.09.2026") || entry.contains("2026-09-29"));
    for hash in ["sha256", "entry_sha256"] {
        assert!(
            entry.contains(a1[hash].as_str().unwrap()),
            "the page shows the {hash} to check it by"
        );
    }
    assert!(
        entry.contains("/api/archive/a1?format=md"),
        "the Markdown to hash"
    );
    let (status, _, entry) = page(&base, "/archive/a2", "").await;
    assert_eq!(status, 200);
    assert!(entry.contains("gemeinsames"));
    assert!(
        entry.contains(a1["entry_sha256"].as_str().unwrap()),
        "a2's page shows its link to a1"
    );
    assert!(entry.contains(a2["entry_sha256"].as_str().unwrap()));

    let (status, _, compared) = page(&base, "/archive/a1/compare/a2", "").await;
    assert_eq!(status, 200);
    escaped_everywhere("/archive/a1/compare/a2", &compared);
    let inserted = compared
        .split("<ins>")
        .skip(1)
        .filter_map(|rest| rest.split("</ins>").next())
        .any(|ins| ins.trim() == "gemeinsames");
    assert!(
        inserted,
        "the inserted word is marked as inserted:\n{compared}"
    );

    let (status, content_type, feed) = page(&base, "/archive.atom", "").await;
    assert_eq!(status, 200);
    assert!(
        content_type.starts_with("application/atom+xml"),
        "{content_type}"
    );
    escaped_everywhere("/archive.atom", &feed);
    assert_eq!(feed.matches("<entry>").count(), 2, "{feed}");
    for entry in [&a1, &a2] {
        let id = entry["id"].as_str().unwrap();
        assert!(feed.contains(&format!("/archive/{id}\"")), "{feed}");
        assert!(feed.contains(entry["sha256"].as_str().unwrap()), "{feed}");
    }

    for path in ["/archive/a9", "/archive/a1/compare/a9", "/archive/junk"] {
        assert_eq!(page(&base, path, "").await.0, 404, "{path}");
    }
    for method in [Method::PUT, Method::PATCH, Method::DELETE, Method::POST] {
        for path in ["/archive", "/archive/a1", "/archive.atom"] {
            let response = request(method.clone(), &base, path, ADMIN)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 405, "{method} {path}");
        }
    }

    let server = server.restart_with(|c| c.private_archive = true).await;
    let base = self::base(&server);
    for path in [
        "/archive",
        "/archive/a1",
        "/archive/a1/compare/a2",
        "/archive.atom",
    ] {
        assert_eq!(page(&base, path, "").await.0, 401, "{path}");
        assert_eq!(page(&base, path, &reader).await.0, 200, "{path}");
    }
}

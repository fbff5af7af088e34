//! History through the API: versions named and restored (by moderators only), the text
//! at a moment, diffs and blame that name who typed and who deleted each passage, also
//! after a restart, and clear errors for bad points.

use std::time::Duration;

use serde_json::{json, Value};
use yrs::{
    GetString, ReadTxn, Text, Transact, TransactionMut, XmlElementPrelim, XmlFragment, XmlOut,
    XmlTextPrelim, XmlTextRef,
};

use crate::support::{admin_http, create_doc, Client, TestServer};

/// An invite's token.
async fn invite(server: &TestServer, doc: &str, role: &str, name: &str) -> String {
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

async fn get(server: &TestServer, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn post(server: &TestServer, token: &str, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The text of the first paragraph, created if there is none.
fn paragraph(txn: &mut TransactionMut, root: &yrs::XmlFragmentRef) -> XmlTextRef {
    if let Some(XmlOut::Element(p)) = root.get(txn, 0) {
        if let Some(XmlOut::Text(text)) = p.get(txn, 0) {
            return text;
        }
    }
    let p = root.push_back(txn, XmlElementPrelim::empty("paragraph"));
    p.push_back(txn, XmlTextPrelim::new(""))
}

/// Edits the first paragraph as `client` and sends the change.
async fn edit(client: &Client, change: impl FnOnce(&mut TransactionMut, &XmlTextRef)) {
    use yrs::sync::{Message, SyncMessage};
    let update = {
        let root = client.doc.get_or_insert_xml_fragment("default");
        let mut txn = client.doc.transact_mut();
        let before = txn.state_vector();
        let text = paragraph(&mut txn, &root);
        change(&mut txn, &text);
        txn.encode_diff_v1(&before)
    };
    client
        .send(Message::Sync(SyncMessage::Update(update)))
        .await;
}

fn fragment_text(client: &Client) -> String {
    let root = client.doc.get_or_insert_xml_fragment("default");
    let txn = client.doc.transact();
    let Some(XmlOut::Element(p)) = root.get(&txn, 0) else {
        return String::new();
    };
    match p.get(&txn, 0) {
        Some(XmlOut::Text(text)) => text.get_string(&txn),
        _ => String::new(),
    }
}

/// Every segment of the diff with op `op`, as (text, author names).
fn segments(diff: &Value, op: &str) -> Vec<(String, Vec<String>)> {
    diff["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|b| b["segments"].as_array().unwrap().iter())
        .filter(|s| s["op"] == op)
        .map(|s| {
            let names = s["authors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["name"].as_str().unwrap_or("?").to_owned())
                .collect();
            (s["text"].as_str().unwrap().to_owned(), names)
        })
        .collect()
}

/// Blame as (text, author name) pairs.
fn blamed(blame: &Value) -> Vec<(String, String)> {
    blame["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["text"].as_str().unwrap().to_owned(),
                s["author"]["name"].as_str().unwrap_or("?").to_owned(),
            )
        })
        .collect()
}

async fn json(response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn versions_diffs_blame_and_restore_name_each_author_and_obey_roles() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Leitbild").await;
    let moderator = invite(&server, &doc, "moderator", "Mona Moderatorin").await;
    let anna = invite(&server, &doc, "editor", "Anna Schule").await;
    let bernd = invite(&server, &doc, "editor", "Bernd Kita").await;
    let clara = invite(&server, &doc, "editor", "Clara Kammer").await;
    let reader = invite(&server, &doc, "reader", "Rita Leserin").await;
    let connect = |token: &str| server.ws_url_with(&doc, token);
    let a = Client::connect(&connect(&anna)).await;
    let b = Client::connect(&connect(&bernd)).await;
    let c = Client::connect(&connect(&clara)).await;
    let watcher = Client::connect(&connect(&reader)).await;

    // Three people edit the same paragraph in turn; the reader's copy shows when each
    // change was stored and sent.
    edit(&a, |txn, t| t.insert(txn, 0, "Bildung ist wichtig.")).await;
    watcher
        .wait_for(|w| fragment_text(w) == "Bildung ist wichtig.")
        .await;
    let after_anna = chrono_now();
    b.wait_for(|b| fragment_text(b) == "Bildung ist wichtig.")
        .await;
    tokio::time::sleep(Duration::from_millis(5)).await;

    let v1 = post(
        &server,
        &moderator,
        &format!("/api/docs/{doc}/versions"),
        json!({ "name": "Entwurf nach dem Lenkungsausschuss", "note": "erste Fassung" }),
    )
    .await;
    assert_eq!(v1.status(), 201);
    let v1: Value = v1.json().await.unwrap();
    let v1_id = v1["id"].as_str().unwrap().to_owned();
    assert_eq!(v1["kind"], "named");
    assert_eq!(v1["created_by_name"], "Mona Moderatorin");
    for token in [&anna, &reader] {
        let refused = post(
            &server,
            token,
            &format!("/api/docs/{doc}/versions"),
            json!({ "name": "nicht erlaubt" }),
        )
        .await;
        assert_eq!(refused.status(), 403, "only moderators name versions");
    }

    edit(&b, |txn, t| t.insert(txn, 19, " für alle")).await;
    watcher
        .wait_for(|w| fragment_text(w) == "Bildung ist wichtig für alle.")
        .await;
    c.wait_for(|c| fragment_text(c) == "Bildung ist wichtig für alle.")
        .await;
    edit(&c, |txn, t| {
        t.remove_range(txn, 12, 7);
        t.insert(txn, 12, "ein Recht");
    })
    .await;
    watcher
        .wait_for(|w| fragment_text(w) == "Bildung ist ein Recht für alle.")
        .await;

    // The text at a moment is what everyone saw then.
    let then = get(
        &server,
        &reader,
        &format!("/api/docs/{doc}/at?t={after_anna}&format=txt"),
    )
    .await;
    assert_eq!(then.status(), 200);
    assert_eq!(then.text().await.unwrap().trim(), "Bildung ist wichtig.");

    // A reader may diff; each passage names who typed or deleted it.
    let diff = json(
        get(
            &server,
            &reader,
            &format!("/api/docs/{doc}/diff?from={v1_id}&to=now"),
        )
        .await,
    )
    .await;
    assert_eq!(
        segments(&diff, "insert"),
        [
            ("ein Recht".to_owned(), vec!["Clara Kammer".to_owned()]),
            (" für alle".to_owned(), vec!["Bernd Kita".to_owned()]),
        ]
    );
    assert_eq!(
        segments(&diff, "delete"),
        [("wichtig".to_owned(), vec!["Clara Kammer".to_owned()])]
    );
    assert_eq!(diff["from"]["point"], v1_id.as_str());
    assert_eq!(diff["summary"]["words_added"], 4);
    assert_eq!(diff["summary"]["words_removed"], 1);

    let expected_blame = vec![
        ("Bildung ist ".to_owned(), "Anna Schule".to_owned()),
        ("ein Recht".to_owned(), "Clara Kammer".to_owned()),
        (" für alle".to_owned(), "Bernd Kita".to_owned()),
        (".".to_owned(), "Anna Schule".to_owned()),
    ];
    let blame = json(get(&server, &reader, &format!("/api/docs/{doc}/blame?at=now")).await).await;
    assert_eq!(blamed(&blame), expected_blame);

    // Bad points are clear 4xx answers.
    for (path, status) in [
        (format!("/api/docs/{doc}/diff?from=gestern&to=now"), 400),
        (format!("/api/docs/{doc}/diff?from=v999999&to=now"), 400),
        (format!("/api/docs/{doc}/at?t=2001-01-01T00:00:00Z"), 400),
        (format!("/api/docs/{doc}/at?t=now"), 400),
        (format!("/api/docs/{doc}/versions/v999999"), 404),
        (format!("/api/docs/{doc}/versions/gestern"), 404),
    ] {
        assert_eq!(
            get(&server, &reader, &path).await.status(),
            status,
            "{path}"
        );
    }

    // Restoring: editors may not; a moderator's restore reaches open editors live.
    let restore_path = format!("/api/docs/{doc}/versions/{v1_id}/restore");
    assert_eq!(
        post(&server, &anna, &restore_path, json!({}))
            .await
            .status(),
        403
    );
    let restored = json(post(&server, &moderator, &restore_path, json!({})).await).await;
    assert_eq!(restored["changed"], true);
    assert_eq!(restored["before"]["kind"], "auto");
    assert_eq!(restored["restore"]["kind"], "restore");
    a.wait_for(|a| fragment_text(a) == "Bildung ist wichtig.")
        .await;
    let again = json(post(&server, &moderator, &restore_path, json!({})).await).await;
    assert_eq!(
        again["changed"], false,
        "restoring the current text changes nothing"
    );

    let versions = json(get(&server, &reader, &format!("/api/docs/{doc}/versions")).await).await;
    let kinds: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["restore", "auto", "named"], "newest first");
    let named_only = json(
        get(
            &server,
            &reader,
            &format!("/api/docs/{doc}/versions?auto=false"),
        )
        .await,
    )
    .await;
    assert_eq!(named_only.as_array().unwrap().len(), 2);
    let audit = json(
        reqwest::Client::new()
            .get(server.url(&format!("/api/docs/{doc}/audit")))
            .bearer_auth(&moderator)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let events: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert!(events.contains(&"version_named") && events.contains(&"version_restored"));

    // The version itself reads back as it was.
    let v1_text = get(
        &server,
        &reader,
        &format!("/api/docs/{doc}/versions/{v1_id}?format=txt"),
    )
    .await;
    assert_eq!(v1_text.text().await.unwrap().trim(), "Bildung ist wichtig.");

    // After a restart (the log replayed, checkpoints and compaction included) the
    // authors are the same.
    drop((a, b, c, watcher));
    let server = server.restart().await;
    let diff = json(
        get(
            &server,
            &reader,
            &format!("/api/docs/{doc}/diff?from={v1_id}&to=now"),
        )
        .await,
    )
    .await;
    assert!(
        segments(&diff, "insert").is_empty(),
        "restored to v1: {diff}"
    );
    let before_restore = versions[1]["id"].as_str().unwrap();
    let blame = json(
        get(
            &server,
            &reader,
            &format!("/api/docs/{doc}/blame?at={before_restore}"),
        )
        .await,
    )
    .await;
    assert_eq!(blamed(&blame), expected_blame);
    let blame_now =
        json(get(&server, &reader, &format!("/api/docs/{doc}/blame?at=now")).await).await;
    assert_eq!(
        blamed(&blame_now),
        [(
            "Bildung ist wichtig.".to_owned(),
            "Mona Moderatorin".to_owned()
        )],
        "the restored text was written by the restore"
    );
}

/// Now, as RFC 3339 with milliseconds.
fn chrono_now() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    leitbild::timestamp::to_rfc3339(ms)
}

/// The kinds and names of a document's versions, newest first, as the admin sees them.
async fn version_list(server: &TestServer, doc: &str) -> Vec<(String, String)> {
    let list: Value = crate::support::admin_get(server.url(&format!("/api/docs/{doc}/versions")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["kind"].as_str().unwrap().to_owned(),
                v["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_burst_of_edits_ends_in_an_automatic_version_and_so_does_closing_the_document() {
    let server = TestServer::start_with(|c| {
        c.auto_version_secs = 1;
        c.idle_unload_secs = 3600;
    })
    .await;
    let doc = create_doc(&server, "Pause").await;
    let editor = server.connect(&doc).await;
    edit(&editor, |txn, t| t.insert(txn, 0, "Erster Satz.")).await;
    let mut versions = Vec::new();
    for _ in 0..100 {
        versions = version_list(&server, &doc).await;
        if !versions.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(versions.len(), 1, "one version after the pause");
    assert_eq!(versions[0].0, "auto");
    let text = crate::support::admin_get(server.url(&format!(
        "/api/docs/{doc}/versions/{}?format=txt",
        versions[0].1
    )))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert_eq!(text.trim(), "Erster Satz.");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        version_list(&server, &doc).await.len(),
        1,
        "no edits, no new version"
    );

    // Closing the document after edits keeps them as a version too.
    let server = server
        .restart_with(|c| {
            c.auto_version_secs = 3600;
            c.idle_unload_secs = 1;
        })
        .await;
    let editor = server.connect(&doc).await;
    edit(&editor, |txn, t| t.insert(txn, 12, " Zweiter Satz.")).await;
    editor
        .wait_for(|e| fragment_text(e) == "Erster Satz. Zweiter Satz.")
        .await;
    editor.close().await;
    let mut versions = Vec::new();
    for _ in 0..100 {
        versions = version_list(&server, &doc).await;
        if versions.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(versions.len(), 2, "a version when the idle document closed");
    assert_eq!(versions[0].0, "auto");
}

#[tokio::test]
async fn the_text_at_a_moment_is_the_text_a_client_saw_then() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Zeitreise").await;
    let writer = server.connect(&doc).await;
    let watcher = server.connect(&doc).await;
    let mut seen: Vec<(String, String)> = Vec::new();
    for i in 0..60u32 {
        edit(&writer, |txn, t| {
            let len = t.len(txn);
            if i % 4 == 3 {
                t.remove_range(txn, 0, len.min(3));
            } else {
                t.insert(txn, len, &format!("Satz {i}. "));
            }
        })
        .await;
        let expected = fragment_text(&writer);
        watcher.wait_for(|w| fragment_text(w) == expected).await;
        seen.push((chrono_now(), expected));
        tokio::time::sleep(Duration::from_millis(3)).await;
        if i == 9 {
            // Later moments replay from this version on.
            let made = admin_http()
                .post(server.url(&format!("/api/docs/{doc}/versions")))
                .json(&json!({ "name": "Mitte" }))
                .send()
                .await
                .unwrap();
            assert_eq!(made.status(), 201);
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
    // Forward, backward and forward again: each long replay leaves a state behind that
    // later requests start from, which must give the same texts.
    let order = seen.iter().chain(seen.iter().rev()).chain(seen.iter());
    for (at, text) in order {
        let then =
            crate::support::admin_get(server.url(&format!("/api/docs/{doc}/at?t={at}&format=txt")))
                .await
                .unwrap();
        assert_eq!(then.status(), 200);
        assert_eq!(
            then.text().await.unwrap().trim_end(),
            text.trim_end(),
            "at {at}"
        );
    }
    let json: Value =
        crate::support::admin_get(server.url(&format!("/api/docs/{doc}/at?t={}", seen[9].0)))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(json["kind"], "time");
    assert_eq!(
        json["text"].as_str().unwrap().trim_end(),
        seen[9].1.trim_end()
    );
}

#[tokio::test]
async fn history_kept_between_requests_follows_new_edits_and_compaction() {
    // A checkpoint (and with it a compaction of the log) after every third record.
    let server = TestServer::start_with(|config| config.checkpoint_every = 3).await;
    let doc = create_doc(&server, "Verdichtet").await;
    let anna = invite(&server, &doc, "editor", "Anna Schule").await;
    let bernd = invite(&server, &doc, "editor", "Bernd Kita").await;
    let a = Client::connect(&server.ws_url_with(&doc, &anna)).await;
    let b = Client::connect(&server.ws_url_with(&doc, &bernd)).await;
    let at = |t: &str| format!("/api/docs/{doc}/at?t={t}&format=txt");
    let blame_path = format!("/api/docs/{doc}/blame?at=now");

    // Anna's first word, a moment, her second: two records less than a second apart,
    // which a compaction will merge into one.
    edit(&a, |txn, t| t.insert(txn, 0, "Bildung")).await;
    b.wait_for(|b| fragment_text(b) == "Bildung").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let between = chrono_now();
    tokio::time::sleep(Duration::from_millis(5)).await;
    edit(&a, |txn, t| t.insert(txn, 7, " ist")).await;
    b.wait_for(|b| fragment_text(b) == "Bildung ist").await;
    let then = get(&server, &anna, &at(&between)).await;
    assert_eq!(then.text().await.unwrap().trim(), "Bildung");
    let blame = json(get(&server, &anna, &blame_path).await).await;
    assert_eq!(
        blamed(&blame),
        [("Bildung ist".to_owned(), "Anna Schule".to_owned())]
    );

    // Bernd writes after history was asked: his words are his.
    edit(&b, |txn, t| t.insert(txn, 11, " ein Recht")).await;
    a.wait_for(|a| fragment_text(a) == "Bildung ist ein Recht")
        .await;
    let blame = json(get(&server, &anna, &blame_path).await).await;
    assert_eq!(
        blamed(&blame),
        [
            ("Bildung ist".to_owned(), "Anna Schule".to_owned()),
            (" ein Recht".to_owned(), "Bernd Kita".to_owned()),
        ]
    );

    // The third record made a checkpoint, whose compaction merged Anna's two records
    // under the time of the second: the log no longer knows the moment between them.
    // What history kept from before must not answer with what the log lost.
    let mut coarse = String::from("(not asked)");
    for _ in 0..100 {
        coarse = get(&server, &anna, &at(&between))
            .await
            .text()
            .await
            .unwrap();
        if coarse.trim().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        coarse.trim(),
        "",
        "the merged records came after that moment"
    );
    let warm = json(get(&server, &anna, &blame_path).await).await;
    assert_eq!(blamed(&warm), blamed(&blame));

    // A restart reads it all anew and answers the same.
    drop((a, b));
    let server = server.restart().await;
    let cold = get(&server, &anna, &at(&between)).await;
    assert_eq!(cold.text().await.unwrap().trim(), coarse.trim());
    let cold = json(get(&server, &anna, &blame_path).await).await;
    assert_eq!(blamed(&cold), blamed(&blame));
}

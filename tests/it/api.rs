//! The HTTP API: listing and creating documents, metadata, rendered text, static files.

use serde_json::{json, Value};

use crate::support::TestServer;

#[tokio::test]
async fn a_fresh_server_lists_the_demo_document_and_renders_it() {
    let server = TestServer::start().await;
    let docs: Value = crate::support::admin_get(server.url("/api/docs"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(docs.as_array().unwrap().len(), 1);
    assert_eq!(docs[0]["id"], "bildungsleitbild");
    assert_eq!(docs[0]["title"], "Bildungsleitbild – Entwurf");
    assert!(docs[0]["size"].as_u64().unwrap() > 0);

    let md = crate::support::admin_get(server.url("/api/docs/bildungsleitbild/text?format=md"))
        .await
        .unwrap();
    assert_eq!(md.headers()["content-type"], "text/markdown; charset=utf-8");
    let md = md.text().await.unwrap();
    for heading in [
        "## Präambel",
        "## Übergang Schule–Beruf",
        "## Zusammenarbeit in der Bildungsregion",
    ] {
        assert!(md.contains(heading), "{heading} missing in:\n{md}");
    }
    let html = crate::support::admin_get(server.url("/api/docs/bildungsleitbild/text?format=html"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("<h2>Frühe Bildung</h2>"), "{html}");
    let txt = crate::support::admin_get(server.url("/api/docs/bildungsleitbild/text?format=txt"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(txt.contains("Lebenslanges Lernen") && !txt.contains('#') && !txt.contains('<'));
}

#[tokio::test]
async fn creating_documents() {
    let server = TestServer::start().await;
    let http = crate::support::admin_http();
    let create = |title: Value| http.post(server.url("/api/docs")).json(&title).send();

    let created = create(json!({"title": "Übergang Schule–Beruf"}))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["id"], "uebergang-schule-beruf");
    assert_eq!(created["title"], "Übergang Schule–Beruf");
    assert!(created["created_at"].as_u64().unwrap() > 0);
    assert_eq!(created["created_at"], created["updated_at"]);

    // The same title again gets a fresh id rather than the old document.
    let again: Value = create(json!({"title": "Übergang Schule–Beruf"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(again["id"], created["id"]);

    let one: Value = crate::support::admin_get(server.url("/api/docs/uebergang-schule-beruf"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["title"], "Übergang Schule–Beruf");
    let list: Value = crate::support::admin_get(server.url("/api/docs"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 3);
    let empty =
        crate::support::admin_get(server.url("/api/docs/uebergang-schule-beruf/text?format=txt"))
            .await
            .unwrap();
    assert_eq!(empty.status(), 200);
    assert_eq!(empty.text().await.unwrap(), "");

    for bad in [
        json!({"title": ""}),
        json!({"title": "   "}),
        json!({"title": "x".repeat(201)}),
        json!({"name": "x"}),
        json!(42),
    ] {
        let response = create(bad.clone()).await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    let garbage = http
        .post(server.url("/api/docs"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 400);
}

#[tokio::test]
async fn unknown_documents_and_paths_are_404_with_json() {
    let server = TestServer::start().await;
    for path in [
        "/api/docs/nope",
        "/api/docs/nope/text",
        "/no/such/page",
        "/assets/missing.js",
    ] {
        let response = crate::support::admin_get(server.url(path)).await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let body: Value = crate::support::admin_get(server.url("/api/docs/nope"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["error"], "not found");
}

#[tokio::test]
async fn pages_carry_a_strict_csp_and_revalidate() {
    let server = TestServer::start().await;
    for path in ["/", "/d/bildungsleitbild"] {
        let page = crate::support::admin_get(server.url(path)).await.unwrap();
        assert_eq!(page.status(), 200);
        let csp = page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"),
            "{csp}"
        );
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let etag = page.headers()["etag"].clone();
        let again = crate::support::admin_http()
            .get(server.url(path))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
    }
    // The service worker is served from the root, so that its scope covers every page.
    let worker = crate::support::admin_get(server.url("/sw.js"))
        .await
        .unwrap();
    assert_eq!(worker.status(), 200);
    assert_eq!(
        worker.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert!(worker
        .text()
        .await
        .unwrap()
        .contains("addEventListener('fetch'"));
    assert_eq!(
        crate::support::admin_get(server.url("/healthz"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
}

#[tokio::test]
async fn a_local_copy_of_an_earlier_document_is_refused_with_4409() {
    let server = TestServer::start().await;
    let entry: Value = crate::support::admin_get(server.url("/api/docs/bildungsleitbild"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = entry["created_at"].as_u64().unwrap();
    let url = server.ws_url("bildungsleitbild");

    let current = crate::support::Client::connect(&format!("{url}&created={created}")).await;
    assert!(
        current.text().is_empty(),
        "the test client reads the text type, not the fragment"
    );
    assert!(!current.is_disconnected());

    let stale =
        crate::support::Client::connect_unsynced(&format!("{url}&created={}", created - 1)).await;
    let (code, reason) = stale.closed().await.expect("a close frame");
    assert_eq!(code, 4409, "{reason}");
    // Without the parameter (any Yjs client) nothing changes.
    let plain = crate::support::Client::connect(&url).await;
    assert!(!plain.is_disconnected());
}

#[tokio::test]
async fn the_document_list_counts_words_and_names_who_edited_last() {
    let server = TestServer::start().await;
    let list = || async {
        let docs: Value = crate::support::admin_get(server.url("/api/docs"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        docs[0].clone()
    };
    let txt = crate::support::admin_get(server.url("/api/docs/bildungsleitbild/text?format=txt"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let demo_words = txt.split_whitespace().count() as u64;
    let demo = list().await;
    assert_eq!(demo["words"].as_u64(), Some(demo_words), "{demo}");
    assert!(demo.get("updated_by").is_none(), "{demo}");

    let invite: Value = crate::support::admin_http()
        .post(server.url("/api/docs/bildungsleitbild/invites"))
        .json(&json!({ "role": "editor", "name": "Erika Editorin" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = invite["token"].as_str().unwrap();
    let editor =
        crate::support::Client::connect(&server.ws_url_with("bildungsleitbild", token)).await;
    editor.push_paragraph("eins zwei drei").await;
    // Within the second after the first edit: counted when the second is over, without
    // waiting for another edit.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    editor.push_paragraph("vier fünf").await;

    let deadline = tokio::time::Instant::now() + crate::support::WAIT;
    loop {
        let doc = list().await;
        if doc["words"].as_u64() == Some(demo_words + 5)
            && doc["updated_by"]["name"] == "Erika Editorin"
        {
            let id = doc["updated_by"]["id"].as_str().unwrap();
            assert!(id.starts_with("i:"), "an invite's identity, not {id}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the list never showed the edit: {doc}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

//! Access control, seen from outside: credentials on the websocket and the API, roles,
//! invites and their revocation, group links, presence names, cross-site requests,
//! failed-attempt limiting, and identities in the stored log.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::support::{
    admin_get, admin_http, create_doc, metric, upgrade_status, Client, TestServer, ADMIN,
};

/// Creates an invite as admin; returns the answer (with `id`, `link` and `token`).
async fn invite(server: &TestServer, doc: &str, body: Value) -> Value {
    let response = admin_http()
        .post(server.url(&format!("/api/docs/{doc}/invites")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{body}");
    response.json().await.unwrap()
}

fn token(invite: &Value) -> &str {
    invite["token"].as_str().unwrap()
}

async fn revoke(server: &TestServer, doc: &str, invite: &Value) -> reqwest::Response {
    admin_http()
        .delete(server.url(&format!(
            "/api/docs/{doc}/invites/{}",
            invite["id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap()
}

/// `GET path` with a bearer token.
async fn get_as(server: &TestServer, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// A browser without redirects: answers the way a page request sees them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Opens `path?token=…` like a browser following an invite link, with an existing session
/// cookie if any; returns the answer's Location and the session cookie it set.
async fn open_link(
    server: &TestServer,
    path_and_query: &str,
    cookie: Option<&str>,
) -> (String, Option<String>, String) {
    let mut request = browser().get(server.url(path_and_query));
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("leitbild_session={cookie}"));
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 303, "{path_and_query}");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    let session = set_cookie.as_ref().map(|c| {
        c.trim_start_matches("leitbild_session=")
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    });
    (location, session, set_cookie.unwrap_or_default())
}

fn same_origin(server: &TestServer) -> String {
    format!("http://{}", server.addr)
}

#[tokio::test]
async fn upgrades_without_valid_credentials_are_refused_and_load_nothing() {
    let server = TestServer::start().await;
    let a = create_doc(&server, "A").await;
    let b = create_doc(&server, "B").await;
    let editor_of_b = invite(&server, &b, json!({"role": "editor", "name": "Bea"})).await;
    let revoked = invite(&server, &a, json!({"role": "editor", "name": "Rolf"})).await;
    assert_eq!(revoke(&server, &a, &revoked).await.status(), 200);
    let soon = leitbild::timestamp::to_rfc3339(leitbild::store::now_ms() + 1_000);
    let expired = invite(
        &server,
        &a,
        json!({"role": "editor", "name": "Eva", "expires_at": soon}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let url = |doc: &str, token: &str| server.ws_url_with(doc, token);
    let cases = [
        ("no credential", url(&a, ""), 401),
        ("a wrong token", url(&a, &"x".repeat(43)), 401),
        ("garbage", url(&a, "%00%ff"), 401),
        ("an expired invite", url(&a, token(&expired)), 403),
        ("a revoked invite", url(&a, token(&revoked)), 403),
        (
            "an invite for another document",
            url(&a, token(&editor_of_b)),
            403,
        ),
        (
            "a non-admin on a missing document",
            url("missing", token(&editor_of_b)),
            404,
        ),
    ];
    for (what, url, status) in cases {
        assert_eq!(upgrade_status(&url, &[]).await, status, "{what}");
    }
    assert_eq!(
        metric(&server, "leitbild_open_documents").await,
        0.0,
        "no refused upgrade loaded a document"
    );
    assert_eq!(
        admin_get(server.url("/api/docs/missing"))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        upgrade_status(&url(&a, ADMIN), &[]).await,
        101,
        "the admin gets in"
    );
}

#[tokio::test]
async fn a_readers_changes_reach_nobody_and_are_never_stored() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Lesen").await;
    let writer = server.connect(&doc).await;
    writer.append("Hallo").await;
    let reader_invite = invite(&server, &doc, json!({"role": "reader", "name": "Rita"})).await;
    let reader = Client::connect(&server.ws_url_with(&doc, token(&reader_invite))).await;
    reader.wait_for_text("Hallo").await;

    reader.append(" Welt").await;
    reader.wait_for(|r| !r.denied().is_empty()).await;
    assert!(
        reader.denied()[0].contains("read-only"),
        "{:?}",
        reader.denied()
    );

    // The reader stays connected and keeps receiving; the writer never sees " Welt".
    writer.append(" zusammen").await;
    reader.wait_for(|r| r.text().contains("zusammen")).await;
    assert!(!reader.is_disconnected());
    let watcher = server.connect(&doc).await;
    watcher.wait_for_text("Hallo zusammen").await;
    assert_eq!(writer.text(), "Hallo zusammen");

    // A reader whose copy holds only what the server has (deletions included) is not
    // refused anything: y-websocket sends such a sync step 2 on every connect.
    writer.insert(0, "X").await;
    let delete = {
        use yrs::Text;
        let text = writer.doc.get_or_insert_text("text");
        let mut txn = yrs::Transact::transact_mut(&writer.doc);
        text.remove_range(&mut txn, 0, 1);
        txn.encode_update_v1()
    };
    writer
        .send(yrs::sync::Message::Sync(yrs::sync::SyncMessage::Update(
            delete,
        )))
        .await;
    watcher.wait_for_text("Hallo zusammen").await;
    let copy = Client::new_doc();
    {
        use yrs::updates::decoder::Decode;
        use yrs::{ReadTxn, Transact};
        let state = watcher
            .doc
            .transact()
            .encode_state_as_update_v1(&yrs::StateVector::default());
        copy.transact_mut()
            .apply_update(yrs::Update::decode_v1(&state).unwrap())
            .unwrap();
    }
    let second = Client::connect_with(&server.ws_url_with(&doc, token(&reader_invite)), copy).await;
    second.wait_for(|c| c.is_synced()).await;
    assert_eq!(second.text(), "Hallo zusammen");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        second.denied(),
        Vec::<String>::new(),
        "an echo is not a change"
    );

    // Nothing of the reader's reached the disk either.
    let server = server.restart().await;
    let after = server.connect(&doc).await;
    after.wait_for_text("Hallo zusammen").await;
}

#[tokio::test]
async fn revoking_an_invite_closes_its_sockets_at_once_and_refuses_it_after() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Widerruf").await;
    let anna = invite(&server, &doc, json!({"role": "editor", "name": "Anna"})).await;
    let client = Client::connect(&server.ws_url_with(&doc, token(&anna))).await;
    client.append("da").await;

    let revoked_at = Instant::now();
    assert_eq!(revoke(&server, &doc, &anna).await.status(), 200);
    let close = client.closed().await;
    let took = revoked_at.elapsed();
    assert_eq!(close.as_ref().map(|c| c.0), Some(4403), "{close:?}");
    assert!(took < Duration::from_secs(1), "closed after {took:?}");

    assert_eq!(
        upgrade_status(&server.ws_url_with(&doc, token(&anna)), &[]).await,
        403
    );
    assert_eq!(
        get_as(&server, token(&anna), &format!("/api/docs/{doc}"))
            .await
            .status(),
        403
    );
    let list: Value = admin_get(server.url(&format!("/api/docs/{doc}/invites")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list[0]["status"], "revoked");
    assert!(list[0]["revoked_at"].is_string());
    assert!(
        list[0].get("token").is_none(),
        "a listing never shows a token"
    );
}

#[tokio::test]
async fn presence_shows_the_real_name_whatever_the_client_claims() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Namen").await;
    let anna = invite(
        &server,
        &doc,
        json!({"role": "editor", "name": "Anna Krüger", "group": "Kita-Verbund Parchim"}),
    )
    .await;
    let watcher = server.connect(&doc).await;
    let mut client = Client::connect(&server.ws_url_with(&doc, token(&anna))).await;
    client
        .set_awareness(r##"{"user":{"name":"Landrat","group":"Kreistag","color":"#123456"}}"##)
        .await;
    let id = client.client_id();
    watcher.wait_for(|w| w.state_of(id).is_some()).await;
    let state: Value = serde_json::from_str(&watcher.state_of(id).unwrap()).unwrap();
    assert_eq!(state["user"]["name"], "Anna Krüger");
    assert_eq!(state["user"]["group"], "Kita-Verbund Parchim");
    assert_eq!(
        state["user"]["color"], "#123456",
        "the colour stays the client's"
    );
}

#[tokio::test]
async fn cross_site_upgrades_and_cookie_changes_are_refused() {
    let server =
        TestServer::start_with(|c| c.allowed_origins = vec!["https://partner.example".into()])
            .await;
    let doc = create_doc(&server, "Herkunft").await;
    let ws = server.ws_url(&doc);
    let own = same_origin(&server);
    assert_eq!(
        upgrade_status(&ws, &[("origin", "https://evil.example")]).await,
        403
    );
    assert_eq!(upgrade_status(&ws, &[("origin", own.as_str())]).await, 101);
    assert_eq!(
        upgrade_status(&ws, &[("origin", "https://partner.example")]).await,
        101
    );

    let (_, session, _) = open_link(&server, &format!("/?token={ADMIN}"), None).await;
    let cookie = format!("leitbild_session={}", session.unwrap());
    // A cookie alone is a browser's credential; browsers always send an Origin.
    let bare = server.ws_url_with(&doc, "");
    assert_eq!(
        upgrade_status(&bare, &[("cookie", cookie.as_str())]).await,
        401
    );
    assert_eq!(
        upgrade_status(
            &bare,
            &[("cookie", cookie.as_str()), ("origin", own.as_str())]
        )
        .await,
        101
    );
    assert_eq!(
        upgrade_status(
            &bare,
            &[
                ("cookie", cookie.as_str()),
                ("origin", "https://evil.example")
            ]
        )
        .await,
        403
    );

    let post = |origin: Option<&str>| {
        let mut request = browser()
            .post(server.url("/api/docs"))
            .header("cookie", &cookie)
            .json(&json!({"title": "Von woanders"}));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    assert_eq!(
        post(Some("https://evil.example")).await.unwrap().status(),
        403
    );
    assert_eq!(
        post(None).await.unwrap().status(),
        403,
        "no Origin, no change by cookie"
    );
    assert_eq!(post(Some(&own)).await.unwrap().status(), 201);
    // Reading by cookie needs no Origin; changing with a token needs none either.
    let read = browser()
        .get(server.url("/api/docs"))
        .header("cookie", &cookie)
        .send()
        .await;
    assert_eq!(read.unwrap().status(), 200);
    let with_token = admin_http()
        .post(server.url("/api/docs"))
        .header("origin", "https://evil.example")
        .json(&json!({"title": "Skript"}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 201);
}

#[tokio::test]
async fn each_role_does_what_its_row_allows_and_no_more() {
    let server = TestServer::start().await;
    let a = create_doc(&server, "A").await;
    let b = create_doc(&server, "B").await;
    let editor = invite(&server, &a, json!({"role": "editor", "name": "Ed"})).await;
    let moderator = invite(&server, &a, json!({"role": "moderator", "name": "Mo"})).await;
    let (ed, mo) = (token(&editor), token(&moderator));
    let http = reqwest::Client::new();
    let status = |r: reqwest::Response| r.status().as_u16();

    // Unauthenticated: nothing.
    assert_eq!(
        status(http.get(server.url("/api/docs")).send().await.unwrap()),
        401
    );
    assert_eq!(
        status(
            http.get(server.url(&format!("/api/docs/{a}/text")))
                .send()
                .await
                .unwrap()
        ),
        401
    );

    // The editor reads and lists only A, and manages nothing.
    let listed: Value = get_as(&server, ed, "/api/docs").await.json().await.unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a.as_str()]);
    assert_eq!(listed[0]["role"], "editor");
    assert_eq!(
        status(get_as(&server, ed, &format!("/api/docs/{a}/text")).await),
        200
    );
    assert_eq!(
        status(get_as(&server, ed, &format!("/api/docs/{b}/text")).await),
        403
    );
    for path in [
        format!("/api/docs/{a}/invites"),
        format!("/api/docs/{a}/audit"),
    ] {
        assert_eq!(status(get_as(&server, ed, &path).await), 403, "{path}");
    }
    let as_editor = |method: reqwest::Method, path: String, body: Value| {
        http.request(method, server.url(&path))
            .bearer_auth(ed)
            .json(&body)
            .send()
    };
    let refused = [
        (
            reqwest::Method::POST,
            format!("/api/docs/{a}/invites"),
            json!({"role": "reader", "name": "X"}),
        ),
        (
            reqwest::Method::DELETE,
            format!(
                "/api/docs/{a}/invites/{}",
                moderator["id"].as_str().unwrap()
            ),
            json!(null),
        ),
        (
            reqwest::Method::POST,
            "/api/docs".to_owned(),
            json!({"title": "Neu"}),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/docs/{a}"),
            json!({"title": "Umbenannt"}),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/docs/{a}"),
            json!(null),
        ),
        (
            reqwest::Method::POST,
            "/api/admin/link".to_owned(),
            json!(null),
        ),
    ];
    for (method, path, body) in refused {
        let response = as_editor(method.clone(), path.clone(), body).await.unwrap();
        assert_eq!(response.status(), 403, "editor {method} {path}");
    }

    // The moderator of A manages A's invites, and nothing on B.
    assert_eq!(
        status(get_as(&server, mo, &format!("/api/docs/{a}/invites")).await),
        200
    );
    assert_eq!(
        status(get_as(&server, mo, &format!("/api/docs/{a}/audit")).await),
        200
    );
    assert_eq!(
        status(get_as(&server, mo, &format!("/api/docs/{b}/invites")).await),
        403
    );
    assert_eq!(
        status(get_as(&server, mo, &format!("/api/docs/{b}")).await),
        403
    );
    let create = |doc: &str, body: Value| {
        http.post(server.url(&format!("/api/docs/{doc}/invites")))
            .bearer_auth(mo)
            .json(&body)
            .send()
    };
    let made = create(&a, json!({"role": "moderator", "name": "Ma"}))
        .await
        .unwrap();
    assert_eq!(made.status(), 201, "moderators invite up to their own role");
    assert_eq!(
        create(&a, json!({"role": "admin", "name": "Ad"}))
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        create(&b, json!({"role": "reader", "name": "Re"}))
            .await
            .unwrap()
            .status(),
        403
    );
    let revoke_b = http
        .delete(server.url(&format!("/api/invites/{}", editor["id"].as_str().unwrap())))
        .bearer_auth(token(
            &invite(&server, &b, json!({"role": "moderator", "name": "MoB"})).await,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        revoke_b.status(),
        403,
        "a moderator of B cannot revoke A's invite"
    );

    // Bad invite requests get a clear 400.
    for bad in [
        json!({"role": "editor"}),
        json!({"role": "owner", "name": "X"}),
        json!({"role": "editor", "name": "X", "expires_at": "gestern"}),
        json!({"role": "editor", "kind": "group", "max_people": 0}),
        json!("editor"),
    ] {
        let response = create(&a, bad.clone()).await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
}

#[tokio::test]
async fn a_group_link_gives_each_person_their_own_identity_up_to_its_maximum() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Konferenz").await;
    let group = invite(
        &server,
        &doc,
        json!({"role": "editor", "kind": "group", "group": "Bildungskonferenz", "max_people": 2}),
    )
    .await;
    let link = format!("/d/{doc}?token={}", token(&group));
    let (location, first, _) = open_link(&server, &link, None).await;
    assert_eq!(location, format!("/d/{doc}"));
    let (_, second, _) = open_link(&server, &link, None).await;
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_ne!(first, second);

    let me = |session: String| {
        let server = &server;
        let doc = doc.clone();
        async move {
            let response = browser()
                .get(server.url(&format!("/api/me?doc={doc}")))
                .header("cookie", format!("leitbild_session={session}"))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    let (me1, me2) = (me(first.clone()).await, me(second.clone()).await);
    assert_ne!(me1["identity"], me2["identity"]);
    assert_eq!(me1["kind"], "member");
    assert_eq!(me1["needs_name"], true);
    assert_eq!(me1["group"], "Bildungskonferenz");

    // Each names themselves.
    let rename = browser()
        .patch(server.url("/api/me"))
        .header("cookie", format!("leitbild_session={first}"))
        .header("origin", same_origin(&server))
        .json(&json!({"name": "Berta Beispiel", "doc": doc}))
        .send()
        .await
        .unwrap();
    assert_eq!(rename.status(), 200);
    let me1 = me(first.clone()).await;
    assert_eq!(me1["name"], "Berta Beispiel");
    assert_eq!(me1["needs_name"], false);

    // The link is full for a third browser, but the first one opening it again is still in.
    let (location, third, _) = open_link(&server, &link, None).await;
    assert_eq!(location, format!("/d/{doc}?signin=full"));
    assert!(third.is_none());
    let (_, again, _) = open_link(&server, &link, Some(&first)).await;
    assert_eq!(
        again.as_deref(),
        Some(first.as_str()),
        "the same session, no new person"
    );
    assert_eq!(me(first).await["identity"], me1["identity"]);
    let listed: Value = admin_get(server.url(&format!("/api/docs/{doc}/invites")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["people"], 2);
    let names: Vec<&str> = listed[0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Berta Beispiel", "Gast 2"]);
}

#[tokio::test]
async fn failed_tokens_are_limited_per_address_with_429() {
    let server = TestServer::start_with(|c| c.auth_failures_per_minute = 3).await;
    for _ in 0..3 {
        assert_eq!(
            get_as(&server, &"y".repeat(43), "/api/me").await.status(),
            401
        );
    }
    let limited = get_as(&server, &"y".repeat(43), "/api/me").await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let body: Value = limited.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("try again"));
    // While limited, this address gets no token checked at all, good ones included.
    assert_eq!(get_as(&server, ADMIN, "/api/me").await.status(), 429);
    let ws = upgrade_status(&server.ws_url("x"), &[]).await;
    assert_eq!(ws, 429);
}

#[tokio::test]
async fn a_link_becomes_a_session_cookie_and_leaves_the_address() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Einladung").await;
    let anna = invite(&server, &doc, json!({"role": "editor", "name": "Anna"})).await;
    assert_eq!(
        anna["link"],
        format!("http://{}/d/{doc}?token={}", server.addr, token(&anna))
    );
    let (location, session, cookie) = open_link(
        &server,
        &format!("/d/{doc}?x=1&token={}", token(&anna)),
        None,
    )
    .await;
    assert_eq!(
        location,
        format!("/d/{doc}?x=1"),
        "the token leaves the address"
    );
    for part in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: no Secure");
    let session = session.unwrap();
    let me: Value = browser()
        .get(server.url("/api/me"))
        .header("cookie", format!("leitbild_session={session}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["name"], "Anna");
    assert_eq!(me["role"], "editor");
    assert_eq!(me["kind"], "personal");

    // Behind an https proxy the cookie is Secure.
    let response = browser()
        .get(server.url(&format!("/d/{doc}?token={}", token(&anna))))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("; Secure"));

    // A second link in the same browser adds to the session.
    let other = create_doc(&server, "Zweites").await;
    let reader = invite(&server, &other, json!({"role": "reader", "name": "Anna"})).await;
    let (_, same, _) = open_link(
        &server,
        &format!("/d/{other}?token={}", token(&reader)),
        Some(&session),
    )
    .await;
    assert_eq!(same.as_deref(), Some(session.as_str()));
    let me: Value = browser()
        .get(server.url("/api/me"))
        .header("cookie", format!("leitbild_session={session}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me["roles"],
        json!({ doc.clone(): "editor", other.clone(): "reader" })
    );

    // Links that do not work say why, and set no cookie.
    let (location, none, _) =
        open_link(&server, &format!("/d/{doc}?token={}", "z".repeat(43)), None).await;
    assert_eq!(
        (location.as_str(), none),
        (format!("/d/{doc}?signin=invalid").as_str(), None)
    );
    revoke(&server, &doc, &anna).await;
    let (location, _, _) =
        open_link(&server, &format!("/d/{doc}?token={}", token(&anna)), None).await;
    assert_eq!(location, format!("/d/{doc}?signin=revoked"));
    // The session now holds only the reader grant on the other document.
    let me: Value = browser()
        .get(server.url("/api/me"))
        .header("cookie", format!("leitbild_session={session}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!({ other: "reader" }));
}

#[tokio::test]
async fn expired_access_closes_the_socket_when_it_expires() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Frist").await;
    let at = leitbild::timestamp::to_rfc3339(leitbild::store::now_ms() + 1_500);
    let eva = invite(
        &server,
        &doc,
        json!({"role": "editor", "name": "Eva", "expires_at": at}),
    )
    .await;
    let client = Client::connect(&server.ws_url_with(&doc, token(&eva))).await;
    let close = client.closed().await;
    assert_eq!(close, Some((4403, "access expired".into())));
    assert_eq!(get_as(&server, token(&eva), "/api/me").await.status(), 403);
}

#[tokio::test]
async fn only_an_admin_creates_a_document_by_connecting_to_it() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Vorhanden").await;
    let editor = invite(&server, &doc, json!({"role": "editor", "name": "Ed"})).await;
    assert_eq!(
        upgrade_status(&server.ws_url_with("neu-ed", token(&editor)), &[]).await,
        404
    );
    assert_eq!(
        admin_get(server.url("/api/docs/neu-ed"))
            .await
            .unwrap()
            .status(),
        404
    );

    let admin = server.connect("neu-admin").await;
    admin.append("Anfang").await;
    let entry: Value = admin_get(server.url("/api/docs/neu-admin"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(entry["title"], "neu-admin");
    let audit: Value = admin_get(server.url("/api/docs/neu-admin/audit"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit[0]["event"], "doc_created");
    assert_eq!(audit[0]["actor"]["identity"], "admin");
}

#[tokio::test]
async fn admins_rename_delete_and_restore_documents_and_it_is_all_audited() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Alt").await;
    let ed = invite(&server, &doc, json!({"role": "editor", "name": "Ed"})).await;
    let editor = Client::connect(&server.ws_url_with(&doc, token(&ed))).await;
    editor.append("eins").await;
    let rename = |title: &str| {
        admin_http()
            .patch(server.url(&format!("/api/docs/{doc}")))
            .json(&json!({ "title": title }))
            .send()
    };
    assert_eq!(rename("Neu").await.unwrap().status(), 200);
    assert_eq!(rename("").await.unwrap().status(), 400);
    // Edits after the rename keep the new title (the room only counts size and time).
    editor.append(" zwei").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    editor.append(" drei").await;
    let watcher = server.connect(&doc).await;
    watcher.wait_for_text("eins zwei drei").await;
    let entry: Value = admin_get(server.url(&format!("/api/docs/{doc}")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(entry["title"], "Neu");

    let deleted = admin_http()
        .delete(server.url(&format!("/api/docs/{doc}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(editor.closed().await.map(|c| c.0), Some(4404));
    assert_eq!(
        get_as(&server, token(&ed), &format!("/api/docs/{doc}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        upgrade_status(&server.ws_url_with(&doc, token(&ed)), &[]).await,
        404
    );
    assert_eq!(
        upgrade_status(&server.ws_url(&doc), &[]).await,
        409,
        "admins are told to restore"
    );
    let list: Value = admin_get(server.url("/api/docs"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .all(|d| d["id"] != doc.as_str()));
    let trash: Value = admin_get(server.url("/api/trash"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(trash[0]["id"], doc.as_str());
    assert!(trash[0]["purge_at"].is_string());
    assert_eq!(
        get_as(&server, token(&ed), "/api/trash").await.status(),
        403
    );

    let restore = || {
        admin_http()
            .post(server.url(&format!("/api/docs/{doc}/restore")))
            .send()
    };
    assert_eq!(restore().await.unwrap().status(), 200);
    assert_eq!(restore().await.unwrap().status(), 409);
    let back = Client::connect(&server.ws_url_with(&doc, token(&ed))).await;
    back.wait_for_text("eins zwei drei").await;

    let audit: Value = admin_get(server.url(&format!("/api/docs/{doc}/audit")))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "doc_created",
            "invite_created",
            "doc_renamed",
            "doc_deleted",
            "doc_restored"
        ]
    );
    assert_eq!(audit[2]["detail"], json!({"from": "Alt", "to": "Neu"}));
    assert!(audit[0]["at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn log_records_carry_the_identity_that_made_them() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Autoren").await;
    let anna = invite(&server, &doc, json!({"role": "editor", "name": "Anna"})).await;
    let group = invite(
        &server,
        &doc,
        json!({"role": "editor", "kind": "group", "group": "Schulen"}),
    )
    .await;
    let (_, session, _) =
        open_link(&server, &format!("/d/{doc}?token={}", token(&group)), None).await;
    let cookie = format!("leitbild_session={}", session.unwrap());
    let own = same_origin(&server);

    let admin = server.connect(&doc).await;
    admin.append("A").await;
    let by_anna = Client::connect(&server.ws_url_with(&doc, token(&anna))).await;
    by_anna.wait_for_text("A").await;
    by_anna.append("B").await;
    let member = Client::connect_with_headers(
        &server.ws_url_with(&doc, ""),
        &[("cookie", cookie.as_str()), ("origin", own.as_str())],
    )
    .await;
    member.wait_for_text("AB").await;
    member.append("C").await;
    admin.wait_for_text("ABC").await;

    let data = server.data.clone();
    let dir = server.stop().await;
    let store = leitbild::store::Store::open(&data, 1 << 20, Default::default()).unwrap();
    let name = leitbild::name::DocName::parse(&doc).unwrap();
    let authors: BTreeSet<String> = store
        .history(&name)
        .map(|r| r.unwrap().1.author.expect("every record has an author"))
        .collect();
    let expected: BTreeSet<String> = [
        "admin".to_owned(),
        format!("i:{}", anna["id"].as_str().unwrap()),
        format!("i:{}/1", group["id"].as_str().unwrap()),
    ]
    .into();
    assert_eq!(authors, expected);
    drop(dir);
}

#[tokio::test]
async fn a_revoked_member_of_a_group_link_is_out_and_stays_out_in_that_browser() {
    let server = TestServer::start().await;
    let doc = create_doc(&server, "Mitglieder").await;
    let group = invite(
        &server,
        &doc,
        json!({"role": "editor", "kind": "group", "group": "Schulen"}),
    )
    .await;
    let link = format!("/d/{doc}?token={}", token(&group));
    let (_, session, _) = open_link(&server, &link, None).await;
    let session = session.unwrap();
    let cookie = format!("leitbild_session={session}");
    let own = same_origin(&server);
    let member = Client::connect_with_headers(
        &server.ws_url_with(&doc, ""),
        &[("cookie", cookie.as_str()), ("origin", own.as_str())],
    )
    .await;
    let (_, other, _) = open_link(&server, &link, None).await;

    let id = group["id"].as_str().unwrap();
    let revoked = admin_http()
        .delete(server.url(&format!("/api/docs/{doc}/invites/{id}/people/1")))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let listed: Value = revoked.json().await.unwrap();
    assert!(listed["members"][0]["revoked_at"].is_string());
    assert_eq!(member.closed().await.map(|c| c.0), Some(4403));
    let me = |session: &str| {
        browser()
            .get(server.url("/api/me"))
            .header("cookie", format!("leitbild_session={session}"))
            .send()
    };
    assert_eq!(me(&session).await.unwrap().status(), 403);
    assert_eq!(
        me(&other.unwrap()).await.unwrap().status(),
        200,
        "the other member stays"
    );
    // Reopening the link in the same browser does not make a new person of them.
    let (location, _, _) = open_link(&server, &link, Some(&session)).await;
    assert_eq!(location, format!("/d/{doc}?signin=revoked"));
    assert_eq!(me(&session).await.unwrap().status(), 403);
}

#[tokio::test]
async fn a_stale_session_cookie_is_cleared_and_locks_nobody_out() {
    let server = TestServer::start_with(|c| c.auth_failures_per_minute = 3).await;
    let stale = format!("leitbild_session={}", "s".repeat(43));
    for _ in 0..10 {
        let response = browser()
            .get(server.url("/api/docs"))
            .header("cookie", &stale)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let cleared = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            cleared.starts_with("leitbild_session=;") && cleared.contains("Max-Age=0"),
            "{cleared}"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "session_ended");
    }
    let own = same_origin(&server);
    let ws = server.ws_url_with("bildungsleitbild", "");
    assert_eq!(
        upgrade_status(&ws, &[("cookie", stale.as_str()), ("origin", own.as_str())]).await,
        401
    );
    assert_eq!(
        get_as(&server, ADMIN, "/api/me").await.status(),
        200,
        "nobody is locked out"
    );
    // Errors carry a stable code besides their text.
    let body: Value = get_as(&server, &"q".repeat(43), "/api/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], "invalid_credential");
    let body: Value = reqwest::get(server.url("/api/docs"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], "sign_in_required");
    let ed = invite(
        &server,
        "bildungsleitbild",
        json!({"role": "editor", "name": "Ed"}),
    )
    .await;
    let body: Value = get_as(&server, token(&ed), "/api/docs/bildungsleitbild/invites")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], "role");
}

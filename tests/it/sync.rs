//! Co-editing through the server: convergence, late joiners, awareness.

use crate::support::{eventually, Client, TestServer};

#[tokio::test]
async fn two_clients_converge_under_concurrent_edits() {
    let server = TestServer::start().await;
    let a = server.connect("pair").await;
    let b = server.connect("pair").await;
    for i in 0..20 {
        a.append(&format!("a{i} ")).await;
        b.insert(0, &format!("b{i} ")).await;
    }
    eventually("both have all 40 edits", || {
        a.text() == b.text() && a.text().matches(' ').count() == 40
    })
    .await;
    for i in 0..20 {
        assert!(a.text().contains(&format!("a{i} ")) && a.text().contains(&format!("b{i} ")));
    }
}

#[tokio::test]
async fn ten_clients_converge_and_a_late_joiner_gets_everything() {
    let server = TestServer::start().await;
    let mut clients = Vec::new();
    for _ in 0..10 {
        clients.push(server.connect("ten").await);
    }
    for round in 0..5 {
        for (i, c) in clients.iter().enumerate() {
            c.insert(0, &format!("<{i}.{round}>")).await;
        }
    }
    let first = &clients[0];
    eventually("ten clients converge", || {
        let t = first.text();
        t.matches('<').count() == 50 && clients.iter().all(|c| c.text() == t)
    })
    .await;
    let late = server.connect("ten").await;
    assert_eq!(
        late.text(),
        first.text(),
        "a late joiner gets the full state in sync step 2"
    );
}

#[tokio::test]
async fn awareness_appears_and_is_removed_on_disconnect() {
    let server = TestServer::start().await;
    let mut a = server.connect("aw").await;
    let b = server.connect("aw").await;
    a.set_awareness(r#"{"user":{"name":"Anna","color":"red"}}"#)
        .await;
    let a_id = a.client_id();
    b.wait_for(|b| b.present() == vec![a_id]).await;

    // A newcomer gets the states of those already present.
    let c = server.connect("aw").await;
    c.wait_for(|c| c.present() == vec![a_id]).await;

    a.close().await;
    b.wait_for(|b| b.present().is_empty()).await;
    c.wait_for(|c| c.present().is_empty()).await;
}

#[tokio::test]
async fn a_peer_cannot_set_another_clients_awareness() {
    let server = TestServer::start().await;
    let mut a = server.connect("own").await;
    let b = server.connect("own").await;
    a.set_awareness(r#"{"user":{"name":"Anna"}}"#).await;
    let a_id = a.client_id();
    b.wait_for(|b| b.present() == vec![a_id]).await;

    // `a` now claims to speak for `b`'s client: the entry is dropped, not applied.
    let forged = yrs::sync::AwarenessUpdate {
        clients: [(
            yrs::ClientID::new(b.client_id()),
            yrs::sync::awareness::AwarenessUpdateEntry {
                clock: 7,
                json: r#"{"user":{"color":"Mallory"}}"#.into(),
            },
        )]
        .into(),
    };
    a.send(yrs::sync::Message::Awareness(forged)).await;
    a.set_awareness(r#"{"user":{"color":"Anna 2"}}"#).await;
    let watcher = server.connect("own").await;
    watcher.wait_for(|w| w.present().contains(&a_id)).await;
    assert_eq!(watcher.present(), vec![a_id], "only a's own state exists");
}

#[tokio::test]
async fn a_live_peers_presence_cannot_be_taken_over() {
    let server = TestServer::start().await;
    let watcher = server.connect("again").await;
    let mut anna = server.connect("again").await;
    anna.set_awareness(r#"{"user":{"name":"Anna"}}"#).await;
    let id = anna.client_id();
    watcher.wait_for(|w| w.present() == vec![id]).await;

    // Another connection claims Anna's client id with newer clocks.
    let same = yrs::Doc::with_options(yrs::Options {
        client_id: yrs::ClientID::new(id),
        ..Default::default()
    });
    let mut mallory = Client::connect_with(&server.ws_url("again"), same).await;
    for _ in 0..3 {
        mallory
            .set_awareness(r#"{"user":{"color":"Mallory"}}"#)
            .await;
    }
    // Anna's own next state still goes through; Mallory's never did.
    anna.set_awareness(r#"{"user":{"color":"Anna 2"}}"#).await;
    watcher
        .wait_for(|w| w.state_of(id).is_some_and(|s| s.contains("Anna 2")))
        .await;
    let probe = server.connect("again").await;
    probe
        .wait_for(|p| p.state_of(id).is_some_and(|s| s.contains("Anna 2")))
        .await;

    // Once Anna's connection is gone, the id is free: a reconnecting tab binds with its
    // next renewal.
    anna.close().await;
    watcher.wait_for(|w| w.present().is_empty()).await;
    for _ in 0..3 {
        mallory
            .set_awareness(r#"{"user":{"color":"Anna (neu)"}}"#)
            .await;
    }
    watcher
        .wait_for(|w| w.state_of(id).is_some_and(|s| s.contains("neu")))
        .await;
}

#[tokio::test]
async fn unknown_query_parameters_are_ignored() {
    let server = TestServer::start().await;
    let a = Client::connect(&format!("{}&x=1&y", server.ws_url("query"))).await;
    a.append("hallo").await;
    let b = server.connect("query").await;
    b.wait_for(|b| b.text() == "hallo").await;
}

#[tokio::test]
async fn twenty_people_present_stay_connected_though_clients_echo_awareness() {
    let server = TestServer::start().await;
    let mut people = Vec::new();
    for i in 0..20 {
        let mut c = server.connect("crowd").await;
        c.set_awareness(&format!(r#"{{"user":{{"name":"P{i}"}}}}"#))
            .await;
        people.push(c);
    }
    let ids: Vec<u64> = people.iter().map(|c| c.client_id()).collect();
    let late = server.connect("crowd").await;
    late.wait_for(|l| l.present().len() == 20).await;
    for (i, c) in people.iter().enumerate() {
        let others: Vec<u64> = ids.iter().copied().filter(|id| *id != ids[i]).collect();
        c.wait_for(|c| others.iter().all(|id| c.present().contains(id)))
            .await;
        assert!(!c.is_disconnected(), "person {i} was disconnected");
    }
}

//! Durability: content survives restarts, and a killed server loses nothing anyone saw.

use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::{GetString, ReadTxn, Text, Transact, Update};

use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::support::{Client, TestServer};

#[tokio::test]
async fn content_survives_a_restart() {
    let server = TestServer::start_with(|c| c.checkpoint_every = 7).await;
    {
        let a = server.connect("keep").await;
        for i in 0..30 {
            a.append(&format!("{i},")).await;
        }
        let b = server.connect("keep").await;
        b.wait_for(|b| b.text().ends_with("29,")).await;
    }
    let expected: String = (0..30).map(|i| format!("{i},")).collect();
    let server = server.restart().await;
    let c = server.connect("keep").await;
    assert_eq!(c.text(), expected);
}

#[tokio::test]
async fn offline_edits_arrive_in_sync_step_2_and_are_persisted() {
    let server = TestServer::start().await;
    let online = server.connect("offline").await;
    online.append("online. ").await;

    // Edits made before connecting, as after a reload while offline.
    let doc = Client::new_doc();
    {
        let text = doc.get_or_insert_text("text");
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, "offline. ");
    }
    let returning = Client::connect_with(&server.ws_url("offline"), doc).await;
    returning
        .wait_for(|c| c.text().contains("online. ") && c.text().contains("offline. "))
        .await;
    online.wait_for(|c| c.text() == returning.text()).await;
    let merged = online.text();

    let server = server.restart().await;
    assert_eq!(server.connect("offline").await.text(), merged);
}

#[tokio::test]
async fn an_update_out_of_order_is_refused_and_its_sender_resends_it_in_order() {
    let server = TestServer::start().await;
    let sender = server.connect("order").await;
    let watcher = server.connect("order").await;

    // Two edits of one client, the second sent first: it skips ahead of the document, so
    // it is refused (yrs would integrate it behind a gap) and the sender is closed.
    let doc = Client::new_doc();
    let text = doc.get_or_insert_text("text");
    let mut updates = Vec::new();
    for chunk in ["offline ", "typed"] {
        let mut txn = doc.transact_mut();
        let before = txn.state_vector();
        let len = text.len(&txn);
        text.insert(&mut txn, len, chunk);
        updates.push(txn.encode_diff_v1(&before));
    }
    sender
        .send(Message::Sync(SyncMessage::Update(updates[1].clone())))
        .await;
    assert_eq!(sender.closed().await.map(|c| c.0), Some(1007));
    // Reconnecting, the client answers the server's state with everything it lacks, in
    // order, as y-websocket does.
    let back = Client::connect_with(&server.ws_url("order"), doc).await;
    back.wait_for(|c| c.is_synced()).await;
    watcher.wait_for(|w| w.text() == "offline typed").await;

    let server = server.restart().await;
    assert_eq!(server.connect("order").await.text(), "offline typed");
}

/// Someone sends an item whose parent is a character the victim has not typed yet. yrs
/// keeps it pending (unlogged); a checkpoint follows; when the victim's character arrives,
/// the pending item cannot be integrated. The victim's typing must still arrive, now and
/// after a restart: the pending item never reached the snapshot, and the victim's update
/// is not refused for someone else's pending garbage.
#[tokio::test]
async fn a_pending_item_under_a_future_parent_never_locks_its_victim_out() {
    let server = TestServer::start_with(|c| c.checkpoint_every = 1).await;
    let victim = server.connect("victim").await;
    victim.append("abcde").await;
    let watcher = server.connect("victim").await;
    watcher.wait_for_text("abcde").await;

    let attacker = server.connect("victim").await;
    let hostile = leitbild::guard::attacks::parent_id_update(4242, 0, victim.client_id(), 8, "x");
    attacker
        .send_raw(WsMessage::Binary(
            leitbild::guard::attacks::sync_update(&hostile).into(),
        ))
        .await;
    // Another person's edit makes the room checkpoint (every record, here).
    let other = server.connect("victim").await;
    other.insert(0, "1").await;
    watcher.wait_for_text("1abcde").await;

    victim.append("fghij").await;
    watcher.wait_for_text("1abcdefghij").await;
    assert!(!victim.is_disconnected(), "the victim was not refused");

    let server = server.restart().await;
    let victim = server.connect("victim").await;
    victim.wait_for_text("1abcdefghij").await;
    victim.append("k").await;
    let watcher = server.connect("victim").await;
    watcher.wait_for_text("1abcdefghijk").await;
}

/// Compaction coarsens the history but never drops from it. Many small edits by one
/// author within a second become a few records at each checkpoint; replaying every record
/// of the log (not only the tail after the snapshot, which is all a load reads) must still
/// give exactly the text the clients saw.
#[tokio::test]
async fn compacted_history_replays_to_what_everyone_saw() {
    const EDITS: usize = 40;
    let server = TestServer::start_with(|c| c.checkpoint_every = 8).await;
    let writer = server.connect("history").await;
    let watcher = server.connect("history").await;
    for i in 0..EDITS {
        writer.append(&format!("{i},")).await;
        // One edit per batch, so one log record per edit before compaction.
        let seen = writer.text();
        watcher.wait_for_text(&seen).await;
    }
    let saw = watcher.text();
    assert_eq!(saw, (0..EDITS).map(|i| format!("{i},")).collect::<String>());
    let data = server.data.clone();
    // Stopping checkpoints (and so compacts) what the periodic checkpoints left.
    let _dir = server.stop().await;

    let store = leitbild::store::Store::open(&data, 1 << 20, Default::default()).expect("store");
    let name = leitbild::name::DocName::parse("history").unwrap();
    let records: Vec<_> = store
        .history(&name)
        .map(|r| r.expect("log record").1)
        .collect();
    assert!(
        records.len() < EDITS,
        "compaction merged nothing: {} records for {EDITS} edits",
        records.len()
    );
    let replayed = yrs::Doc::new();
    let text = replayed.get_or_insert_text("text");
    for record in &records {
        assert_eq!(record.author.as_deref(), Some("admin"), "one author");
        let update = Update::decode_v1(&record.update).expect("a v1 update");
        replayed
            .transact_mut()
            .apply_update(update)
            .expect("applies");
    }
    let txn = replayed.transact();
    assert_eq!(text.get_string(&txn), saw, "the whole history replays");
    assert!(
        txn.store().pending_update().is_none(),
        "no record waits for one that is missing"
    );
}

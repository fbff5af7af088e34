//! Bounds: connection and document caps, slow peers, silent peers, idle unloading, metrics.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::sync::{Message, SyncMessage};
use yrs::{ReadTxn, Text, Transact};

use crate::support::{metric, Client, TestServer, WAIT};

#[tokio::test]
async fn connections_over_the_cap_get_503() {
    let server = TestServer::start_with(|c| c.max_connections = 2).await;
    let _a = server.connect("cap").await;
    let _b = server.connect("cap").await;
    assert_eq!(upgrade_status_of(&server, "cap").await, 503);
    assert_eq!(
        metric(
            &server,
            "leitbild_rejected_total{reason=\"too_many_connections\"}"
        )
        .await,
        1.0
    );
}

#[tokio::test]
async fn documents_over_the_cap_get_503_and_free_up_when_idle() {
    let server = TestServer::start_with(|c| {
        c.max_open_docs = 1;
        c.idle_unload_secs = 1;
    })
    .await;
    let a = server.connect("one").await;
    a.append("kept").await;
    assert_eq!(upgrade_status_of(&server, "two").await, 503);
    a.close().await;

    // Without peers the document is persisted and unloaded, which frees the slot.
    let deadline = tokio::time::Instant::now() + WAIT;
    while metric(&server, "leitbild_open_documents").await > 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "idle document was not unloaded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _two = server.connect("two").await;
    drop(_two);
    let server = server.restart().await;
    assert_eq!(server.connect("one").await.text(), "kept");
}

/// A raw peer with a tiny receive buffer that joins `doc` and then reads nothing, until
/// the test says so.
async fn deaf_peer(
    server: &TestServer,
    doc: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let (peer, _) = tokio_tungstenite::client_async(server.ws_url(doc), tcp)
        .await
        .unwrap();
    peer
}

/// Reads until the close frame and returns its code (`None` if the stream just ends).
async fn close_code<S>(stream: &mut S) -> Option<u16>
where
    S: futures_util::Stream<Item = Result<WsMessage, tokio_tungstenite::tungstenite::Error>>
        + Unpin,
{
    while let Some(Ok(frame)) = stream.next().await {
        if let WsMessage::Close(frame) = frame {
            return frame.map(|f| u16::from(f.code));
        }
    }
    None
}

const SLOW: &str = "leitbild_rejected_total{reason=\"slow_peer\"}";

#[tokio::test]
async fn a_peer_that_cannot_keep_up_is_closed_with_1013() {
    let server = TestServer::start_with(|c| c.peer_queue = 4).await;
    // A raw peer with a small receive buffer that joins and then does not read at all.
    let slow = deaf_peer(&server, "slow").await;
    let writer = server.connect("slow").await;
    let watcher = server.connect("slow").await;
    let chunk = "x".repeat(64 * 1024);
    let mut sent = 0;
    // Socket buffers differ between machines: write until the server gives up on the
    // slow peer, within a bound.
    while sent < 1000 && (sent % 25 != 0 || metric(&server, SLOW).await == 0.0) {
        // One update per batch, so each is its own message to the slow peer.
        writer.append(&chunk).await;
        sent += 1;
        watcher
            .wait_for(|w| w.text().len() == sent * chunk.len())
            .await;
    }

    // Now read: after what fitted in the socket buffers comes a close frame, 1013.
    let (_, mut stream) = slow.split();
    let close = tokio::time::timeout(WAIT, close_code(&mut stream))
        .await
        .expect("the slow peer is closed");
    assert_eq!(close, Some(1013));
    assert_eq!(metric(&server, SLOW).await, 1.0);
    // The writer and the other peers were not held back.
    assert_eq!(writer.text().len(), sent * chunk.len());
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_closed() {
    let server = TestServer::start_with(|c| c.ping_secs = 1).await;
    let (silent, _) = tokio_tungstenite::connect_async(server.ws_url("ping"))
        .await
        .unwrap();
    let alive = server.connect("ping").await;
    // `silent` never reads, so it never answers a ping; `alive` does.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (mut sink, mut stream) = silent.split();
    let ended = tokio::time::timeout(WAIT, async {
        loop {
            match stream.next().await {
                Some(Ok(WsMessage::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("connection ends");
    assert_eq!(ended, Some(1001));
    assert!(
        sink.send(WsMessage::Binary(vec![0, 0, 0].into()))
            .await
            .is_err()
            || stream.next().await.is_none()
    );
    assert!(
        !alive.is_disconnected(),
        "a peer that answers pings stays connected"
    );
    alive.append("still here").await;
    Client::connect(&server.ws_url("ping"))
        .await
        .wait_for(|c| c.text() == "still here")
        .await;
}

/// The figures an action must move, read before it: seeding the demo document and creating
/// this one already persist bytes and flush, so only growth says anything.
struct Figures {
    received: f64,
    broadcast: f64,
    persisted: f64,
    flushes: f64,
}

impl Figures {
    async fn read(server: &TestServer) -> Figures {
        Figures {
            received: metric(server, "leitbild_updates_received_total").await,
            broadcast: metric(server, "leitbild_updates_broadcast_total").await,
            persisted: metric(server, "leitbild_bytes_persisted_total").await,
            flushes: metric(server, "leitbild_flush_seconds_count").await,
        }
    }
}

#[tokio::test]
async fn metrics_count_what_happens() {
    let server = TestServer::start().await;
    let open_before = metric(&server, "leitbild_open_documents").await;
    assert_eq!(metric(&server, "leitbild_connections").await, 0.0);
    let a = server.connect("m").await;
    let b = server.connect("m").await;
    assert_eq!(metric(&server, "leitbild_connections").await, 2.0);
    assert_eq!(
        metric(&server, "leitbild_open_documents").await,
        open_before + 1.0,
        "the new document is open"
    );

    let before = Figures::read(&server).await;
    // Five updates, each in a batch of its own (the next is sent once `b` has the last):
    // five log records, five flushes, five messages to `b`.
    let text = a.doc.get_or_insert_text("text");
    let mut update_bytes = 0;
    for i in 0..5 {
        let update = {
            let mut txn = a.doc.transact_mut();
            let before = txn.state_vector();
            let len = text.len(&txn);
            text.insert(&mut txn, len, &i.to_string());
            txn.encode_diff_v1(&before)
        };
        update_bytes += update.len();
        a.send(Message::Sync(SyncMessage::Update(update))).await;
        let expected: String = (0..=i).map(|i| i.to_string()).collect();
        b.wait_for_text(&expected).await;
    }
    let after = Figures::read(&server).await;

    assert_eq!(after.received - before.received, 5.0, "updates received");
    assert_eq!(
        after.broadcast - before.broadcast,
        5.0,
        "one update message per update, to b only"
    );
    assert!(
        after.persisted - before.persisted >= update_bytes as f64,
        "the log holds each update: {} bytes persisted for {update_bytes} bytes of updates",
        after.persisted - before.persisted
    );
    assert!(
        after.flushes - before.flushes >= 5.0,
        "one flush per batch: {} flushes",
        after.flushes - before.flushes
    );

    // A reader who only watches changes nothing.
    let idle = Figures::read(&server).await;
    let _c = server.connect("m").await;
    let later = Figures::read(&server).await;
    assert_eq!(later.received, idle.received);
    assert_eq!(later.broadcast, idle.broadcast);
    assert_eq!(metric(&server, "leitbild_connections").await, 3.0);
    a.close().await;
    let deadline = tokio::time::Instant::now() + WAIT;
    while metric(&server, "leitbild_connections").await != 2.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "a closed connection is no longer counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_peer_that_stops_reading_is_dropped_even_while_data_waits_for_it() {
    let server = TestServer::start_with(|c| c.ping_secs = 1).await;
    // Joins, then neither reads nor answers pings; its socket buffers fill up.
    let _stuck = deaf_peer(&server, "stuck").await;
    let writer = server.connect("stuck").await;
    // A few large updates: far fewer messages than the peer queue holds, so only the
    // writer's own deadline can notice.
    let chunk = "x".repeat(1024 * 1024);
    for _ in 0..8 {
        writer.append(&chunk).await;
    }
    assert_eq!(metric(&server, "leitbild_connections").await, 2.0);
    let deadline = tokio::time::Instant::now() + WAIT;
    while metric(&server, "leitbild_connections").await > 1.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stuck peer still holds its connection"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!writer.is_disconnected());
}

#[tokio::test]
async fn a_sync_request_flood_from_a_peer_that_does_not_read_ends_in_1013() {
    let server = TestServer::start_with(|c| c.peer_queue_bytes = 1024 * 1024).await;
    let writer = server.connect("flood").await;
    writer.append(&"Leitbild ".repeat(20_000)).await;
    let watcher = server.connect("flood").await;
    watcher.wait_for(|w| w.text().len() == 180_000).await;

    // Each sync step 1 asks for the whole document (180 kB); the peer never reads.
    let attacker = deaf_peer(&server, "flood").await;
    let (mut sink, mut stream) = attacker.split();
    let step1 = yrs::sync::Message::Sync(yrs::sync::SyncMessage::SyncStep1(Default::default()));
    let frame = yrs::updates::encoder::Encode::encode_v1(&step1);
    // In waves, so that the room sees them in separate batches (within one batch it
    // answers a peer once).
    for _ in 0..30 {
        for _ in 0..10 {
            if sink
                .send(WsMessage::Binary(frame.clone().into()))
                .await
                .is_err()
            {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = tokio::time::Instant::now() + WAIT;
    while metric(&server, SLOW).await == 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the flooding peer was not cut off"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let close = tokio::time::timeout(WAIT, close_code(&mut stream))
        .await
        .expect("the connection ends");
    assert_eq!(close, Some(1013));
    // Everyone else carries on.
    writer.append("!").await;
    watcher.wait_for(|w| w.text().ends_with('!')).await;
}

async fn upgrade_status_of(server: &TestServer, doc: &str) -> u16 {
    crate::support::upgrade_status(&server.ws_url(doc), &[]).await
}

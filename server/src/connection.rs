//! One websocket peer: reads frames, checks them with the guard and forwards them to the
//! room; writes what the room queues for it; pings, and closes with a clear code.
//!
//! Two halves: the reader runs here, the writer is a task that owns the sink. Nothing in
//! this module blocks the room: the room only ever `try_send`s to the writer.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;

use crate::guard::{self, Limits, Rejection};
use crate::metrics::Metrics;
use crate::name::DocName;
use crate::room::{Close, Command, Participant, PeerLink, RoomError};
use crate::rooms::Rooms;
use crate::rooms::RoomsError;
use crate::store::StoreError;

/// What a connection needs from the server.
#[derive(Clone)]
pub struct ConnectionSettings {
    pub limits: Limits,
    pub queue: usize,
    pub ping: Duration,
}

/// Serves one peer until it leaves, misbehaves, loses its access (revoked by the room,
/// or `expires_at`, in ms since the epoch, passes) or the server shuts down.
pub async fn serve_peer(
    socket: WebSocket,
    doc: DocName,
    who: Arc<Participant>,
    expires_at: Option<u64>,
    rooms: Rooms,
    metrics: Arc<Metrics>,
    settings: ConnectionSettings,
) {
    let peer = rooms.next_peer_id();
    let span = tracing::info_span!("peer", doc = %doc, peer, who = %who.identity);
    let access_ends = expires_at.map(|at| {
        let left = at.saturating_sub(crate::store::now_ms());
        tokio::time::Instant::now() + Duration::from_millis(left)
    });
    let run = run(
        socket,
        doc,
        peer,
        who,
        access_ends,
        rooms,
        metrics,
        settings,
    );
    tracing::Instrument::instrument(run, span).await
}

#[allow(clippy::too_many_arguments)]
async fn run(
    socket: WebSocket,
    doc: DocName,
    peer: u64,
    who: Arc<Participant>,
    access_ends: Option<tokio::time::Instant>,
    rooms: Rooms,
    metrics: Arc<Metrics>,
    settings: ConnectionSettings,
) {
    let (sink, mut stream) = socket.split();
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(settings.queue);
    let (close_tx, close_rx) = mpsc::channel::<Close>(1);
    let started = Instant::now();
    let last_seen = Arc::new(AtomicU64::new(0));
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let writer = Writer {
        sink,
        out: out_rx,
        close: close_rx,
        ping: settings.ping,
        started,
        last_seen: last_seen.clone(),
        queued_bytes: queued_bytes.clone(),
    };

    let link = || PeerLink {
        id: peer,
        who: who.clone(),
        out: out_tx.clone(),
        close: close_tx.clone(),
        queued_bytes: queued_bytes.clone(),
    };
    let room = match rooms.join(&doc, link).await {
        Ok(room) => room,
        Err(e) => {
            tracing::warn!(error = %e, "cannot join document");
            let reason = match e {
                RoomsError::Room(RoomError::Store(StoreError::Corrupt(_)) | RoomError::Load(_)) => {
                    "stored document is damaged"
                }
                RoomsError::Room(RoomError::Store(StoreError::Failing(_))) => "storage is failing",
                _ => "document unavailable",
            };
            let _ = close_tx.try_send(Close { code: 1011, reason });
            drop(out_tx);
            writer.run().await;
            return;
        }
    };
    drop(out_tx);
    tracing::debug!("joined");
    let mut writer_done = false;
    let mut writer = tokio::spawn(writer.run());
    let expiry = async {
        match access_ends {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(expiry);

    loop {
        let frame = tokio::select! {
            frame = stream.next() => frame,
            _ = &mut writer => {
                writer_done = true;
                break;
            }
            () = &mut expiry => {
                tracing::info!("access expired; closing");
                let _ = close_tx.try_send(Close::EXPIRED);
                break;
            }
        };
        last_seen.store(started.elapsed().as_millis() as u64, Relaxed);
        let refuse = |close: Close, reason: &str| {
            metrics.reject(reason);
            let _ = close_tx.try_send(close);
        };
        match frame {
            Some(Ok(WsMessage::Binary(bytes))) => {
                match guard::parse_message(&bytes, &settings.limits) {
                    Ok(message) => {
                        if room.send(Command::Message { peer, message }).await.is_err() {
                            break;
                        }
                    }
                    Err(rejection) => {
                        tracing::warn!(%rejection, len = bytes.len(), "message refused");
                        refuse(Close::rejected(&rejection), rejection.reason());
                        break;
                    }
                }
            }
            Some(Ok(WsMessage::Text(_))) => {
                tracing::warn!("text frame refused");
                refuse(
                    Close {
                        code: 1003,
                        reason: "binary frames only",
                    },
                    "text_frame",
                );
                break;
            }
            Some(Ok(WsMessage::Close(_))) | None => break,
            Some(Ok(_)) => {} // ping and pong: last_seen is updated above
            Some(Err(e)) => {
                // tungstenite refuses frames over its limit before we see them.
                let too_big =
                    e.to_string().contains("too long") || e.to_string().contains("Space limit");
                if too_big {
                    refuse(Close::rejected(&Rejection::TooBig), "too_big");
                }
                tracing::debug!(error = %e, "read failed");
                break;
            }
        }
    }
    let _ = room.send(Command::Leave { peer }).await;
    drop(close_tx);
    // Let the writer deliver a pending close frame, but never wait on a dead peer: a
    // writer still stuck after the grace period is stopped, which drops the socket.
    if !writer_done
        && tokio::time::timeout(CLOSE_GRACE, &mut writer)
            .await
            .is_err()
    {
        writer.abort();
    }
    tracing::debug!("left");
}

/// Closes a connection at once, before it joins any room.
pub async fn refuse(mut socket: WebSocket, close: Close) {
    let frame = CloseFrame {
        code: close.code,
        reason: close.reason.into(),
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, socket.send(WsMessage::Close(Some(frame)))).await;
}

/// How long the close handshake may take before the socket is simply dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// The writer half: room messages, pings, and the one close frame.
///
/// Every send has a deadline (two ping intervals): a peer that stops reading fills its
/// socket buffers, and without one the writer would wait on it forever, deaf to pings
/// and to the room's close.
struct Writer {
    sink: SplitSink<WebSocket, WsMessage>,
    out: mpsc::Receiver<Bytes>,
    close: mpsc::Receiver<Close>,
    ping: Duration,
    started: Instant,
    last_seen: Arc<AtomicU64>,
    /// Shared with the room, which adds what it queues; we subtract what we take.
    queued_bytes: Arc<AtomicUsize>,
}

impl Writer {
    async fn run(mut self) {
        let deadline = self.ping * 2;
        let mut ticker = tokio::time::interval(self.ping);
        ticker.tick().await;
        let farewell = |Close { code, reason }: Close| {
            WsMessage::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }))
        };
        loop {
            let message = tokio::select! {
                biased;
                reason = self.close.recv() => {
                    if let Some(reason) = reason {
                        let _ = send(&mut self.sink, farewell(reason), CLOSE_GRACE).await;
                    }
                    break;
                }
                message = self.out.recv() => match message {
                    Some(bytes) => {
                        self.queued_bytes.fetch_sub(bytes.len(), Relaxed);
                        WsMessage::Binary(bytes)
                    }
                    None => {
                        // The room let go of this peer; it queues the reason before it does.
                        let reason = self.close.try_recv().unwrap_or(Close::SHUTDOWN);
                        let _ = send(&mut self.sink, farewell(reason), CLOSE_GRACE).await;
                        break;
                    }
                },
                _ = ticker.tick() => {
                    let heard = Duration::from_millis(self.last_seen.load(Relaxed));
                    if self.started.elapsed().saturating_sub(heard) > deadline {
                        tracing::info!("peer stopped answering pings; closing");
                        let reason = Close { code: 1001, reason: "no answer to ping" };
                        let _ = send(&mut self.sink, farewell(reason), Duration::from_secs(1)).await;
                        break;
                    }
                    WsMessage::Ping(Bytes::new())
                }
            };
            if !send(&mut self.sink, message, deadline).await {
                tracing::info!("peer does not take what is sent; closing");
                break;
            }
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), self.sink.close()).await;
    }
}

/// Sends one frame; `false` if the socket failed or did not take it within `deadline`.
async fn send(
    sink: &mut SplitSink<WebSocket, WsMessage>,
    message: WsMessage,
    deadline: Duration,
) -> bool {
    matches!(
        tokio::time::timeout(deadline, sink.send(message)).await,
        Ok(Ok(()))
    )
}

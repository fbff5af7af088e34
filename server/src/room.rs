//! One document's actor: it owns the yrs `Doc`, the `Awareness`, the peers and the log
//! writer. A [`RoomHandle`] (a bounded `mpsc::Sender`) is the only way in.
//!
//! The invariant this module upholds: an update is appended to the log and flushed to
//! disk before any other peer (or an HTTP reader) can see it. Commands are processed in
//! batches; everything a batch would send waits in an outbox until the batch's one
//! flush has returned.

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use yrs::sync::{Awareness, AwarenessUpdate, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, ReadTxn, StateVector, Transact, Update};

use crate::guard::{self, Inbound, Limits, Rejection};
use crate::metrics::Metrics;
use crate::name::DocName;
use crate::render::{self, Format};
use crate::store::{now_ms, DocMeta, Record, Runs, Store, StoreError};

/// Identifies one websocket connection within the server.
pub type PeerId = u64;

/// Most commands handled in one batch (and so covered by one flush).
const BATCH: usize = 512;

/// Why the server closes a connection: a websocket close code and a short reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: &'static str,
}

impl Close {
    pub const SLOW: Close = Close {
        code: 1013,
        reason: "too slow: reconnect to resync",
    };
    pub const STORAGE: Close = Close {
        code: 1011,
        reason: "storage failure",
    };
    /// The client's copy belongs to an earlier document of the same name.
    pub const RECREATED: Close = Close {
        code: 4409,
        reason: "document was created anew: reload",
    };
    pub const SHUTDOWN: Close = Close {
        code: 1001,
        reason: "server shutting down",
    };

    pub fn rejected(rejection: &Rejection) -> Close {
        let reason = match rejection {
            Rejection::TooBig => "message too big",
            Rejection::Malformed(_) => "undecodable message",
            Rejection::Unsafe(_) => "update refused",
        };
        Close {
            code: rejection.close_code(),
            reason,
        }
    }
}

/// What a connection hands the room when it joins.
pub struct PeerLink {
    pub id: PeerId,
    /// Encoded y-protocols messages for the peer; bounded, never awaited by the room.
    pub out: mpsc::Sender<Bytes>,
    /// Bytes in `out` not yet written to the socket; the writer subtracts what it sent.
    pub queued_bytes: Arc<AtomicUsize>,
    /// Tells the connection to close; capacity 1, only the first close matters.
    pub close: mpsc::Sender<Close>,
}

pub enum Command {
    Join {
        link: PeerLink,
        joined: oneshot::Sender<()>,
    },
    Message {
        peer: PeerId,
        message: Inbound,
    },
    Leave {
        peer: PeerId,
    },
    Render {
        format: Format,
        reply: oneshot::Sender<String>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("the document's room has stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored document cannot be loaded: {0}")]
    Load(String),
}

/// The way into a room.
#[derive(Clone)]
pub struct RoomHandle {
    tx: mpsc::Sender<Command>,
}

impl RoomHandle {
    pub async fn send(&self, command: Command) -> Result<(), RoomError> {
        self.tx.send(command).await.map_err(|_| RoomError::Stopped)
    }

    pub async fn join(&self, link: PeerLink) -> Result<(), RoomError> {
        let (joined, done) = oneshot::channel();
        self.send(Command::Join { link, joined }).await?;
        done.await.map_err(|_| RoomError::Stopped)
    }

    pub async fn render(&self, format: Format) -> Result<String, RoomError> {
        let (reply, text) = oneshot::channel();
        self.send(Command::Render { format, reply }).await?;
        text.await.map_err(|_| RoomError::Stopped)
    }

    pub async fn shutdown(&self) {
        let (done, stopped) = oneshot::channel();
        if self.send(Command::Shutdown { done }).await.is_ok() {
            let _ = stopped.await;
        }
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// Settings a room needs from the server's `Config`.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    pub limits: Limits,
    pub mailbox: usize,
    /// Most bytes waiting for one peer (beyond a single message) before it is closed.
    pub peer_queue_bytes: usize,
    pub idle_unload: Duration,
    pub checkpoint_every: u64,
}

struct Peer {
    link: PeerLink,
    /// The awareness client id this peer speaks for, bound by its first awareness state.
    client: Option<ClientID>,
}

enum Target {
    One(PeerId),
    AllBut(PeerId),
    All,
}

/// What one batch of commands has produced so far.
#[derive(Default)]
struct Batch {
    /// Deltas of accepted updates, by peer, in arrival order: to persist, then broadcast.
    accepted: Vec<(PeerId, Vec<u8>)>,
    /// Peers whose sync step 1 this batch has answered.
    synced: HashSet<PeerId>,
    /// The document could not be rebuilt after a refused update: the room must stop.
    broken: bool,
}

/// Asks the owner to drop this room from its registry; `true` if it may stop now.
pub type UnloadCheck = Box<dyn Fn(&mpsc::Receiver<Command>) -> bool + Send>;

pub struct Room {
    name: DocName,
    awareness: Awareness,
    peers: HashMap<PeerId, Peer>,
    store: Store,
    metrics: Arc<Metrics>,
    settings: RoomSettings,
    meta: Option<DocMeta>,
    /// When `meta` was last written; it is written at most once a second while edits
    /// stream in (it only carries `updated_at` and `size`), and always on unload.
    meta_written_ms: Option<u64>,
    next_seq: u64,
    unsnapshotted: u64,
    /// Log records from here on have not been compacted yet.
    compacted_to: u64,
    outbox: Vec<(Target, Bytes)>,
}

/// Loads the document and starts its actor. The returned handle is valid at once;
/// commands wait in the mailbox while the document loads.
pub fn spawn(
    name: DocName,
    store: Store,
    metrics: Arc<Metrics>,
    settings: RoomSettings,
    may_unload: UnloadCheck,
) -> RoomHandle {
    let (tx, rx) = mpsc::channel(settings.mailbox);
    let span = tracing::info_span!("room", doc = %name);
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            match Room::load(name, store, metrics, settings) {
                Ok(room) => room.run(rx, may_unload).await,
                Err(e) => {
                    tracing::error!(error = %e, "cannot open document");
                    may_unload(&rx);
                }
            }
        },
        span,
    ));
    RoomHandle { tx }
}

impl Room {
    fn load(
        name: DocName,
        store: Store,
        metrics: Arc<Metrics>,
        settings: RoomSettings,
    ) -> Result<Room, RoomError> {
        let stored = store.load(&name)?;
        let doc = rebuild(stored.snapshot.as_deref(), &stored.tail)?;
        let meta = store.meta(&name)?;
        metrics.open_docs.fetch_add(1, Relaxed);
        tracing::debug!(records = stored.tail.len(), "document loaded");
        Ok(Room {
            meta,
            meta_written_ms: None,
            name,
            awareness: Awareness::new(doc),
            peers: HashMap::new(),
            store,
            metrics,
            settings,
            next_seq: stored.next_seq,
            unsnapshotted: stored.tail.len() as u64,
            compacted_to: stored
                .snapshot
                .as_ref()
                .map_or(0, |_| stored.snapshot_seq + 1),
            outbox: Vec::new(),
        })
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>, may_unload: UnloadCheck) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut stopped = None;
        while stopped.is_none() {
            let first = if self.peers.is_empty() {
                match tokio::time::timeout(self.settings.idle_unload, rx.recv()).await {
                    Ok(command) => command,
                    Err(_) => {
                        // Save everything while still registered, so that a room opened
                        // for this document after we leave loads the finished state.
                        if let Err(e) = self.checkpoint() {
                            tracing::warn!(error = %e, "checkpoint before unloading failed");
                        }
                        if may_unload(&rx) {
                            break;
                        }
                        continue;
                    }
                }
            } else {
                rx.recv().await
            };
            let Some(first) = first else { break };
            batch.push(first);
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            stopped = self.process(&mut batch).await;
        }
        self.close_all(Close::SHUTDOWN);
        if let Err(e) = self.checkpoint().and(self.store.flush().await) {
            tracing::error!(error = %e, "final checkpoint failed; the log still holds everything");
        }
        self.metrics.open_docs.fetch_sub(1, Relaxed);
        tracing::debug!("document unloaded");
        if let Some(Some(done)) = stopped {
            let _ = done.send(());
        }
    }

    /// Handles one batch. Returns `Some` when the room must stop (with the shutdown
    /// caller to notify, if any).
    async fn process(
        &mut self,
        commands: &mut Vec<Command>,
    ) -> Option<Option<oneshot::Sender<()>>> {
        let mut batch = Batch::default();
        let mut renders = Vec::new();
        let mut stop = None;
        for command in commands.drain(..) {
            match command {
                Command::Join { link, joined } => self.join(link, joined),
                Command::Message { peer, message } => self.handle(peer, message, &mut batch),
                Command::Leave { peer } => self.leave(peer),
                Command::Render { format, reply } => renders.push((format, reply)),
                Command::Shutdown { done } => stop = Some(Some(done)),
            }
        }
        if batch.broken {
            tracing::error!("document cannot be rebuilt from storage; closing it");
            self.outbox.clear();
            self.close_all(Close::STORAGE);
            return Some(None);
        }
        if !batch.accepted.is_empty() {
            if let Err(e) = self.persist(&batch.accepted).await {
                tracing::error!(error = %e, "cannot persist updates; closing the document");
                // Nothing of this batch was shown to anyone: drop the outbox.
                self.outbox.clear();
                self.close_all(Close::STORAGE);
                return Some(None);
            }
        }
        self.send_outbox();
        for (format, reply) in renders {
            let _ = reply.send(render::render(self.awareness.doc(), format));
        }
        if self.unsnapshotted >= self.settings.checkpoint_every {
            if let Err(e) = self.checkpoint_in_background() {
                tracing::warn!(error = %e, "checkpoint failed; the log still holds everything");
            }
        }
        stop
    }

    fn join(&mut self, link: PeerLink, joined: oneshot::Sender<()>) {
        let id = link.id;
        self.peers.insert(id, Peer { link, client: None });
        let sv = self.awareness.doc().transact().state_vector();
        self.queue(Target::One(id), &Message::Sync(SyncMessage::SyncStep1(sv)));
        if let Ok(update) = self.awareness.update() {
            if !update.clients.is_empty() {
                self.queue(Target::One(id), &Message::Awareness(update));
            }
        }
        let _ = joined.send(());
    }

    fn handle(&mut self, peer: PeerId, message: Inbound, batch: &mut Batch) {
        if !self.peers.contains_key(&peer) {
            return; // already kicked; its last messages are void
        }
        match message {
            Inbound::SyncStep1(sv) => {
                // One answer per peer and batch: an answer to the first state vector
                // covers any later one, and a flood of requests must not make the room
                // encode the whole document again and again.
                if !batch.synced.insert(peer) {
                    return;
                }
                let doc = self.awareness.doc();
                match catch_unwind(AssertUnwindSafe(|| doc.transact().encode_diff_v1(&sv))) {
                    Ok(diff) => self.queue(
                        Target::One(peer),
                        &Message::Sync(SyncMessage::SyncStep2(diff)),
                    ),
                    Err(_) => {
                        // The guard should make this impossible; if yrs panics anyway,
                        // rebuild from storage and let the peer resync.
                        tracing::error!(peer, "document could not be encoded; rebuilding it");
                        self.kick(peer, Close::STORAGE);
                        self.recover(batch);
                    }
                }
            }
            Inbound::SyncStep2(update) | Inbound::Update(update) => {
                match guard::apply_update(self.awareness.doc(), &update, &self.settings.limits) {
                    Ok(Some(delta)) => batch.accepted.push((peer, delta)),
                    Ok(None) => {}
                    Err(rejection) => {
                        tracing::warn!(peer, %rejection, "update refused");
                        self.metrics.reject(rejection.reason());
                        self.kick(peer, Close::rejected(&rejection));
                        self.recover(batch);
                    }
                }
            }
            Inbound::Awareness(update) => self.awareness_from(peer, update),
            Inbound::AwarenessQuery => {
                if let Ok(update) = self.awareness.update() {
                    self.queue(Target::One(peer), &Message::Awareness(update));
                }
            }
            Inbound::Ignored => {}
        }
    }

    /// Applies the entries of `update` that belong to the peer's own client, and drops the
    /// rest silently: y-websocket clients echo every awareness change they see, so foreign
    /// entries are normal traffic, not an attack.
    ///
    /// A peer's own client is the first one it announces as news: a single entry for a
    /// client the room does not know, or with a newer clock than the room has (a tab that
    /// reconnects keeps its clock). Echoes carry clocks the room already has, so they never
    /// bind. A client another live connection holds is never taken over: a tab whose old
    /// connection the server has not yet seen end binds with its next periodic renewal
    /// after that (y-protocols renews every 15 s).
    fn awareness_from(&mut self, peer: PeerId, mut update: AwarenessUpdate) {
        let Some(own) = self.peers.get(&peer).map(|p| p.client) else {
            return;
        };
        let own = match own {
            Some(own) => own,
            None => {
                let news = match update.clients.iter().next() {
                    Some((id, entry)) if update.clients.len() == 1 => self
                        .awareness
                        .meta(*id)
                        .is_none_or(|(clock, _)| entry.clock > clock)
                        .then_some(*id),
                    _ => None,
                };
                let Some(id) = news else { return };
                if self.peers.values().any(|p| p.client == Some(id)) {
                    return;
                }
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.client = Some(id);
                }
                id
            }
        };
        update.clients.retain(|id, _| *id == own);
        if update.clients.is_empty() {
            return;
        }
        match self.awareness.apply_update_summary(update.clone()) {
            Ok(Some(_)) => self.queue(Target::AllBut(peer), &Message::Awareness(update)),
            Ok(None) => {}
            Err(e) => tracing::debug!(peer, error = %e, "awareness update ignored"),
        }
    }

    fn leave(&mut self, peer: PeerId) {
        if let Some(p) = self.peers.remove(&peer) {
            self.forget_client(p.client);
        }
    }

    /// Removes a departed peer's awareness state and tells the others.
    fn forget_client(&mut self, client: Option<ClientID>) {
        let Some(client) = client else { return };
        if self.awareness.meta(client).is_some() {
            self.awareness.remove_state(client);
            if let Ok(update) = self.awareness.update_with_clients([client]) {
                self.queue(Target::All, &Message::Awareness(update));
            }
        }
    }

    /// Rebuilds the document from storage plus this batch's accepted updates, after a
    /// refused update may have left the live document in a bad state.
    fn recover(&mut self, batch: &mut Batch) {
        let rebuilt = self
            .store
            .load(&self.name)
            .map_err(RoomError::from)
            .and_then(|stored| {
                let doc = rebuild(stored.snapshot.as_deref(), &stored.tail)?;
                batch.accepted.retain(|(_, update)| {
                    guard::apply_update(&doc, update, &self.settings.limits).is_ok()
                });
                Ok(doc)
            });
        match rebuilt {
            Ok(doc) => *self.awareness.doc_mut() = doc,
            Err(e) => {
                tracing::error!(error = %e, "cannot rebuild document after a refused update");
                batch.broken = true;
            }
        }
    }

    /// Appends this batch's updates, one merged record per peer, and waits for the group
    /// commit. Only then are they queued for broadcast.
    async fn persist(&mut self, accepted: &[(PeerId, Vec<u8>)]) -> Result<(), StoreError> {
        let now = now_ms();
        let mut order: Vec<PeerId> = Vec::new();
        let mut by_peer: HashMap<PeerId, Vec<&[u8]>> = HashMap::new();
        for (peer, update) in accepted {
            by_peer
                .entry(*peer)
                .or_insert_with(|| {
                    order.push(*peer);
                    Vec::new()
                })
                .push(update.as_slice());
        }
        // One record per peer, or one per update if yrs cannot merge them.
        let mut merged_updates = Vec::with_capacity(order.len());
        for peer in order {
            match by_peer[&peer].as_slice() {
                [one] => merged_updates.push((peer, one.to_vec())),
                many => match merge(many) {
                    Some(merged) => merged_updates.push((peer, merged)),
                    None => merged_updates.extend(many.iter().map(|u| (peer, u.to_vec()))),
                },
            }
        }
        let mut written = 0;
        let records: Vec<(PeerId, Record)> = merged_updates
            .into_iter()
            .map(|(peer, update)| {
                let record = Record {
                    ts_ms: now,
                    author: None,
                    update,
                };
                (peer, record)
            })
            .collect();
        for (_, record) in &records {
            written += self.store.append(&self.name, self.next_seq, record)?;
            self.next_seq += 1;
            self.unsnapshotted += 1;
        }
        let meta = self.meta.get_or_insert_with(|| DocMeta {
            title: self.name.to_string(),
            created_at: now,
            updated_at: now,
            size: 0,
        });
        meta.updated_at = now;
        meta.size += written;
        if self
            .meta_written_ms
            .is_none_or(|at| now.saturating_sub(at) >= 1000)
        {
            self.store.put_meta(&self.name, meta)?;
            self.meta_written_ms = Some(now);
        }
        self.store.flush().await?;

        self.metrics
            .updates_received
            .fetch_add(accepted.len() as u64, Relaxed);
        for (peer, record) in records {
            self.queue(
                Target::AllBut(peer),
                &Message::Sync(SyncMessage::Update(record.update)),
            );
        }
        Ok(())
    }

    /// Writes a snapshot of the whole state. The log records stay: they are history.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        if let Some(meta) = &self.meta {
            self.store.put_meta(&self.name, meta)?;
        }
        if let Some(checkpoint) = self.snapshot()? {
            checkpoint.write(&self.store)?;
            self.covered(&checkpoint);
        }
        Ok(())
    }

    /// Like [`Room::checkpoint`], but the writing happens on a blocking thread so the
    /// room goes on with the next batch. An older snapshot landing after a newer one is
    /// still correct: loading replays the longer tail. The room counts the checkpoint as
    /// done at once; if the write fails, the next one (after `checkpoint_every` more
    /// records, or at unload) covers the range again, and the log holds everything.
    fn checkpoint_in_background(&mut self) -> Result<(), StoreError> {
        if let Some(checkpoint) = self.snapshot()? {
            self.covered(&checkpoint);
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || {
                if let Err(e) = checkpoint.write(&store) {
                    tracing::warn!(doc = %checkpoint.doc, error = %e, "checkpoint failed; the log still holds everything");
                }
            });
        }
        Ok(())
    }

    /// The whole state as a v2 update and the log records it covers, if the log has
    /// grown since the last snapshot.
    fn snapshot(&self) -> Result<Option<Checkpoint>, StoreError> {
        if self.unsnapshotted == 0 || self.next_seq == 0 {
            return Ok(None);
        }
        let doc = self.awareness.doc();
        let state = catch_unwind(AssertUnwindSafe(|| {
            doc.transact()
                .encode_state_as_update_v2(&StateVector::default())
        }))
        .map_err(|_| StoreError::Corrupt(format!("{} cannot be encoded", self.name)))?;
        Ok(Some(Checkpoint {
            doc: self.name.clone(),
            compact_from: self.compacted_to,
            upto: self.next_seq - 1,
            state,
        }))
    }

    /// Records that the log up to the checkpoint is snapshotted and compacted.
    fn covered(&mut self, checkpoint: &Checkpoint) {
        self.unsnapshotted = self.next_seq - 1 - checkpoint.upto;
        self.compacted_to = checkpoint.upto + 1;
    }

    fn queue(&mut self, target: Target, message: &Message) {
        self.outbox.push((target, Bytes::from(message.encode_v1())));
    }

    /// Hands queued messages to the peers. A peer whose queue is full (in messages, or in
    /// bytes: one message may always be queued) is disconnected, never silently skipped:
    /// it resyncs when it reconnects.
    fn send_outbox(&mut self) {
        let mut slow = Vec::new();
        for (target, bytes) in std::mem::take(&mut self.outbox) {
            let is_update = bytes.first() == Some(&0) && bytes.get(1) == Some(&2);
            for (id, peer) in &self.peers {
                let wanted = match target {
                    Target::One(one) => *id == one,
                    Target::AllBut(except) => *id != except,
                    Target::All => true,
                };
                if !wanted || slow.contains(id) {
                    continue;
                }
                let queued = peer.link.queued_bytes.load(Relaxed);
                if queued > 0 && queued + bytes.len() > self.settings.peer_queue_bytes {
                    slow.push(*id);
                    continue;
                }
                match peer.link.out.try_send(bytes.clone()) {
                    Ok(()) => {
                        peer.link.queued_bytes.fetch_add(bytes.len(), Relaxed);
                        if is_update {
                            self.metrics.updates_broadcast.fetch_add(1, Relaxed);
                        }
                    }
                    Err(mpsc::error::TrySendError::Full(_)) => slow.push(*id),
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
        for id in slow {
            tracing::warn!(peer = id, "peer too slow; disconnecting");
            self.metrics.reject("slow_peer");
            self.kick(id, Close::SLOW);
        }
        if !self.outbox.is_empty() {
            // Kicking queued awareness removals; deliver them too.
            self.send_outbox();
        }
    }

    fn kick(&mut self, peer: PeerId, close: Close) {
        if let Some(p) = self.peers.remove(&peer) {
            let _ = p.link.close.try_send(close);
            self.forget_client(p.client);
        }
    }

    fn close_all(&mut self, close: Close) {
        for (_, peer) in self.peers.drain() {
            let _ = peer.link.close.try_send(close);
        }
    }
}

/// Small records of one author within a second are merged when the log is compacted:
/// the history keeps about a second's granularity, and typing costs one record per
/// second or so instead of one per keystroke.
const HISTORY_RUNS: Runs = Runs {
    window_ms: 1000,
    small_record: 1024,
    max_run_bytes: 16 * 1024,
};

/// A snapshot to write, and the log range it lets us compact.
struct Checkpoint {
    doc: DocName,
    compact_from: u64,
    upto: u64,
    state: Vec<u8>,
}

impl Checkpoint {
    fn write(&self, store: &Store) -> Result<(), StoreError> {
        store.put_snapshot(&self.doc, self.upto, &self.state)?;
        let done = store.compact(&self.doc, self.compact_from, self.upto, HISTORY_RUNS, merge)?;
        tracing::debug!(doc = %self.doc, upto = self.upto, ?done, "checkpoint written");
        Ok(())
    }
}

/// The v1 updates merged into one, or `None` if yrs cannot (or panics trying).
fn merge(updates: &[&[u8]]) -> Option<Vec<u8>> {
    catch_unwind(|| yrs::merge_updates_v1(updates.iter().copied()).ok())
        .ok()
        .flatten()
}

/// A document from a snapshot and the log records after it. Stored updates were checked
/// when they arrived, so a failure here means corruption, not hostility.
fn rebuild(snapshot: Option<&[u8]>, tail: &[Record]) -> Result<Doc, RoomError> {
    let doc = crate::demo::server_doc();
    {
        let mut txn = doc.transact_mut();
        let load = |e: &dyn std::fmt::Display| RoomError::Load(e.to_string());
        if let Some(state) = snapshot {
            let update = Update::decode_v2(state).map_err(|e| load(&e))?;
            txn.apply_update(update).map_err(|e| load(&e))?;
        }
        for record in tail {
            let update = Update::decode_v1(&record.update).map_err(|e| load(&e))?;
            txn.apply_update(update).map_err(|e| load(&e))?;
        }
    }
    Ok(doc)
}

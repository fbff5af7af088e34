//! One document's actor: it owns the yrs `Doc`, the `Awareness`, the peers and the log
//! writer. A [`RoomHandle`] (a bounded `mpsc::Sender`) is the only way in.
//!
//! The invariant this module upholds: an update is appended to the log and flushed to
//! disk before any other peer (or an HTTP reader) can see it. Commands are processed in
//! batches; everything a batch would send waits in an outbox until the batch's one
//! flush has returned.
//!
//! Every peer arrives with its [`Participant`]: the identity its changes are logged under,
//! the name the others see, and whether it may write at all. A reader's changes never reach
//! the document.

mod checkpoint;
mod handle;
mod log;
mod presence;
mod restore;
mod versions;

use std::collections::{HashMap, HashSet};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use yrs::sync::{Awareness, AwarenessUpdate, Message, SyncMessage};
use yrs::updates::encoder::Encode;
use yrs::{ClientID, ReadTxn, StateVector, Transact};

use crate::access::identity::{Display, Grant, Identity, Revoked};
use crate::guard::{self, Inbound, Limits, Rejection};
use crate::metrics::Metrics;
use crate::name::DocName;
use crate::render::{self, Format};
use crate::store::{now_ms, Store, StoreError};
pub use checkpoint::Due;
use checkpoint::{rebuild, Schedule};
use versions::Wake;

pub use handle::RoomHandle;

/// Identifies one websocket connection within the server.
pub type PeerId = u64;

/// The peer id of changes the server makes itself (a restore): no connection has it.
pub const SERVER_PEER: PeerId = 0;

/// Most commands handled in one batch (and so covered by one flush).
const BATCH: usize = 1024;

/// The reason in the permission-denied message a reader gets for a change.
const READ_ONLY: &str = "read-only: your role cannot change this document";

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
    /// The credential this connection was opened with has been revoked.
    pub const REVOKED: Close = Close {
        code: 4403,
        reason: "access revoked",
    };
    /// The credential this connection was opened with has expired.
    pub const EXPIRED: Close = Close {
        code: 4403,
        reason: "access expired",
    };
    /// The document was moved to the trash.
    pub const DELETED: Close = Close {
        code: 4404,
        reason: "document deleted",
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

/// Who is behind a connection, as the room needs to know it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The grant the connection was opened with: revoking it closes the connection.
    pub grant: Grant,
    /// What the log records as the author of this peer's changes.
    pub identity: Identity,
    /// What the others see in this peer's presence, whatever the client claims.
    pub display: Display,
    /// Readers get sync and presence, and nothing they send changes the document.
    pub writable: bool,
}

/// What a connection hands the room when it joins.
pub struct PeerLink {
    pub id: PeerId,
    pub who: Arc<Participant>,
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
    /// The document's whole state (Yjs v1) and how many log records it holds, answered
    /// once everything in it is durable.
    State {
        reply: oneshot::Sender<(Vec<u8>, u64)>,
    },
    /// Brings the text back to `state` (Yjs v1) as a change by `who`, on top of the
    /// current state. Answers whether anything changed, once the change is durable and
    /// sent to everyone.
    Restore {
        state: Vec<u8>,
        who: Arc<Participant>,
        reply: oneshot::Sender<Result<bool, RoomError>>,
    },
    /// Closes the connections whose grant rests on a revoked credential.
    Revoke {
        revoked: Revoked,
    },
    /// Someone was renamed: their presence shows the new name from their next state on.
    Rename {
        identity: Identity,
        display: Display,
    },
    /// Closes every peer with `close`, saves and stops.
    Shutdown {
        close: Close,
        done: oneshot::Sender<()>,
    },
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum RoomError {
    #[error("the document's room has stopped")]
    Stopped,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("stored document cannot be loaded: {0}")]
    Load(String),
    #[error("the version cannot be restored: {0}")]
    Restore(String),
}

/// Settings a room needs from the server's `Config`.
#[derive(Debug, Clone)]
pub struct RoomSettings {
    pub limits: Limits,
    pub mailbox: usize,
    /// Most bytes waiting for one peer (beyond a single message) before it is closed.
    pub peer_queue_bytes: usize,
    pub idle_unload: Duration,
    /// Quiet time after edits that ends a burst with an automatic version.
    pub auto_version: Duration,
    pub checkpoint: Due,
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

/// An update a peer made that the document accepted, with who made it.
struct Accepted {
    peer: PeerId,
    who: Arc<Participant>,
    delta: Vec<u8>,
}

/// What one batch of commands has produced so far.
#[derive(Default)]
struct Batch {
    /// Deltas of accepted updates, in arrival order: to persist, then broadcast.
    accepted: Vec<Accepted>,
    /// Peers whose sync step 1 this batch has answered.
    synced: HashSet<PeerId>,
    /// The document could not be rebuilt after a refused update: the room must stop.
    broken: bool,
}

/// Whether yrs holds updates of the document back, waiting for missing dependencies.
fn has_pending(doc: &yrs::Doc) -> bool {
    let txn = doc.transact();
    txn.store().pending_update().is_some() || txn.store().pending_ds().is_some()
}

/// Edits the document's metadata does not count yet.
#[derive(Default)]
struct Unrecorded {
    updated_at: u64,
    size: u64,
    /// Who made the latest of them.
    updated_by: Option<String>,
}

/// Why a room stops before its mailbox closes.
enum Stop {
    /// Its document cannot be stored or rebuilt: peers were closed with 1011.
    Broken,
    /// Asked to (shutdown, or the document was deleted).
    Requested {
        close: Close,
        done: oneshot::Sender<()>,
    },
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
    /// Edits not yet counted in the document's metadata (its `updated_at` and `size`):
    /// written at most once a second while edits stream in, and at every checkpoint.
    unrecorded: Option<Unrecorded>,
    /// When the metadata was last written.
    meta_written_ms: Option<u64>,
    next_seq: u64,
    /// The last record appended: the predecessor the next one names.
    last_seq: Option<u64>,
    checkpoints: Schedule,
    /// Peers whose updates left items pending in the document (it holds none when empty).
    pending_from: HashSet<PeerId>,
    outbox: Vec<(Target, Bytes)>,
    /// When the last edit not yet in a version was made durable.
    unversioned_since: Option<std::time::Instant>,
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
    let failed = Arc::new(std::sync::OnceLock::new());
    let failure = failed.clone();
    let span = tracing::info_span!("room", doc = %name);
    tokio::spawn(tracing::Instrument::instrument(
        async move {
            match Room::load(name, store, metrics, settings) {
                Ok(room) => room.run(rx, may_unload).await,
                Err(e) => {
                    tracing::error!(error = %e, "cannot open document");
                    let _ = failure.set(e);
                    may_unload(&rx);
                }
            }
        },
        span,
    ));
    RoomHandle { tx, failed }
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
        metrics.open_docs.fetch_add(1, Relaxed);
        tracing::debug!(records = stored.tail.len(), "document loaded");
        Ok(Room {
            unrecorded: None,
            meta_written_ms: None,
            name,
            awareness: Awareness::new(doc),
            peers: HashMap::new(),
            store,
            metrics,
            settings,
            next_seq: stored.next_seq,
            last_seq: stored.last_seq,
            pending_from: HashSet::new(),
            checkpoints: Schedule::loaded(
                &stored.tail,
                stored.snapshot.as_ref().map(|_| stored.snapshot_seq),
            ),
            outbox: Vec::new(),
            unversioned_since: None,
        })
    }

    async fn run(mut self, mut rx: mpsc::Receiver<Command>, may_unload: UnloadCheck) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut stopped = None;
        while stopped.is_none() {
            let first = match self.next_wake(&mut rx).await {
                Wake::Command(command) => command,
                Wake::BurstEnded => {
                    self.auto_version(versions::AFTER_EDITS).await;
                    continue;
                }
                Wake::MetaDue => {
                    if let Err(e) = self.record_meta(now_ms()) {
                        tracing::warn!(error = %e, "cannot count the last edits in the metadata");
                        self.unrecorded = None;
                    }
                    continue;
                }
                Wake::Idle => {
                    self.auto_version(versions::ON_CLOSE).await;
                    // Save everything while still registered, so that a room opened
                    // for this document after we leave loads the finished state.
                    if let Err(e) = self.checkpoint().await {
                        tracing::warn!(error = %e, "checkpoint before unloading failed");
                    }
                    if may_unload(&rx) {
                        break;
                    }
                    continue;
                }
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
        let (close, done) = match stopped {
            Some(Stop::Requested { close, done }) => (close, Some(done)),
            Some(Stop::Broken) => {
                // The document in memory may be wrong: it must not become a snapshot.
                self.checkpoints.finish().await;
                (Close::STORAGE, None)
            }
            None => (Close::SHUTDOWN, None),
        };
        self.close_all(close);
        if !matches!(close, Close::STORAGE) {
            self.auto_version(versions::ON_CLOSE).await;
            let saved = match self.checkpoint().await {
                Ok(()) => self.store.flush().await,
                Err(e) => Err(e),
            };
            if let Err(e) = saved {
                tracing::error!(error = %e, "final checkpoint failed; the log still holds everything");
            }
        }
        self.metrics.open_docs.fetch_sub(1, Relaxed);
        tracing::debug!("document unloaded");
        if let Some(done) = done {
            let _ = done.send(());
        }
    }

    /// Handles one batch. Returns `Some` when the room must stop.
    async fn process(&mut self, commands: &mut Vec<Command>) -> Option<Stop> {
        let mut batch = Batch::default();
        let mut renders = Vec::new();
        let mut states = Vec::new();
        let mut restores = Vec::new();
        let mut stop = None;
        for command in commands.drain(..) {
            match command {
                Command::Join { link, joined } => self.join(link, joined),
                Command::Message { peer, message } => self.handle(peer, message, &mut batch),
                Command::Leave { peer } => self.leave(peer),
                Command::Render { format, reply } => renders.push((format, reply)),
                Command::State { reply } => states.push(reply),
                Command::Restore { state, who, reply } => {
                    let restored = self.restore(&state, who, &mut batch);
                    restores.push((restored, reply));
                }
                Command::Revoke { revoked } => self.revoke(&revoked),
                Command::Rename { identity, display } => self.rename(&identity, display),
                Command::Shutdown { close, done } => stop = Some(Stop::Requested { close, done }),
            }
        }
        if batch.broken {
            tracing::error!("document cannot be rebuilt from storage; closing it");
            self.outbox.clear();
            self.close_all(Close::STORAGE);
            return Some(Stop::Broken);
        }
        if !batch.accepted.is_empty() {
            self.unversioned_since = Some(std::time::Instant::now());
            if let Err(e) = self.persist(&batch.accepted).await {
                tracing::error!(error = %e, "cannot persist updates; closing the document");
                // Nothing of this batch was shown to anyone: drop the outbox.
                self.outbox.clear();
                self.close_all(Close::STORAGE);
                return Some(Stop::Broken);
            }
        }
        self.send_outbox();
        for (format, reply) in renders {
            let _ = reply.send(render::render(self.awareness.doc(), format));
        }
        if !states.is_empty() {
            let state = self
                .awareness
                .doc()
                .transact()
                .encode_diff_v1(&StateVector::default()); // the logged state: no pending items
            for reply in states {
                let _ = reply.send((state.clone(), self.next_seq));
            }
        }
        for (restored, reply) in restores {
            let _ = reply.send(restored);
        }
        if self.checkpoints.due(&self.settings.checkpoint) {
            match self
                .checkpoints
                .snapshot(&self.name, self.awareness.doc(), self.next_seq)
            {
                Ok(Some(checkpoint)) => {
                    self.checkpoints
                        .write_in_background(checkpoint, &self.store, self.next_seq)
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "checkpoint failed; the log still holds everything")
                }
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
                let Some(who) = self.peers.get(&peer).map(|p| p.link.who.clone()) else {
                    return;
                };
                if !who.writable {
                    // A reader's client answers sync step 1 with everything the server
                    // already has, and that is fine; anything new is refused, and the
                    // reader stays connected.
                    if guard::adds_to(self.awareness.doc(), &update) {
                        tracing::info!(peer, "change from a reader refused");
                        self.metrics.reject("read_only");
                        self.queue(Target::One(peer), &Message::Auth(Some(READ_ONLY.into())));
                    }
                    return;
                }
                // Someone else's pending (unlogged) items can make a good update fail when
                // yrs retries them; then the update gets a second chance on the document
                // rebuilt from storage, which holds no pending items.
                let others_pending =
                    has_pending(self.awareness.doc()) && !self.pending_from.contains(&peer);
                let mut outcome =
                    guard::apply_update(self.awareness.doc(), &update, &self.settings.limits);
                if outcome.is_err() && others_pending {
                    tracing::info!(
                        peer,
                        "update failed beside pending items; retrying without them"
                    );
                    self.recover(batch);
                    outcome =
                        guard::apply_update(self.awareness.doc(), &update, &self.settings.limits);
                }
                if outcome.is_ok() {
                    if has_pending(self.awareness.doc()) {
                        self.pending_from.insert(peer);
                    } else {
                        self.pending_from.clear();
                    }
                }
                match outcome {
                    Ok(Some(delta)) => batch.accepted.push(Accepted { peer, who, delta }),
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
        if let Some(p) = self.peers.get(&peer) {
            for entry in update.clients.values_mut() {
                entry.json = presence::stamp(&entry.json, &p.link.who.display).into();
            }
        }
        match self.awareness.apply_update_summary(update.clone()) {
            Ok(Some(_)) => self.queue(Target::AllBut(peer), &Message::Awareness(update)),
            Ok(None) => {}
            Err(e) => tracing::debug!(peer, error = %e, "awareness update ignored"),
        }
    }

    /// Closes the peers whose grant rests on `revoked`, within this batch.
    fn revoke(&mut self, revoked: &Revoked) {
        let gone: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.link.who.grant.rests_on(revoked))
            .map(|(id, _)| *id)
            .collect();
        for peer in gone {
            tracing::info!(peer, "access revoked; closing");
            self.kick(peer, Close::REVOKED);
        }
    }

    /// Shows `identity` under its new name from its peers' next presence states on.
    fn rename(&mut self, identity: &Identity, display: Display) {
        for peer in self.peers.values_mut() {
            if peer.link.who.identity == *identity {
                let mut who = (*peer.link.who).clone();
                who.display = display.clone();
                peer.link.who = Arc::new(who);
            }
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
                batch.accepted.retain(|accepted| {
                    guard::apply_update(&doc, &accepted.delta, &self.settings.limits).is_ok()
                });
                Ok(doc)
            });
        self.pending_from.clear();
        match rebuilt {
            Ok(doc) => *self.awareness.doc_mut() = doc,
            Err(e) => {
                tracing::error!(error = %e, "cannot rebuild document after a refused update");
                batch.broken = true;
            }
        }
    }

    /// Writes a snapshot of the whole state, after any being written in the background.
    /// The log records stay: they are history.
    async fn checkpoint(&mut self) -> Result<(), StoreError> {
        self.checkpoints.finish().await;
        self.record_meta(now_ms())?;
        if let Some(checkpoint) =
            self.checkpoints
                .snapshot(&self.name, self.awareness.doc(), self.next_seq)?
        {
            self.checkpoints
                .write(checkpoint, &self.store, self.next_seq)?;
        }
        Ok(())
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

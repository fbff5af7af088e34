//! The registry of open documents: finds or starts a document's room, caps how many are
//! open, and stops them all at shutdown.
//!
//! The map holds only handles. A room removes itself when idle, under the map's lock, so
//! a handle taken from the map is either live or fails fast and is retried once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::access::identity::{Display, Identity, Revoked};
use crate::metrics::Metrics;
use crate::name::DocName;
use crate::render::Format;
use crate::room::{
    self, Close, Command, Participant, PeerId, PeerLink, RoomError, RoomHandle, RoomSettings,
};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum RoomsError {
    #[error("too many open documents")]
    TooManyDocs,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Room(#[from] RoomError),
}

#[derive(Clone)]
pub struct Rooms {
    inner: Arc<Inner>,
}

struct Inner {
    map: Mutex<HashMap<DocName, RoomHandle>>,
    store: Store,
    metrics: Arc<Metrics>,
    settings: RoomSettings,
    max_open: usize,
    next_peer: AtomicU64,
    closing: AtomicBool,
}

impl Rooms {
    pub fn new(
        store: Store,
        metrics: Arc<Metrics>,
        settings: RoomSettings,
        max_open: usize,
    ) -> Rooms {
        Rooms {
            inner: Arc::new(Inner {
                map: Mutex::new(HashMap::new()),
                store,
                metrics,
                settings,
                max_open,
                next_peer: AtomicU64::new(1),
                closing: AtomicBool::new(false),
            }),
        }
    }

    pub fn next_peer_id(&self) -> PeerId {
        self.inner.next_peer.fetch_add(1, Relaxed)
    }

    /// Whether the document is open or could be opened without exceeding the cap.
    pub fn check_capacity(&self, name: &DocName) -> Result<(), RoomsError> {
        let map = self.inner.map.lock().unwrap_or_else(|e| e.into_inner());
        if self.inner.closing.load(Relaxed) {
            return Err(RoomsError::ShuttingDown);
        }
        let open = map.values().filter(|h| !h.is_closed()).count();
        if open >= self.inner.max_open && map.get(name).is_none_or(|h| h.is_closed()) {
            self.inner.metrics.reject("too_many_docs");
            return Err(RoomsError::TooManyDocs);
        }
        Ok(())
    }

    /// The handle of the document's room, starting the room if it is not open.
    pub fn open(&self, name: &DocName) -> Result<RoomHandle, RoomsError> {
        let mut map = self.inner.map.lock().unwrap_or_else(|e| e.into_inner());
        if self.inner.closing.load(Relaxed) {
            return Err(RoomsError::ShuttingDown);
        }
        if let Some(handle) = map.get(name).filter(|h| !h.is_closed()) {
            return Ok(handle.clone());
        }
        map.retain(|_, h| !h.is_closed());
        if map.len() >= self.inner.max_open {
            self.inner.metrics.reject("too_many_docs");
            return Err(RoomsError::TooManyDocs);
        }
        let registry = Arc::downgrade(&self.inner);
        let own_name = name.clone();
        let may_unload: room::UnloadCheck = Box::new(move |mailbox| {
            let Some(inner) = registry.upgrade() else {
                return true;
            };
            let mut map = inner.map.lock().unwrap_or_else(|e| e.into_inner());
            // Under the lock nobody can take a new handle; an empty mailbox means nobody
            // is about to use an old one for anything but a retried request.
            if mailbox.is_empty() {
                map.remove(&own_name);
                true
            } else {
                false
            }
        });
        let handle = room::spawn(
            name.clone(),
            self.inner.store.clone(),
            self.inner.metrics.clone(),
            self.inner.settings.clone(),
            may_unload,
        );
        map.insert(name.clone(), handle.clone());
        Ok(handle)
    }

    /// Joins a peer to the document's room; retries once if the room just unloaded.
    pub async fn join(
        &self,
        name: &DocName,
        link: impl Fn() -> PeerLink,
    ) -> Result<RoomHandle, RoomsError> {
        let mut last = RoomError::Stopped;
        for _ in 0..2 {
            let handle = self.open(name)?;
            match handle.join(link()).await {
                Ok(()) => return Ok(handle),
                Err(e) => last = e,
            }
        }
        Err(last.into())
    }

    /// The document's content as text, loading it if needed.
    pub async fn render(&self, name: &DocName, format: Format) -> Result<String, RoomsError> {
        let mut last = RoomError::Stopped;
        for _ in 0..2 {
            match self.open(name)?.render(format).await {
                Ok(text) => return Ok(text),
                Err(e) => last = e,
            }
        }
        Err(last.into())
    }

    /// The document's durable state (Yjs v1) and its number of log records.
    pub async fn state(&self, name: &DocName) -> Result<(Vec<u8>, u64), RoomsError> {
        let mut last = RoomError::Stopped;
        for _ in 0..2 {
            match self.open(name)?.state().await {
                Ok(state) => return Ok(state),
                Err(e) => last = e,
            }
        }
        Err(last.into())
    }

    /// Restores the text of `state` as a change by `who`; `false` if it was that already.
    pub async fn restore(
        &self,
        name: &DocName,
        state: Vec<u8>,
        who: Arc<Participant>,
    ) -> Result<bool, RoomsError> {
        Ok(self.open(name)?.restore(state, who).await?)
    }

    /// Stops every room; each one checkpoints and flushes before it reports back.
    pub async fn shutdown(&self) {
        self.inner.closing.store(true, Relaxed);
        let handles = self.handles();
        // All at once, so that their final flushes share group commits.
        let stops = handles.iter().map(|h| h.shutdown(Close::SHUTDOWN));
        futures_util::future::join_all(stops).await;
    }

    /// Closes a document's connections with `close` and unloads it, if it is open.
    pub async fn close(&self, name: &DocName, close: Close) {
        let handle = {
            let map = self.inner.map.lock().unwrap_or_else(|e| e.into_inner());
            map.get(name).cloned()
        };
        if let Some(handle) = handle {
            handle.shutdown(close).await;
        }
    }

    /// Closes, in every open document, the connections whose grant rests on `revoked`.
    /// Returns once every room has the order in its mailbox: the rooms act on it in
    /// their next batch, within milliseconds.
    pub async fn revoke(&self, revoked: Revoked) {
        for handle in self.handles() {
            let revoked = revoked.clone();
            let _ = handle.send(Command::Revoke { revoked }).await;
        }
    }

    /// Tells every open document that `identity` is now shown as `display`.
    pub async fn rename(&self, identity: Identity, display: Display) {
        for handle in self.handles() {
            let (identity, display) = (identity.clone(), display.clone());
            let _ = handle.send(Command::Rename { identity, display }).await;
        }
    }

    fn handles(&self) -> Vec<RoomHandle> {
        let map = self.inner.map.lock().unwrap_or_else(|e| e.into_inner());
        map.values().filter(|h| !h.is_closed()).cloned().collect()
    }
}

//! The way into a room: a cheap handle that sends commands to its actor and waits for
//! the answers.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::{Close, Command, Participant, PeerLink, RoomError};
use crate::render::Format;

/// The way into a room.
#[derive(Clone)]
pub struct RoomHandle {
    pub(super) tx: mpsc::Sender<Command>,
    /// Why the room could not load its document, once it has tried and failed.
    pub(super) failed: Arc<std::sync::OnceLock<RoomError>>,
}

impl RoomHandle {
    /// Why the room is gone: its load error if it had one.
    fn stopped(&self) -> RoomError {
        self.failed.get().cloned().unwrap_or(RoomError::Stopped)
    }

    pub async fn send(&self, command: Command) -> Result<(), RoomError> {
        self.tx.send(command).await.map_err(|_| self.stopped())
    }

    pub async fn join(&self, link: PeerLink) -> Result<(), RoomError> {
        let (joined, done) = oneshot::channel();
        self.send(Command::Join { link, joined }).await?;
        done.await.map_err(|_| self.stopped())
    }

    pub async fn render(&self, format: Format) -> Result<String, RoomError> {
        let (reply, text) = oneshot::channel();
        self.send(Command::Render { format, reply }).await?;
        text.await.map_err(|_| self.stopped())
    }

    /// The document's state (Yjs v1) and its number of log records, all durable.
    pub async fn state(&self) -> Result<(Vec<u8>, u64), RoomError> {
        let (reply, state) = oneshot::channel();
        self.send(Command::State { reply }).await?;
        state.await.map_err(|_| self.stopped())
    }

    /// Restores the text of `state`; `false` if the text was that already.
    pub async fn restore(&self, state: Vec<u8>, who: Arc<Participant>) -> Result<bool, RoomError> {
        let (reply, done) = oneshot::channel();
        self.send(Command::Restore { state, who, reply }).await?;
        done.await.map_err(|_| self.stopped())?
    }

    pub async fn shutdown(&self, close: Close) {
        let (done, stopped) = oneshot::channel();
        if self.send(Command::Shutdown { close, done }).await.is_ok() {
            let _ = stopped.await;
        }
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

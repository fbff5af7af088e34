//! Automatic versions: when a burst of editing ends (no edit for the configured quiet
//! time) and when the document is closed after edits, the room keeps its text as a
//! version of kind `auto`, so that history has useful points without anyone clicking.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use yrs::{ReadTxn, StateVector, Transact};

use super::{Command, Room};
use crate::history::version::{Kind, Version};
use crate::store::now_ms;

/// The names automatic versions get.
pub const AFTER_EDITS: &str = "Automatisch gesichert nach einer Bearbeitungspause";
pub const ON_CLOSE: &str = "Automatisch gesichert beim Schließen";

/// What ends the room's wait.
pub(super) enum Wake {
    Command(Option<Command>),
    /// Edits stopped long enough ago: time for an automatic version.
    BurstEnded,
    /// No peers and nothing to do for the unload time.
    Idle,
    /// Edits wait to be counted in the document's metadata (at most a second).
    MetaDue,
}

impl Room {
    /// Waits for the next command, the end of a burst of edits, the time to count the
    /// last edits in the metadata, or (without peers) the idle time.
    pub(super) async fn next_wake(&self, rx: &mut mpsc::Receiver<Command>) -> Wake {
        let meta_due = self.unrecorded.as_ref().map(|_| {
            let since = now_ms().saturating_sub(self.meta_written_ms.unwrap_or(0));
            Instant::now() + Duration::from_millis(1000u64.saturating_sub(since))
        });
        let burst_end = self
            .unversioned_since
            .map(|at| at + self.settings.auto_version);
        let idle = self
            .peers
            .is_empty()
            .then(|| Instant::now() + self.settings.idle_unload);
        let sleep_until = |at: Option<Instant>| async move {
            match at {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            command = rx.recv() => Wake::Command(command),
            () = sleep_until(burst_end) => Wake::BurstEnded,
            () = sleep_until(idle) => Wake::Idle,
            () = sleep_until(meta_due) => Wake::MetaDue,
        }
    }

    /// Keeps the current text as an automatic version if it has edits no version holds.
    /// A failure is logged; the log still holds every edit.
    pub(super) async fn auto_version(&mut self, name: &str) {
        if self.unversioned_since.is_none() {
            return;
        }
        let state = self
            .awareness
            .doc()
            .transact()
            .encode_diff_v1(&StateVector::default()); // the logged state: no pending items
        let taken = async {
            let version = Version::new(
                self.store.next_version_id()?,
                name.to_owned(),
                Kind::Auto,
                &state,
                self.next_seq,
                now_ms(),
            );
            self.store.put_version(&self.name, &version, &state).await
        };
        match taken.await {
            Ok(()) => self.unversioned_since = None,
            Err(e) => tracing::warn!(error = %e, "automatic version failed"),
        }
    }
}

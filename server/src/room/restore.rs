//! A restore inside the room: the change that brings the text back to a version's is
//! computed against the room's current state and goes the way of every edit (the guard,
//! the log under the restorer's identity, the group commit, the broadcast).

use std::sync::Arc;

use yrs::{ReadTxn, StateVector, Transact};

use super::{Accepted, Batch, Participant, Room, RoomError, SERVER_PEER};
use crate::guard;
use crate::history::restore::restoring_update;

impl Room {
    /// Adds the restoring change to the batch; `Ok(false)` if the text is the version's
    /// already.
    pub(super) fn restore(
        &mut self,
        state: &[u8],
        who: Arc<Participant>,
        batch: &mut Batch,
    ) -> Result<bool, RoomError> {
        let current = self
            .awareness
            .doc()
            .transact()
            .encode_diff_v1(&StateVector::default()); // the logged state: no pending items
        let update =
            restoring_update(&current, state).map_err(|e| RoomError::Restore(e.to_string()))?;
        let Some(update) = update else {
            return Ok(false);
        };
        match guard::apply_update(self.awareness.doc(), &update, &self.settings.limits) {
            Ok(Some(delta)) => {
                batch.accepted.push(Accepted {
                    peer: SERVER_PEER,
                    who,
                    delta,
                });
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(rejection) => Err(RoomError::Restore(rejection.to_string())),
        }
    }
}

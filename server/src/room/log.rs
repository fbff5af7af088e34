//! Appending a batch of accepted updates to the document's log: one record per peer,
//! under that peer's identity, made durable by the group commit before anything of the
//! batch is broadcast.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;

use yrs::sync::{Message, SyncMessage};

use super::checkpoint::merge;
use super::{Accepted, Participant, PeerId, Room, Target, Unrecorded};
use crate::render::{self, Format};
use crate::store::{now_ms, Record, StoreError};

impl Room {
    /// Appends this batch's updates, one merged record per peer, and waits for the group
    /// commit. Only then are they queued for broadcast.
    pub(super) async fn persist(&mut self, accepted: &[Accepted]) -> Result<(), StoreError> {
        let now = now_ms();
        let mut order: Vec<PeerId> = Vec::new();
        let mut by_peer: HashMap<PeerId, (&Participant, Vec<&[u8]>)> = HashMap::new();
        for a in accepted {
            by_peer
                .entry(a.peer)
                .or_insert_with(|| {
                    order.push(a.peer);
                    (&a.who, Vec::new())
                })
                .1
                .push(a.delta.as_slice());
        }
        // One record per peer, or one per update if yrs cannot merge them. Each carries
        // the identity of the peer that made it.
        let mut records: Vec<(PeerId, Record)> = Vec::with_capacity(order.len());
        for peer in order {
            let (who, updates) = &by_peer[&peer];
            let record = |update: Vec<u8>| {
                let author = Some(who.identity.as_str().to_owned());
                (
                    peer,
                    Record {
                        ts_ms: now,
                        author,
                        update,
                    },
                )
            };
            match updates.as_slice() {
                [one] => records.push(record(one.to_vec())),
                many => match merge(many) {
                    Some(merged) => records.push(record(merged)),
                    None => records.extend(many.iter().map(|u| record(u.to_vec()))),
                },
            }
        }
        let mut written = 0;
        for (_, record) in &records {
            written += self
                .store
                .append(&self.name, self.next_seq, self.last_seq, record)?;
            self.last_seq = Some(self.next_seq);
            self.next_seq += 1;
            self.checkpoints.appended(record.update.len() as u64);
        }
        let unrecorded = self.unrecorded.get_or_insert(Unrecorded::default());
        unrecorded.updated_at = now;
        unrecorded.size += written;
        if let Some((_, last)) = records.last() {
            unrecorded.updated_by.clone_from(&last.author);
        }
        if self
            .meta_written_ms
            .is_none_or(|at| now.saturating_sub(at) >= 1000)
        {
            self.record_meta(now)?;
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

    /// Counts the edits since the last call in the document's metadata, with the text's
    /// words and who edited last (at most once a second while people type). Only those
    /// fields change, atomically, so a rename made meanwhile is kept.
    pub(super) fn record_meta(&mut self, now: u64) -> Result<(), StoreError> {
        if let Some(unrecorded) = self.unrecorded.take() {
            let words = render::render(self.awareness.doc(), Format::Text)
                .split_whitespace()
                .count() as u64;
            let head = self.last_seq;
            self.store.update_meta(&self.name, |meta| {
                meta.updated_at = meta.updated_at.max(unrecorded.updated_at);
                meta.head = meta.head.max(head);
                meta.size += unrecorded.size;
                meta.words = words;
                if unrecorded.updated_by.is_some() {
                    meta.updated_by.clone_from(&unrecorded.updated_by);
                }
            })?;
            self.meta_written_ms = Some(now);
        }
        Ok(())
    }
}

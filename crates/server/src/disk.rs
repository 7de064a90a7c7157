//! What survives a restart: a server's disk. Voicemail messages and
//! recordings are written here, as is the start of a licence grace period.
//! The runner keeps one [`Disk`] per server across its incarnations and
//! audits them at the end of a run; everything else a server knows is lost
//! when it dies.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use fleetsim_proto::pb;
use tokio::time::Instant;

/// A stored voicemail message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// Mailbox.
    pub mailbox: String,
    /// Cut short by a forced failback.
    pub partial: bool,
}

#[derive(Debug, Default)]
struct DiskState {
    messages: BTreeMap<String, StoredMessage>,
    /// Messages left here while this (backup) voicemail was active, not yet
    /// taken by the primary's.
    unsynced: BTreeSet<String>,
    /// Recordings kept here for Media Manager to collect.
    pending: BTreeSet<String>,
    /// Media Manager's archive.
    archive: BTreeSet<String>,
    grace_since: Option<Instant>,
}

/// One server's persistent storage, shared by its incarnations.
#[derive(Clone, Debug, Default)]
pub struct Disk(Arc<Mutex<DiskState>>);

impl Disk {
    fn lock(&self) -> MutexGuard<'_, DiskState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ids of the voicemail messages stored here.
    pub fn message_ids(&self) -> BTreeSet<String> {
        self.lock().messages.keys().cloned().collect()
    }

    /// Ids of the messages left here (as the backup) not yet taken by the
    /// primary's voicemail.
    pub fn unsynced_ids(&self) -> BTreeSet<String> {
        self.lock().unsynced.clone()
    }

    /// Ids of the recordings archived here by Media Manager.
    pub fn archived(&self) -> BTreeSet<String> {
        self.lock().archive.clone()
    }

    /// Ids of the recordings kept here, waiting for collection.
    pub fn pending_recordings(&self) -> BTreeSet<String> {
        self.lock().pending.clone()
    }

    pub(crate) fn store_message(&self, id: &str, mailbox: &str, partial: bool, unsynced: bool) {
        let mut d = self.lock();
        d.messages.insert(
            id.to_string(),
            StoredMessage {
                mailbox: mailbox.to_string(),
                partial,
            },
        );
        if unsynced {
            d.unsynced.insert(id.to_string());
        }
    }

    pub(crate) fn message(&self, id: &str) -> Option<pb::VoicemailMessage> {
        self.lock().messages.get(id).map(|m| pb::VoicemailMessage {
            id: id.to_string(),
            mailbox: m.mailbox.clone(),
            partial: m.partial,
        })
    }

    pub(crate) fn unsynced(&self) -> Vec<pb::VoicemailMessage> {
        let d = self.lock();
        d.unsynced
            .iter()
            .filter_map(|id| {
                d.messages.get(id).map(|m| pb::VoicemailMessage {
                    id: id.clone(),
                    mailbox: m.mailbox.clone(),
                    partial: m.partial,
                })
            })
            .collect()
    }

    pub(crate) fn mark_synced(&self, ids: &[String]) {
        let mut d = self.lock();
        for id in ids {
            d.unsynced.remove(id);
        }
    }

    pub(crate) fn keep_recording(&self, id: &str) {
        self.lock().pending.insert(id.to_string());
    }

    /// Archives recordings; returns how many were new.
    pub(crate) fn archive(&self, ids: impl IntoIterator<Item = String>) -> u32 {
        let mut d = self.lock();
        ids.into_iter()
            .filter(|id| d.archive.insert(id.clone()))
            .count() as u32
    }

    /// Forgets the acknowledged recordings; returns those still kept.
    pub(crate) fn collect(&self, ack: &[String]) -> Vec<String> {
        let mut d = self.lock();
        for id in ack {
            d.pending.remove(id);
        }
        d.pending.iter().cloned().collect()
    }

    pub(crate) fn grace_since(&self) -> Option<Instant> {
        self.lock().grace_since
    }

    pub(crate) fn set_grace_since(&self, t: Option<Instant>) {
        self.lock().grace_since = t;
    }
}

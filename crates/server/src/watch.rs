//! Keepalive streams a server can speak on first: a registered phone keeps
//! one open and otherwise only refreshes its registration now and then, so
//! the server tells it, unasked, when it is sent home or its registration
//! ends. Each keepalive interval the server looks at every phone whose
//! stream is open ([`Shared::sweep_watched`]) exactly as a keepalive from
//! it would be looked at: the open stream is what keeps the registration
//! fresh, as a live TCP connection keeps a SIP registration's flow.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use fleetsim_proto::pb;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

use crate::state::{NoKeepalive, Shared};

/// What a server says on a phone's stream unasked: `Ok(true)`, go home; an
/// error ends the registration (or says it is not held here).
type Push = Result<bool, NoKeepalive>;

/// The phones whose keepalive stream is open here, each with the stream's
/// id (a phone re-registering opens a new one) and its sender.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    open: Mutex<BTreeMap<String, (u64, mpsc::UnboundedSender<Push>)>>,
    next_id: AtomicU64,
}

impl Watchers {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<String, (u64, mpsc::UnboundedSender<Push>)>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches `ext` on a new stream: its id and the receiver of pushes.
    fn watch(&self, ext: &str) -> (u64, mpsc::UnboundedReceiver<Push>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().insert(ext.to_string(), (id, tx));
        (id, rx)
    }

    /// Stops watching `ext` if stream `id` is still the one watched.
    fn unwatch(&self, ext: &str, id: u64) {
        let mut open = self.lock();
        if open.get(ext).is_some_and(|(i, _)| *i == id) {
            open.remove(ext);
        }
    }
}

impl Shared {
    /// Looks at every phone whose keepalive stream is open as its keepalive
    /// would be looked at (in a call, by this server's own calls) and tells
    /// those sent home or whose registration ends.
    pub(crate) fn sweep_watched(&self) {
        // A gray failure of telephony hears no phone and tells none
        // anything: its registrations go unrefreshed and expire.
        if self.net.gray(&self.name).1 {
            return;
        }
        for (ext, tx) in self.to_decide() {
            let in_call = self.has_call_of(&ext);
            match self.keepalive(&ext, in_call) {
                Ok(false) => {}
                push => {
                    let _ = tx.send(push);
                }
            }
        }
    }

    /// Refreshes, under one lock, every registration whose keepalive stream
    /// is open and whose keepalive could arrive (not across a cut: then it
    /// goes unrefreshed, and expires if the cut lasts). Returns those its
    /// keepalive could change: guests, which may be sent home; the rest only
    /// in restricted mode, which may end them; and phones not held here.
    fn to_decide(&self) -> Vec<(String, mpsc::UnboundedSender<Push>)> {
        let impaired = self.net.is_impaired();
        let restricted = self.licence_restricted();
        let now = tokio::time::Instant::now();
        let watched = self.watchers.lock();
        let mut st = self.lock();
        let mut decide = Vec::new();
        for (ext, (_, tx)) in watched.iter() {
            if impaired && self.net.blocked(ext, &self.name) {
                continue;
            }
            match st.regs.get_mut(ext) {
                Some(reg) if !reg.guest && !restricted => reg.refreshed = now,
                _ => decide.push((ext.clone(), tx.clone())),
            }
        }
        decide
    }
}

/// A keepalive's answer or a push, as the phone reads it.
pub(crate) fn to_reply(shared: &Shared, ext: &str, r: Push) -> Result<pb::KeepaliveReply, Status> {
    match r {
        Ok(go_home) => Ok(pb::KeepaliveReply { go_home }),
        Err(NoKeepalive::Unknown) => Err(Status::not_found(format!(
            "{ext} is not registered on {}",
            shared.name
        ))),
        Err(NoKeepalive::Refused(reason)) => Err(Status::failed_precondition(reason)),
    }
}

/// A graceful stop's refusal.
fn shutting_down(shared: &Shared) -> Status {
    Status::unavailable(format!("{} is shutting down", shared.name))
}

/// The answers on a phone's keepalive stream: one per request, in order,
/// and what the server says unasked. Like every long-lived stream here it
/// has no task of its own and ends at the first refusal; in a graceful stop
/// it refuses its next request, and ends with its connection. (It does not
/// end at the stop itself: the streams of many phones ending at one instant
/// woke their connections in an order that differed from run to run.)
pub(crate) struct KeepaliveReplies {
    requests: Streaming<pb::KeepaliveRequest>,
    shared: Arc<Shared>,
    /// The phone watched and the stream's id, from its first request.
    watching: Option<(String, u64)>,
    pushes: Option<mpsc::UnboundedReceiver<Push>>,
    done: bool,
}

impl KeepaliveReplies {
    /// Answers `requests`; the first one names the phone watched.
    pub(crate) fn new(requests: Streaming<pb::KeepaliveRequest>, shared: Arc<Shared>) -> Self {
        KeepaliveReplies {
            requests,
            shared,
            watching: None,
            pushes: None,
            done: false,
        }
    }

    fn answer(&mut self, req: pb::KeepaliveRequest) -> Result<pb::KeepaliveReply, Status> {
        self.shared.stats.rpc();
        if self.shared.draining.is_cancelled() {
            return Err(shutting_down(&self.shared));
        }
        if self.watching.is_none() {
            let (id, rx) = self.shared.watchers.watch(&req.extension);
            self.watching = Some((req.extension.clone(), id));
            self.pushes = Some(rx);
        }
        self.shared.keepalive_reply(req)
    }
}

impl tokio_stream::Stream for KeepaliveReplies {
    type Item = Result<pb::KeepaliveReply, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(Poll::Ready(Some(push))) = self.pushes.as_mut().map(|p| p.poll_recv(cx)) {
            let ext = self.watching.as_ref().map_or("", |(e, _)| e.as_str());
            let reply = to_reply(&self.shared, ext, push);
            self.done = reply.is_err();
            return Poll::Ready(Some(reply));
        }
        let req = match Pin::new(&mut self.requests).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => return Poll::Ready(None),
            Poll::Ready(Some(Ok(req))) => req,
        };
        let reply = self.answer(req);
        self.done = reply.is_err();
        Poll::Ready(Some(reply))
    }
}

impl Drop for KeepaliveReplies {
    fn drop(&mut self) {
        if let Some((ext, id)) = &self.watching {
            self.shared.watchers.unwatch(ext, *id);
        }
    }
}

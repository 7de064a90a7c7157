//! Trunks (docs/domain-coverage.md §1): an IP500 V2 connects non-IP trunks, which never
//! fail over. An external call from any system seizes a trunk on a V2 over
//! the `Line` (a stream held open for the call); the V2 frees it when the
//! caller hangs up, or at the call's planned end when the caller's system
//! died and media connection preservation kept the call up. If the V2 (or
//! the way to it) fails, the stream breaks and the caller's system drops the
//! call: trunk calls live and die with their V2.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use fleetsim_model::Event;
use fleetsim_net::call;
use fleetsim_proto::pb;
use tokio::time::Instant;
use tonic::codegen::tokio_stream::Stream;
use tonic::{Response, Status};

use crate::state::Shared;

/// The stream of a held trunk.
pub(crate) type TrunkStream = Pin<Box<dyn Stream<Item = Result<pb::TrunkEvent, Status>> + Send>>;

impl Shared {
    /// V2 side: seizes a trunk for `call` and holds it for `ms` at most.
    pub(crate) fn seize_trunk(
        self: &Arc<Self>,
        r: pb::TrunkRequest,
    ) -> Result<Response<TrunkStream>, Status> {
        let capacity = self.spec.trunks;
        if capacity == 0 {
            return Err(Status::failed_precondition(format!(
                "{} connects no trunks",
                self.name
            )));
        }
        const MAX_MS: u64 = 86_400_000;
        if r.call.is_empty() || r.duration_ms == 0 || r.duration_ms > MAX_MS {
            return Err(Status::invalid_argument(format!(
                "a trunk call needs an id and a length from 1 ms to {MAX_MS} ms"
            )));
        }
        let (trunk, busy) = {
            let mut st = self.lock();
            if st.trunks.contains_key(&r.call) {
                return Err(Status::already_exists(format!("{} holds a trunk", r.call)));
            }
            let busy = st.trunks.len() as u32;
            if busy >= capacity {
                return Err(Status::resource_exhausted(format!(
                    "all {capacity} trunks of {} are busy",
                    self.name
                )));
            }
            let used: std::collections::BTreeSet<u32> = st.trunks.values().copied().collect();
            let trunk = (1..=capacity)
                .find(|n| !used.contains(n))
                .unwrap_or(capacity);
            st.trunks.insert(r.call.clone(), trunk);
            (trunk, busy + 1)
        };
        self.emit(Event::TrunkSeized {
            call: r.call.clone(),
            from: r.from,
            busy,
        });
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let _ = tx.try_send(Ok(pb::TrunkEvent { trunk, busy }));
        let me = self.clone();
        // A little past the planned end, so a normal hangup frees it first.
        let hold = self
            .clock()
            .to_runtime(Duration::from_millis(r.duration_ms))
            + self.timing.rpc_deadline;
        self.spawn(async move {
            tokio::select! {
                biased;
                // The V2 dies: the stream ends with it.
                () = me.token.cancelled() => {}
                () = tokio::time::sleep(hold) => {
                    me.free_trunk(&r.call, "the call's planned end");
                }
            }
            drop(tx);
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    /// V2 side: frees the trunk of `call`, if it still holds one.
    pub(crate) fn free_trunk(&self, call: &str, reason: &str) {
        let busy = {
            let mut st = self.lock();
            if st.trunks.remove(call).is_none() {
                return;
            }
            st.trunks.len() as u32
        };
        self.emit(Event::TrunkReleased {
            call: call.to_string(),
            busy,
            reason: reason.to_string(),
        });
    }

    /// The systems with trunks: this one first, then in fleet order.
    fn trunk_systems(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .fleet
            .servers
            .iter()
            .filter(|s| s.trunks > 0)
            .map(|s| s.name.clone())
            .collect();
        v.sort_by_key(|s| *s != self.name);
        v
    }

    /// Caller side: seizes a trunk on the first V2 that has one free and
    /// watches it for the call's life. `Err` says why none could be had.
    pub(crate) async fn external_call(
        self: &Arc<Self>,
        r: &pb::CallRequest,
        ms: u64,
    ) -> Result<(), String> {
        let systems = self.trunk_systems();
        if systems.is_empty() {
            return Err("no IP500 V2 in the network connects trunks".into());
        }
        let mut why = Vec::new();
        for v2 in systems {
            let mut client = self.line_client(&v2);
            let req = pb::TrunkRequest {
                call: r.call.clone(),
                from: self.name.clone(),
                duration_ms: ms,
            };
            let mut stream = match call(self.timing.rpc_deadline, client.trunk(req)).await {
                Ok(s) => s.into_inner(),
                Err(e) => {
                    // A refusal names the V2 itself; a transport failure does not.
                    let reason = fleetsim_net::failure_reason(&e);
                    why.push(if reason.contains(v2.as_str()) {
                        reason
                    } else {
                        format!("{v2}: {reason}")
                    });
                    continue;
                }
            };
            match call(self.timing.rpc_deadline, stream.message()).await {
                Ok(Some(_)) => {}
                _ => {
                    why.push(format!("{v2} did not answer"));
                    continue;
                }
            }
            self.lock().trunk_of.insert(r.call.clone(), v2.clone());
            let me = self.clone();
            let (id, ext) = (r.call.clone(), r.extension.clone());
            let planned = Instant::now() + self.clock().to_runtime(Duration::from_millis(ms));
            self.spawn(async move {
                // The stream ends at the planned end, or breaks with the V2.
                loop {
                    tokio::select! {
                        biased;
                        () = me.token.cancelled() => return,
                        m = stream.message() => match m {
                            Ok(Some(_)) => continue,
                            _ => break,
                        },
                    }
                }
                let still_up = me.lock().calls.contains_key(&id);
                if still_up && Instant::now() < planned {
                    me.drop_call(&id, &ext, &format!("the trunk on {v2} was lost"));
                }
            });
            return Ok(());
        }
        Err(format!("no trunk: {}", why.join("; ")))
    }

    /// Caller side: the call's trunk is released at hangup.
    pub(crate) fn release_trunk(self: &Arc<Self>, call_id: &str) {
        let Some(v2) = self.lock().trunk_of.remove(call_id) else {
            return;
        };
        let me = self.clone();
        let id = call_id.to_string();
        self.spawn(async move {
            let mut client = me.line_client(&v2);
            tokio::select! {
                biased;
                () = me.token.cancelled() => {}
                _ = call(me.timing.rpc_deadline, client.release_trunk(pb::ReleaseTrunkRequest { call: id })) => {}
            }
        });
    }

    /// Caller side: the system drops a call; its phone hears at once.
    pub(crate) fn drop_call(&self, call_id: &str, ext: &str, reason: &str) {
        if !self.end_by_system(call_id, reason) {
            return;
        }
        self.emit(Event::CallDropped {
            call: call_id.to_string(),
            phone: ext.to_string(),
            reason: reason.to_string(),
        });
    }
}

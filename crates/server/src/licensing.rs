//! Licensing (docs/domain-coverage.md §4): the primary serves `Licensing`; every other
//! server renews with it and tracks its own licence state:
//! normal → grace (the primary cannot be reached) → restricted (grace ran
//! out: configuration changes refused, softphone user licences cannot be
//! acquired) → normal again once a renewal succeeds.
//!
//! The grace start is kept on the server's disk, so it survives a restart
//! under the current rule; under the older rule a restart during grace ends
//! it and the server comes up restricted.

use std::sync::Arc;

use fleetsim_model::{Event, human_ms};
use fleetsim_net::call;
use fleetsim_proto::pb;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::state::Shared;

/// A server's licence state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Licence {
    /// Licences renewed with the primary.
    #[default]
    Normal,
    /// The primary cannot be reached; grace ends at the instant (runtime).
    Grace(Instant),
    /// Grace ran out.
    Restricted,
}

impl Licence {
    fn name(self) -> &'static str {
        match self {
            Licence::Normal => "normal",
            Licence::Grace(_) => "grace",
            Licence::Restricted => "restricted",
        }
    }
}

impl Shared {
    /// The licence state's name.
    pub(crate) fn licence_name(&self) -> &'static str {
        self.licence
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .name()
    }

    /// Whether the server is in licence-restricted mode.
    pub(crate) fn licence_restricted(&self) -> bool {
        *self.licence.lock().unwrap_or_else(|e| e.into_inner()) == Licence::Restricted
    }

    fn set_licence(&self, new: Licence, reason: String) {
        let mut l = self.licence.lock().unwrap_or_else(|e| e.into_inner());
        if *l == new {
            return;
        }
        *l = new;
        drop(l);
        self.emit(Event::LicenceState {
            state: new.name().into(),
            reason,
        });
    }

    /// A configuration change: refused in restricted mode.
    pub(crate) fn configure(&self, change: &str) -> Result<(), String> {
        let (accepted, reason) = if self.licence_restricted() {
            (
                false,
                format!(
                    "restricted mode: licences cannot be renewed and grace is over; only licence changes are accepted (refused: {change})"
                ),
            )
        } else {
            (true, change.to_string())
        };
        self.emit(Event::ConfigChange {
            accepted,
            reason: reason.clone(),
        });
        if accepted { Ok(()) } else { Err(reason) }
    }
}

/// `Licensing` on the primary.
#[derive(Debug)]
pub(crate) struct LicensingSvc(pub(crate) Arc<Shared>);

#[tonic::async_trait]
impl pb::licensing_server::Licensing for LicensingSvc {
    async fn renew(
        &self,
        _req: Request<pb::RenewRequest>,
    ) -> Result<Response<pb::RenewReply>, Status> {
        self.0.stats.rpc();
        Ok(Response::new(pb::RenewReply {
            server: self.0.name.clone(),
        }))
    }
}

/// Renews with the primary every renewal interval and moves the licence
/// state; wakes at the end of grace too.
pub(crate) async fn renew_loop(shared: Arc<Shared>, phase: std::time::Duration) {
    let res = &shared.fleet.resilience;
    let grace = shared.runtime(res.grace());
    let every = shared.runtime(res.licence_renew);
    let primary = shared.fleet.primary().name.clone();
    let mut client = pb::licensing_client::LicensingClient::new(shared.channel_to(&primary));

    // Grace begun by an earlier incarnation (kept on disk).
    if let Some(since) = shared.disk.grace_since() {
        if res.grace_survives_restart() && Instant::now() < since + grace {
            shared.set_licence(
                Licence::Grace(since + grace),
                format!(
                    "still in grace after restart; grace ends in {}",
                    human_ms(
                        shared.clock().to_emulated_ms(
                            (since + grace).saturating_duration_since(Instant::now())
                        )
                    )
                ),
            );
        } else if res.grace_survives_restart() {
            shared.set_licence(
                Licence::Restricted,
                "grace ran out while the server was down".into(),
            );
        } else {
            shared.set_licence(
                Licence::Restricted,
                "restarted during grace: under the older rule grace ends on restart".into(),
            );
        }
    }

    // tokio time: virtual in sim mode.
    let mut next = Instant::now() + phase;
    loop {
        let state = *shared.licence.lock().unwrap_or_else(|e| e.into_inner());
        let wake = match state {
            Licence::Grace(end) => next.min(end),
            _ => next,
        };
        tokio::time::sleep_until(wake).await;
        if let Licence::Grace(end) = state
            && Instant::now() >= end
        {
            shared.set_licence(
                Licence::Restricted,
                format!(
                    "grace of {} ran out without reaching the licence server on {primary}",
                    res.grace()
                ),
            );
            continue;
        }
        next = Instant::now() + every;
        let ok = call(
            shared.timing.rpc_deadline,
            client.renew(pb::RenewRequest {
                from: shared.name.clone(),
            }),
        )
        .await
        .is_ok();
        let state = *shared.licence.lock().unwrap_or_else(|e| e.into_inner());
        match (ok, state) {
            (true, Licence::Normal) => {}
            (true, _) => {
                shared.disk.set_grace_since(None);
                shared.set_licence(Licence::Normal, format!("licences renewed with {primary}"));
            }
            (false, Licence::Normal) => {
                let now = Instant::now();
                shared.disk.set_grace_since(Some(now));
                shared.set_licence(
                    Licence::Grace(now + grace),
                    format!(
                        "cannot renew licences with {primary}: grace of {} begins",
                        res.grace()
                    ),
                );
            }
            (false, _) => {}
        }
    }
}

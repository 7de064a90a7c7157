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
pub(crate) use fleetsim_rules::services::Licence;
use fleetsim_rules::services::LicenceWhy;

impl Shared {
    /// The licence state's name.
    pub(crate) fn licence_name(&self) -> &'static str {
        self.licence
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_str()
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
            state: new.as_str().into(),
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
    let now = shared.at(Instant::now());
    let since = shared.disk.grace_since().map(|i| shared.at(i));
    if let Some((state, why)) =
        shared
            .policy
            .licence_after_restart(since, now, grace, res.grace_survives_restart())
    {
        shared.set_licence(state, licence_reason(&shared, why, state, &primary));
    }

    // tokio time: virtual in sim mode.
    let mut next = Instant::now() + phase;
    loop {
        let state = *shared.licence.lock().unwrap_or_else(|e| e.into_inner());
        let wake = match state {
            Licence::Grace(end) => next.min(shared.instant(end)),
            _ => next,
        };
        tokio::time::sleep_until(wake).await;
        if let Some((state, why)) = shared.policy.licence_at(state, shared.at(Instant::now())) {
            shared.set_licence(state, licence_reason(&shared, why, state, &primary));
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
        let now = shared.at(Instant::now());
        let Some((state, why)) = shared.policy.licence_after_renewal(state, ok, now, grace) else {
            continue;
        };
        // The grace start goes to disk: it outlives this incarnation.
        let since = matches!(state, Licence::Grace(_)).then(|| shared.instant(now));
        shared.disk.set_grace_since(since);
        shared.set_licence(state, licence_reason(&shared, why, state, &primary));
    }
}

/// Why the licence state changed, in words.
fn licence_reason(shared: &Shared, why: LicenceWhy, state: Licence, primary: &str) -> String {
    let res = &shared.fleet.resilience;
    match why {
        LicenceWhy::Renewed => format!("licences renewed with {primary}"),
        LicenceWhy::GraceBegins => format!(
            "cannot renew licences with {primary}: grace of {} begins",
            res.grace()
        ),
        LicenceWhy::RanOut => format!(
            "grace of {} ran out without reaching the licence server on {primary}",
            res.grace()
        ),
        LicenceWhy::StillInGrace => {
            let end = match state {
                Licence::Grace(end) => end,
                _ => shared.at(Instant::now()),
            };
            let left = end.saturating_sub(shared.at(Instant::now()));
            format!(
                "still in grace after restart; grace ends in {}",
                human_ms(shared.clock().to_emulated_ms(left))
            )
        }
        LicenceWhy::RanOutWhileDown => "grace ran out while the server was down".into(),
        LicenceWhy::OlderRuleRestart => {
            "restarted during grace: under the older rule grace ends on restart".into()
        }
    }
}

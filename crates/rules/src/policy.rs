//! The seam: [`TakeoverPolicy`], whose default methods are the documented
//! Server Edition behaviour, and the built-in policies.
//!
//! A policy decides; it never does I/O. Override one method to change one
//! rule and keep the rest:
//!
//! ```
//! use std::time::Duration;
//! use fleetsim_rules::{TakeoverPolicy, Timers};
//!
//! /// Waits five minutes of silence instead of three.
//! #[derive(Debug)]
//! struct Patient;
//!
//! impl TakeoverPolicy for Patient {
//!     fn name(&self) -> &str { "patient" }
//!     fn summary(&self) -> &str { "fails over after 5 minutes of silence" }
//!     fn failover_after(&self, _: &Timers) -> Duration { Duration::from_secs(300) }
//! }
//!
//! assert_eq!(Patient.failover_after(&Timers::documented()), Duration::from_secs(300));
//! assert_eq!(Patient.failback_after(&Timers::documented()), Duration::from_secs(600));
//! ```

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use fleetsim_model::PhoneKind;

use crate::Timers;
use crate::guest::{self, GuestObs, HomeObs, Refusal};
use crate::hunt::{self, HuntBackupObs, HuntChange, HuntHomeObs};
use crate::peer::{self, PeerCtx, PeerDecision, PeerView, Returned};
use crate::quorum::Visibility;
use crate::services::{
    self, Licence, LicenceWhy, PortalBackupObs, PortalStep, VmBackupObs, VmStandbyObs,
    VmStandbyStep, VmStep,
};

/// Every resilience decision a server takes, with the documented Server
/// Edition behaviour as the default of each method. Implement
/// [`name`](Self::name) and [`summary`](Self::summary), override what your
/// takeover logic does differently, and run any scenario against it
/// (`ScenarioBuilder::policy`, `RunOptions::policy`).
pub trait TakeoverPolicy: Send + Sync + Debug {
    /// A short name (`fleetsim run --policy NAME`).
    fn name(&self) -> &str;

    /// One line on what it does and what it teaches.
    fn summary(&self) -> &str;

    /// The implementing type's name: how a run tells a built-in policy
    /// from another type given a built-in's name. Leave it as it is.
    #[doc(hidden)]
    fn type_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Silence after which a peer is lost (the 3-minute rule).
    fn failover_after(&self, t: &Timers) -> Duration {
        t.failover_after
    }

    /// Silence after which a backup may take over: the earliest a failover
    /// can show. A `no-failover` run must go on at least this long after its
    /// fault (or the phones' keepalive interval and deadline, if longer),
    /// plus their recovery wait and a deadline, to prove anything. By
    /// default the failover time; override it when your policy takes over
    /// later than it declares a peer lost.
    fn takeover_after(&self, t: &Timers) -> Duration {
        self.failover_after(t)
    }

    /// Renewed visibility after which a lost peer is failed back to.
    fn failback_after(&self, t: &Timers) -> Duration {
        t.failback_after
    }

    /// Presence from a peer arrived (see [`peer::heard`]).
    fn heard(
        &self,
        view: &mut PeerView,
        now: Duration,
        incarnation: u64,
        t: &Timers,
    ) -> Option<Returned> {
        peer::heard(view, now, incarnation, t)
    }

    /// When to evaluate a peer next (see [`peer::deadline`]).
    fn deadline(&self, view: &mut PeerView, now: Duration, t: &Timers) -> Option<Duration> {
        peer::deadline(self, view, now, t)
    }

    /// Lost or failed back, now? (see [`peer::evaluate`]).
    fn evaluate(&self, view: &mut PeerView, ctx: &PeerCtx<'_>) -> Option<PeerDecision> {
        peer::evaluate(self, view, ctx)
    }

    /// May a phone of another system register here as a guest?
    fn admit_guest(&self, g: &GuestObs<'_>) -> Result<(), Refusal> {
        guest::admit(g, self.failover_after(g.timers))
    }

    /// May a phone of this system register here?
    fn admit_home(&self, kind: PhoneKind, restricted: bool) -> Result<(), Refusal> {
        guest::admit_home(kind, restricted)
    }

    /// Should this guest be sent home now?
    fn send_home(&self, h: &HomeObs<'_>) -> bool {
        guest::send_home(h)
    }

    /// Has a registration refreshed at `refreshed` expired at `now`?
    fn expired(&self, refreshed: Duration, now: Duration, t: &Timers) -> bool {
        guest::expired(refreshed, now, t)
    }

    /// May a server run the services only one system may run at a time
    /// (voicemail, portal, hunt groups) while it sees this much of its
    /// line peers? The documented behaviour: always (hence split-brain).
    fn run_shared_services(&self, _v: Visibility) -> bool {
        true
    }

    /// The active backup voicemail's step (see [`services::vm_backup`]).
    fn voicemail_backup(&self, o: &VmBackupObs) -> (Option<Duration>, VmStep) {
        services::vm_backup(o)
    }

    /// The standby backup voicemail's step (see [`services::vm_standby`]).
    fn voicemail_standby(&self, o: &VmStandbyObs) -> VmStandbyStep {
        services::vm_standby(o)
    }

    /// The backup portal's step (see [`services::portal_backup`]).
    fn portal_backup(&self, o: &PortalBackupObs) -> (Duration, PortalStep) {
        services::portal_backup(o)
    }

    /// The licence state after a renewal with the primary succeeded (`ok`)
    /// or failed at `now` (see [`services::after_renewal`]).
    fn licence_after_renewal(
        &self,
        state: Licence,
        ok: bool,
        now: Duration,
        grace: Duration,
    ) -> Option<(Licence, LicenceWhy)> {
        services::after_renewal(state, ok, now, grace)
    }

    /// The licence state at `now` with no renewal: grace runs out at its
    /// end (see [`services::at`]).
    fn licence_at(&self, state: Licence, now: Duration) -> Option<(Licence, LicenceWhy)> {
        services::at(state, now)
    }

    /// The licence state a server restarts in, given the grace start kept
    /// on its disk (see [`services::after_restart`]).
    fn licence_after_restart(
        &self,
        grace_since: Option<Duration>,
        now: Duration,
        grace: Duration,
        survives_restart: bool,
    ) -> Option<(Licence, LicenceWhy)> {
        services::after_restart(grace_since, now, grace, survives_restart)
    }

    /// Which of its own hunt groups a home starts or stops, given which its
    /// hunt-group backup says it runs (see [`hunt::home`]). By default a
    /// stopped group is started again only if
    /// [`run_shared_services`](Self::run_shared_services) allows it.
    fn hunt_groups_home(&self, o: &HuntHomeObs<'_>) -> Vec<HuntChange> {
        hunt::home(o, self.run_shared_services(o.visibility))
    }

    /// Which of a home's hunt groups its backup starts at failover or
    /// stops at failback (see [`hunt::backup`]).
    fn hunt_groups_backup(&self, o: &HuntBackupObs<'_>) -> Vec<HuntChange> {
        hunt::backup(o)
    }
}

/// The name of the default policy, [`ServerEdition`].
pub const DEFAULT_POLICY: &str = "server-edition";

/// The documented Server Edition behaviour: every default.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerEdition;

impl TakeoverPolicy for ServerEdition {
    fn name(&self) -> &str {
        DEFAULT_POLICY
    }

    fn summary(&self) -> &str {
        "the documented behaviour: fail over after 3 minutes of silence, back after 10 minutes of renewed visibility"
    }
}

/// No 3-minute guard: a peer is lost after two missed presence updates.
/// Shows why the guard exists: a short reboot fails over and back.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoGuard;

impl TakeoverPolicy for NoGuard {
    fn name(&self) -> &str {
        "no-guard"
    }

    fn summary(&self) -> &str {
        "no 3-minute guard: a peer is lost after two missed presence updates, so a short reboot fails over and back"
    }

    fn failover_after(&self, t: &Timers) -> Duration {
        t.presence_gap()
    }
}

/// Quorum: a system that sees only a minority of its line peers stands its
/// shared services down, and a backup takes over only while it sees a
/// majority and after a fencing margin (two presence intervals beyond the
/// failover time), by which time a cut-off home has stood down. No
/// split-brain, at the cost of a slower takeover and of services on the
/// minority side.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quorum;

impl Quorum {
    /// Silence after which a backup may take over.
    pub fn fenced_after(&self, t: &Timers) -> Duration {
        t.failover_after + t.presence_interval * 2
    }

    fn may_take_over(&self, v: Visibility, silent: Duration, t: &Timers) -> Result<(), Refusal> {
        if !v.majority() {
            return Err(Refusal::NoQuorum {
                visible: v.visible,
                electorate: v.electorate,
            });
        }
        let needed = self.fenced_after(t);
        if silent < needed {
            return Err(Refusal::Fencing { silent, needed });
        }
        Ok(())
    }
}

impl TakeoverPolicy for Quorum {
    fn name(&self) -> &str {
        "quorum"
    }

    fn summary(&self) -> &str {
        "majority rule: a cut-off minority stands its voicemail, portal and hunt groups down, and a backup takes over only with a majority and after a fencing margin: no split-brain, slower takeover"
    }

    fn takeover_after(&self, t: &Timers) -> Duration {
        self.fenced_after(t)
    }

    fn admit_guest(&self, g: &GuestObs<'_>) -> Result<(), Refusal> {
        guest::admit(g, self.failover_after(g.timers))?;
        let Some(p) = g.peer.filter(|p| p.lost) else {
            // Homeless-prevention window after failback: nothing to take over.
            return Ok(());
        };
        self.may_take_over(g.visibility, p.silent(g.now), g.timers)
    }

    fn run_shared_services(&self, v: Visibility) -> bool {
        v.majority()
    }

    fn portal_backup(&self, o: &PortalBackupObs) -> (Duration, PortalStep) {
        let (heard, step) = services::portal_backup(o);
        if let PortalStep::Activate { silent } = step {
            let fenced = o.detect + self.fenced_after(&o.timers) - o.timers.failover_after;
            if !o.visibility.majority() || silent < fenced {
                return (heard, PortalStep::Wait);
            }
        }
        (heard, step)
    }
}

/// The built-in policies, the default first.
pub fn builtin() -> Vec<Arc<dyn TakeoverPolicy>> {
    vec![Arc::new(ServerEdition), Arc::new(NoGuard), Arc::new(Quorum)]
}

/// A built-in policy by name.
pub fn by_name(name: &str) -> Option<Arc<dyn TakeoverPolicy>> {
    builtin().into_iter().find(|p| p.name() == name)
}

//! The resilience rules of a Server Edition server as a pure core, and the
//! [`TakeoverPolicy`] seam that makes them swappable.
//!
//! Nothing here does I/O, reads a clock or knows about gRPC: a server's
//! shell (crates/server) gathers what it has observed (presence heard,
//! records held, registrations, calls, service states) together with its
//! own `now`, asks the policy, and carries the decision out (events, RPCs,
//! timers). Every time is a [`Duration`](std::time::Duration) since the
//! start of the run, in runtime units, so the rules read the same in sim
//! and live mode.
//!
//! The documented Server Edition behaviour is [`ServerEdition`], and the
//! default implementation of every [`TakeoverPolicy`] method. Other
//! built-in policies ([`builtin`]) each change one rule to teach what it is
//! for.
//!
//! # Layout
//! - [`timers`]: the rule timers a server runs with ([`Timers`]).
//! - [`peer`]: one line peer as seen from here: the 3-minute (failover)
//!   and 10-minute (failback) rules, presence, the watchdog's deadline.
//! - [`guest`]: whether a phone of another system may register here as a
//!   guest, when a guest is sent home, when a registration expires.
//! - [`hunt`]: hunt groups: which server runs each, when the backup
//!   starts and stops running its home's groups, and how the home learns it.
//! - [`services`]: voicemail, one-X Portal and licence decisions.
//! - [`phone`]: what a phone decides when its system stops answering: the
//!   IP DECT base switch, and media connection preservation of its call.
//! - [`quorum`]: how many of a server's line peers it can see.
//! - [`policy`]: the [`TakeoverPolicy`] trait and the built-in policies.

pub mod guest;
pub mod hunt;
pub mod peer;
pub mod phone;
pub mod policy;
pub mod quorum;
pub mod services;
pub mod timers;

pub use guest::{GuestObs, HomeObs, Refusal};
pub use hunt::{HuntBackupObs, HuntChange, HuntHomeObs};
pub use peer::{Failover, PeerCtx, PeerDecision, PeerView};
pub use policy::{
    DEFAULT_POLICY, NoGuard, Quorum, ServerEdition, TakeoverPolicy, builtin, by_name,
};
pub use quorum::Visibility;
pub use timers::Timers;

//! The transport seam every fleetsim server and phone talks through, and the
//! one fault plane that breaks it.
//!
//! Two modes share one code path (docs/architecture.md, "Two clocks"):
//! - **sim**: each connect makes a fresh in-memory duplex pair, handed to the
//!   target's accept stream; run it on a paused current-thread runtime and
//!   time is virtual and the run deterministic;
//! - **live**: real TCP on 127.0.0.1, one port per server, `TCP_NODELAY` on;
//!   an external member (a server fleetsim does not run) is dialled at its
//!   own `host:port` ([`Net::set_external`]), through the same fault plane.
//!
//! Every connection is wrapped in [`FaultIo`], which is how faults bite:
//! a **crash** cancels the server's token and every connection to or from it
//! fails at once (aborting tonic's serve task alone would leave its
//! per-connection tasks answering); a **partition** stalls every connection
//! that crosses it (bytes held, as on a dead link) and makes new connects hang
//! until their timeout; a **heal** releases them. Phones are the exception:
//! a site's phones share one connection to each gatekeeper, and the same
//! faults bite each phone's own streams instead ([`PathChannel`]).
//!
//! # Layout
//! - [`io`]: [`FaultIo`], the wrapper that fails or stalls a connection.
//! - `pipe`: latency as a pipeline (each chunk due its latency after it left).
//! - [`net`]: [`Net`], listeners, connects, partitions.
//! - [`path`]: [`PathChannel`], a phone's streams over its site's shared
//!   connection, faulted per phone.
//! - [`clock`]: the emulated clock and the [`EventLog`] stamped with it.
//! - [`seed`]: seeded generators derived from the scenario seed.
//! - [`channel`]: tonic channels over the seam, with deadline and keepalive.
//! - [`session`]: request/reply exchanges on one long-lived stream.

pub mod channel;
pub mod clock;
pub mod io;
pub mod net;
pub mod path;
mod pipe;
pub mod seed;
pub mod session;

pub use channel::{ChannelTiming, call, channel, failure_reason, timed_out};
pub use clock::{Clock, EventLog, SYN_TIMEOUT, Timing};
pub use io::FaultIo;
pub use net::{Changes, FaultPlane, Incoming, Mode, Net};
pub use path::PathChannel;
pub use session::Session;

//! The documented limits on what fleet and scenario files may ask for, so
//! a typo cannot make a run take hours or the memory of the machine. Each is
//! in docs/file-format.md, "Limits".

use crate::duration::Dur;

/// The longest emulated run (90 days: three licence graces). A day of the
/// reference fleet costs seconds of wall time.
pub const MAX_DURATION: Dur = Dur::days(90);

/// The most phones one fleet may have: docs/domain-coverage.md's largest networks have a
/// few thousand users; each emulated phone costs memory and timers.
pub const MAX_PHONES: u64 = 20_000;

/// The most servers one fleet may have (a Server Edition network has up to
/// 150 systems; generated fleets for benchmarks stay under this too).
pub const MAX_SERVERS: usize = 500;

/// The shortest periodic timer (presence, keepalive, polls, renewals,
/// recovery, failover and failback waits): one second. Shorter periods flood
/// the emulation with events without teaching anything.
pub const MIN_INTERVAL: Dur = Dur::secs(1);

/// The shortest RPC deadline: 10 ms (shorter ones time out on scheduling
/// noise, in live mode above all).
pub const MIN_DEADLINE: Dur = Dur::millis(10);

/// The most fault steps a scenario may unfold into (a fault on a glob of
/// servers is one step per server; a flap two per period per target; `for`
/// adds the undoing steps): each is an event and a timer.
pub const MAX_FAULT_STEPS: usize = 100_000;

/// The most `[[expect]]` tables in a scenario: each is a line in every
/// report and a JUnit test case.
pub const MAX_EXPECTATIONS: usize = 1_000;

/// The shortest flap period: 1 s (down and up again at least once a second).
pub const MIN_FLAP_PERIOD: Dur = Dur::secs(1);

/// The most calls, or one-X Portal changes, started per hour across a fleet
/// (`[calls]`, and `fleetsim up --calls-per-hour`).
pub const MAX_PER_HOUR: u32 = 1_000_000;

/// The most (sender, receiver) pairs one one-way cut may name (`from` ×
/// `to`, each site's phones counted): the fault plane keeps every pair.
pub const MAX_ONE_WAY_PAIRS: usize = 100_000;

/// The most lines one fleet may have: each is a pair of long-lived
/// connections (a double star of 500 servers has under 1,000).
pub const MAX_LINES: usize = 5_000;

/// The most calls (or one-X Portal changes) a run may start in all, the
/// rate times the run's length: each keeps events in the log.
pub const MAX_CALLS_PER_RUN: u64 = 2_000_000;

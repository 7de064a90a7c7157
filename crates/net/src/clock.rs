//! The emulated clock and the event log stamped with it.
//!
//! In sim mode emulated time is tokio's paused virtual time; in live mode it
//! is wall time multiplied by `speed` (every configured duration divided by
//! it), so both modes log the same emulated timestamps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use fleetsim_model::{Event, EventRecord};
use tokio::time::Instant;

thread_local! {
    // Each run owns its thread's runtime, so log lines can find its clock here.
    static CURRENT: std::cell::Cell<Option<Clock>> = const { std::cell::Cell::new(None) };
}

/// Converts between emulated durations and the runtime's (virtual or real) time.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
    speed: f64,
}

impl Clock {
    /// The slowest speed accepted.
    pub const MIN_SPEED: f64 = 0.01;
    /// The fastest speed accepted.
    pub const MAX_SPEED: f64 = 10_000.0;

    /// Starts now, running `speed` emulated seconds per runtime second
    /// (clamped to [`Clock::MIN_SPEED`]..=[`Clock::MAX_SPEED`]).
    pub fn start(speed: f64) -> Clock {
        let clock = Clock {
            // tokio's Instant: the paused virtual clock in sim mode.
            start: Instant::now(),
            speed: if speed.is_finite() {
                speed.clamp(Self::MIN_SPEED, Self::MAX_SPEED)
            } else {
                1.0
            },
        };
        CURRENT.with(|c| c.set(Some(clock)));
        clock
    }

    /// Emulated milliseconds of the run on this thread, for log stamps.
    pub fn current_ms() -> Option<u64> {
        CURRENT.with(|c| c.get()).map(|c| c.now_ms())
    }

    /// The speed factor.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// The runtime instant of the start.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// Runtime duration for an emulated one.
    pub fn to_runtime(&self, emulated: Duration) -> Duration {
        if self.speed == 1.0 {
            emulated
        } else {
            // Saturates rather than panics on durations no run reaches.
            Duration::try_from_secs_f64(emulated.as_secs_f64() / self.speed)
                .unwrap_or(Duration::MAX)
        }
    }

    /// Emulated milliseconds for a runtime duration.
    pub fn to_emulated_ms(&self, runtime: Duration) -> u64 {
        let ms = runtime.as_secs_f64() * self.speed * 1000.0;
        ms.round() as u64
    }

    /// Emulated milliseconds since the start (tokio time: virtual in sim
    /// mode, wall time × speed in live mode).
    pub fn now_ms(&self) -> u64 {
        self.to_emulated_ms(Instant::now().saturating_duration_since(self.start))
    }

    /// The runtime instant at an emulated offset from the start.
    pub fn at(&self, emulated: Duration) -> Instant {
        self.start + self.to_runtime(emulated)
    }
}

/// The run's event log: one ordered list every server, phone and the runner
/// append to.
#[derive(Clone, Debug)]
pub struct EventLog {
    clock: Clock,
    events: Arc<Mutex<Vec<EventRecord>>>,
    /// Calls whose end is logged. A call ends once in the log: the phone and
    /// the system it was set up on can both see the end (a hangup whose
    /// answer was lost, a preserved call on a system that was only cut
    /// off), and the first report wins. A call the phone gave up on (its
    /// set-up timed out) stays failed if the late request still reaches the
    /// system: the system's half of it is not a call the phone is in; and a
    /// call the system ended is not preserved later by a phone that never
    /// heard of the end.
    ended_calls: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Live watchers (`fleetsim watch`); sending with none is free.
    tx: tokio::sync::broadcast::Sender<EventRecord>,
}

impl EventLog {
    /// An empty log on `clock`.
    pub fn new(clock: Clock) -> EventLog {
        EventLog {
            clock,
            events: Arc::new(Mutex::new(Vec::new())),
            ended_calls: Arc::default(),
            tx: tokio::sync::broadcast::Sender::new(1024),
        }
    }

    /// The clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Appends `event` about `server`, stamped now.
    pub fn emit(&self, server: &str, event: Event) {
        if !self.admits(&event) {
            return;
        }
        let rec = EventRecord {
            t_ms: self.clock.now_ms(),
            server: server.to_string(),
            event,
        };
        tracing::info!(t_ms = rec.t_ms, server = %rec.server, event = rec.kind(), "{:?}", rec.event);
        // Sent and kept under one lock, so a watcher joining now gets each
        // event once: in its history or from the stream.
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(rec.clone());
        }
        events.push(rec);
    }

    /// Whether `event` belongs in the log: a call ends once (see
    /// `ended_calls`), and nothing of a call is logged after its end.
    fn admits(&self, event: &Event) -> bool {
        let mut ended = self.ended_calls.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::CallStarted { call, .. } | Event::CallPreserved { call, .. } => {
                !ended.contains(call)
            }
            _ => event
                .ended_call()
                .is_none_or(|c| ended.insert(c.to_string())),
        }
    }

    /// Every event from now on (for live watchers).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<EventRecord> {
        self.tx.subscribe()
    }

    /// Every event so far, and every event from now on: none lost or
    /// repeated between the two (a watcher joining a drill midway).
    pub fn history_and_subscribe(
        &self,
    ) -> (
        Vec<EventRecord>,
        tokio::sync::broadcast::Receiver<EventRecord>,
    ) {
        let events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        (events.clone(), self.tx.subscribe())
    }

    /// A copy of every event so far.
    pub fn snapshot(&self) -> Vec<EventRecord> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Number of events so far.
    pub fn len(&self) -> usize {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no event was logged yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every timer of the fleet in runtime units (emulated durations divided by
/// the speed), ready for `tokio::time`.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Presence update interval.
    pub presence_interval: Duration,
    /// Invisibility before failover.
    pub failover_after: Duration,
    /// Visibility before failback.
    pub failback_after: Duration,
    /// Phone recovery re-register wait (retries after 50–90 % of it).
    pub recovery_wait: Duration,
    /// Phone keep-alive probe interval (a keepalive message for DECT bases
    /// and members without the stream).
    pub keepalive_interval: Duration,
    /// Phone registration refresh interval.
    pub registration_wait: Duration,
    /// Deadline of every RPC.
    pub rpc_deadline: Duration,
    /// How long a connect waits for its SYN to be answered across a
    /// partition or a stalled link ([`SYN_TIMEOUT`]).
    pub connect_timeout: Duration,
    /// Spread of start times.
    pub start_jitter: Duration,
}

/// How long a TCP connect keeps retrying an unanswered SYN before it gives
/// up: about 127 s with Linux's default of six retries. Each RPC still ends
/// at its own deadline; a connect left pending by one completes when the
/// path heals, so the next exchange after a heal goes through, as on a
/// real network (a shorter connect timeout left tonic a stale failure to
/// hand that next exchange, whatever the path did in between).
pub const SYN_TIMEOUT: Duration = Duration::from_secs(127);

impl Timing {
    /// Scales `timers` for `clock`. Network deadlines keep a floor of 50 ms
    /// of runtime so fast live runs do not time out on scheduling noise.
    pub fn new(timers: &fleetsim_model::Timers, clock: &Clock) -> Timing {
        // Every timer keeps at least 1 ms of runtime, network deadlines 50 ms
        // when sped up, so fast live runs neither spin nor time out on noise.
        let s = |d: fleetsim_model::Dur| clock.to_runtime(d.0).max(Duration::from_millis(1));
        let floor = |d: Duration| {
            if clock.speed() > 1.0 {
                d.max(Duration::from_millis(50))
            } else {
                d
            }
        };
        Timing {
            presence_interval: s(timers.presence_interval),
            failover_after: s(timers.failover_after),
            failback_after: s(timers.failback_after),
            recovery_wait: s(timers.recovery_wait),
            keepalive_interval: s(timers.keepalive_interval),
            registration_wait: s(timers.registration_wait),
            rpc_deadline: floor(s(timers.rpc_deadline)),
            connect_timeout: floor(s(fleetsim_model::Dur(SYN_TIMEOUT))),
            start_jitter: s(timers.start_jitter),
        }
    }

    /// Channel deadlines and keepalive derived from these timers.
    pub fn channel(&self) -> crate::ChannelTiming {
        crate::ChannelTiming {
            rpc_deadline: self.rpc_deadline,
            connect_timeout: self.connect_timeout,
            keepalive: self.presence_interval,
        }
    }
}

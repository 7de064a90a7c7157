//! Panics during a run are errors of the run, never reset connections.
//!
//! Every run executes on a current-thread runtime on one thread (a sweep
//! runs many at once, one runtime per thread), so every task of a run (tonic
//! handlers and their per-connection tasks, server tasks, work a handler
//! spawns, phones, the workload, the runner) panics on that thread. A
//! process-wide panic hook, installed once and chaining the hook that was
//! there before, records each panic into the collector of the run on the
//! current thread; outside a run it only calls the previous hook.

use std::cell::RefCell;
use std::sync::Once;

use serde::{Deserialize, Serialize};

/// The most panics a run keeps in full; later ones are only counted.
pub const MAX_KEPT: usize = 20;

/// With `RUST_BACKTRACE` set, the most panics of a run printed with their
/// backtraces where they happen: a bug hit by every phone would otherwise
/// print hundreds of them (the outcome keeps the rest, counted).
pub const BACKTRACES_SHOWN: usize = 3;

/// One panic caught during a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaughtPanic {
    /// The panic message.
    pub message: String,
    /// Where it panicked: `file:line:column`.
    pub location: Option<String>,
    /// Emulated time of the panic, when the run's clock was running.
    pub t_ms: Option<u64>,
}

impl std::fmt::Display for CaughtPanic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)?;
        if let Some(l) = &self.location {
            write!(f, " at {l}")?;
        }
        if let Some(t) = self.t_ms {
            write!(f, " ({} emulated)", fleetsim_model::human_ms(t))?;
        }
        Ok(())
    }
}

/// Why a run is an error of the emulator rather than a verdict on the fleet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFailure {
    /// One sentence saying what went wrong.
    pub message: String,
    /// The panics, in order (at most [`MAX_KEPT`]).
    pub panics: Vec<CaughtPanic>,
    /// How many panics there were in all.
    pub panic_count: usize,
}

impl RunFailure {
    /// The failure made of `panics` (`total` of them in all), if any.
    pub fn from_panics(panics: Vec<CaughtPanic>, total: usize) -> Option<RunFailure> {
        let first = panics.first()?;
        let message = if total == 1 {
            format!("the emulator panicked: {first}")
        } else {
            format!("the emulator panicked {total} times; the first: {first}")
        };
        Some(RunFailure {
            message,
            panics,
            panic_count: total,
        })
    }
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Default)]
struct Collector {
    kept: Vec<CaughtPanic>,
    total: usize,
}

thread_local! {
    static CURRENT: RefCell<Option<Collector>> = const { RefCell::new(None) };
}

/// Installs the recording hook once per process, chaining the previous one.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Quiet inside a run (the reports name the panic), unless asked;
            // asked, the first few only.
            match record(info) {
                None => previous(info),
                Some(nth) if wants_backtrace() && nth <= BACKTRACES_SHOWN => {
                    previous(info);
                    if nth == BACKTRACES_SHOWN {
                        // Never a panic inside the hook (a closed stderr).
                        let _ = std::io::Write::write_all(
                            &mut std::io::stderr(),
                            b"note: later panics of this run are not printed; the run's error counts them all\n",
                        );
                    }
                }
                Some(_) => {}
            }
        }));
    });
}

/// Whether `RUST_BACKTRACE` asks for backtraces (set, not empty, not 0).
fn wants_backtrace() -> bool {
    std::env::var_os("RUST_BACKTRACE").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The message of a panic payload.
pub(crate) fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".into())
}

/// A panic caught by `catch_unwind` that the hook did not record (another
/// hook replaced it): its message, no location.
pub(crate) fn unrecorded(payload: &(dyn std::any::Any + Send)) -> Option<RunFailure> {
    let panic = CaughtPanic {
        message: payload_message(payload),
        location: None,
        t_ms: None,
    };
    RunFailure::from_panics(vec![panic], 1)
}

/// Records `info` into this thread's run, if one is collecting: the how
/// many'th panic of the run it is (from 1); `None` outside a run.
fn record(info: &std::panic::PanicHookInfo<'_>) -> Option<usize> {
    let message = payload_message(info.payload());
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
    // Only while the run's runtime runs: after it (the verdict being
    // judged) the clock would read wall time as emulated time.
    let t_ms = tokio::runtime::Handle::try_current()
        .ok()
        .and_then(|_| fleetsim_net::Clock::current_ms());
    // `try_with`: a panic while the thread's locals are torn down is not ours.
    CURRENT
        .try_with(|c| {
            let Ok(mut c) = c.try_borrow_mut() else {
                return None;
            };
            let c = c.as_mut()?;
            c.total += 1;
            if c.kept.len() < MAX_KEPT {
                c.kept.push(CaughtPanic {
                    message,
                    location,
                    t_ms,
                });
            }
            Some(c.total)
        })
        .ok()
        .flatten()
}

/// Collects the panics of one run on this thread while it lives.
pub(crate) struct Collecting(());

impl Collecting {
    /// Starts collecting on this thread (and installs the hook if needed).
    pub(crate) fn start() -> Collecting {
        install_hook();
        CURRENT.with(|c| *c.borrow_mut() = Some(Collector::default()));
        Collecting(())
    }

    /// Stops collecting and returns the failure, if anything panicked.
    pub(crate) fn finish(self) -> Option<RunFailure> {
        let c = CURRENT.with(|c| c.borrow_mut().take()).unwrap_or_default();
        std::mem::forget(self);
        RunFailure::from_panics(c.kept, c.total)
    }
}

impl Drop for Collecting {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.borrow_mut().take());
    }
}

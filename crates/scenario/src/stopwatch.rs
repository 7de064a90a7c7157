//! [`Stopwatch`]: wall time measured *about* the emulator, never fed into it.
//!
//! The one place fleetsim reads the wall clock outside live mode. What it
//! measures (a run's, a sweep's or a campaign's wall time, the speed
//! ratio, the bench, a progress line's time to go) is printed next to
//! results or on stderr; it never reaches an event, a decision or a seed,
//! so the same scenario and seed still give the same event log, byte for
//! byte.

/// Wall time since [`Stopwatch::start`]. `std::time` on purpose: this is a
/// measurement printed beside results (speed ratios, bench figures), never
/// an input to the emulated clock, an event or a seed.
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    /// Starts measuring now.
    pub fn start() -> Stopwatch {
        Stopwatch(std::time::Instant::now())
    }

    /// Wall milliseconds since the start.
    pub fn elapsed_ms(&self) -> f64 {
        self.elapsed_secs() * 1000.0
    }

    /// Wall seconds since the start.
    pub fn elapsed_secs(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

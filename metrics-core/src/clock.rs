//! The clock request and call durations are measured with.
//!
//! Every instrumented request reads the clock twice (start and end). `std::time::Instant`
//! asks the OS (a vDSO call, which under a hypervisor reads a paravirtual clock); this clock
//! reads the CPU's time-stamp counter directly where the CPU declares it invariant (constant
//! rate, synchronised across cores), scaled to the OS's monotonic clock by a calibration the
//! first reading of the process runs, through the [`quanta`](https://docs.rs/quanta) crate.
//! Where the counter is not invariant, quanta falls back to the OS monotonic clock. On the
//! project's 2-core VM a start/elapsed pair costs 29 ns against std's 43 ns (BENCHMARKS.md,
//! "The clock").
//!
//! The calibration takes about a millisecond (at most 200 ms); the HTTP and gRPC metrics
//! builders run it at build time, so that no request pays it.
//!
//! The clock is an instance of this crate's own, not quanta's global one: `quanta::with_clock`
//! (the mock an application's tests may install on a thread) does not reach it, so a
//! request started inside such a mock and ended outside it is still measured in real time.

use std::sync::OnceLock;
use std::time::Duration;

/// The measuring clock, calibrated on first use.
static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

#[inline]
fn clock() -> &'static quanta::Clock {
    CLOCK.get_or_init(quanta::Clock::new)
}

/// A point in time of the measuring clock. An elapsed time is never negative: a reading
/// earlier than its start (a counter read on another core) gives zero.
///
/// ```
/// use promenade_core::clock::Instant;
/// let start = Instant::now();
/// std::thread::sleep(std::time::Duration::from_millis(2));
/// let seconds = start.elapsed_seconds();
/// assert!(seconds >= 0.002 && seconds < 10.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(quanta::Instant);

impl Instant {
    /// The current time.
    ///
    /// ```
    /// let a = promenade_core::clock::Instant::now();
    /// let b = promenade_core::clock::Instant::now();
    /// assert!(b >= a);
    /// ```
    #[inline]
    pub fn now() -> Self {
        Self(clock().now())
    }

    /// The time elapsed since `self` (zero, never a panic, if `self` is later than now).
    ///
    /// ```
    /// let start = promenade_core::clock::Instant::now();
    /// assert!(start.elapsed() < std::time::Duration::from_secs(60));
    /// ```
    #[inline]
    pub fn elapsed(&self) -> Duration {
        Self::now().duration_since(*self)
    }

    /// [`elapsed`](Self::elapsed) in seconds, the unit Prometheus records durations in.
    ///
    /// ```
    /// let start = promenade_core::clock::Instant::now();
    /// assert!(start.elapsed_seconds() >= 0.0);
    /// ```
    #[inline]
    pub fn elapsed_seconds(&self) -> f64 {
        self.elapsed().as_secs_f64()
    }

    /// The time from `earlier` to `self` (zero if `earlier` is later).
    ///
    /// ```
    /// use promenade_core::clock::Instant;
    /// let a = Instant::now();
    /// let b = Instant::now();
    /// assert_eq!(a.duration_since(b), std::time::Duration::ZERO);
    /// assert!(b.duration_since(a) < std::time::Duration::from_secs(60));
    /// ```
    #[inline]
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }
}

/// Runs the clock's one-time calibration now, if it has not run yet in this process, so that
/// the first measured request does not wait for it. The metrics builders call it.
///
/// ```
/// promenade_core::clock::calibrate();
/// ```
pub fn calibrate() {
    let _ = clock();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Measured against std's clock over a sleep: the calibrated counter and the OS clock
    /// agree to well within what a duration bucket resolves.
    #[test]
    fn agrees_with_the_os_clock() {
        calibrate();
        let std_start = std::time::Instant::now();
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(50));
        let ours = start.elapsed_seconds();
        let reference = std_start.elapsed().as_secs_f64();
        // Ours starts later and ends earlier than the reference, by far less than a
        // millisecond; a 5 % bound either way holds on a loaded machine too.
        assert!(ours >= 0.049, "{ours} s measured over a 50 ms sleep");
        assert!(
            (ours - reference).abs() <= reference * 0.05 + 0.001,
            "{ours} vs {reference}"
        );
    }

    #[test]
    fn an_earlier_end_is_zero_not_a_panic() {
        let before = Instant::now();
        let after = Instant::now();
        assert_eq!(before.duration_since(after), Duration::ZERO);
        assert!(after.duration_since(before) < Duration::from_secs(60));
    }
}

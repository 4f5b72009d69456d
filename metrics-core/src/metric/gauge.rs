//! Gauge: a value that can go up and down.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::encoding::{LabelSet, MetricEncoder};
use crate::metric::counter::add_f64;
use crate::metric::{Metric, MetricType, unix_now_seconds};

/// A gauge holding an `f64`. `set` is one atomic store; `add`/`sub` are a CAS loop.
///
/// ```
/// let g = promenade_core::Gauge::default();
/// g.inc();
/// g.add(2.5);
/// g.dec();
/// assert_eq!(g.get(), 2.5);
/// ```
///
/// # Special values
///
/// A gauge carries any `f64`: NaN, `±Inf`, negative values, subnormals and `-0.0` are
/// stored and written as they are in every format (OpenMetrics 1.0 puts no limit on gauge
/// values). `add` follows float arithmetic: `+Inf` plus `-Inf` is NaN, and NaN stays until
/// the next `set`.
///
/// ```
/// let g = promenade_core::Gauge::default();
/// g.set(f64::NEG_INFINITY);
/// assert_eq!(g.get(), f64::NEG_INFINITY);
/// g.add(f64::INFINITY);
/// assert!(g.get().is_nan());
/// ```
#[derive(Debug, Default)]
pub struct Gauge {
    bits: AtomicU64,
}

impl Gauge {
    /// A gauge starting at `v` instead of 0.
    ///
    /// ```
    /// assert_eq!(promenade_core::Gauge::with_value(7.0).get(), 7.0);
    /// ```
    pub fn with_value(v: f64) -> Self {
        Self {
            bits: AtomicU64::new(v.to_bits()),
        }
    }

    /// Sets the value.
    ///
    /// ```
    /// let g = promenade_core::Gauge::default();
    /// g.set(-3.0);
    /// assert_eq!(g.get(), -3.0);
    /// ```
    #[inline]
    pub fn set(&self, v: f64) {
        self.bits.store(v.to_bits(), Ordering::Relaxed);
    }

    /// Adds one.
    ///
    /// ```
    /// let g = promenade_core::Gauge::default();
    /// g.inc();
    /// assert_eq!(g.get(), 1.0);
    /// ```
    #[inline]
    pub fn inc(&self) {
        self.add(1.0);
    }

    /// Subtracts one.
    ///
    /// ```
    /// let g = promenade_core::Gauge::default();
    /// g.dec();
    /// assert_eq!(g.get(), -1.0);
    /// ```
    #[inline]
    pub fn dec(&self) {
        self.add(-1.0);
    }

    /// Adds `v` (may be negative).
    ///
    /// ```
    /// let g = promenade_core::Gauge::default();
    /// g.add(0.5);
    /// assert_eq!(g.get(), 0.5);
    /// ```
    #[inline]
    pub fn add(&self, v: f64) {
        add_f64(&self.bits, v);
    }

    /// Subtracts `v`.
    ///
    /// ```
    /// let g = promenade_core::Gauge::default();
    /// g.sub(0.5);
    /// assert_eq!(g.get(), -0.5);
    /// ```
    #[inline]
    pub fn sub(&self, v: f64) {
        add_f64(&self.bits, -v);
    }

    /// Sets the gauge to the current Unix time in seconds.
    ///
    /// ```
    /// let g = promenade_core::Gauge::default();
    /// g.set_to_current_time();
    /// assert!(g.get() > 1.0e9);
    /// ```
    pub fn set_to_current_time(&self) {
        self.set(unix_now_seconds());
    }

    /// The current value.
    ///
    /// ```
    /// assert_eq!(promenade_core::Gauge::default().get(), 0.0);
    /// ```
    pub fn get(&self) -> f64 {
        f64::from_bits(self.bits.load(Ordering::Relaxed))
    }

    /// Starts a timer that sets the gauge to the elapsed seconds when dropped or stopped.
    ///
    /// ```
    /// let g = promenade_core::Gauge::default();
    /// g.start_timer().stop();
    /// assert!(g.get() >= 0.0);
    /// ```
    pub fn start_timer(&self) -> crate::metric::Timer<'_, Self> {
        crate::metric::Timer::new(self)
    }

    /// Increments now and decrements when the returned guard is dropped: an in-progress tracker.
    ///
    /// ```
    /// let g = promenade_core::Gauge::default();
    /// {
    ///     let _guard = g.track_inflight();
    ///     assert_eq!(g.get(), 1.0);
    /// }
    /// assert_eq!(g.get(), 0.0);
    /// ```
    pub fn track_inflight(&self) -> InflightGuard<'_> {
        self.inc();
        InflightGuard { gauge: self }
    }
}

/// Decrements its gauge when dropped; see [`Gauge::track_inflight`].
///
/// ```
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// let jobs = registry.gauge("jobs_running", "Jobs running now.").unwrap();
/// let guard = jobs.track_inflight();
/// assert!(registry.encode_to_string(Format::Text).unwrap().contains("jobs_running 1\n"));
/// drop(guard); // the job ended (or its thread unwound)
/// assert!(registry.encode_to_string(Format::Text).unwrap().contains("jobs_running 0\n"));
/// ```
#[derive(Debug)]
#[must_use = "the gauge is decremented when the guard is dropped"]
pub struct InflightGuard<'a> {
    gauge: &'a Gauge,
}

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

impl crate::metric::Observe for Gauge {
    fn observe_seconds(&self, seconds: f64) {
        self.set(seconds);
    }
}

impl Metric for Gauge {
    type Options = ();
    const TYPE: MetricType = MetricType::Gauge;

    fn build(_: &()) -> Self {
        Self::default()
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        enc.gauge(labels, self.get());
    }
}

/// A metric of unknown type (`untyped` in text 0.0.4, `unknown` in OpenMetrics), for values
/// proxied from systems that do not say what they are.
///
/// ```
/// let u = promenade_core::Unknown::default();
/// u.set(4.0);
/// assert_eq!(u.get(), 4.0);
/// ```
///
/// # Special values
///
/// Like [`Gauge`]: any `f64`, written as it is.
#[derive(Debug, Default)]
pub struct Unknown {
    inner: Gauge,
}

impl Unknown {
    /// Sets the value.
    ///
    /// ```
    /// promenade_core::Unknown::default().set(1.0);
    /// ```
    pub fn set(&self, v: f64) {
        self.inner.set(v);
    }

    /// The current value.
    ///
    /// ```
    /// assert_eq!(promenade_core::Unknown::default().get(), 0.0);
    /// ```
    pub fn get(&self) -> f64 {
        self.inner.get()
    }
}

impl Metric for Unknown {
    type Options = ();
    const TYPE: MetricType = MetricType::Unknown;

    fn build(_: &()) -> Self {
        Self::default()
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        enc.unknown(labels, self.get());
    }
}

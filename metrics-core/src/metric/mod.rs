//! The metric types: what a single series holds and how it is updated, one file per type
//! (the encoder they write to and the values it takes are in `encoding`).

mod counter;
mod exemplar;
mod gauge;
mod gauge_histogram;
mod histogram;
mod info;
mod native;
pub mod quantile;
mod short_lock;
mod stateset;
mod striped;
mod summary;

use std::sync::atomic::AtomicU64;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::clock::Instant;

pub use counter::Counter;
pub(crate) use exemplar::NATIVE_EXEMPLARS;
pub use exemplar::{EXEMPLAR_MAX_RUNES, Exemplar};
pub use gauge::{Gauge, InflightGuard, Unknown};
pub use gauge_histogram::{GaugeHistogram, GaugeHistogramSnapshot};
pub use histogram::{
    Buckets, DEFAULT_BUCKETS, Histogram, HistogramSnapshot, NativeSnapshot, exponential_buckets,
    linear_buckets,
};
pub use info::Info;
pub use native::{NativeBuckets, native_bucket_index, schema_for_factor};
pub(crate) use quantile::{QuantileOptions, QuantileSummary};
pub use stateset::{StateSet, States};
pub(crate) use striped::{CellsReading, StripedCells};
pub use summary::{Summary, SummarySnapshot};

use crate::encoding::{LabelSet, MetricEncoder};

/// The metric types of the Prometheus / OpenMetrics data model.
///
/// ```
/// use promenade_core::{Counter, Metric, MetricType};
/// assert_eq!(<Counter as Metric>::TYPE, MetricType::Counter);
/// // A counter family owns these sample names, so a clashing gauge is refused.
/// assert_eq!(MetricType::Counter.sample_suffixes(), &["_total", "_created"]);
/// let registry = promenade_core::Registry::new();
/// registry.counter("jobs_total", "Jobs.").unwrap();
/// assert!(registry.gauge("jobs_created", "Clash.").is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// A monotonic total; samples end in `_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets, `_sum` and `_count`.
    Histogram,
    /// Buckets that are gauges (current distribution); `_gcount` and `_gsum` in OpenMetrics.
    GaugeHistogram,
    /// `_sum`, `_count` and optional quantiles.
    Summary,
    /// Constant metadata as labels; samples end in `_info` with value 1.
    Info,
    /// A set of boolean states, one series per state.
    StateSet,
    /// A value of unknown type (`untyped` in text 0.0.4).
    Unknown,
}

impl MetricType {
    /// The suffixes this type appends to the family name, used to detect sample-name clashes.
    ///
    /// ```
    /// use promenade_core::MetricType;
    /// assert_eq!(MetricType::Counter.sample_suffixes(), &["_total", "_created"]);
    /// ```
    pub fn sample_suffixes(self) -> &'static [&'static str] {
        match self {
            MetricType::Counter => &["_total", "_created"],
            MetricType::Gauge | MetricType::Unknown | MetricType::StateSet => &[""],
            MetricType::Histogram => &["_bucket", "_count", "_sum", "_created"],
            MetricType::GaugeHistogram => &["_bucket", "_gcount", "_gsum", "_count", "_sum"],
            MetricType::Summary => &["", "_count", "_sum", "_created"],
            MetricType::Info => &["_info"],
        }
    }

    /// The label name the type reserves for itself, if any (`le`, `quantile`).
    ///
    /// ```
    /// assert_eq!(promenade_core::MetricType::Histogram.reserved_label(), Some("le"));
    /// ```
    pub fn reserved_label(self) -> Option<&'static str> {
        match self {
            MetricType::Histogram | MetricType::GaugeHistogram => Some("le"),
            MetricType::Summary => Some("quantile"),
            _ => None,
        }
    }
}

/// A metric type that can live in a [`Family`](crate::Family): built from shared options,
/// resettable, and able to write itself to an encoder.
///
/// ```
/// use promenade_core::encoding::{LabelSet, MetricEncoder};
/// use promenade_core::{Family, Format, Gauge, Metric, MetricType, Registry};
///
/// /// A gauge that only remembers the highest value it was given.
/// #[derive(Default)]
/// struct HighWater(Gauge);
/// impl HighWater {
///     fn offer(&self, v: f64) {
///         if v > self.0.get() {
///             self.0.set(v); // (not atomic as a whole; fine for an example)
///         }
///     }
/// }
/// impl Metric for HighWater {
///     type Options = ();
///     const TYPE: MetricType = MetricType::Gauge;
///     fn build(_: &()) -> Self { Self::default() }
///     fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) { enc.gauge(labels, self.0.get()) }
/// }
///
/// let peaks = Family::<HighWater>::builder("queue_peak", "Highest queue depth.").labels(&["queue"]).build().unwrap();
/// for depth in [3.0, 9.0, 4.0] {
///     peaks.get(&["mail"]).unwrap().offer(depth);
/// }
/// let registry = Registry::new();
/// registry.register(peaks).unwrap();
/// assert!(registry.encode_to_string(Format::Text).unwrap().contains("queue_peak{queue=\"mail\"} 9\n"));
/// ```
pub trait Metric: Send + Sync + 'static {
    /// What every series of a family is built from (buckets for histograms, states for state sets).
    type Options: Clone + Send + Sync + 'static;
    /// The exposed type.
    const TYPE: MetricType;
    /// A new series at its zero value.
    fn build(options: &Self::Options) -> Self;
    /// Writes the series' samples.
    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>);
}

/// Something a [`Timer`] can report elapsed seconds to.
///
/// ```
/// use promenade_core::{Gauge, Histogram, Observe, Summary};
///
/// /// Reports a duration to whatever metric the caller chose.
/// fn report(target: &impl Observe, seconds: f64) {
///     target.observe_seconds(seconds);
/// }
/// let (h, s, g) = (Histogram::default(), Summary::default(), Gauge::default());
/// report(&h, 0.3);
/// report(&s, 0.3);
/// report(&g, 0.3); // a gauge keeps the last duration
/// assert_eq!(h.snapshot().count, 1);
/// assert_eq!(s.snapshot().sum, 0.3);
/// assert_eq!(g.get(), 0.3);
/// ```
pub trait Observe {
    /// Records a duration in seconds.
    fn observe_seconds(&self, seconds: f64);
}

/// Measures from its creation until [`Timer::stop`] or drop, and reports seconds.
///
/// ```
/// let h = promenade_core::Histogram::default();
/// {
///     let _t = h.start_timer();
/// }
/// assert_eq!(h.snapshot().count, 1);
/// ```
#[derive(Debug)]
#[must_use = "a timer observes when it is dropped; bind it to a variable"]
pub struct Timer<'a, M: Observe> {
    target: &'a M,
    start: Instant,
    done: bool,
}

impl<'a, M: Observe> Timer<'a, M> {
    /// Starts timing for any [`Observe`] target.
    ///
    /// ```
    /// struct Last(std::cell::Cell<f64>);
    /// impl promenade_core::Observe for Last {
    ///     fn observe_seconds(&self, s: f64) { self.0.set(s) }
    /// }
    /// let last = Last(std::cell::Cell::new(-1.0));
    /// promenade_core::Timer::new(&last).stop();
    /// assert!(last.0.get() >= 0.0);
    /// ```
    pub fn new(target: &'a M) -> Self {
        Self {
            target,
            start: Instant::now(),
            done: false,
        }
    }

    /// Stops the timer, records and returns the elapsed seconds.
    ///
    /// ```
    /// let s = promenade_core::Summary::default();
    /// assert!(s.start_timer().stop() >= 0.0);
    /// ```
    pub fn stop(mut self) -> f64 {
        self.done = true;
        let seconds = self.start.elapsed_seconds();
        self.target.observe_seconds(seconds);
        seconds
    }

    /// Drops the timer without recording anything.
    ///
    /// ```
    /// let h = promenade_core::Histogram::default();
    /// h.start_timer().discard();
    /// assert_eq!(h.snapshot().count, 0);
    /// ```
    pub fn discard(mut self) {
        self.done = true;
    }
}

impl<M: Observe> Drop for Timer<'_, M> {
    fn drop(&mut self) {
        if !self.done {
            self.target.observe_seconds(self.start.elapsed_seconds());
        }
    }
}

/// Current Unix time in seconds (0 if the clock is before 1970).
pub(crate) fn unix_now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

pub(crate) fn created_now() -> AtomicU64 {
    AtomicU64::new(unix_now_seconds().to_bits())
}

//! The facade's handle types over Promenade series: what `counter!(..).increment(1)` and
//! `histogram!(..).record(v)` call on the hot path.

use std::sync::atomic::{AtomicU64, Ordering};

use ::metrics::{CounterFn, GaugeFn, HistogramFn};

use crate::family::Series;
use crate::metric::{Counter, Gauge, Histogram, QuantileSummary};

pub(super) struct CounterHandle {
    pub(super) series: Series<Counter>,
    /// The last value given to `absolute` through this handle.
    pub(super) absolute: AtomicU64,
}

impl CounterFn for CounterHandle {
    #[inline]
    fn increment(&self, value: u64) {
        self.series.inc_by_u64(value);
    }
    fn absolute(&self, value: u64) {
        // "At least this value": only the rise since the largest value seen is added.
        let prev = self.absolute.fetch_max(value, Ordering::Relaxed);
        if value > prev {
            self.series.inc_by_u64(value - prev);
        }
    }
}

pub(super) struct GaugeHandle(pub(super) Series<Gauge>);

impl GaugeFn for GaugeHandle {
    fn increment(&self, value: f64) {
        self.0.add(value);
    }
    fn decrement(&self, value: f64) {
        self.0.sub(value);
    }
    fn set(&self, value: f64) {
        self.0.set(value);
    }
}

pub(super) struct HistogramHandle(pub(super) Series<Histogram>);

impl HistogramFn for HistogramHandle {
    #[inline]
    fn record(&self, value: f64) {
        self.0.observe(value);
    }
}

pub(super) struct SummaryHandle(pub(super) Series<QuantileSummary>);

impl HistogramFn for SummaryHandle {
    fn record(&self, value: f64) {
        self.0.observe(value);
    }
}

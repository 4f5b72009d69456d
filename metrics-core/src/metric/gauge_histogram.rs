//! GaugeHistogram: buckets that describe a current distribution and can go down.

use std::sync::Mutex;

use crate::encoding::{HistogramValue, LabelSet, MetricEncoder};
use crate::metric::{Buckets, Metric, MetricType};

/// A histogram whose buckets are gauges: items can be added and taken away, e.g. the ages of
/// the items currently in a queue. Exposed as `gaugehistogram` in OpenMetrics (`_gcount`,
/// `_gsum`) and as `histogram` in text 0.0.4.
///
/// ```
/// let g = promenade_core::GaugeHistogram::new(promenade_core::Buckets::new(vec![1.0, 10.0]).unwrap());
/// g.observe(0.5);
/// g.observe(5.0);
/// g.unobserve(0.5);
/// let s = g.snapshot();
/// assert_eq!(s.count, 1);
/// assert_eq!(s.cumulative, vec![0, 1]);
/// ```
#[derive(Debug)]
pub struct GaugeHistogram {
    buckets: Buckets,
    // Not a request hot path: a mutex keeps count, sum and buckets trivially consistent.
    state: Mutex<GaugeHistogramSnapshot>,
}

/// A reading of a gauge histogram.
///
/// ```
/// use promenade_core::{Buckets, GaugeHistogram, GaugeHistogramSnapshot};
/// let queued = GaugeHistogram::new(Buckets::new(vec![1.0, 60.0]).unwrap());
/// queued.observe(0.5);
/// queued.observe(30.0);
/// queued.observe(90.0);
/// queued.unobserve(30.0); // that item was dequeued
/// assert_eq!(queued.snapshot(), GaugeHistogramSnapshot { cumulative: vec![1, 1], count: 2, sum: 90.5 });
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GaugeHistogramSnapshot {
    /// Cumulative counts per finite bound (`+Inf` is `count`).
    pub cumulative: Vec<u64>,
    /// Items currently counted.
    pub count: u64,
    /// Sum of the items' values.
    pub sum: f64,
}

impl Default for GaugeHistogram {
    fn default() -> Self {
        Self::new(Buckets::default())
    }
}

impl GaugeHistogram {
    /// An empty gauge histogram.
    ///
    /// ```
    /// assert_eq!(promenade_core::GaugeHistogram::default().snapshot().count, 0);
    /// ```
    pub fn new(buckets: Buckets) -> Self {
        let n = buckets.bounds().len();
        Self {
            buckets,
            state: Mutex::new(GaugeHistogramSnapshot {
                cumulative: vec![0; n],
                count: 0,
                sum: 0.0,
            }),
        }
    }

    fn apply(&self, v: f64, add: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !add && s.count == 0 {
            // Nothing to take away: keep count, sum and buckets consistent.
            return;
        }
        let first = self
            .buckets
            .bounds()
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.buckets.bounds().len());
        for c in &mut s.cumulative[first..] {
            *c = if add {
                c.saturating_add(1)
            } else {
                c.saturating_sub(1)
            };
        }
        if add {
            s.count = s.count.saturating_add(1);
            s.sum += v;
        } else {
            s.count = s.count.saturating_sub(1);
            s.sum -= v;
            // Taking away an item that was never added (a value whose bucket is empty) must
            // not leave a bucket above a higher one or above the count: cap each bucket by the
            // one after it, the last by the count, so the buckets stay cumulative.
            let mut cap = s.count;
            for c in s.cumulative.iter_mut().rev() {
                *c = (*c).min(cap);
                cap = *c;
            }
        }
    }

    /// Adds an item with value `v`.
    ///
    /// ```
    /// promenade_core::GaugeHistogram::default().observe(0.3);
    /// ```
    pub fn observe(&self, v: f64) {
        self.apply(v, true);
    }

    /// Takes away an item with value `v` that was added before (counts never go below 0).
    ///
    /// ```
    /// let g = promenade_core::GaugeHistogram::default();
    /// g.unobserve(1.0);
    /// assert_eq!(g.snapshot().count, 0);
    /// ```
    pub fn unobserve(&self, v: f64) {
        self.apply(v, false);
    }

    /// The current distribution.
    ///
    /// ```
    /// assert_eq!(promenade_core::GaugeHistogram::default().snapshot().cumulative.len(), 11);
    /// ```
    pub fn snapshot(&self) -> GaugeHistogramSnapshot {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Metric for GaugeHistogram {
    type Options = Buckets;
    const TYPE: MetricType = MetricType::GaugeHistogram;

    fn build(buckets: &Buckets) -> Self {
        Self::new(buckets.clone())
    }

    fn reset(&self) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.cumulative.iter_mut().for_each(|c| *c = 0);
        s.count = 0;
        s.sum = 0.0;
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        let s = self.snapshot();
        enc.gauge_histogram(
            labels,
            &HistogramValue {
                bounds: self.buckets.bounds(),
                cumulative: &s.cumulative,
                count: s.count,
                sum: s.sum,
                created: None,
                native: None,
                exemplars: None,
                native_exemplars: &[],
            },
        );
    }
}

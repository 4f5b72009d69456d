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
///
/// # Special values
///
/// Any value can be added and taken away. NaN and `-Inf` land in the first bucket that
/// holds them (NaN in `+Inf`, as for histograms), `+Inf` in `+Inf`.
///
/// - The sum counts NaN, `+Inf` and `-Inf` items apart from the finite ones, so taking such
///   an item away undoes it: the sum is NaN while a NaN item (or both infinities) is in,
///   `±Inf` while an infinite item is in, and the finite sum otherwise. When the last item
///   is taken away the sum is exactly 0 again, whatever rounding did on the way; while no
///   negative item is in, rounding never makes it negative. A finite sum that overflowed
///   stays infinite until the histogram is empty.
/// - OpenMetrics 1.0: `_gsum` may be negative only when a bucket threshold is negative, and
///   is never NaN; otherwise `_gsum` and `_gcount` (which come together) are left out of
///   that scrape. Text 0.0.4 and protobuf write the sum as it is.
///
/// ```
/// use promenade_core::{Buckets, GaugeHistogram};
/// let g = GaugeHistogram::new(Buckets::new(vec![1.0]).unwrap());
/// g.observe(2.0);
/// g.observe(f64::INFINITY);
/// assert_eq!(g.snapshot().sum, f64::INFINITY);
/// g.unobserve(f64::INFINITY);
/// assert_eq!(g.snapshot().sum, 2.0);
/// ```
#[derive(Debug)]
pub struct GaugeHistogram {
    buckets: Buckets,
    // Not a request hot path: a mutex keeps count, sum and buckets trivially consistent.
    state: Mutex<State>,
}

/// The items currently in a gauge histogram.
#[derive(Debug)]
struct State {
    cumulative: Vec<u64>,
    count: u64,
    /// Sum of the finite items in; exactly 0 when empty.
    finite_sum: f64,
    /// Items in that are NaN, `+Inf`, `-Inf`, or finite and below zero.
    nan: u64,
    pos_inf: u64,
    neg_inf: u64,
    negative: u64,
}

impl State {
    fn sum(&self) -> f64 {
        if self.nan > 0 || (self.pos_inf > 0 && self.neg_inf > 0) {
            f64::NAN
        } else if self.pos_inf > 0 {
            f64::INFINITY
        } else if self.neg_inf > 0 {
            f64::NEG_INFINITY
        } else if self.negative == 0 && self.finite_sum < 0.0 {
            // Every item in is >= 0: a negative sum is rounding left by items taken away.
            0.0
        } else {
            self.finite_sum
        }
    }

    /// Adds (`add`) or takes away one item of value `v` from the sum and its special counts.
    fn sum_item(&mut self, v: f64, add: bool) {
        let slot = if v.is_nan() {
            &mut self.nan
        } else if v == f64::INFINITY {
            &mut self.pos_inf
        } else if v == f64::NEG_INFINITY {
            &mut self.neg_inf
        } else {
            if add {
                self.finite_sum += v;
            } else {
                self.finite_sum -= v;
            }
            if v >= 0.0 {
                return;
            }
            &mut self.negative
        };
        *slot = if add {
            slot.saturating_add(1)
        } else {
            slot.saturating_sub(1)
        };
    }
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
            state: Mutex::new(State {
                cumulative: vec![0; n],
                count: 0,
                finite_sum: 0.0,
                nan: 0,
                pos_inf: 0,
                neg_inf: 0,
                negative: 0,
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
        s.sum_item(v, add);
        if add {
            s.count = s.count.saturating_add(1);
        } else {
            s.count = s.count.saturating_sub(1);
            if s.count == 0 {
                // Empty: drop what rounding (or items never added) left in the sum.
                s.finite_sum = 0.0;
                s.nan = 0;
                s.pos_inf = 0;
                s.neg_inf = 0;
                s.negative = 0;
            }
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
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        GaugeHistogramSnapshot {
            cumulative: s.cumulative.clone(),
            count: s.count,
            sum: s.sum(),
        }
    }
}

impl Metric for GaugeHistogram {
    type Options = Buckets;
    const TYPE: MetricType = MetricType::GaugeHistogram;

    fn build(buckets: &Buckets) -> Self {
        Self::new(buckets.clone())
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

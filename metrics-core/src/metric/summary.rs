//! Summary: count and sum of observations (quantiles are not computed by this type).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::encoding::{LabelSet, MetricEncoder, SummaryValue};
use crate::metric::{CellsReading, Metric, MetricType, Observe, StripedCells, Timer, created_now};

/// A summary without quantiles: `_count` and `_sum`, read consistently like a histogram.
///
/// ```
/// let s = promenade_core::Summary::default();
/// s.observe(1.5);
/// s.observe(0.5);
/// assert_eq!(s.snapshot().count, 2);
/// assert_eq!(s.snapshot().sum, 2.0);
/// ```
///
/// # Special values
///
/// Every observation is counted; the sum is the plain float sum (NaN after a NaN or after
/// both infinities, `±Inf` after an infinity, negative after negative values). Text 0.0.4
/// and protobuf write it as it is. OpenMetrics 1.0 makes `_sum` counter-like, so there it is
/// left out of a scrape while NaN or negative; `_count` is always written.
///
/// ```
/// use promenade_core::{Format, Registry};
/// let r = Registry::new();
/// let s = r.summary("drift_seconds", "Clock drift.").unwrap();
/// s.observe(-0.25);
/// let om = r.encode_to_string(Format::OpenMetrics).unwrap();
/// assert!(om.contains("drift_seconds_count 1\n") && !om.contains("drift_seconds_sum"));
/// ```
#[derive(Debug)]
pub struct Summary {
    cells: StripedCells,
    created_bits: AtomicU64,
}

/// A consistent reading of a summary.
///
/// ```
/// use promenade_core::{Summary, SummarySnapshot};
/// let s = Summary::default();
/// s.observe(0.25);
/// s.observe(0.75);
/// assert_eq!(s.snapshot(), SummarySnapshot { count: 2, sum: 1.0 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SummarySnapshot {
    /// Number of observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
}

impl Default for Summary {
    fn default() -> Self {
        Self {
            cells: StripedCells::new(0),
            created_bits: created_now(),
        }
    }
}

impl Summary {
    /// Records one observation.
    ///
    /// ```
    /// promenade_core::Summary::default().observe(3.0);
    /// ```
    #[inline]
    pub fn observe(&self, v: f64) {
        self.cells.record(0, v);
    }

    /// Starts a timer that observes elapsed seconds when dropped or stopped.
    ///
    /// ```
    /// let s = promenade_core::Summary::default();
    /// drop(s.start_timer());
    /// assert_eq!(s.snapshot().count, 1);
    /// ```
    pub fn start_timer(&self) -> Timer<'_, Self> {
        Timer::new(self)
    }

    /// A consistent reading of count and sum.
    ///
    /// ```
    /// assert_eq!(promenade_core::Summary::default().snapshot().count, 0);
    /// ```
    pub fn snapshot(&self) -> SummarySnapshot {
        let mut r = CellsReading::default();
        self.cells.read_into(&mut r);
        SummarySnapshot {
            count: r.count,
            sum: r.sum,
        }
    }
}

impl Observe for Summary {
    fn observe_seconds(&self, seconds: f64) {
        self.observe(seconds);
    }
}

impl Metric for Summary {
    type Options = ();
    const TYPE: MetricType = MetricType::Summary;

    fn build(_: &()) -> Self {
        Self::default()
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        let s = self.snapshot();
        enc.summary(
            labels,
            &SummaryValue {
                quantiles: &[],
                count: s.count,
                sum: s.sum,
                created: Some(f64::from_bits(self.created_bits.load(Ordering::Relaxed))),
            },
        );
    }
}

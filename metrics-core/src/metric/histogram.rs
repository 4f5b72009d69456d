//! Histogram with classic (explicit-bound) and native buckets.

// Negated comparisons are deliberate here: they are how NaN fails a check or lands in +Inf.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::encoding::{HistogramValue, LabelSet, MetricEncoder, NativeValue};
use crate::error::{Error, Result};
use crate::metric::native::{NativeBuckets, NativeState};
use crate::metric::short_lock::{ShortLock, ShortLockGuard};
use crate::metric::striped::{CellsReading, StripedCells};
use crate::metric::{
    Exemplar, Metric, MetricType, NATIVE_EXEMPLARS, Observe, Timer, created_now, unix_now_seconds,
};

/// The default buckets, the same as every other Prometheus client library.
///
/// ```
/// use promenade_core::{Buckets, DEFAULT_BUCKETS};
/// assert_eq!(Buckets::default().bounds(), &DEFAULT_BUCKETS);
/// // A variant: the defaults plus a 30 s bucket for slow batch requests.
/// let mut bounds = DEFAULT_BUCKETS.to_vec();
/// bounds.push(30.0);
/// assert_eq!(Buckets::new(bounds).unwrap().bounds().len(), 12);
/// ```
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// `count` bucket bounds starting at `start`, each `width` apart. `+Inf` is implicit and not included.
///
/// ```
/// assert_eq!(promenade_core::linear_buckets(1.0, 2.0, 3).unwrap(), vec![1.0, 3.0, 5.0]);
/// assert!(promenade_core::linear_buckets(1.0, 0.0, 3).is_err());
/// ```
pub fn linear_buckets(start: f64, width: f64, count: usize) -> Result<Vec<f64>> {
    if count == 0 || !(width > 0.0) || !start.is_finite() || !width.is_finite() {
        return Err(Error::InvalidBuckets(format!(
            "linear buckets need count >= 1 and a finite width > 0 (start {start}, width {width}, count {count})"
        )));
    }
    Ok((0..count).map(|i| start + width * i as f64).collect())
}

/// `count` bucket bounds starting at `start`, each `factor` times the one before. `+Inf` is implicit.
///
/// ```
/// assert_eq!(promenade_core::exponential_buckets(1.0, 2.0, 4).unwrap(), vec![1.0, 2.0, 4.0, 8.0]);
/// assert!(promenade_core::exponential_buckets(0.0, 2.0, 4).is_err());
/// ```
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Result<Vec<f64>> {
    if count == 0 || !(start > 0.0) || !(factor > 1.0) || !start.is_finite() || !factor.is_finite()
    {
        return Err(Error::InvalidBuckets(format!(
            "exponential buckets need count >= 1, start > 0 and factor > 1 (start {start}, factor {factor}, count {count})"
        )));
    }
    Ok((0..count).map(|i| start * factor.powi(i as i32)).collect())
}

/// Validated, immutable bucket bounds (without the implicit `+Inf`).
///
/// ```
/// let b = promenade_core::Buckets::new(vec![0.1, 1.0, f64::INFINITY]).unwrap();
/// assert_eq!(b.bounds(), &[0.1, 1.0]); // a trailing +Inf is implicit and dropped
/// assert!(promenade_core::Buckets::new(vec![1.0, 1.0]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    bounds: Arc<[f64]>,
    native: Option<NativeBuckets>,
}

impl Default for Buckets {
    fn default() -> Self {
        Self {
            bounds: Arc::from(&DEFAULT_BUCKETS[..]),
            native: None,
        }
    }
}

impl Buckets {
    /// Checks that bounds strictly increase and are not NaN; a trailing `+Inf` is dropped.
    ///
    /// ```
    /// assert!(promenade_core::Buckets::new(vec![2.0, 1.0]).is_err());
    /// ```
    pub fn new(mut bounds: Vec<f64>) -> Result<Self> {
        if bounds.last() == Some(&f64::INFINITY) {
            bounds.pop();
        }
        for (i, b) in bounds.iter().enumerate() {
            if b.is_nan() {
                return Err(Error::InvalidBuckets("a bound is NaN".into()));
            }
            // Only one trailing +Inf is dropped: another one would be a second `+Inf` bucket.
            if *b == f64::INFINITY {
                return Err(Error::InvalidBuckets("+Inf appears twice".into()));
            }
            if i > 0 && !(bounds[i - 1] < *b) {
                return Err(Error::InvalidBuckets(format!(
                    "bound {} at position {i} is not greater than {}",
                    b,
                    bounds[i - 1]
                )));
            }
        }
        Ok(Self {
            bounds: bounds.into(),
            native: None,
        })
    }

    /// Native buckets only: text formats then show `_count`, `_sum` and the `+Inf` bucket,
    /// protobuf the full native histogram.
    ///
    /// ```
    /// let b = promenade_core::Buckets::native_only(promenade_core::NativeBuckets::default());
    /// assert!(b.bounds().is_empty());
    /// ```
    pub fn native_only(native: NativeBuckets) -> Self {
        Self {
            bounds: Arc::from(&[][..]),
            native: Some(native),
        }
    }

    /// Adds native buckets next to the classic ones (both are exposed).
    ///
    /// ```
    /// use promenade_core::{Buckets, NativeBuckets};
    /// let b = Buckets::default().with_native(NativeBuckets::default());
    /// assert_eq!(b.bounds().len(), 11);
    /// assert!(b.native().is_some());
    /// ```
    #[must_use]
    pub fn with_native(mut self, native: NativeBuckets) -> Self {
        self.native = Some(native);
        self
    }

    /// The native bucket configuration, if any.
    ///
    /// ```
    /// assert!(promenade_core::Buckets::default().native().is_none());
    /// ```
    pub fn native(&self) -> Option<&NativeBuckets> {
        self.native.as_ref()
    }

    /// The finite upper bounds.
    ///
    /// ```
    /// assert_eq!(promenade_core::Buckets::default().bounds().len(), 11);
    /// ```
    pub fn bounds(&self) -> &[f64] {
        &self.bounds
    }

    #[inline]
    fn index(&self, v: f64) -> usize {
        let b = &self.bounds[..];
        // NaN compares false everywhere and lands in +Inf, as in the Go client.
        if v.is_nan() {
            b.len()
        } else {
            // Bounds ascend: the first bound >= v (a branch-free binary search).
            b.partition_point(|bound| *bound < v)
        }
    }
}

/// A histogram with classic (cumulative, explicit-bound) buckets.
///
/// Observing costs one uncontended atomic instruction plus plain loads and stores: each
/// thread writes its own stripe, taken with a compare-and-swap. Every scrape sees count, sum
/// and buckets from the same set of observations.
///
/// ```
/// let h = promenade_core::Histogram::new(promenade_core::Buckets::new(vec![1.0, 2.0]).unwrap());
/// h.observe(0.5);
/// h.observe(1.5);
/// h.observe(9.0);
/// let s = h.snapshot();
/// assert_eq!(s.count, 3);
/// assert_eq!(s.cumulative, vec![1, 2]);
/// assert_eq!(s.sum, 11.0);
/// ```
///
/// # Special values
///
/// Every observation is counted, whatever its value (as in the Go client):
///
/// - classic buckets: NaN and `+Inf` land in the `+Inf` bucket, `-Inf` and negative values
///   in the first bucket whose bound holds them; subnormals and `-0.0` like any small value;
/// - native buckets (as the Go client's): NaN is counted in no bucket, `±Inf` in the overflow
///   bucket of its sign, `|v|` at most the zero threshold (subnormals, `-0.0`) in the zero
///   bucket;
/// - the sum is the plain float sum: NaN after a NaN (or after both `+Inf` and `-Inf`),
///   `±Inf` after an infinity or an overflow, negative after negative values.
///
/// Text 0.0.4 and protobuf write the sum as it is; Prometheus ingests it. OpenMetrics 1.0
/// makes `_sum` counter-like and forbids it next to a negative bucket threshold, so there
/// `_sum` and `_count` (which come together) are left out of a scrape whenever the sum is
/// NaN or negative, and always when a bound is negative; the `+Inf` bucket still carries the
/// count.
///
/// ```
/// use promenade_core::{Buckets, Format, Histogram, Registry};
/// let r = Registry::new();
/// let h = r.histogram("delta", "Change.", Buckets::new(vec![0.0, 1.0]).unwrap()).unwrap();
/// h.observe(-2.0);
/// let om = r.encode_to_string(Format::OpenMetrics).unwrap();
/// assert!(om.contains("delta_bucket{le=\"+Inf\"} 1\n") && !om.contains("delta_sum"));
/// let text = r.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains("delta_sum -2\ndelta_count 1\n"));
/// ```
#[derive(Debug)]
pub struct Histogram {
    buckets: Buckets,
    storage: Storage,
    created_bits: AtomicU64,
    // Set on the first exemplar: histograms without exemplars pay one pointer, and a scrape
    // checks for them with a plain load instead of taking a lock.
    exemplars: OnceLock<Box<Mutex<HistogramExemplars>>>,
}

/// The latest exemplar per classic bucket (`+Inf` last) and the latest few native ones.
#[derive(Debug, Clone, Default)]
struct HistogramExemplars {
    classic: Vec<Option<Exemplar>>,
    native: std::collections::VecDeque<Exemplar>,
}

/// Classic-only histograms use the striped cells (one short lock word per stripe); with native
/// buckets the whole state sits under one [`ShortLock`] (sparse buckets, zero bucket, schema
/// changes and resets must stay consistent with count and sum; the section is this crate's
/// own bounded work, so a lock released with a plain store fits).
#[derive(Debug)]
enum Storage {
    Classic(StripedCells),
    Native(Box<ShortLock<NativeState>>),
}

/// A consistent reading of a histogram.
///
/// ```
/// use promenade_core::{Buckets, Histogram};
/// let h = Histogram::new(Buckets::new(vec![0.1, 1.0]).unwrap());
/// for v in [0.05, 0.5, 0.7, 3.0] {
///     h.observe(v);
/// }
/// let s = h.snapshot();
/// assert_eq!(s.bounds, vec![0.1, 1.0]);
/// assert_eq!(s.cumulative, vec![1, 3]); // the +Inf bucket is `count`
/// assert_eq!(s.count, 4);
/// assert!((s.sum - 4.25).abs() < 1e-9);
/// assert!(s.native.is_none());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Finite upper bounds.
    pub bounds: Vec<f64>,
    /// Cumulative counts per finite bound (the `+Inf` bucket is `count`).
    pub cumulative: Vec<u64>,
    /// Number of observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// The native buckets, when configured.
    pub native: Option<NativeSnapshot>,
}

/// The native part of a histogram reading.
///
/// ```
/// use promenade_core::{Buckets, Histogram, NativeBuckets};
/// let h = Histogram::new(Buckets::native_only(NativeBuckets::with_factor(2.0).unwrap()));
/// for v in [0.0, 1.0, 3.0, 3.5, -2.0] {
///     h.observe(v);
/// }
/// let native = h.snapshot().native.unwrap();
/// assert_eq!(native.schema, 0); // bucket i covers (2^(i-1), 2^i]
/// assert_eq!(native.zero_count, 1);
/// assert_eq!(native.positive, vec![(0, 1), (2, 2)]);
/// assert_eq!(native.negative, vec![(1, 1)]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NativeSnapshot {
    /// Current schema (may be below the configured one after the bucket limit acted).
    pub schema: i32,
    /// Current zero threshold.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// Sorted `(index, count)` of positive buckets.
    pub positive: Vec<(i32, u64)>,
    /// Sorted `(index, count)` of negative buckets.
    pub negative: Vec<(i32, u64)>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new(Buckets::default())
    }
}

impl Histogram {
    /// A histogram with the given buckets.
    ///
    /// ```
    /// let h = promenade_core::Histogram::new(promenade_core::Buckets::default());
    /// h.observe(0.2);
    /// ```
    pub fn new(buckets: Buckets) -> Self {
        let created_bits = created_now();
        let storage = match buckets.native() {
            Some(native) => Storage::Native(Box::new(ShortLock::new(NativeState::new(
                native.clone(),
                buckets.bounds().len(),
                f64::from_bits(created_bits.load(Ordering::Relaxed)),
            )))),
            None => Storage::Classic(StripedCells::new(buckets.bounds().len())),
        };
        Self {
            buckets,
            storage,
            created_bits,
            exemplars: OnceLock::new(),
        }
    }

    /// Records one observation and keeps an exemplar for its bucket (the latest per classic
    /// bucket, the latest ten for native buckets).
    ///
    /// ```
    /// let h = promenade_core::Histogram::default();
    /// h.observe_with_exemplar(0.3, &[("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")]).unwrap();
    /// assert_eq!(h.snapshot().count, 1);
    /// ```
    pub fn observe_with_exemplar(&self, v: f64, labels: &[(&str, &str)]) -> Result<()> {
        let exemplar = Exemplar::new(labels, v)?;
        {
            let slot = self.exemplars.get_or_init(|| {
                Box::new(Mutex::new(HistogramExemplars {
                    classic: vec![None; self.buckets.bounds().len() + 1],
                    ..Default::default()
                }))
            });
            let mut ex = slot.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = ex.classic.get_mut(self.buckets.index(v)) {
                *c = Some(exemplar.clone());
            }
            if self.buckets.native().is_some() {
                if ex.native.len() >= NATIVE_EXEMPLARS {
                    ex.native.pop_front();
                }
                ex.native.push_back(exemplar);
            }
        }
        self.observe(v);
        Ok(())
    }

    fn native_state(m: &ShortLock<NativeState>) -> ShortLockGuard<'_, NativeState> {
        m.lock()
    }

    /// Records one observation.
    ///
    /// ```
    /// promenade_core::Histogram::default().observe(0.042);
    /// ```
    #[inline]
    pub fn observe(&self, v: f64) {
        let index = self.buckets.index(v);
        match &self.storage {
            Storage::Classic(cells) => cells.record(index, v),
            Storage::Native(state) => Self::native_state(state).observe(v, index, unix_now_seconds),
        }
    }

    /// Starts a timer that observes the elapsed seconds when dropped or stopped.
    ///
    /// ```
    /// let h = promenade_core::Histogram::default();
    /// let seconds = h.start_timer().stop();
    /// assert!(seconds >= 0.0);
    /// assert_eq!(h.snapshot().count, 1);
    /// ```
    pub fn start_timer(&self) -> Timer<'_, Self> {
        Timer::new(self)
    }

    /// A consistent reading: count, sum and buckets from the same observations.
    ///
    /// ```
    /// assert_eq!(promenade_core::Histogram::default().snapshot().count, 0);
    /// ```
    pub fn snapshot(&self) -> HistogramSnapshot {
        let (reading, native) = self.read();
        let mut acc = 0;
        let cumulative = reading.buckets.iter().map(|c| {
            acc += c;
            acc
        });
        HistogramSnapshot {
            bounds: self.buckets.bounds().to_vec(),
            cumulative: cumulative.collect(),
            count: reading.count,
            sum: reading.sum,
            native,
        }
    }

    /// Count, sum and non-cumulative classic buckets, plus the native part, read consistently.
    fn read(&self) -> (CellsReading, Option<NativeSnapshot>) {
        let mut reading = CellsReading::default();
        let native = self.read_into(&mut reading);
        (reading, native)
    }

    fn read_into(&self, reading: &mut CellsReading) -> Option<NativeSnapshot> {
        match &self.storage {
            Storage::Classic(cells) => {
                cells.read_into(reading);
                None
            }
            Storage::Native(state) => {
                let s = Self::native_state(state);
                reading.count = s.count;
                reading.sum = s.sum;
                reading.buckets.clear();
                reading.buckets.extend_from_slice(&s.classic);
                Some(NativeSnapshot {
                    schema: s.schema,
                    zero_threshold: s.zero_threshold,
                    zero_count: s.zero_count,
                    positive: s.positive.clone(),
                    negative: s.negative.clone(),
                })
            }
        }
    }

    /// Only the number of observations (consistent with the other fields of the same read).
    pub(crate) fn snapshot_count(&self) -> u64 {
        match &self.storage {
            Storage::Classic(cells) => {
                let mut reading = CellsReading::default();
                cells.read_into(&mut reading);
                reading.count
            }
            Storage::Native(state) => Self::native_state(state).count,
        }
    }

    /// The bucket layout.
    ///
    /// ```
    /// assert_eq!(promenade_core::Histogram::default().buckets().bounds()[0], 0.005);
    /// ```
    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }
}

impl Observe for Histogram {
    fn observe_seconds(&self, seconds: f64) {
        self.observe(seconds);
    }
}

impl Metric for Histogram {
    type Options = Buckets;
    const TYPE: MetricType = MetricType::Histogram;

    fn build(buckets: &Buckets) -> Self {
        Self::new(buckets.clone())
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        // Exemplars first, then the counts: an exemplar never refers to an uncounted event.
        let exemplars = self
            .exemplars
            .get()
            .map(|slot| slot.lock().unwrap_or_else(|p| p.into_inner()).clone());
        let native_exemplars: Vec<Exemplar> = exemplars
            .as_ref()
            .map(|e| e.native.iter().cloned().collect())
            .unwrap_or_default();
        // The bucket buffer is the encoder's, reused from series to series of the scrape.
        let mut reading = CellsReading {
            buckets: enc.take_counts(),
            ..CellsReading::default()
        };
        let native = self.read_into(&mut reading);
        let mut acc = 0;
        for c in reading.buckets.iter_mut() {
            acc += *c;
            *c = acc;
        }
        let value = HistogramValue {
            bounds: self.buckets.bounds(),
            cumulative: &reading.buckets,
            count: reading.count,
            sum: reading.sum,
            created: Some(f64::from_bits(self.created_bits.load(Ordering::Relaxed))),
            native: native.as_ref().map(|n| NativeValue {
                schema: n.schema,
                zero_threshold: n.zero_threshold,
                zero_count: n.zero_count,
                positive: &n.positive,
                negative: &n.negative,
            }),
            exemplars: exemplars.as_ref().map(|e| e.classic.as_slice()),
            native_exemplars: &native_exemplars,
        };
        enc.histogram(labels, &value);
        enc.put_counts(reading.buckets);
    }
}

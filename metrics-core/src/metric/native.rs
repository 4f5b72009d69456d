//! Native (sparse, exponential) histogram buckets
//! (<https://prometheus.io/docs/specs/native_histograms/>).

// Negated comparisons are deliberate: NaN must fail the checks.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Smallest and largest schema allowed in expositions.
///
/// ```
/// // Not exported from the crate root; the clamp is visible through `schema_for_factor`.
/// assert_eq!(promenade_core::schema_for_factor(1e300), Some(-4)); // coarsest schema
/// ```
pub(crate) const MIN_SCHEMA: i32 = -4;
/// Largest schema (finest resolution).
///
/// ```
/// // Not exported from the crate root; the clamp is visible through `schema_for_factor`.
/// assert_eq!(promenade_core::schema_for_factor(1.000_001), Some(8)); // finest schema
/// ```
pub(crate) const MAX_SCHEMA: i32 = 8;
/// The default zero threshold, 2^-128: a bucket boundary in every schema.
///
/// ```
/// use promenade_core::{Buckets, Histogram, NativeBuckets};
/// // Not exported from the crate root; it is the default `zero_threshold_value()`.
/// assert_eq!(NativeBuckets::default().zero_threshold_value(), 2f64.powi(-128));
/// let h = Histogram::new(Buckets::native_only(NativeBuckets::default()));
/// h.observe(1e-40); // below 2^-128: counted in the zero bucket
/// h.observe(1e-30);
/// let native = h.snapshot().native.unwrap();
/// assert_eq!(native.zero_count, 1);
/// assert_eq!(native.positive.len(), 1);
/// ```
pub(crate) const DEFAULT_ZERO_THRESHOLD: f64 = 2.938_735_877_055_719e-39;

/// Configuration of native buckets.
///
/// ```
/// use promenade_core::NativeBuckets;
/// let n = NativeBuckets::with_factor(1.1).unwrap();
/// assert_eq!(n.schema(), 3);
/// assert!(NativeBuckets::with_factor(1.0).is_err());
/// ```
///
/// # Special values
///
/// As in the Go client: a NaN observation is counted and makes the sum
/// NaN but goes in no bucket, so the count may exceed the buckets' total; `+Inf` and `-Inf`
/// go to the overflow bucket of their sign (index 1025 at schema 0) and make the sum
/// infinite; values with `|v|` at most the zero threshold (subnormals under the default
/// 2^-128, `0.0` and `-0.0`) go to the zero bucket. Protobuf carries the sum as it is; the
/// text formats show the histogram's classic side, with the sum rules of
/// [`Histogram`](crate::Histogram).
///
/// ```
/// use promenade_core::{Buckets, Histogram, NativeBuckets};
/// let h = Histogram::new(Buckets::native_only(NativeBuckets::with_factor(2.0).unwrap()));
/// for v in [f64::NAN, f64::INFINITY, -0.0, 5e-324] {
///     h.observe(v);
/// }
/// let s = h.snapshot();
/// assert_eq!(s.count, 4);
/// assert!(s.sum.is_nan());
/// let native = s.native.unwrap();
/// assert_eq!((native.zero_count, native.positive.clone()), (2, vec![(1025, 1)]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NativeBuckets {
    schema: i32,
    zero_threshold: f64,
    max_buckets: u32,
    min_reset_duration: Duration,
    max_zero_threshold: f64,
}

impl Default for NativeBuckets {
    /// Factor 1.1 (schema 3), zero threshold 2^-128, at most 160 buckets, no time-based reset.
    fn default() -> Self {
        Self {
            schema: 3,
            zero_threshold: DEFAULT_ZERO_THRESHOLD,
            max_buckets: 160,
            min_reset_duration: Duration::ZERO,
            max_zero_threshold: 0.0,
        }
    }
}

/// The schema for a bucket growth factor: `clamp(-floor(log2(log2(f))), -4, 8)`, as the Go
/// client picks it.
///
/// ```
/// assert_eq!(promenade_core::schema_for_factor(2.0), Some(0));
/// assert_eq!(promenade_core::schema_for_factor(65536.0), Some(-4));
/// assert_eq!(promenade_core::schema_for_factor(1.005), Some(8));
/// assert_eq!(promenade_core::schema_for_factor(0.5), None);
/// ```
pub fn schema_for_factor(factor: f64) -> Option<i32> {
    if !(factor > 1.0) || !factor.is_finite() {
        return None;
    }
    let s = -factor.log2().log2().floor();
    Some(s.clamp(f64::from(MIN_SCHEMA), f64::from(MAX_SCHEMA)) as i32)
}

impl NativeBuckets {
    /// Buckets at least as fine as `factor` (each bucket's upper bound at most `factor` times
    /// its lower bound). Must be > 1.
    ///
    /// ```
    /// use promenade_core::{Buckets, Histogram, NativeBuckets};
    /// let n = NativeBuckets::with_factor(2.0).unwrap();
    /// assert_eq!(n.schema(), 0);
    /// let h = Histogram::new(Buckets::native_only(n));
    /// h.observe(3.0); // in (2, 4], bucket 2 at schema 0
    /// assert_eq!(h.snapshot().native.unwrap().positive, vec![(2, 1)]);
    /// assert!(NativeBuckets::with_factor(0.9).is_err());
    /// assert!(NativeBuckets::with_factor(f64::NAN).is_err());
    /// ```
    pub fn with_factor(factor: f64) -> Result<Self> {
        let schema = schema_for_factor(factor).ok_or_else(|| {
            Error::InvalidBuckets(format!("native bucket factor must be > 1, got {factor}"))
        })?;
        Ok(Self {
            schema,
            ..Self::default()
        })
    }

    /// The schema.
    ///
    /// ```
    /// use promenade_core::NativeBuckets;
    /// assert_eq!(NativeBuckets::default().schema(), 3);
    /// assert_eq!(NativeBuckets::with_factor(1.5).unwrap().schema(), 1);
    /// ```
    pub fn schema(&self) -> i32 {
        self.schema
    }

    /// The configured zero threshold.
    ///
    /// ```
    /// assert_eq!(promenade_core::NativeBuckets::default().zero_threshold_value(), 2f64.powi(-128));
    /// ```
    pub fn zero_threshold_value(&self) -> f64 {
        self.zero_threshold
    }

    /// Observations with `|v| <=` this go to the zero bucket; a negative value means exactly 0.
    ///
    /// ```
    /// use promenade_core::{Buckets, Histogram, NativeBuckets};
    /// let n = NativeBuckets::default().zero_threshold(0.001);
    /// assert_eq!(n.zero_threshold_value(), 0.001);
    /// assert_eq!(NativeBuckets::default().zero_threshold(-1.0).zero_threshold_value(), 0.0);
    /// let h = Histogram::new(Buckets::native_only(n));
    /// h.observe(0.0005);
    /// h.observe(-0.0002);
    /// h.observe(0.5);
    /// let native = h.snapshot().native.unwrap();
    /// assert_eq!(native.zero_count, 2);
    /// assert_eq!(native.positive.len(), 1);
    /// ```
    #[must_use]
    pub fn zero_threshold(mut self, threshold: f64) -> Self {
        self.zero_threshold = if threshold < 0.0 { 0.0 } else { threshold };
        self
    }

    /// Most buckets kept (0 = unlimited); past it the histogram resets, widens the zero
    /// bucket or halves its resolution, in that order (as the Go client does).
    ///
    /// ```
    /// use promenade_core::{Buckets, Histogram, NativeBuckets};
    /// let h = Histogram::new(Buckets::native_only(NativeBuckets::default().max_buckets(4)));
    /// for v in [1.0, 2.0, 4.0, 8.0, 16.0, 32.0] {
    ///     h.observe(v);
    /// }
    /// let native = h.snapshot().native.unwrap();
    /// assert!(native.positive.len() <= 4);
    /// assert!(native.schema < 3); // resolution was halved to fit
    /// assert_eq!(native.positive.iter().map(|b| b.1).sum::<u64>(), 6); // nothing lost
    /// ```
    #[must_use]
    pub fn max_buckets(mut self, max: u32) -> Self {
        self.max_buckets = max;
        self
    }

    /// Minimum time between resets caused by the bucket limit (0, or a duration past the
    /// clock's range such as `Duration::MAX`: never reset).
    ///
    /// ```
    /// use std::time::Duration;
    /// use promenade_core::{Buckets, Histogram, NativeBuckets};
    /// let config = NativeBuckets::default().max_buckets(2).min_reset_duration(Duration::from_millis(1));
    /// let h = Histogram::new(Buckets::native_only(config));
    /// std::thread::sleep(Duration::from_millis(5));
    /// for v in [1.0, 10.0, 100.0] {
    ///     h.observe(v);
    /// }
    /// // The third bucket exceeded the limit long enough after the last reset: the histogram
    /// // started over (keeping the observation that triggered it) at full resolution.
    /// let s = h.snapshot();
    /// assert_eq!(s.count, 1);
    /// assert_eq!(s.native.unwrap().schema, 3);
    /// ```
    #[must_use]
    pub fn min_reset_duration(mut self, d: Duration) -> Self {
        self.min_reset_duration = d;
        self
    }

    /// How far the zero bucket may widen to stay within the bucket limit.
    ///
    /// ```
    /// use promenade_core::{Buckets, Histogram, NativeBuckets};
    /// let config = NativeBuckets::with_factor(2.0).unwrap().max_buckets(2).max_zero_threshold(1.0);
    /// let h = Histogram::new(Buckets::native_only(config));
    /// for v in [0.1, 10.0, 100.0] {
    ///     h.observe(v);
    /// }
    /// let native = h.snapshot().native.unwrap();
    /// assert_eq!(native.schema, 0); // widening the zero bucket sufficed
    /// assert_eq!(native.zero_count, 1);
    /// assert!(native.zero_threshold > 0.1 && native.zero_threshold <= 1.0);
    /// ```
    #[must_use]
    pub fn max_zero_threshold(mut self, max: f64) -> Self {
        self.max_zero_threshold = max;
        self
    }
}

/// Upper bounds of the bucket fractions in `[0.5, 1)`, per positive schema: `0.5 * 2^(j / 2^schema)`.
fn fraction_bounds(schema: i32) -> &'static [f64] {
    static TABLES: OnceLock<Vec<Vec<f64>>> = OnceLock::new();
    let tables = TABLES.get_or_init(|| {
        (0..=MAX_SCHEMA)
            .map(|s| {
                let n = 1u32 << s;
                (0..n)
                    .map(|j| 0.5 * (f64::from(j) / f64::from(n)).exp2())
                    .collect()
            })
            .collect()
    });
    tables
        .get(schema.clamp(0, MAX_SCHEMA) as usize)
        .map_or(&[], Vec::as_slice)
}

/// `(frac, exp)` with `v = frac * 2^exp`, `frac` in `[0.5, 1)`, for finite `v > 0`.
#[inline]
fn frexp(v: f64) -> (f64, i32) {
    let bits = v.to_bits();
    let raw_exp = ((bits >> 52) & 0x7ff) as i32;
    if raw_exp == 0 {
        return frexp_subnormal(v);
    }
    let frac = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | (1022u64 << 52));
    (frac, raw_exp - 1022)
}

/// [`frexp`] of a subnormal: scaled into the normal range first. Apart, so that the common
/// case inlines.
#[cold]
#[inline(never)]
fn frexp_subnormal(v: f64) -> (f64, i32) {
    let (f, e) = frexp(v * 2f64.powi(64));
    (f, e - 64)
}

/// The bucket index of `v > 0` (infinity included) at `schema`, as the native-histogram spec
/// defines it. Bucket `i` covers
/// `(b^(i-1), b^i]` with `b = 2^(2^-schema)`.
///
/// ```
/// use promenade_core::native_bucket_index as idx;
/// assert_eq!(idx(1.0, 0), 0);
/// assert_eq!(idx(3.0, 0), 2);
/// assert_eq!(idx(10.0, 3), 27);
/// assert_eq!(idx(f64::INFINITY, 0), 1025);
/// ```
pub fn native_bucket_index(v: f64, schema: i32) -> i32 {
    bucket_index_in(v, schema, fraction_bounds(schema))
}

/// [`native_bucket_index`] with the schema's fraction bounds already at hand (a histogram
/// keeps them: looking them up costs as much as the search).
#[inline]
fn bucket_index_in(v: f64, schema: i32, bounds: &[f64]) -> i32 {
    if v.is_infinite() {
        return bucket_index_in(f64::MAX, schema, bounds) + 1;
    }
    let (frac, exp) = frexp(v);
    if schema > 0 {
        // Small tables: a branch-free count beats a binary search's mispredictions.
        let j = if bounds.len() <= 16 {
            bounds.iter().map(|b| i32::from(*b < frac)).sum::<i32>()
        } else {
            bounds.partition_point(|b| *b < frac) as i32
        };
        j + (exp - 1) * (1 << schema)
    } else {
        let k = if frac == 0.5 { exp - 1 } else { exp };
        let shift = -schema;
        (k + (1 << shift) - 1) >> shift
    }
}

/// The upper bound of bucket `index` at `schema` (Go's `getLe`).
pub(crate) fn bucket_upper_bound(index: i32, schema: i32) -> f64 {
    if schema <= 0 {
        let exp = index << (-schema);
        if exp >= 1024 {
            return f64::MAX;
        }
        return 2f64.powi(exp);
    }
    let frac_idx = (index & ((1 << schema) - 1)) as usize;
    let frac = fraction_bounds(schema)
        .get(frac_idx)
        .copied()
        .unwrap_or(0.5);
    let exp = (index >> schema) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    frac * 2f64.powi(exp)
}

/// Adds one to the sorted sparse bucket list.
fn increment(buckets: &mut Vec<(i32, u64)>, index: i32) {
    // Populated buckets are usually contiguous: then the position is the index offset.
    if let Some(&(first, _)) = buckets.first()
        && let Ok(k) = usize::try_from(i64::from(index) - i64::from(first))
        && let Some(slot) = buckets.get_mut(k)
        && slot.0 == index
    {
        slot.1 += 1;
        return;
    }
    match buckets.binary_search_by_key(&index, |(i, _)| *i) {
        Ok(pos) => buckets[pos].1 += 1,
        Err(pos) => buckets.insert(pos, (index, 1)),
    }
}

/// The whole state of a histogram with native buckets. Kept under one lock (the histogram's
/// short lock, released with a plain store): count, sum, zero bucket, sparse buckets and
/// the optional classic buckets always agree.
#[derive(Debug, Clone)]
pub(crate) struct NativeState {
    pub config: NativeBuckets,
    pub schema: i32,
    /// `fraction_bounds(schema)`, kept in step with `schema`.
    fractions: &'static [f64],
    pub zero_threshold: f64,
    pub zero_count: u64,
    pub positive: Vec<(i32, u64)>,
    pub negative: Vec<(i32, u64)>,
    pub count: u64,
    pub sum: f64,
    /// Non-cumulative classic bucket counts (empty for native-only).
    pub classic: Vec<u64>,
    pub last_reset: Instant,
    pub reset_at: Option<Instant>,
    pub created: f64,
}

impl NativeState {
    pub(crate) fn new(config: NativeBuckets, classic_buckets: usize, created: f64) -> Self {
        Self {
            schema: config.schema,
            fractions: fraction_bounds(config.schema),
            zero_threshold: config.zero_threshold,
            config,
            zero_count: 0,
            positive: Vec::new(),
            negative: Vec::new(),
            count: 0,
            sum: 0.0,
            classic: vec![0; classic_buckets],
            last_reset: Instant::now(),
            reset_at: None,
            created,
        }
    }

    pub(crate) fn reset(&mut self, created: f64) {
        self.schema = self.config.schema;
        self.fractions = fraction_bounds(self.schema);
        self.zero_threshold = self.config.zero_threshold;
        self.zero_count = 0;
        self.positive.clear();
        self.negative.clear();
        self.count = 0;
        self.sum = 0.0;
        self.classic.iter_mut().for_each(|c| *c = 0);
        self.last_reset = Instant::now();
        self.reset_at = None;
        self.created = created;
    }

    /// Records `v`; `classic_index` is its classic bucket (>= len for +Inf only).
    pub(crate) fn observe(&mut self, v: f64, classic_index: usize, now_unix: impl Fn() -> f64) {
        if let Some(at) = self.reset_at
            && Instant::now() >= at
        {
            // The scheduled reset undoes zero-bucket widening and schema reduction, restoring
            // the configured schema and zero threshold.
            self.reset(now_unix());
        }
        self.record(v, classic_index);
        if self.config.max_buckets > 0
            && (self.positive.len() + self.negative.len()) > self.config.max_buckets as usize
        {
            self.limit(v, classic_index, now_unix);
        }
    }

    fn record(&mut self, v: f64, classic_index: usize) {
        self.count += 1;
        self.sum += v;
        if let Some(c) = self.classic.get_mut(classic_index) {
            *c += 1;
        }
        if v.is_nan() {
            return;
        }
        if v > self.zero_threshold {
            increment(
                &mut self.positive,
                bucket_index_in(v, self.schema, self.fractions),
            );
        } else if v < -self.zero_threshold {
            increment(
                &mut self.negative,
                bucket_index_in(-v, self.schema, self.fractions),
            );
        } else {
            self.zero_count += 1;
        }
    }

    fn limit(&mut self, v: f64, classic_index: usize, now_unix: impl Fn() -> f64) {
        let min_reset = self.config.min_reset_duration;
        if !min_reset.is_zero() && self.reset_at.is_none() && self.last_reset.elapsed() >= min_reset
        {
            self.reset(now_unix());
            // Keep the observation that triggered the reset.
            self.record(v, classic_index);
            return;
        }
        if !min_reset.is_zero() && self.reset_at.is_none() {
            // A duration past the clock's range (`Duration::MAX`) never comes: no reset is
            // scheduled, and the steps below keep the limit.
            self.reset_at = self.last_reset.checked_add(min_reset);
        }
        // Go applies one step per observation and may stay above the limit for a while; we
        // step until the histogram fits again, so memory stays bounded.
        while self.positive.len() + self.negative.len() > self.config.max_buckets as usize {
            if self.widen_zero_bucket() {
                continue;
            }
            if self.schema <= MIN_SCHEMA {
                break;
            }
            self.halve_resolution();
        }
    }

    fn widen_zero_bucket(&mut self) -> bool {
        if self.zero_threshold >= self.config.max_zero_threshold {
            return false;
        }
        let smallest = match (self.positive.first(), self.negative.first()) {
            (Some(p), Some(n)) => p.0.min(n.0),
            (Some(p), None) => p.0,
            (None, Some(n)) => n.0,
            (None, None) => return false,
        };
        let threshold = bucket_upper_bound(smallest, self.schema);
        if threshold > self.config.max_zero_threshold {
            return false;
        }
        for list in [&mut self.positive, &mut self.negative] {
            if list.first().is_some_and(|(i, _)| *i == smallest) {
                self.zero_count += list.remove(0).1;
            }
        }
        self.zero_threshold = threshold;
        true
    }

    fn halve_resolution(&mut self) {
        if self.schema <= MIN_SCHEMA {
            return;
        }
        self.schema -= 1;
        self.fractions = fraction_bounds(self.schema);
        for list in [&mut self.positive, &mut self.negative] {
            let mut merged: Vec<(i32, u64)> = Vec::with_capacity(list.len());
            for &(i, c) in list.iter() {
                // ceil(i / 2), correct for negative i with an arithmetic shift.
                let j = (i + 1) >> 1;
                match merged.last_mut() {
                    Some(last) if last.0 == j => last.1 += c,
                    _ => merged.push((j, c)),
                }
            }
            *list = merged;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_for_factor_vectors() {
        for (f, s) in [
            (65536.0, -4),
            (256.0, -3),
            (16.0, -2),
            (4.0, -1),
            (2.0, 0),
            (1.5, 1),
            (1.2, 2),
            (1.1, 3),
            (1.05, 4),
            (1.03, 5),
            (1.02, 6),
            (1.01, 7),
            (1.005, 8),
        ] {
            assert_eq!(schema_for_factor(f), Some(s), "factor {f}");
        }
    }

    #[test]
    fn bucket_index_vectors() {
        let cases: [(i32, &[(f64, i32)]); 5] = [
            (
                0,
                &[
                    (0.25, -2),
                    (0.5, -1),
                    (0.75, 0),
                    (1.0, 0),
                    (1.1, 1),
                    (1.5, 1),
                    (2.0, 1),
                    (3.0, 2),
                    (4.0, 2),
                    (5.0, 3),
                    (10.0, 4),
                    (100.0, 7),
                ],
            ),
            (
                3,
                &[
                    (1.0, 0),
                    (1.05, 1),
                    (1.1, 2),
                    (1.5, 5),
                    (2.0, 8),
                    (10.0, 27),
                    (100.0, 54),
                ],
            ),
            (
                -1,
                &[
                    (0.25, -1),
                    (0.5, 0),
                    (1.0, 0),
                    (2.0, 1),
                    (4.0, 1),
                    (5.0, 2),
                    (16.0, 2),
                    (17.0, 3),
                ],
            ),
            (-2, &[(2.0, 1), (16.0, 1), (17.0, 2), (0.0625, -1)]),
            (8, &[(1.1, 36), (2.0, 256), (10.0, 851)]),
        ];
        for (schema, vectors) in cases {
            for (v, want) in vectors {
                assert_eq!(
                    native_bucket_index(*v, schema),
                    *want,
                    "schema {schema}, value {v}"
                );
            }
        }
        // Overflow buckets for ±Inf, and MaxFloat64 one below.
        assert_eq!(native_bucket_index(f64::MAX, 0), 1024);
        assert_eq!(native_bucket_index(f64::INFINITY, 0), 1025);
        assert_eq!(native_bucket_index(f64::MAX, 8), 262_144);
        assert_eq!(native_bucket_index(f64::INFINITY, 8), 262_145);
        assert_eq!(native_bucket_index(f64::MAX, -4), 64);
        assert_eq!(native_bucket_index(f64::INFINITY, -4), 65);
        // Subnormals stay consistent with the bucket boundaries.
        let tiny = f64::MIN_POSITIVE / 4.0;
        assert_eq!(native_bucket_index(tiny, 0), -1024);
    }

    #[test]
    fn upper_bounds_contain_their_values() {
        for schema in MIN_SCHEMA..=MAX_SCHEMA {
            for v in [1e-6, 0.3, 1.0, 1.7, 42.0, 1e9] {
                let i = native_bucket_index(v, schema);
                assert!(v <= bucket_upper_bound(i, schema), "schema {schema} v {v}");
                assert!(
                    v > bucket_upper_bound(i - 1, schema),
                    "schema {schema} v {v}"
                );
            }
        }
    }

    #[test]
    fn zero_bucket_nan_and_inf() {
        let mut s = NativeState::new(NativeBuckets::default(), 0, 0.0);
        for v in [0.0, -0.0, 1e-40, -1e-40, 1.0, -2.0, f64::NAN, f64::INFINITY] {
            s.observe(v, usize::MAX, || 0.0);
        }
        assert_eq!(s.count, 8);
        assert_eq!(s.zero_count, 4);
        assert!(s.sum.is_nan());
        let buckets: u64 = s.positive.iter().chain(&s.negative).map(|b| b.1).sum();
        assert_eq!(buckets + s.zero_count + 1, s.count, "NaN is in no bucket");
        assert_eq!(
            s.positive.last().unwrap().0,
            native_bucket_index(f64::INFINITY, 3)
        );
    }

    #[test]
    fn bucket_limit_halves_schema() {
        let mut s = NativeState::new(NativeBuckets::default().max_buckets(4), 0, 0.0);
        for v in [1.0, 2.0, 4.0, 8.0, 16.0, 32.0] {
            s.observe(v, usize::MAX, || 0.0);
        }
        assert!(s.positive.len() <= 4, "{:?}", s.positive);
        assert!(s.schema < 3);
        assert_eq!(s.positive.iter().map(|b| b.1).sum::<u64>(), 6);
    }

    #[test]
    fn after_halving_and_reset_observations_use_the_current_schema() {
        // Ten values in one octave fill 8 buckets at schema 3; 5 allowed: schema 2 (4 per
        // octave) fits, so the schema stays positive and its fraction bounds matter.
        let mut s = NativeState::new(NativeBuckets::default().max_buckets(5), 0, 0.0);
        for i in 0..10 {
            s.observe(1.05 + 0.1 * f64::from(i), usize::MAX, || 0.0);
        }
        assert_eq!(s.schema, 2);
        for v in [1.07, 1.33, 1.61, 1.97] {
            s.observe(v, usize::MAX, || 0.0);
            let want = native_bucket_index(v, 2);
            assert!(
                s.positive.iter().any(|b| b.0 == want),
                "{v}: bucket {want} missing from {:?}",
                s.positive
            );
        }
        assert!(
            s.positive.iter().all(|b| (1..=4).contains(&b.0)),
            "{:?}",
            s.positive
        );
        // After a reset, the configured schema's buckets again.
        s.reset(0.0);
        s.observe(1.3, usize::MAX, || 0.0);
        assert_eq!(s.positive, vec![(native_bucket_index(1.3, 3), 1)]);
    }

    #[test]
    fn bucket_limit_widens_zero_bucket_first() {
        let cfg = NativeBuckets::with_factor(2.0)
            .unwrap()
            .max_buckets(2)
            .max_zero_threshold(1.0);
        let mut s = NativeState::new(cfg, 0, 0.0);
        for v in [0.1, 10.0, 100.0] {
            s.observe(v, usize::MAX, || 0.0);
        }
        assert_eq!(s.schema, 0, "widening the zero bucket sufficed");
        assert_eq!(s.zero_count, 1);
        assert!(s.zero_threshold > 0.1 && s.zero_threshold <= 1.0);
    }

    #[test]
    fn bucket_limit_resets_after_min_duration() {
        let cfg = NativeBuckets::default()
            .max_buckets(2)
            .min_reset_duration(Duration::from_nanos(1));
        let mut s = NativeState::new(cfg, 0, 0.0);
        std::thread::sleep(Duration::from_millis(2));
        for v in [1.0, 10.0, 100.0] {
            s.observe(v, usize::MAX, || 123.0);
        }
        assert_eq!(s.count, 1, "reset, then the triggering observation kept");
        assert_eq!(s.created, 123.0);
        assert_eq!(s.schema, 3);
    }

    #[test]
    fn merge_maps_to_ceil_half() {
        let mut s = NativeState::new(NativeBuckets::default(), 0, 0.0);
        s.positive = vec![(-3, 1), (-2, 1), (-1, 1), (0, 1), (1, 1), (2, 1), (3, 1)];
        s.halve_resolution();
        assert_eq!(s.positive, vec![(-1, 2), (0, 2), (1, 2), (2, 1)]);
    }
}

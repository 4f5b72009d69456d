//! Summaries with quantiles over a sliding time window.
//!
//! [`QuantileSummary`] reports `φ`-quantiles (with a per-objective allowed rank error `ε`)
//! of the observations made during the last `max_age`, plus `_count` and `_sum` over its
//! whole life. It follows the Go client's design:
//!
//! - every objective is estimated by a biased-quantile stream (the "targeted quantiles"
//!   algorithm of Cormode, Korn, Muthukrishnan and Srivastava, CKMS 2005, made conservative:
//!   see `Stream::allowance`), whose memory grows with `1/ε · log(ε·n)` rather than with `n`;
//! - the window is split into `age_buckets` staggered streams that all receive every
//!   observation; every `max_age / age_buckets` the oldest stream is cleared and becomes the
//!   newest, and queries are answered from the oldest one, so a quantile covers between
//!   `max_age · (1 − 1/age_buckets)` and `max_age` of history;
//! - observers append to a small buffer (one short lock); the buffer is folded into the
//!   streams when full, when it spans an age bucket, or at scrape time, as of the time its
//!   oldest value was observed (so values never outlive the window);
//! - `_count` and `_sum` use the same hot/cold cells as histograms, so a scrape reads them
//!   from the same set of observations;
//! - a window without observations reports `NaN` for every quantile.
//!
//! The type lives with the other metric types (it is one: a [`Metric`] of type summary)
//! and is public as `promenade_core::quantile`.
//!
//! The sketch is implemented here (about 200 lines, tested against exact ranks) rather than
//! taken from a crate: `quantiles` (CKMS) has had no release since 2017, and `tdigest` and
//! `sketches-ddsketch` give no rank-error guarantee, which is what Prometheus objectives mean.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::encoding::{LabelSet, MetricEncoder, SummaryValue};
use crate::error::{Error, Result};
use crate::metric::{CellsReading, Metric, MetricType, Observe, StripedCells, Timer, created_now};

mod window;
use window::{Buffer, Window};

/// Default window length of a [`QuantileSummary`] (10 minutes, as in the Go client).
///
/// ```
/// use promenade_core::{QuantileOptions, quantile::DEFAULT_MAX_AGE};
/// assert_eq!(QuantileOptions::default().max_age(), DEFAULT_MAX_AGE);
/// ```
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);
/// Default number of staggered streams the window is split into (5, as in the Go client).
///
/// ```
/// use promenade_core::{QuantileOptions, quantile::DEFAULT_AGE_BUCKETS};
/// assert_eq!(QuantileOptions::default().age_buckets(), DEFAULT_AGE_BUCKETS);
/// ```
pub const DEFAULT_AGE_BUCKETS: u32 = 5;
/// Default objectives: the median within 5 %, the 90th percentile within 1 % and the 99th
/// percentile within 0.1 % (rank error).
///
/// ```
/// use promenade_core::{QuantileOptions, quantile::DEFAULT_OBJECTIVES};
/// assert_eq!(QuantileOptions::default().objectives(), &DEFAULT_OBJECTIVES);
/// ```
pub const DEFAULT_OBJECTIVES: [(f64, f64); 3] = [(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)];

/// Observations buffered before they are folded into the streams.
const BUFFER_LEN: usize = 500;

/// What a [`QuantileSummary`] computes: quantile objectives with their allowed rank errors,
/// the window length and the number of age buckets. Every setter validates its input.
///
/// ```
/// use std::time::Duration;
/// use promenade_core::QuantileOptions;
///
/// let opts = QuantileOptions::new(&[(0.5, 0.05), (0.99, 0.001)])
///     .unwrap()
///     .with_max_age(Duration::from_secs(60))
///     .unwrap()
///     .with_age_buckets(3)
///     .unwrap();
/// assert_eq!(opts.objectives(), &[(0.5, 0.05), (0.99, 0.001)]);
/// assert!(QuantileOptions::new(&[(1.5, 0.01)]).is_err());
/// assert!(QuantileOptions::new(&[(0.5, 1.0)]).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileOptions {
    objectives: Arc<[(f64, f64)]>,
    max_age: Duration,
    age_buckets: u32,
}

impl Default for QuantileOptions {
    /// [`DEFAULT_OBJECTIVES`], [`DEFAULT_MAX_AGE`], [`DEFAULT_AGE_BUCKETS`].
    fn default() -> Self {
        Self {
            objectives: Arc::from(&DEFAULT_OBJECTIVES[..]),
            max_age: DEFAULT_MAX_AGE,
            age_buckets: DEFAULT_AGE_BUCKETS,
        }
    }
}

impl QuantileOptions {
    /// Objectives as `(quantile, allowed error)` pairs: the quantile in `[0, 1]`, the error in
    /// `[0, 1)`, each quantile at most once. They are sorted by quantile. An error of 0 keeps
    /// every observation of the window (exact, but memory grows with the rate).
    ///
    /// ```
    /// let o = promenade_core::QuantileOptions::new(&[(0.9, 0.01), (0.5, 0.05)]).unwrap();
    /// assert_eq!(o.objectives()[0].0, 0.5);
    /// assert!(promenade_core::QuantileOptions::new(&[(0.5, 0.1), (0.5, 0.01)]).is_err());
    /// ```
    pub fn new(objectives: &[(f64, f64)]) -> Result<Self> {
        let mut sorted = objectives.to_vec();
        for &(q, e) in &sorted {
            if !(0.0..=1.0).contains(&q) {
                return Err(Error::InvalidObjective(format!(
                    "quantile {q} is outside [0, 1]"
                )));
            }
            if !(0.0..1.0).contains(&e) {
                return Err(Error::InvalidObjective(format!(
                    "allowed error {e} of quantile {q} is outside [0, 1)"
                )));
            }
        }
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        if let Some(w) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::InvalidObjective(format!(
                "quantile {} is given more than once",
                w[0].0
            )));
        }
        Ok(Self {
            objectives: sorted.into(),
            ..Self::default()
        })
    }

    /// How far back quantiles look (positive and within the clock's range; default 10
    /// minutes).
    ///
    /// ```
    /// use std::time::Duration;
    /// let o = promenade_core::QuantileOptions::default();
    /// assert!(o.clone().with_max_age(Duration::ZERO).is_err());
    /// assert!(o.clone().with_max_age(Duration::MAX).is_err()); // past the clock's range
    /// assert_eq!(o.with_max_age(Duration::from_secs(30)).unwrap().max_age(), Duration::from_secs(30));
    /// ```
    pub fn with_max_age(mut self, max_age: Duration) -> Result<Self> {
        if max_age.is_zero() {
            return Err(Error::InvalidConfig(
                "summary max age must be positive".into(),
            ));
        }
        // The window's streams expire at "now + max_age / age_buckets"; a duration the clock
        // cannot add (with room for the process's lifetime) would panic there.
        if Instant::now()
            .checked_add(max_age.saturating_mul(2))
            .is_none()
        {
            return Err(Error::InvalidConfig(format!(
                "summary max age {max_age:?} is too long for the clock"
            )));
        }
        self.max_age = max_age;
        self.check_stream_duration()?;
        Ok(self)
    }

    /// Into how many staggered streams the window is split (1 to 1000; default 5). More
    /// buckets make the window slide more smoothly and cost memory and insert time.
    ///
    /// ```
    /// let o = promenade_core::QuantileOptions::default();
    /// assert!(o.clone().with_age_buckets(0).is_err());
    /// assert_eq!(o.with_age_buckets(2).unwrap().age_buckets(), 2);
    /// ```
    pub fn with_age_buckets(mut self, age_buckets: u32) -> Result<Self> {
        if !(1..=1000).contains(&age_buckets) {
            return Err(Error::InvalidConfig(format!(
                "summary age buckets must be between 1 and 1000, got {age_buckets}"
            )));
        }
        self.age_buckets = age_buckets;
        self.check_stream_duration()?;
        Ok(self)
    }

    fn check_stream_duration(&self) -> Result<()> {
        if self.stream_duration().is_zero() {
            return Err(Error::InvalidConfig(format!(
                "summary max age {:?} is too short for {} age buckets",
                self.max_age, self.age_buckets
            )));
        }
        Ok(())
    }

    fn stream_duration(&self) -> Duration {
        self.max_age / self.age_buckets
    }

    /// The objectives, sorted by quantile.
    ///
    /// ```
    /// assert_eq!(promenade_core::QuantileOptions::default().objectives().len(), 3);
    /// ```
    pub fn objectives(&self) -> &[(f64, f64)] {
        &self.objectives
    }

    /// The window length.
    ///
    /// ```
    /// assert_eq!(promenade_core::QuantileOptions::default().max_age().as_secs(), 600);
    /// ```
    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    /// The number of age buckets.
    ///
    /// ```
    /// assert_eq!(promenade_core::QuantileOptions::default().age_buckets(), 5);
    /// ```
    pub fn age_buckets(&self) -> u32 {
        self.age_buckets
    }
}

/// A summary with quantiles over a sliding time window, plus `_count` and `_sum`.
///
/// Use it directly, in a [`Family`](crate::Family), or through
/// [`Registry::quantile_summary`](crate::Registry::quantile_summary). See the
/// [module documentation](crate::quantile) for how the window works. NaN observations count
/// towards `_count` and `_sum` (as in the Go client) but are not ranked.
///
/// ```
/// use promenade_core::{QuantileOptions, QuantileSummary};
///
/// let s = QuantileSummary::new(QuantileOptions::new(&[(0.5, 0.01), (0.9, 0.01)]).unwrap());
/// for v in 1..=1000 {
///     s.observe(v as f64);
/// }
/// let q = s.quantiles();
/// assert!((q[0].1 - 500.0).abs() <= 10.0);
/// assert!((q[1].1 - 900.0).abs() <= 10.0);
/// let snap = s.snapshot();
/// assert_eq!((snap.count, snap.sum), (1000, 500_500.0));
/// ```
///
/// # Special values
///
/// - NaN: counted and summed, never ranked, so never a quantile value; a quantile is NaN
///   only when the window holds no observation.
/// - `±Inf`, negative values, subnormals, `-0.0`: counted, summed and ranked like any value,
///   so quantiles may be infinite or negative.
/// - `_sum` follows [`Summary`](crate::Summary): written as it is in text 0.0.4 and
///   protobuf, left out of OpenMetrics while NaN or negative.
/// - OpenMetrics 1.0 quantile values are not negative: a quantile sample whose value is
///   negative (`-Inf` included) is left out of that scrape; NaN and `+Inf` are written. Text
///   0.0.4 and protobuf write every quantile.
///
/// ```
/// use promenade_core::{Format, QuantileOptions, Registry};
/// let r = Registry::new();
/// let s = r.quantile_summary("skew_seconds", "Skew.", QuantileOptions::new(&[(0.5, 0.05)]).unwrap()).unwrap();
/// s.observe(-3.0);
/// let om = r.encode_to_string(Format::OpenMetrics).unwrap();
/// assert!(!om.contains("quantile=") && om.contains("skew_seconds_count 1\n"));
/// assert!(r.encode_to_string(Format::Text).unwrap().contains("skew_seconds{quantile=\"0.5\"} -3\n"));
/// ```
#[derive(Debug)]
pub struct QuantileSummary {
    options: QuantileOptions,
    cells: StripedCells,
    created_bits: AtomicU64,
    /// Observations not yet folded into the streams (the only lock observers take).
    buffer: Mutex<Buffer>,
    window: Mutex<Window>,
}

impl Default for QuantileSummary {
    fn default() -> Self {
        Self::new(QuantileOptions::default())
    }
}

impl QuantileSummary {
    /// A summary computing `options`' objectives.
    ///
    /// ```
    /// let s = promenade_core::QuantileSummary::new(promenade_core::QuantileOptions::default());
    /// assert!(s.quantiles().iter().all(|(_, v)| v.is_nan()));
    /// ```
    pub fn new(options: QuantileOptions) -> Self {
        let now = Instant::now();
        Self {
            window: Mutex::new(Window::new(&options, now)),
            options,
            cells: StripedCells::new(0),
            created_bits: created_now(),
            buffer: Mutex::new(Buffer::new()),
        }
    }

    /// Records one observation.
    ///
    /// ```
    /// let s = promenade_core::QuantileSummary::default();
    /// s.observe(0.25);
    /// assert_eq!(s.quantiles()[0].1, 0.25);
    /// ```
    pub fn observe(&self, v: f64) {
        self.cells.record(0, v);
        if v.is_nan() {
            return;
        }
        let now = Instant::now();
        let full = {
            let mut buf = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
            let since = *buf.since.get_or_insert(now);
            buf.values.push(v);
            // Flushed when full, or when it spans a whole age bucket (as the Go client does).
            if buf.values.len() >= BUFFER_LEN
                || now.duration_since(since) >= self.options.stream_duration()
            {
                Some(std::mem::replace(&mut *buf, Buffer::new()))
            } else {
                None
            }
        };
        if let Some(mut pending) = full {
            let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
            w.flush(&self.options, &mut pending, now);
        }
    }

    /// Starts a timer that observes elapsed seconds when dropped or stopped.
    ///
    /// ```
    /// let s = promenade_core::QuantileSummary::default();
    /// s.start_timer().stop();
    /// assert_eq!(s.snapshot().count, 1);
    /// ```
    pub fn start_timer(&self) -> Timer<'_, Self> {
        Timer::new(self)
    }

    /// A consistent reading of `_count` and `_sum` (over the summary's whole life).
    ///
    /// ```
    /// assert_eq!(promenade_core::QuantileSummary::default().snapshot().count, 0);
    /// ```
    pub fn snapshot(&self) -> crate::SummarySnapshot {
        let mut r = CellsReading::default();
        self.cells.read_into(&mut r);
        crate::SummarySnapshot {
            count: r.count,
            sum: r.sum,
        }
    }

    /// The current `(quantile, value)` of every objective over the window; NaN values when
    /// the window holds no observation.
    ///
    /// ```
    /// let s = promenade_core::QuantileSummary::default();
    /// s.observe(7.0);
    /// assert!(s.quantiles().iter().all(|&(_, v)| v == 7.0));
    /// ```
    pub fn quantiles(&self) -> Vec<(f64, f64)> {
        let mut out = Vec::with_capacity(self.options.objectives().len());
        self.quantiles_into(&mut out);
        out
    }

    fn quantiles_into(&self, out: &mut Vec<(f64, f64)>) {
        out.clear();
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let mut pending = {
            let mut buf = self.buffer.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::replace(&mut *buf, Buffer::new())
        };
        w.flush(&self.options, &mut pending, Instant::now());
        let targets = self.options.objectives();
        let head = &w.streams[w.head];
        out.extend(targets.iter().map(|&(q, _)| (q, head.query(q))));
    }

    /// The options it was built with.
    ///
    /// ```
    /// assert_eq!(promenade_core::QuantileSummary::default().options().age_buckets(), 5);
    /// ```
    pub fn options(&self) -> &QuantileOptions {
        &self.options
    }
}

impl Observe for QuantileSummary {
    fn observe_seconds(&self, seconds: f64) {
        self.observe(seconds);
    }
}

impl Metric for QuantileSummary {
    type Options = QuantileOptions;
    const TYPE: MetricType = MetricType::Summary;

    fn build(options: &QuantileOptions) -> Self {
        Self::new(options.clone())
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        let quantiles = self.quantiles();
        let s = self.snapshot();
        enc.summary(
            labels,
            &SummaryValue {
                quantiles: &quantiles,
                count: s.count,
                sum: s.sum,
                created: Some(f64::from_bits(self.created_bits.load(Ordering::Relaxed))),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::window::Stream;
    use super::*;

    /// A window too long to add to the clock is refused with an error instead of panicking
    /// when the first summary with it is built; long but representable ones still work.
    #[test]
    fn max_age_past_the_clocks_range_is_refused() {
        let err = QuantileOptions::default()
            .with_max_age(Duration::MAX)
            .unwrap_err();
        assert!(err.to_string().contains("too long"), "{err}");
        let year = Duration::from_secs(365 * 24 * 3600);
        let options = QuantileOptions::default().with_max_age(year).unwrap();
        let summary = QuantileSummary::new(options);
        summary.observe(1.0);
        assert_eq!(summary.snapshot().count, 1);
    }

    /// A deterministic shuffle (xorshift), so the tests need no random crate.
    fn shuffled(n: u64, seed: u64) -> Vec<f64> {
        let mut v: Vec<f64> = (1..=n).map(|x| x as f64).collect();
        let mut s = seed | 1;
        for i in (1..v.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            v.swap(i, (s % (i as u64 + 1)) as usize);
        }
        v
    }

    /// Inserts `values` into a stream in batches of `batch` and checks every objective's
    /// rank error on the exact ranks of `values`.
    fn check_stream(values: &[f64], targets: &[(f64, f64)], batch: usize) -> Stream {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = values.len() as f64;
        let mut s = Stream::new();
        for chunk in values.chunks(batch) {
            let mut c = chunk.to_vec();
            c.sort_by(f64::total_cmp);
            s.insert_sorted(targets, &c);
        }
        for &(q, e) in targets {
            let v = s.query(q);
            // Any rank the value occupies must be within (q ± e)·n.
            let lo = sorted.partition_point(|x| *x < v) as f64 + 1.0;
            let hi = sorted.partition_point(|x| *x <= v) as f64;
            let want_lo = ((q - e) * n).floor().max(1.0);
            let want_hi = ((q + e) * n).ceil().max(1.0);
            assert!(
                hi >= want_lo && lo <= want_hi,
                "q={q} e={e}: got {v} with ranks {lo}..={hi}, want within {want_lo}..={want_hi} (n={n}, {} tuples)",
                s.len()
            );
        }
        s
    }

    #[test]
    fn shuffled_range_within_error() {
        let targets = [(0.01, 0.001), (0.5, 0.05), (0.9, 0.01), (0.99, 0.001)];
        for seed in [1, 7, 42, 1234] {
            for batch in [1, 17, 500] {
                let s = check_stream(&shuffled(10_000, seed), &targets, batch);
                assert!(
                    s.len() < 2_000,
                    "sketch did not compress: {} tuples",
                    s.len()
                );
            }
        }
    }

    #[test]
    fn sorted_and_reversed_inputs_within_error() {
        let targets = [(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)];
        let up: Vec<f64> = (1..=20_000).map(f64::from).collect();
        let down: Vec<f64> = up.iter().rev().copied().collect();
        check_stream(&up, &targets, 500);
        check_stream(&down, &targets, 500);
        check_stream(&down, &targets, 1);
    }

    #[test]
    fn many_objectives_and_sizes_within_error_and_compact() {
        let targets = [
            (0.05, 0.005),
            (0.25, 0.02),
            (0.5, 0.05),
            (0.75, 0.02),
            (0.9, 0.01),
            (0.99, 0.001),
            (0.999, 0.0001),
        ];
        for (n, seed) in [(10, 5), (100, 6), (1_000, 7), (100_000, 8)] {
            let s = check_stream(&shuffled(n, seed), &targets, 500);
            assert!(s.len() <= 6_000, "n={n}: {} tuples", s.len());
        }
        let s = check_stream(&shuffled(100_000, 11), &DEFAULT_OBJECTIVES, 500);
        assert!(s.len() <= 2_500, "default objectives: {} tuples", s.len());
    }

    #[test]
    fn duplicates_and_negative_values() {
        let targets = [(0.25, 0.01), (0.5, 0.01), (0.75, 0.01)];
        let values: Vec<f64> = shuffled(9_000, 3).iter().map(|v| (v % 7.0) - 3.0).collect();
        check_stream(&values, &targets, 100);
    }

    #[test]
    fn min_max_and_exact_objectives() {
        let targets = [(0.0, 0.0), (0.5, 0.0), (1.0, 0.0)];
        let values = shuffled(1_001, 9);
        let s = check_stream(&values, &targets, 50);
        assert_eq!(s.query(0.0), 1.0);
        assert_eq!(s.query(1.0), 1001.0);
        assert_eq!(s.query(0.5), 501.0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn random_data_and_objectives_within_error(
            values in proptest::collection::vec(-1e6f64..1e6, 1..4000),
            objectives in proptest::collection::vec((0.001f64..0.999, 0.0005f64..0.1), 1..5),
            batch in 1usize..700,
            coarse in proptest::bool::ANY,
        ) {
            // Coarse values create many duplicates.
            let values: Vec<f64> = if coarse {
                values.iter().map(|v| (v / 1e5).round()).collect()
            } else {
                values
            };
            let mut targets = objectives;
            targets.sort_by(|a, b| a.0.total_cmp(&b.0));
            targets.dedup_by(|a, b| a.0 == b.0);
            check_stream(&values, &targets, batch);
        }
    }

    #[test]
    fn empty_stream_is_nan() {
        let s = Stream::new();
        assert!(s.query(0.5).is_nan());
    }

    #[test]
    fn window_rotation_forgets_old_values() {
        let opts = QuantileOptions::new(&[(0.5, 0.01)])
            .unwrap()
            .with_max_age(Duration::from_secs(10))
            .unwrap()
            .with_age_buckets(5)
            .unwrap();
        let t0 = Instant::now();
        let mut w = Window::new(&opts, t0);
        let batch = |v: f64, n: usize, at: Instant| Buffer {
            values: vec![v; n],
            since: Some(at),
        };
        w.flush(&opts, &mut batch(1.0, 100, t0), t0);
        // 1 s later new values arrive; the head still holds the old ones.
        let t1 = t0 + Duration::from_secs(1);
        w.flush(&opts, &mut batch(100.0, 300, t1), t1);
        assert_eq!(w.streams[w.head].query(0.5), 100.0);
        assert_eq!(w.streams[w.head].n, 400.0);
        // After 2 s the stream that saw the first batch is cleared: 4 buckets left, each
        // saw the second batch at least.
        w.rotate(&opts, t0 + Duration::from_millis(2_100));
        assert!(w.streams[w.head].n >= 300.0);
        // 10 s after the last value, everything is gone.
        w.rotate(&opts, t0 + Duration::from_secs(12));
        assert!(w.streams[w.head].query(0.5).is_nan());
        // A buffer flushed long after its values were made does not bring them back.
        let t20 = t0 + Duration::from_secs(20);
        w.flush(
            &opts,
            &mut batch(5.0, 10, t0 + Duration::from_secs(13)),
            t20 + Duration::from_secs(10),
        );
        assert!(w.streams[w.head].query(0.5).is_nan());
        // One made within the window does count.
        w.flush(
            &opts,
            &mut batch(6.0, 10, t20 + Duration::from_secs(5)),
            t20 + Duration::from_secs(10),
        );
        assert_eq!(w.streams[w.head].query(0.5), 6.0);
    }

    #[test]
    fn nan_observations_count_but_are_not_ranked() {
        let s = QuantileSummary::default();
        s.observe(f64::NAN);
        s.observe(2.0);
        assert_eq!(s.snapshot().count, 2);
        assert!(s.quantiles().iter().all(|&(_, v)| v == 2.0));
    }
}

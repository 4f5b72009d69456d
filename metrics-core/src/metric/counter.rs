//! Counter: a value that only goes up (and resets only on restart).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::encoding::{LabelSet, MetricEncoder};
use crate::error::{Error, Result};
use crate::metric::{Exemplar, Metric, MetricType, created_now, unix_now_seconds};

/// A monotonic counter.
///
/// Whole-number increments take a single `fetch_add` on an integer cell; fractional ones
/// go through a compare-and-swap loop on a separate float cell (the Go client's scheme), so
/// `inc()` costs one atomic instruction and the value is exact up to 2^53.
///
/// ```
/// let c = promenade_core::Counter::default();
/// c.inc();
/// c.inc_by(2.5).unwrap();
/// assert!(c.inc_by(-1.0).is_err());
/// assert_eq!(c.get(), 3.5);
/// ```
#[derive(Debug)]
pub struct Counter {
    int: AtomicU64,
    float_bits: AtomicU64,
    created_bits: AtomicU64,
    // Set on the first exemplar: counters without exemplars pay one pointer, and a scrape
    // checks for one with a plain load instead of taking a lock.
    exemplar: OnceLock<Box<Mutex<Exemplar>>>,
}

impl Default for Counter {
    fn default() -> Self {
        Self {
            int: AtomicU64::new(0),
            float_bits: AtomicU64::new(0),
            created_bits: created_now(),
            exemplar: OnceLock::new(),
        }
    }
}

impl Counter {
    /// Adds one.
    ///
    /// ```
    /// let c = promenade_core::Counter::default();
    /// c.inc();
    /// assert_eq!(c.get(), 1.0);
    /// ```
    #[inline]
    pub fn inc(&self) {
        self.int.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds a whole number.
    ///
    /// ```
    /// let c = promenade_core::Counter::default();
    /// c.inc_by_u64(40);
    /// assert_eq!(c.get(), 40.0);
    /// ```
    #[inline]
    pub fn inc_by_u64(&self, v: u64) {
        self.int.fetch_add(v, Ordering::Relaxed);
    }

    /// Adds `v`, which must be non-negative and not NaN (an OpenMetrics total is never NaN).
    ///
    /// ```
    /// let c = promenade_core::Counter::default();
    /// assert!(c.inc_by(f64::NAN).is_err());
    /// c.inc_by(0.25).unwrap();
    /// assert_eq!(c.get(), 0.25);
    /// ```
    #[inline]
    pub fn inc_by(&self, v: f64) -> Result<()> {
        if v.is_nan() || v < 0.0 {
            return Err(Error::InvalidIncrement(v));
        }
        // Whole numbers that survive the round trip through u64 take the integer path.
        if v.fract() == 0.0 && v < 18_446_744_073_709_551_616.0 {
            self.int.fetch_add(v as u64, Ordering::Relaxed);
        } else {
            add_f64(&self.float_bits, v);
        }
        Ok(())
    }

    /// Adds `v` and keeps an exemplar for it (shown in OpenMetrics and protobuf).
    ///
    /// ```
    /// let c = promenade_core::Counter::default();
    /// c.inc_by_with_exemplar(1.0, &[("trace_id", "abc")]).unwrap();
    /// assert!(c.inc_by_with_exemplar(1.0, &[("bad name", "x")]).is_err());
    /// assert_eq!(c.get(), 1.0);
    /// ```
    pub fn inc_by_with_exemplar(&self, v: f64, labels: &[(&str, &str)]) -> Result<()> {
        if v.is_nan() || v < 0.0 {
            return Err(Error::InvalidIncrement(v));
        }
        let exemplar = Exemplar::new(labels, v)?;
        match self.exemplar.get() {
            Some(slot) => *slot.lock().unwrap_or_else(|p| p.into_inner()) = exemplar,
            None => {
                let slot = self
                    .exemplar
                    .get_or_init(|| Box::new(Mutex::new(exemplar.clone())));
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = exemplar;
            }
        }
        self.inc_by(v)
    }

    /// The current value.
    ///
    /// ```
    /// assert_eq!(promenade_core::Counter::default().get(), 0.0);
    /// ```
    pub fn get(&self) -> f64 {
        f64::from_bits(self.float_bits.load(Ordering::Relaxed))
            + self.int.load(Ordering::Relaxed) as f64
    }

    /// Unix time in seconds at which the counter was created (or last reset by its family).
    ///
    /// ```
    /// assert!(promenade_core::Counter::default().created() > 1.0e9);
    /// ```
    pub fn created(&self) -> f64 {
        f64::from_bits(self.created_bits.load(Ordering::Relaxed))
    }
}

impl Metric for Counter {
    type Options = ();
    const TYPE: MetricType = MetricType::Counter;

    fn build(_: &()) -> Self {
        Self::default()
    }

    fn reset(&self) {
        self.int.store(0, Ordering::Relaxed);
        self.float_bits.store(0, Ordering::Relaxed);
        self.created_bits
            .store(unix_now_seconds().to_bits(), Ordering::Relaxed);
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        // The exemplar is read before the value, so it never refers to an uncounted event (I5).
        let exemplar = self
            .exemplar
            .get()
            .map(|slot| slot.lock().unwrap_or_else(|p| p.into_inner()).clone());
        enc.counter_with_exemplar(labels, self.get(), Some(self.created()), exemplar.as_ref());
    }
}

/// Adds `v` to an f64 stored as bits, with a CAS loop.
#[inline]
pub(crate) fn add_f64(cell: &AtomicU64, v: f64) {
    let mut current = cell.load(Ordering::Relaxed);
    loop {
        let next = (f64::from_bits(current) + v).to_bits();
        match cell.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

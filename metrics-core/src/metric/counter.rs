//! Counter: a value that only goes up (and resets only on restart).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwapOption;

use crate::encoding::{LabelSet, MetricEncoder};
use crate::error::{Error, Result};
use crate::metric::{Exemplar, Metric, MetricType, created_now};

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
///
/// # Special values
///
/// A counter never decreases and never wraps (OpenMetrics 1.0: a total is never NaN, never
/// negative and only goes up).
///
/// - `inc_by` refuses NaN, `-Inf` and negative values with [`Error::InvalidIncrement`]; the
///   value stays as it was. `-0.0` is zero and adds nothing.
/// - `+Inf` is accepted: the counter is `+Inf` from then on. Subnormals are added like any
///   fraction.
/// - Overflow: whole increments above 2^53 (which an `f64` cannot count exactly anyway) go to
///   the float cell, like Go's float counters; the integer cell carries past 2^64 instead of
///   wrapping. The value is an `f64`, so past 2^53 it is rounded, but it never goes down.
///
/// ```
/// let c = promenade_core::Counter::default();
/// c.inc_by_u64(u64::MAX);
/// c.inc();
/// assert_eq!(c.get(), 18_446_744_073_709_551_616.0); // not 0
/// c.inc_by(f64::INFINITY).unwrap();
/// assert!(c.inc_by(f64::NAN).is_err());
/// assert_eq!(c.get(), f64::INFINITY);
/// ```
#[derive(Debug)]
pub struct Counter {
    int: AtomicU64,
    float_bits: AtomicU64,
    created_bits: AtomicU64,
    // What is rarely written, replaced whole and read by a scrape without a lock: the latest
    // exemplar and the count of passes of 2^63. One word for both keeps a counter at 32
    // bytes, so a family's series entry fits a smaller allocation class.
    cold: ArcSwapOption<Cold>,
}

/// The rarely written part of a [`Counter`].
#[derive(Debug, Default)]
struct Cold {
    /// How many times `int` has passed a multiple of 2^63, counted by the writer that
    /// passed it, on a cold path. It may lag `int` by one pass; bit 63 of `int` tells
    /// readers when it does (see [`Counter::value`]).
    halves: u64,
    exemplar: Option<Exemplar>,
}

impl Default for Counter {
    fn default() -> Self {
        Self {
            int: AtomicU64::new(0),
            float_bits: AtomicU64::new(0),
            created_bits: created_now(),
            cold: ArcSwapOption::const_empty(),
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
        let old = self.int.fetch_add(1, Ordering::Relaxed);
        // The carry out of the low 63 bits, once every 2^63 increments.
        if old & LOW_BITS == LOW_BITS {
            self.passed_half();
        }
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
        if v > MAX_INT_INCREMENT {
            // Exact as u64 but not as f64: the float cell never wraps.
            self.add_float(v as f64);
            return;
        }
        self.add_int(v);
    }

    /// Adds at most [`MAX_INT_INCREMENT`] to the integer cell, counting a pass of 2^63.
    #[inline]
    fn add_int(&self, v: u64) {
        let old = self.int.fetch_add(v, Ordering::Relaxed);
        // With v < 2^63, bit 63 flips exactly when the add passes a multiple of 2^63
        // (2^64, where the cell wraps, included).
        if (old ^ old.wrapping_add(v)) & !LOW_BITS != 0 {
            self.passed_half();
        }
    }

    #[cold]
    #[inline(never)]
    fn passed_half(&self) {
        // Published after the add that caused it: a reader that sees the new count also
        // sees that add. `rcu` retries if an exemplar or another pass lands meanwhile.
        self.cold.rcu(|cold| {
            let cold = cold.as_deref();
            Some(Arc::new(Cold {
                halves: cold.map_or(0, |c| c.halves) + 1,
                exemplar: cold.and_then(|c| c.exemplar.clone()),
            }))
        });
    }

    #[cold]
    #[inline(never)]
    fn add_float(&self, v: f64) {
        add_f64(&self.float_bits, v);
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
        // Whole numbers an f64 holds exactly take the integer path (+Inf has a NaN fraction).
        if v.fract() == 0.0 && v <= MAX_INT_INCREMENT as f64 {
            self.add_int(v as u64);
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
        let mut exemplar = Exemplar::new(labels, v)?;
        // Replace the exemplar, keeping the pass count: a compare-and-swap loop that moves
        // the exemplar back out of a lost attempt instead of cloning it.
        let mut current = self.cold.load();
        loop {
            let next = Arc::new(Cold {
                halves: current.as_deref().map_or(0, |c| c.halves),
                exemplar: Some(exemplar),
            });
            let previous = self.cold.compare_and_swap(&current, Some(next.clone()));
            if ptr_eq(&previous, &current) {
                break;
            }
            current = previous;
            exemplar = match Arc::try_unwrap(next) {
                Ok(Cold {
                    exemplar: Some(e), ..
                }) => e,
                // Unreachable (the new value was never published), but never panic.
                _ => return self.inc_by(v),
            };
        }
        self.inc_by(v)
    }

    /// The current value.
    ///
    /// ```
    /// assert_eq!(promenade_core::Counter::default().get(), 0.0);
    /// ```
    pub fn get(&self) -> f64 {
        self.value(self.cold.load().as_deref())
    }

    /// The value, with the rarely written part already loaded by the caller.
    fn value(&self, cold: Option<&Cold>) -> f64 {
        // The pass count first: the integer cell read after it has passed at least that many
        // multiples of 2^63 (the load of `cold` pairs with the writer's publication).
        let halves = cold.map_or(0, |c| c.halves);
        let int = self.int.load(Ordering::Relaxed);
        // A writer that just passed a multiple of 2^63 may not have counted it yet: then the
        // parity of `halves` differs from bit 63 of the cell.
        let halves = halves + ((halves ^ (int >> 63)) & 1);
        let whole = (u128::from(halves) << 63) + u128::from(int & LOW_BITS);
        f64::from_bits(self.float_bits.load(Ordering::Relaxed)) + whole as f64
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

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        // The exemplar is read before the value, so it never refers to an uncounted event (as
        // in the Go client).
        let cold = self.cold.load();
        let cold = cold.as_deref();
        enc.counter_with_exemplar(
            labels,
            self.value(cold),
            Some(self.created()),
            cold.and_then(|c| c.exemplar.as_ref()),
        );
    }
}

/// Whole increments above this (2^53, the largest range in which an f64 counts exactly) go
/// to the float cell. Keeping integer increments this small means one add passes at most one
/// multiple of 2^63, and `halves` lags by at most one unless 1024 such adds race at one
/// carry.
const MAX_INT_INCREMENT: u64 = 1 << 53;

/// The integer cell's bits below bit 63.
const LOW_BITS: u64 = (1 << 63) - 1;

/// Whether two loads of an `ArcSwapOption` saw the same value.
fn ptr_eq(a: &Option<Arc<Cold>>, b: &Option<Arc<Cold>>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn halves(c: &Counter) -> u64 {
        c.cold.load().as_deref().map_or(0, |c| c.halves)
    }

    fn set_halves(c: &Counter, halves: u64) {
        c.cold.store(Some(Arc::new(Cold {
            halves,
            exemplar: None,
        })));
    }

    #[test]
    fn a_counter_is_four_words() {
        // A family's counter entry (labels, position, counter) then fits a 72-byte
        // allocation with the `Arc` header: the 80-byte malloc class, not the 96-byte one.
        assert_eq!(std::mem::size_of::<Counter>(), 32);
    }

    #[test]
    fn exemplars_and_passes_do_not_lose_each_other() {
        let c = std::sync::Arc::new(Counter::default());
        c.int.store(LOW_BITS - 1_000, Ordering::Relaxed);
        let exemplars = {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..2_000 {
                    let id = i.to_string();
                    c.inc_by_with_exemplar(1.0, &[("trace_id", &id)]).unwrap();
                }
            })
        };
        for _ in 0..100_000 {
            c.inc();
        }
        exemplars.join().unwrap();
        assert_eq!(
            halves(&c),
            1,
            "the pass is counted once, not lost to an exemplar"
        );
        let want = u128::from(LOW_BITS) - 1_000 + 102_000;
        assert_eq!(c.get(), want as f64);
        let cold = c.cold.load();
        let exemplar = cold.as_deref().and_then(|c| c.exemplar.as_ref());
        assert!(
            exemplar.is_some(),
            "the last exemplar is kept across the pass"
        );
    }

    #[test]
    fn carry_is_counted_on_the_cold_path() {
        let c = Counter::default();
        c.int.store(LOW_BITS, Ordering::Relaxed);
        c.inc();
        assert_eq!(halves(&c), 1);
        assert_eq!(c.get(), 9_223_372_036_854_775_808.0);
        c.int.store(u64::MAX - 2, Ordering::Relaxed);
        c.inc_by_u64(5);
        assert_eq!(c.int.load(Ordering::Relaxed), 2);
        assert_eq!(halves(&c), 2);
        assert_eq!(c.get(), 18_446_744_073_709_551_618.0);
    }

    #[test]
    fn a_carry_not_yet_counted_is_read_right() {
        // The writer's add landed, its count of the pass did not yet: bit 63 and the parity
        // of `halves` disagree, and the reader adds the missing half.
        let c = Counter::default();
        c.int.store((1 << 63) + 7, Ordering::Relaxed);
        assert_eq!(c.get(), 9_223_372_036_854_775_815.0);
        set_halves(&c, 1);
        assert_eq!(c.get(), 9_223_372_036_854_775_815.0);
        c.int.store(3, Ordering::Relaxed); // wrapped past 2^64, still counted once
        assert_eq!(c.get(), 18_446_744_073_709_551_619.0);
        set_halves(&c, 2);
        assert_eq!(c.get(), 18_446_744_073_709_551_619.0);
    }

    #[test]
    fn concurrent_increments_across_the_carry_never_decrease() {
        let c = std::sync::Arc::new(Counter::default());
        c.int.store(LOW_BITS - 50_000, Ordering::Relaxed);
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        c.inc();
                    }
                })
            })
            .collect();
        let mut last = c.get();
        while writers.iter().any(|w| !w.is_finished()) {
            let v = c.get();
            assert!(v >= last, "{v} < {last}");
            last = v;
        }
        for w in writers {
            w.join().unwrap();
        }
        let want = u128::from(LOW_BITS) - 50_000 + 200_000;
        assert_eq!(c.get(), want as f64, "nothing lost");
    }
}

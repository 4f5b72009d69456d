//! The sliding time window behind a quantile summary: targeted-quantile streams (the
//! algorithm of Cormode, Korn, Muthukrishnan and Srivastava, as in the Go client), rotated
//! by age, and the insert buffer in front of them.

use std::time::Instant;

use super::*;

/// One entry of a stream: a value, how many observations it stands for (`g`) and the
/// uncertainty of its rank (`delta`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Tuple {
    pub(super) value: f64,
    pub(super) g: f64,
    pub(super) delta: f64,
}

/// A CKMS biased-quantile stream for a set of targets, plus the exact minimum and maximum
/// (which answer the quantiles 0 and 1, where the targeted invariant degenerates).
#[derive(Debug, Clone)]
pub(super) struct Stream {
    pub(super) tuples: Vec<Tuple>,
    pub(super) scratch: Vec<Tuple>,
    pub(super) n: f64,
    pub(super) min: f64,
    pub(super) max: f64,
}

impl Stream {
    pub(super) fn new() -> Self {
        Self {
            tuples: Vec::new(),
            scratch: Vec::new(),
            n: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    pub(super) fn reset(&mut self) {
        self.tuples.clear();
        self.n = 0.0;
        self.min = f64::INFINITY;
        self.max = f64::NEG_INFINITY;
    }

    /// The targeted invariant: how much rank uncertainty (`g + delta`) a tuple at rank `r`
    /// may carry. It is CKMS's `f(r, n)` computed with `ε/2`. CKMS's own bound (`2ε·n` at
    /// the target rank, growing linearly away from it) lets a tuple near a target be wider
    /// than `2ε·n`, and with CKMS's insertion rule (a new tuple gets `f − 1` of uncertainty)
    /// answers fell outside `φ ± ε` in our tests (reverse-sorted input). With `ε/2`, GK's
    /// insertion rule and a query that picks the tuple whose rank range lies closest to
    /// `φ·n`, every answer in the tests (fixed vectors and property tests over random data,
    /// objectives and batch sizes) is within `φ ± ε`, at about twice CKMS's memory (still
    /// tiny: 91 tuples for 100 000 observations with the default objectives).
    pub(super) fn allowance(targets: &[(f64, f64)], r: f64, n: f64) -> f64 {
        let mut m = f64::MAX;
        for &(q, e) in targets {
            // q = 0 and q = 1 are answered from the exact min and max.
            if q <= 0.0 || q >= 1.0 {
                continue;
            }
            let f = if q * n <= r {
                e * r / q
            } else {
                e * (n - r) / (1.0 - q)
            };
            m = m.min(f);
        }
        m
    }

    /// Merges sorted, NaN-free `batch` into the stream, then compresses it.
    pub(super) fn insert_sorted(&mut self, targets: &[(f64, f64)], batch: &[f64]) {
        if batch.is_empty() {
            return;
        }
        if let (Some(first), Some(last)) = (batch.first(), batch.last()) {
            self.min = self.min.min(*first);
            self.max = self.max.max(*last);
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        out.reserve(self.tuples.len() + batch.len());
        let mut old = self.tuples.iter().peekable();
        for &v in batch {
            while let Some(t) = old.next_if(|t| t.value <= v) {
                out.push(*t);
            }
            // A new tuple at either end has an exact rank. Inside, its rank lies between its
            // predecessor's minimum rank + 1 and its successor's maximum rank (GK's rule).
            let delta = match old.peek() {
                Some(succ) if !out.is_empty() => (succ.g + succ.delta - 1.0).max(0.0),
                _ => 0.0,
            };
            out.push(Tuple {
                value: v,
                g: 1.0,
                delta,
            });
            self.n += 1.0;
        }
        out.extend(old.copied());
        self.scratch = std::mem::replace(&mut self.tuples, out);
        self.compress(targets);
    }

    /// Merges each tuple into its successor while the merged tuple still satisfies the
    /// invariant at its own rank.
    pub(super) fn compress(&mut self, targets: &[(f64, f64)]) {
        let len = self.tuples.len();
        if len < 3 {
            return;
        }
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        // Walk from the end; `cur` is the tuple being grown, `rank_cur` its minimum rank.
        // The first tuple (the minimum) is never merged away.
        let mut cur = self.tuples[len - 1];
        let mut rank_cur = self.n;
        for i in (1..len - 1).rev() {
            let t = self.tuples[i];
            if t.g + cur.g + cur.delta <= Self::allowance(targets, rank_cur, self.n) {
                cur.g += t.g;
            } else {
                out.push(cur);
                rank_cur -= cur.g;
                cur = t;
            }
        }
        out.push(cur);
        out.push(self.tuples[0]);
        out.reverse();
        self.scratch = std::mem::replace(&mut self.tuples, out);
    }

    /// The value at quantile `q` within the stream's error, or NaN when empty.
    pub(super) fn query(&self, q: f64) -> f64 {
        if self.tuples.is_empty() {
            return f64::NAN;
        }
        if q <= 0.0 {
            return self.min;
        }
        if q >= 1.0 {
            return self.max;
        }
        // The tuple whose rank range [rmin, rmax] lies closest to the target rank.
        let t = (q * self.n).ceil().max(1.0);
        let mut best = (f64::INFINITY, f64::NAN);
        let mut rmin = 0.0;
        for c in &self.tuples {
            rmin += c.g;
            let rmax = rmin + c.delta;
            let dist = (t - rmin).max(rmax - t);
            if dist < best.0 {
                best = (dist, c.value);
            }
            if rmin - t > best.0 {
                break;
            }
        }
        best.1
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.tuples.len()
    }
}

/// The age-bucketed streams and their clock.
#[derive(Debug)]
pub(super) struct Window {
    pub(super) streams: Vec<Stream>,
    pub(super) head: usize,
    pub(super) head_expires: Instant,
}

impl Window {
    pub(super) fn new(options: &QuantileOptions, now: Instant) -> Self {
        Self {
            streams: vec![Stream::new(); options.age_buckets as usize],
            head: 0,
            head_expires: now + options.stream_duration(),
        }
    }

    /// Clears the streams whose time is up; the cleared stream becomes the newest.
    pub(super) fn rotate(&mut self, options: &QuantileOptions, now: Instant) {
        if now < self.head_expires {
            return;
        }
        let d = options.stream_duration();
        if now.duration_since(self.head_expires) >= options.max_age {
            // Idle for a whole window or more: everything is stale.
            self.streams.iter_mut().for_each(Stream::reset);
            self.head_expires = now + d;
            return;
        }
        while now >= self.head_expires {
            self.streams[self.head].reset();
            self.head = (self.head + 1) % self.streams.len();
            self.head_expires += d;
        }
    }

    /// Folds buffered `values`, observed between `since` and `now`, into the streams. They
    /// are inserted as of `since` and the window is then moved on to `now`, so values older
    /// than the window never show up, however late the buffer is flushed.
    pub(super) fn flush(&mut self, options: &QuantileOptions, pending: &mut Buffer, now: Instant) {
        if let Some(since) = pending.since.take() {
            self.rotate(options, since);
            let values = &mut pending.values;
            values.sort_unstable_by(f64::total_cmp);
            let targets = options.objectives();
            for s in &mut self.streams {
                s.insert_sorted(targets, values);
            }
            values.clear();
        }
        self.rotate(options, now);
    }
}

/// Observations not yet in the streams, and when the oldest of them was made.
#[derive(Debug)]
pub(super) struct Buffer {
    pub(super) values: Vec<f64>,
    pub(super) since: Option<Instant>,
}

impl Buffer {
    pub(super) fn new() -> Self {
        Self {
            values: Vec::with_capacity(BUFFER_LEN),
            since: None,
        }
    }
}

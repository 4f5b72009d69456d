//! Striped count/sum/bucket cells shared by Histogram (classic buckets) and Summary: each
//! stripe is a tiny single-writer section guarded by its own lock word, so one observation
//! costs one atomic instruction (taking the stripe) plus plain loads and stores, and a scrape
//! reads every stripe under its lock — count, sum and buckets always from the same set of
//! observations.
//!
//! Why not the Go client's hot/cold scheme (which this replaced): it needs three to four
//! atomic read-modify-writes per observation (start counter, sum compare-and-swap, bucket,
//! completion), and on the VMs we measure on each costs several nanoseconds; a lock-based
//! histogram such as prometheus-client's needs two (lock and unlock). Here a stripe is
//! taken with one compare-and-swap and released with a plain store.
//!
//! Why it cannot hang: a stripe is held only for a handful of loads and stores of cells the
//! holder owns — no user code, no allocation, no panic (indices are clamped) — so every wait
//! is bounded by that section. A writer never waits while another stripe is free: it moves to
//! the next free stripe and remembers it (as `LongAdder` re-probes), so two threads hammering
//! one series settle on different stripes. Only when every stripe is held does it wait:
//! spinning briefly, then yielding, then sleeping between attempts (`short_lock::Backoff`).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use super::short_lock::Backoff;

/// How many stripes writers are spread over (one per core, at most 8), so that threads on
/// different cores do not fight over one cache line.
fn stripe_count() -> usize {
    static STRIPES: OnceLock<usize> = OnceLock::new();
    *STRIPES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8)
            .next_power_of_two()
    })
}

thread_local! {
    // A const initialiser: no lazy-init registration on each access, only this check.
    static SEED: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// This thread's preferred stripe (before masking): handed out round robin on first use.
#[inline]
fn this_thread_stripe() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    SEED.with(|s| {
        let seed = s.get();
        if seed == usize::MAX {
            let seed = NEXT.fetch_add(1, Ordering::Relaxed) & (usize::MAX >> 1);
            s.set(seed);
            seed
        } else {
            seed
        }
    })
}

/// Makes `stripe` this thread's preferred stripe (after it found its own one busy).
fn prefer_stripe(stripe: usize) {
    SEED.with(|s| s.set(stripe & (usize::MAX >> 1)));
}

const FREE: u64 = 0;
const HELD: u64 = 1;

/// Cells per [`Block`].
const BLOCK: usize = 16;

/// 128 bytes of cells, aligned to 128: stripes start on a block, so two stripes never share a
/// cache line nor an adjacent-line prefetch pair (why crossbeam's `CachePadded` uses 128 on
/// x86-64), without a spare line of padding per stripe.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Block([AtomicU64; BLOCK]);

/// Count, sum and non-cumulative bucket counts, striped.
///
/// Layout of one stripe (all `AtomicU64`): `[lock, sum_bits, bucket_0 .. bucket_{n-1}, inf]`,
/// rounded up to whole blocks. A stripe's count is the total of its bucket cells (`+Inf`
/// included), so no separate count cell is written.
#[derive(Debug)]
pub(crate) struct StripedCells {
    blocks: Box<[Block]>,
    buckets: usize,
    stride: usize,
    stripe_mask: usize,
}

/// A consistent reading of [`StripedCells`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CellsReading {
    pub count: u64,
    pub sum: f64,
    /// Non-cumulative counts per finite bucket.
    pub buckets: Vec<u64>,
}

impl StripedCells {
    pub(crate) fn new(buckets: usize) -> Self {
        let stripes = stripe_count();
        let stride = (3 + buckets).div_ceil(BLOCK) * BLOCK;
        let blocks = (0..stride / BLOCK * stripes)
            .map(|_| Block::default())
            .collect();
        Self {
            blocks,
            buckets,
            stride,
            stripe_mask: stripes - 1,
        }
    }

    #[inline]
    fn cell(&self, i: usize) -> &AtomicU64 {
        &self.blocks[i / BLOCK].0[i % BLOCK]
    }

    #[inline]
    fn try_take(&self, base: usize) -> bool {
        self.cell(base)
            .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    #[inline]
    fn release(&self, base: usize) {
        self.cell(base).store(FREE, Ordering::Release);
    }

    /// Takes some stripe for a writer whose own stripe is busy, and returns its base index.
    #[cold]
    fn take_other(&self, seed: usize) -> usize {
        let mut backoff = Backoff::default();
        loop {
            for step in 1..=self.stripe_mask + 1 {
                let stripe = (seed + step) & self.stripe_mask;
                let base = stripe * self.stride;
                if self.try_take(base) {
                    prefer_stripe(stripe);
                    return base;
                }
            }
            backoff.wait();
        }
    }

    /// Takes stripe `base` for a reader, waiting for its writer (a few stores) if needed.
    fn take_for_read(&self, base: usize) {
        let mut backoff = Backoff::default();
        while !self.try_take(base) {
            backoff.wait();
        }
    }

    /// Records one observation of `v` into bucket `bucket` (`bucket >= buckets` means only `+Inf`).
    #[inline]
    pub(crate) fn record(&self, bucket: usize, v: f64) {
        let seed = this_thread_stripe();
        // A stripe starts on a block: its lock and sum cells are the first block's first two,
        // found with one bounds check; the bucket cell is usually in that block too.
        let own = (seed & self.stripe_mask) * self.stride;
        let (base, head) = match self.blocks.get(own / BLOCK) {
            Some(head)
                if head.0[0]
                    .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok() =>
            {
                (own, head)
            }
            _ => {
                let base = self.take_other(seed);
                match self.blocks.get(base / BLOCK) {
                    Some(head) => (base, head),
                    None => return, // unreachable: `base` is a stripe's start
                }
            }
        };
        // The stripe is ours until released: plain load/store pairs, no read-modify-write.
        let sum = &head.0[1];
        sum.store(
            (f64::from_bits(sum.load(Ordering::Relaxed)) + v).to_bits(),
            Ordering::Relaxed,
        );
        let offset = 2 + bucket.min(self.buckets);
        let cell = if offset < BLOCK {
            &head.0[offset]
        } else {
            self.cell(base + offset)
        };
        cell.store(
            cell.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
        head.0[0].store(FREE, Ordering::Release);
    }

    /// Reads all stripes consistently into `out` (reusing its allocation).
    pub(crate) fn read_into(&self, out: &mut CellsReading) {
        out.count = 0;
        out.sum = 0.0;
        out.buckets.clear();
        out.buckets.resize(self.buckets, 0);
        for base in (0..=self.stripe_mask).map(|s| s * self.stride) {
            self.take_for_read(base);
            out.sum += f64::from_bits(self.cell(base + 1).load(Ordering::Relaxed));
            for (i, total) in out.buckets.iter_mut().enumerate() {
                let c = self.cell(base + 2 + i).load(Ordering::Relaxed);
                *total = total.wrapping_add(c);
                out.count = out.count.wrapping_add(c);
            }
            let inf = self.cell(base + 2 + self.buckets).load(Ordering::Relaxed);
            out.count = out.count.wrapping_add(inf);
            self.release(base);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn counts_sum_and_buckets() {
        let cells = StripedCells::new(2);
        cells.record(0, 0.5);
        cells.record(1, 1.5);
        cells.record(7, 9.0); // past the last bucket: +Inf only
        let mut r = CellsReading::default();
        cells.read_into(&mut r);
        assert_eq!(r.count, 3);
        assert_eq!(r.buckets, vec![1, 1]);
        assert_eq!(r.sum, 11.0);
    }

    #[test]
    fn buckets_past_the_first_block() {
        // 40 buckets: a stripe spans three blocks; bucket 35 and +Inf are outside the first.
        let cells = StripedCells::new(40);
        cells.record(0, 0.5);
        cells.record(13, 1.0);
        cells.record(14, 1.0);
        cells.record(35, 1.0);
        cells.record(100, 2.0);
        let mut r = CellsReading::default();
        cells.read_into(&mut r);
        assert_eq!(r.count, 5);
        assert_eq!(r.sum, 5.5);
        let mut want = vec![0; 40];
        for i in [0, 13, 14, 35] {
            want[i] = 1;
        }
        assert_eq!(r.buckets, want);
    }

    /// Writers on more threads than stripes, with a reader that checks every reading is
    /// consistent: count equals the bucket total plus `+Inf`, and the sum matches the count
    /// (every observation is 1.0).
    #[test]
    fn readings_stay_consistent_under_contention() {
        let cells = Arc::new(StripedCells::new(1));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|t| {
                let cells = Arc::clone(&cells);
                std::thread::spawn(move || {
                    for _ in 0..200_000 {
                        cells.record(t % 2, 1.0);
                    }
                })
            })
            .collect();
        let reader = {
            let cells = Arc::clone(&cells);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut r = CellsReading::default();
                let mut reads = 0u32;
                while !stop.load(Ordering::Relaxed) && reads < 100_000 {
                    cells.read_into(&mut r);
                    assert_eq!(r.sum, r.count as f64, "sum and count from different sets");
                    assert!(r.buckets[0] <= r.count);
                    reads += 1;
                }
            })
        };
        for w in writers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        reader.join().unwrap();
        let mut r = CellsReading::default();
        cells.read_into(&mut r);
        assert_eq!(r.count, 800_000);
        assert_eq!(r.buckets, vec![400_000]);
        assert_eq!(r.sum, 800_000.0);
    }
}

//! The lookup table behind a family: write-once slots, probed without locks, replaced whole
//! (through `arc-swap`) on growth or when removed series outnumber live ones.

use std::sync::atomic::{AtomicU64, Ordering};

use std::sync::{Arc, OnceLock};

/// One series: its labels rendered once for the text formats, and the metric. (Its hash is
/// kept by the table only: an entry is then one allocation size class smaller.)
///
/// An entry is never reset or reused: removing a series marks its entry dead and a later
/// lookup of the same labels creates a fresh entry, so an observer that still holds the old
/// one can never leave a half-finished observation in the new one.
pub(super) struct Entry<M> {
    pub(super) labels: Box<str>,
    /// The low half: the index in [`WriteState::order`] while live, [`DEAD`] once removed,
    /// written only under the family's lock. The high half: the labels' shape
    /// ([`plain_shape`](crate::labels::plain_shape)), fixed at creation, read by lookups
    /// with the liveness in one load. (One word for all of it: an entry is one allocation
    /// size class smaller; a family never holds 2^32 series, which would take over 300 GiB.)
    position: AtomicU64,
    pub(super) metric: M,
}

/// An open-addressing table (linear probing) whose slots are written once, under the
/// family's lock, and read with plain acquire loads: a lookup takes no lock and writes no
/// shared memory. A removed entry stays in its slot, dead, until the table is rebuilt; the
/// rebuild (on growth, or when dead entries outnumber live ones) copies only live entries
/// into a new table that replaces this one atomically, so removed series are reclaimed once
/// the last reader of the old table has finished.
pub(super) struct Table<M> {
    mask: usize,
    slots: Box<[Slot<M>]>,
}

/// A slot: the hash beside the entry, so a probe that finds its hash reads the entry from
/// the same cache line.
struct Slot<M> {
    /// The entry's hash (never 0, see `Family::hash`) once `entry` is set; 0 while vacant.
    hash: AtomicU64,
    entry: OnceLock<Arc<Entry<M>>>,
}

impl<M> Table<M> {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.max(MIN_CAPACITY).next_power_of_two();
        Self {
            mask: capacity - 1,
            slots: (0..capacity)
                .map(|_| Slot {
                    hash: AtomicU64::new(0),
                    entry: OnceLock::new(),
                })
                .collect(),
        }
    }

    pub(super) fn capacity(&self) -> usize {
        self.mask + 1
    }

    #[inline]
    fn start(&self, hash: u64) -> usize {
        (hash >> 1) as usize & self.mask
    }

    /// The live entry with this hash that `matches` accepts, given the entry and its labels'
    /// shape (the caller compares the label text: never the hash alone, two label sets must
    /// not merge).
    #[inline]
    pub(super) fn find(
        &self,
        hash: u64,
        mut matches: impl FnMut(&Entry<M>, u32) -> bool,
    ) -> Option<&Arc<Entry<M>>> {
        let mut i = self.start(hash);
        loop {
            let slot = self.slots.get(i)?;
            let h = slot.hash.load(Ordering::Acquire);
            if h == 0 {
                return None;
            }
            if h == hash
                && let Some(entry) = slot.entry.get()
                && let Some(shape) = entry.live_shape()
                && matches(entry, shape)
            {
                return Some(entry);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Every live entry with its hash (for a rebuild: entries do not keep their hash).
    pub(super) fn live(&self) -> impl Iterator<Item = (u64, &Arc<Entry<M>>)> {
        self.slots.iter().filter_map(|slot| {
            let hash = slot.hash.load(Ordering::Relaxed);
            let entry = slot.entry.get()?;
            (hash != 0 && entry.is_live()).then_some((hash, entry))
        })
    }

    /// Puts `entry`, whose labels hash to `hash`, in the first vacant slot of its probe
    /// sequence. Only called under the family's lock (or on a table no reader can see yet),
    /// so a vacant slot stays vacant until this sets it; the load factor (at most 7/8, kept
    /// by the family) guarantees a vacant slot.
    pub(super) fn place(&self, hash: u64, entry: &Arc<Entry<M>>) {
        let mut i = self.start(hash);
        while let Some(slot) = self.slots.get(i) {
            if slot.hash.load(Ordering::Relaxed) == 0 && slot.entry.set(Arc::clone(entry)).is_ok() {
                // Publish the hash last: a reader that sees it also sees the entry.
                slot.hash.store(hash, Ordering::Release);
                return;
            }
            i = (i + 1) & self.mask;
        }
    }
}

/// The position of a removed entry.
const DEAD: u32 = u32::MAX;

impl<M> Entry<M> {
    /// An entry at `index` in the order list, with labels rendered as `labels` of shape
    /// `shape`.
    pub(super) fn new(labels: Box<str>, shape: u32, index: usize, metric: M) -> Self {
        Self {
            labels,
            position: AtomicU64::new(u64::from(shape) << 32 | u64::from(index_bits(index))),
            metric,
        }
    }

    /// The labels' shape while the series is in its family, `None` once removed: both from
    /// one load of the position word.
    #[inline]
    fn live_shape(&self) -> Option<u32> {
        let word = self.position.load(Ordering::Relaxed);
        (word as u32 != DEAD).then_some((word >> 32) as u32)
    }

    /// Whether the series is still in its family (not removed).
    #[inline]
    pub(super) fn is_live(&self) -> bool {
        self.live_shape().is_some()
    }

    /// Moves the entry to `index` in the order list (under the family's lock).
    pub(super) fn set_index(&self, index: usize) {
        self.set_low(index_bits(index));
    }

    /// Marks the entry removed (under the family's lock); its index until now, if it was live.
    pub(super) fn kill(&self) -> Option<usize> {
        let old = self.position.load(Ordering::Relaxed) as u32;
        self.set_low(DEAD);
        (old != DEAD).then_some(old as usize)
    }

    /// Replaces the index half, keeping the shape (only the family's lock holder writes).
    fn set_low(&self, low: u32) {
        let word = self.position.load(Ordering::Relaxed);
        self.position.store(
            word & !u64::from(u32::MAX) | u64::from(low),
            Ordering::Relaxed,
        );
    }
}

/// An order-list index as stored (never [`DEAD`]: no family reaches 2^32 - 1 series).
fn index_bits(index: usize) -> u32 {
    u32::try_from(index).map_or(DEAD - 1, |i| i.min(DEAD - 1))
}

/// Slots a table has at least.
pub(super) const MIN_CAPACITY: usize = 8;

#[cfg(test)]
mod tests {
    use super::Entry;

    /// Memory per series is dominated by the entry allocation: keep a counter series' entry
    /// within 56 bytes, so with the `Arc` header (16) it asks malloc for 72 and lands in the
    /// 80-byte class (glibc: request + 8, rounded up to 16), not the 96-byte one.
    #[test]
    fn a_counter_entry_stays_small() {
        assert!(
            std::mem::size_of::<Entry<crate::Counter>>() <= 56,
            "{}",
            std::mem::size_of::<Entry<crate::Counter>>()
        );
    }
}

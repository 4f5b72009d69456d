//! The family's current table: shared through `arc-swap` and pinned per thread.
//!
//! A lookup must keep the table it reads alive while the caller uses the series it found.
//! Through `arc-swap` alone that takes two atomic read-modify-writes per lookup (announce the
//! read, then retire it), and on a virtual machine one such write costs several nanoseconds:
//! most of a lookup's time once the comparison is cheap. So each thread keeps the current
//! table pinned (an `Arc` in per-family thread-local storage, tagged with the table's version)
//! and a lookup on a thread that has looked up before only reads: the version, then its pin.
//!
//! A replaced table (after growth or a rebuild) bumps the version; a thread re-pins on its next
//! lookup, and only then lets the old table go. So a thread keeps at most one old table (and
//! the removed series it holds) until it looks this family up again or the family is dropped;
//! the pin of a thread that has exited stays until a new thread takes over its slot
//! (`thread_local` reuses the ids of exited threads) or the family is dropped.
//! While a reference from a thread's pin is still out, that thread cannot re-pin and reads
//! through `arc-swap` instead.

use std::cell::{Cell, Ref, RefCell};
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwap, Guard};
use thread_local::ThreadLocal;

use super::table::Table;

/// The current table, its version and every thread's pin of it.
pub(super) struct CurrentTable<M: Send + Sync> {
    shared: ArcSwap<Table<M>>,
    /// Bumped after every replacement of `shared`.
    version: AtomicU64,
    pins: ThreadLocal<Padded<RefCell<Pin<M>>>>,
}

/// Whether this thread may create pin cells (see [`CurrentTable::pin_cell`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pinning {
    NotYet,
    On,
    Over,
}

std::thread_local! {
    /// No destructor, so readable at any point of the thread's life.
    static PINNING: Cell<Pinning> = const { Cell::new(Pinning::NotYet) };
    /// Registered after this thread's first pin; its destructor ends pinning.
    static TEARDOWN_GUARD: TeardownGuard = const { TeardownGuard };
}

struct TeardownGuard;

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        let _ = PINNING.try_with(|p| p.set(Pinning::Over));
    }
}

/// A thread's pin on lines of its own: 128 bytes, two cache lines, as adjacent-line
/// prefetchers pair them. Every lookup writes its pin's borrow count, and pins of two threads
/// sharing a line would make each lookup wait for the other thread's.
#[repr(align(128))]
struct Padded<T>(T);

/// One thread's pinned table and the version it was current at (or later: the version is
/// read before the table, so the table is never older than its tag).
struct Pin<M> {
    version: u64,
    table: Arc<Table<M>>,
}

/// A table kept alive for a reader: the thread's pin, or a shared `arc-swap` guard.
pub(super) enum TableRef<'a, M> {
    Pinned(Ref<'a, Arc<Table<M>>>),
    Shared(Guard<Arc<Table<M>>>),
}

impl<M> Deref for TableRef<'_, M> {
    type Target = Table<M>;
    #[inline]
    fn deref(&self) -> &Table<M> {
        match self {
            TableRef::Pinned(pin) => pin,
            TableRef::Shared(guard) => guard,
        }
    }
}

impl<M: Send + Sync> CurrentTable<M> {
    pub(super) fn new(table: Table<M>) -> Self {
        Self {
            shared: ArcSwap::from_pointee(table),
            version: AtomicU64::new(0),
            pins: ThreadLocal::new(),
        }
    }

    /// The current table for a lookup on this thread.
    #[inline]
    pub(super) fn load(&self) -> TableRef<'_, M> {
        let version = self.version.load(Ordering::Acquire);
        if let Some(Padded(cell)) = self.pins.get()
            && let Ok(pin) = cell.try_borrow()
            && pin.version == version
        {
            return TableRef::Pinned(Ref::map(pin, |p| &p.table));
        }
        self.repin(version)
    }

    /// First lookup on this thread, or the table was replaced since this thread's last one.
    #[cold]
    #[inline(never)]
    fn repin(&self, version: u64) -> TableRef<'_, M> {
        let Some(Padded(cell)) = self.pin_cell(version) else {
            return TableRef::Shared(self.shared.load());
        };
        if let Ok(mut pin) = cell.try_borrow_mut() {
            if pin.version != version {
                // The old table is let go here: on this thread, at its next lookup.
                *pin = Pin {
                    version,
                    table: self.shared.load_full(),
                };
            }
            drop(pin);
            if let Ok(pin) = cell.try_borrow() {
                return TableRef::Pinned(Ref::map(pin, |p| &p.table));
            }
        }
        // A reference from this thread's pin is still out: read without re-pinning.
        TableRef::Shared(self.shared.load())
    }

    /// This thread's pin cell, created if needed; `None` once the thread's thread-local
    /// storage is being torn down.
    ///
    /// Creating a cell (`ThreadLocal::get_or`) needs `thread_local`'s per-thread id, and asking
    /// for one after that crate's own thread guard was destroyed panics, which inside a
    /// thread-local destructor aborts the process. So after its first pin a thread registers a
    /// guard of its own: thread-local destructors run in reverse order of registration, so that
    /// guard runs before `thread_local`'s (registered by then) and turns pinning off for the
    /// rest of the teardown; lookups then read through `arc-swap`. (Not covered: a thread whose
    /// very first lookup runs in a thread-local destructor after another library's use of
    /// `thread_local` has torn its guard down; nothing public tells that moment apart.)
    fn pin_cell(&self, version: u64) -> Option<&Padded<RefCell<Pin<M>>>> {
        let standing = PINNING.try_with(Cell::get).unwrap_or(Pinning::Over);
        if standing == Pinning::Over {
            return None;
        }
        let cell = self.pins.get_or(|| {
            Padded(RefCell::new(Pin {
                version,
                table: self.shared.load_full(),
            }))
        });
        if standing == Pinning::NotYet {
            let next = match TEARDOWN_GUARD.try_with(|_| ()) {
                Ok(()) => Pinning::On,
                Err(_) => Pinning::Over,
            };
            let _ = PINNING.try_with(|p| p.set(next));
        }
        Some(cell)
    }

    /// The current table, owned (for writers, under the family's lock).
    pub(super) fn load_full(&self) -> Arc<Table<M>> {
        self.shared.load_full()
    }

    /// Replaces the table (under the family's lock). Pins move on at their thread's next lookup.
    pub(super) fn store(&self, table: Table<M>) {
        self.shared.store(Arc::new(table));
        // After the store: a reader that sees the new version loads the new table.
        self.version.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{CurrentTable, TableRef};
    use crate::family::table::Table;

    fn is(t: &TableRef<'_, u8>, table: &Arc<Table<u8>>) -> bool {
        std::ptr::eq::<Table<u8>>(&**t, &**table)
    }

    /// A thread reads its pin once pinned, lets an old table go at its next lookup, and reads
    /// through `arc-swap` while its pin is still borrowed.
    #[test]
    fn pins_follow_replacements_and_release_old_tables() {
        let current = CurrentTable::new(Table::with_capacity(8));
        assert!(matches!(current.load(), TableRef::Pinned(_)));
        let first = current.load_full();
        // Held by the shared slot, this thread's pin and `first`.
        assert_eq!(Arc::strong_count(&first), 3);

        current.store(Table::with_capacity(8));
        let second = current.load_full();
        assert_eq!(Arc::strong_count(&first), 2, "the shared slot let go");
        {
            let t = current.load();
            assert!(matches!(t, TableRef::Pinned(_)) && is(&t, &second));
        }
        assert_eq!(
            Arc::strong_count(&first),
            1,
            "re-pinning let the old table go"
        );

        // A reference out from the pin: a replacement is read through a guard meanwhile.
        let held = current.load();
        current.store(Table::with_capacity(8));
        let third = current.load_full();
        let t = current.load();
        assert!(matches!(t, TableRef::Shared(_)) && is(&t, &third));
        assert!(is(&held, &second));
        drop((t, held));
        let t = current.load();
        assert!(matches!(t, TableRef::Pinned(_)) && is(&t, &third));
    }

    /// Each thread has its own pin: another thread's lookups never see a pin borrowed here.
    #[test]
    fn threads_pin_independently() {
        let current = CurrentTable::new(Table::with_capacity(8));
        let first = current.load_full();
        let here = current.load();
        std::thread::scope(|s| {
            s.spawn(|| {
                current.store(Table::with_capacity(8));
                let next = current.load_full();
                let t = current.load();
                assert!(matches!(t, TableRef::Pinned(_)) && is(&t, &next));
            });
        });
        assert!(is(&here, &first));
    }
}

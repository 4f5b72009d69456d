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
//! the removed series it holds) until it looks this family up again or the family is dropped.
//! While a reference from a thread's pin is still out, that thread cannot re-pin and reads
//! through `arc-swap` instead.

use std::cell::{Ref, RefCell};
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
    pins: ThreadLocal<RefCell<Pin<M>>>,
}

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
        if let Some(cell) = self.pins.get()
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
        let cell = self.pins.get_or(|| {
            RefCell::new(Pin {
                version,
                table: self.shared.load_full(),
            })
        });
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
    use crate::family::table::{Entry, Table};

    fn table(entry: &Arc<Entry<u8>>) -> Table<u8> {
        Table::with_capacity(8, Arc::clone(entry))
    }

    fn entry() -> Arc<Entry<u8>> {
        Arc::new(Entry {
            labels: "".into(),
            position: std::sync::atomic::AtomicUsize::new(0),
            metric: 0,
        })
    }

    /// A thread reads its pin once pinned, lets an old table go at its next lookup, and reads
    /// through `arc-swap` while its pin is still borrowed.
    #[test]
    fn pins_follow_replacements_and_release_old_tables() {
        let (first, second) = (entry(), entry());
        let current = CurrentTable::new(table(&first));
        assert!(matches!(current.load(), TableRef::Pinned(_)));
        // Held by the shared slot and this thread's pin (plus `first` itself).
        let old = current.load_full();
        assert_eq!(Arc::strong_count(&old), 3);
        drop(old);

        current.store(table(&second));
        let old_held = Arc::strong_count(&first);
        {
            let t = current.load();
            assert!(matches!(t, TableRef::Pinned(_)));
            assert!(Arc::ptr_eq(&t.fallback, &second));
        }
        // The old table (and the fallback entry it held) is gone: re-pinning released it.
        assert_eq!(Arc::strong_count(&first), old_held - 1);

        // A reference out from the pin: a replacement is read through a guard meanwhile.
        let held = current.load();
        let third = entry();
        current.store(table(&third));
        let t = current.load();
        assert!(matches!(t, TableRef::Shared(_)));
        assert!(Arc::ptr_eq(&t.fallback, &third));
        assert!(Arc::ptr_eq(&held.fallback, &second));
        drop((t, held));
        assert!(matches!(current.load(), TableRef::Pinned(t) if Arc::ptr_eq(&t.fallback, &third)));
    }

    /// Each thread has its own pin: another thread's lookups never see a pin borrowed here.
    #[test]
    fn threads_pin_independently() {
        let e = entry();
        let current = CurrentTable::new(table(&e));
        let here = current.load();
        std::thread::scope(|s| {
            s.spawn(|| {
                current.store(table(&entry()));
                assert!(matches!(current.load(), TableRef::Pinned(_)));
            });
        });
        assert!(Arc::ptr_eq(&here.fallback, &e));
    }
}

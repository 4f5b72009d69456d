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
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::{ArcSwap, Guard};
use thread_local::ThreadLocal;

use super::table::Table;

/// The current table, its version and every thread's pin of it.
pub(super) struct CurrentTable<M: Send + Sync> {
    shared: ArcSwap<Table<M>>,
    /// Bumped after every replacement of `shared`.
    version: AtomicU64,
    pins: ThreadLocal<Slot<M>>,
}

/// [`token`] once the thread's thread-local storage is being torn down: no more pinning
/// (see [`CurrentTable::pin_cell`]). No slot has this owner.
const TORN_DOWN: u64 = u64::MAX;

std::thread_local! {
    /// See [`token`]. No destructor, so readable at any point of the thread's life.
    static TOKEN: Cell<u64> = const { Cell::new(0) };
    /// References from this thread's pins now out ([`PinUse`]s alive). No destructor.
    static OUTSTANDING: Cell<usize> = const { Cell::new(0) };
    /// Registered after this thread's first pin; its destructor ends pinning.
    static TEARDOWN_GUARD: TeardownGuard = TeardownGuard {
        left: Arc::new(AtomicBool::new(false)),
    };
}

struct TeardownGuard {
    left: Arc<AtomicBool>,
}

impl Drop for TeardownGuard {
    fn drop(&mut self) {
        // No new reference from a pin after this (the fast path compares slot owners with
        // the token), so with none out the slots are free for the thread that gets this id.
        let _ = TOKEN.try_with(|t| t.set(TORN_DOWN));
        if OUTSTANDING.try_with(Cell::get) == Ok(0) {
            self.left.store(true, Ordering::Release);
        }
    }
}

/// This thread's "left cleanly" flag, for the slots it creates (a fresh, never-set flag when
/// its thread-local storage is already gone: such a slot is never taken over).
fn left_flag() -> Arc<AtomicBool> {
    TEARDOWN_GUARD
        .try_with(|g| Arc::clone(&g.left))
        .unwrap_or_else(|_| Arc::new(AtomicBool::new(false)))
}

/// Counts one reference from this thread's pins while it lives (see [`TeardownGuard`]).
/// Neither `Send` nor `Sync`: it is let go on the thread that counted it.
pub(super) struct PinUse(std::marker::PhantomData<*const ()>);

impl PinUse {
    fn new() -> Self {
        let _ = OUTSTANDING.try_with(|c| c.set(c.get() + 1));
        PinUse(std::marker::PhantomData)
    }
}

impl Drop for PinUse {
    fn drop(&mut self) {
        let _ = OUTSTANDING.try_with(|c| c.set(c.get().saturating_sub(1)));
    }
}

/// A thread's pin on lines of its own: 128 bytes, two cache lines, as adjacent-line
/// prefetchers pair them. Every lookup writes its pin's borrow count, and pins of two threads
/// sharing a line would make each lookup wait for the other thread's.
///
/// `owner` is the token of the thread that created the slot, and only that thread ever touches
/// the pin. `thread_local` hands an exited thread's slot to the next thread that gets its id,
/// while a reference from the old pin may still be alive in one of the exited thread's
/// thread-local destructors (a `SeriesRef` of a `'static` family kept in a thread-local); two
/// threads using one `RefCell` would race. A thread that finds a slot it did not create reads
/// through `arc-swap` for that family instead.
///
/// The next thread takes such a slot over only when its owner left cleanly: its thread-local
/// storage was torn down with no reference from its pins still out (`left`, set then).
#[repr(align(128))]
struct Slot<M> {
    owner: AtomicU64,
    /// The owner thread's "left cleanly" flag (one per thread, shared by its slots).
    left: Mutex<Arc<AtomicBool>>,
    pin: RefCell<Pin<M>>,
}

/// This thread's token: unique per thread for the process's life; 0 before its first pin,
/// [`TORN_DOWN`] once its thread-local storage is being torn down (no slot has either owner).
fn token() -> u64 {
    TOKEN.try_with(Cell::get).unwrap_or(TORN_DOWN)
}

/// This thread's token, given one if it has none yet.
fn assign_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    match token() {
        0 => {
            let t = NEXT.fetch_add(1, Ordering::Relaxed);
            let _ = TOKEN.try_with(|c| c.set(t));
            t
        }
        t => t,
    }
}

/// One thread's pinned table and the version it was current at (or later: the version is
/// read before the table, so the table is never older than its tag).
struct Pin<M> {
    version: u64,
    table: Arc<Table<M>>,
}

/// A table kept alive for a reader: the thread's pin, or a shared `arc-swap` guard.
pub(super) enum TableRef<'a, M> {
    Pinned(Ref<'a, Arc<Table<M>>>, PinUse),
    Shared(Guard<Arc<Table<M>>>),
}

impl<M> Deref for TableRef<'_, M> {
    type Target = Table<M>;
    #[inline]
    fn deref(&self) -> &Table<M> {
        match self {
            TableRef::Pinned(pin, _) => pin,
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
        if let Some(slot) = self.pins.get()
            && slot.owner.load(Ordering::Relaxed) == token()
            && let Ok(pin) = slot.pin.try_borrow()
            && pin.version == version
        {
            return TableRef::Pinned(Ref::map(pin, |p| &p.table), PinUse::new());
        }
        self.repin(version)
    }

    /// First lookup on this thread, or the table was replaced since this thread's last one.
    #[cold]
    #[inline(never)]
    fn repin(&self, version: u64) -> TableRef<'_, M> {
        let Some(cell) = self.pin_cell(version) else {
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
                return TableRef::Pinned(Ref::map(pin, |p| &p.table), PinUse::new());
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
    fn pin_cell(&self, version: u64) -> Option<&RefCell<Pin<M>>> {
        let first = match token() {
            TORN_DOWN => return None,
            t => t == 0,
        };
        let me = assign_token();
        let slot = self.pins.get_or(|| Slot {
            owner: AtomicU64::new(me),
            left: Mutex::new(left_flag()),
            pin: RefCell::new(Pin {
                version,
                table: self.shared.load_full(),
            }),
        });
        if first && TEARDOWN_GUARD.try_with(|_| ()).is_err() {
            let _ = TOKEN.try_with(|t| t.set(TORN_DOWN));
        }
        if slot.owner.load(Ordering::Relaxed) != me {
            // A slot left by an exited thread whose id this thread now has: taken over only
            // if that thread left cleanly, else never touched.
            let mut left = slot.left.lock().unwrap_or_else(PoisonError::into_inner);
            if !left.load(Ordering::Acquire) {
                return None;
            }
            *left = left_flag();
            slot.owner.store(me, Ordering::Relaxed);
        }
        Some(&slot.pin)
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
    use std::sync::atomic::Ordering;

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
        assert!(matches!(current.load(), TableRef::Pinned(..)));
        let first = current.load_full();
        // Held by the shared slot, this thread's pin and `first`.
        assert_eq!(Arc::strong_count(&first), 3);

        current.store(Table::with_capacity(8));
        let second = current.load_full();
        assert_eq!(Arc::strong_count(&first), 2, "the shared slot let go");
        {
            let t = current.load();
            assert!(matches!(t, TableRef::Pinned(..)) && is(&t, &second));
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
        assert!(matches!(t, TableRef::Pinned(..)) && is(&t, &third));
    }

    /// A thread that gets an exited thread's id (`thread_local` reuses them, lowest first)
    /// takes over that thread's slot when it left cleanly; when a reference from its pin was
    /// still out (kept in a thread-local), the slot is never touched again.
    #[test]
    fn slots_of_exited_threads_are_taken_over_only_when_left_cleanly() {
        use std::cell::RefCell;
        use std::sync::LazyLock;
        static CURRENT: LazyLock<CurrentTable<u8>> =
            LazyLock::new(|| CurrentTable::new(Table::with_capacity(8)));
        std::thread_local! {
            static KEPT: RefCell<Option<TableRef<'static, u8>>> = const { RefCell::new(None) };
        }
        // Runs one lookup on a new thread: whether it pinned, and the address of its slot.
        let lookup = |keep: bool| {
            std::thread::spawn(move || {
                KEPT.with(|_| ()); // destroyed after this thread's pins and id
                let t = CURRENT.load();
                let slot = CURRENT.pins.get().expect("a slot after a lookup");
                let mine = slot.owner.load(Ordering::Relaxed) == super::token();
                assert_eq!(matches!(t, TableRef::Pinned(..)), mine);
                let at = std::ptr::from_ref(slot) as usize;
                if keep {
                    KEPT.with(|k| *k.borrow_mut() = Some(t));
                }
                (mine, at)
            })
            .join()
            .expect("the thread ends normally")
        };
        // Threads that leave cleanly: each one pins, through a new slot or one taken over.
        for _ in 0..3 {
            assert!(lookup(false).0);
        }
        // A thread exits with a reference from its pin kept in a thread-local: a later thread
        // that gets its id, and so its slot, must not pin through it.
        let (pinned, kept_slot) = lookup(true);
        assert!(pinned);
        for _ in 0..3 {
            let (mine, at) = lookup(false);
            assert!(
                at != kept_slot || !mine,
                "took over a slot whose reference is still out"
            );
        }
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
                assert!(matches!(t, TableRef::Pinned(..)) && is(&t, &next));
            });
        });
        assert!(is(&here, &first));
    }
}

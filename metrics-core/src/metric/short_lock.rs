//! Locks for sections that hold no user code: [`ShortLock`] (a value behind a lock released
//! with a plain store) and [`Backoff`] (how every waiter of such a section waits).
//!
//! Why not `std::sync::Mutex`: it releases with an atomic read-modify-write (it must learn
//! whether a waiter sleeps), so a lock and an unlock cost two locked instructions; on the VMs
//! we measure on each costs several nanoseconds, about as much as the rest of a native
//! histogram observation. A lock that never puts waiters to sleep can release with a store.
//!
//! Why it cannot hang: the sections these locks guard are a bounded amount of this crate's own
//! work (no user code, no blocking call), so every wait ends when the holder runs again. A
//! waiter spins briefly, then yields its time slice, and if the holder still has not run
//! (more runnable threads than cores, or a waiter of higher real-time priority, which a
//! yield does not step aside for) it sleeps between attempts, so the holder gets a core.

/// Spins before a waiter starts yielding its time slice.
const SPINS_BEFORE_YIELD: u32 = 64;

/// Yields before a waiter starts sleeping between attempts.
const YIELDS_BEFORE_SLEEP: u32 = 64;

/// A sleeping waiter's pause between attempts: long enough to let any other thread run,
/// short next to the wait it ends (the holder was not scheduled for 64 yields).
const SLEEP: std::time::Duration = std::time::Duration::from_micros(50);

/// The waiting policy for a short section another thread holds: spin, then yield, then
/// sleep. One per wait: call [`Backoff::wait`] after each failed attempt.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    attempts: u32,
}

impl Backoff {
    /// Waits a little before the next attempt.
    #[inline]
    pub(crate) fn wait(&mut self) {
        if self.attempts < SPINS_BEFORE_YIELD {
            std::hint::spin_loop();
        } else if self.attempts < SPINS_BEFORE_YIELD + YIELDS_BEFORE_SLEEP {
            std::thread::yield_now();
        } else {
            std::thread::sleep(SLEEP);
            return;
        }
        self.attempts += 1;
    }
}

/// A value behind a lock that is taken with one compare-and-swap and released with a plain
/// store (`spin`'s `SpinMutex`, taken only through `try_lock`: waiting follows [`Backoff`]).
/// A panic while it is held releases it (the guard's drop); there is no poisoning, so the
/// holder must leave the value consistent at every point it could panic.
#[derive(Debug, Default)]
pub(crate) struct ShortLock<T>(spin::mutex::SpinMutex<T>);

/// Access to the value of a [`ShortLock`]; dropping it releases the lock.
pub(crate) type ShortLockGuard<'a, T> = spin::mutex::SpinMutexGuard<'a, T>;

impl<T> ShortLock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(spin::mutex::SpinMutex::new(value))
    }

    /// Takes the lock, waiting for the holder's section to end.
    #[inline]
    pub(crate) fn lock(&self) -> ShortLockGuard<'_, T> {
        match self.0.try_lock() {
            Some(guard) => guard,
            None => self.lock_contended(),
        }
    }

    #[cold]
    fn lock_contended(&self) -> ShortLockGuard<'_, T> {
        let mut backoff = Backoff::default();
        loop {
            backoff.wait();
            if let Some(guard) = self.0.try_lock() {
                return guard;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Four threads add under the lock; a lost update (a lock that lets two in) shows in the
    /// total, and the holder is preempted often enough on two cores to exercise the yield.
    #[test]
    fn excludes_other_holders() {
        let lock = Arc::new(ShortLock::new((0u64, 0u64)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..100_000 {
                        let mut g = lock.lock();
                        // Two fields written apart: a second holder would see them differ.
                        g.0 += 1;
                        std::hint::black_box(&mut *g);
                        assert_eq!(g.0, g.1 + 1, "two holders at once");
                        g.1 += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), (400_000, 400_000));
    }

    #[test]
    fn a_panicking_holder_releases_the_lock() {
        let lock = Arc::new(ShortLock::new(1u32));
        let l = Arc::clone(&lock);
        let r = std::thread::spawn(move || {
            let _g = l.lock();
            panic!("holder panics");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(*lock.lock(), 1);
    }
}

//! A timer that needs no async runtime: the scrape timeout must work on tokio runtimes
//! built without timers, on actix and anywhere else. One lazily started thread sleeps
//! until the earliest deadline and wakes the tasks whose deadline has passed.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// Completes once its deadline has passed. If the timer thread cannot be started, it
/// never completes (the timeout is then not enforced; nothing panics).
pub(super) struct Sleep {
    // `None`: too far away for an `Instant`, never fires.
    deadline: Option<Instant>,
    shared: Option<Arc<Shared>>,
}

#[derive(Default)]
struct Shared {
    fired: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

struct Entry {
    deadline: Instant,
    seq: u64,
    // Weak: a finished scrape drops its sleep, and the entry is then cheap to skip.
    shared: Weak<Shared>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
    }
}

#[derive(Default)]
struct Queue {
    entries: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

#[derive(Default)]
struct Timer {
    queue: Mutex<Queue>,
    changed: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn timer() -> Option<&'static Timer> {
    static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
    *TIMER.get_or_init(|| {
        // Leaked on purpose: one per process, used by a thread that never ends.
        let timer: &'static Timer = Box::leak(Box::default());
        std::thread::Builder::new()
            .name("promenade-scrape-timer".into())
            .spawn(move || run(timer))
            .ok()
            .map(|_| timer)
    })
}

fn run(timer: &Timer) {
    let mut queue = lock(&timer.queue);
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        while queue
            .entries
            .peek()
            .is_some_and(|Reverse(e)| e.deadline <= now)
        {
            if let Some(Reverse(entry)) = queue.entries.pop() {
                due.push(entry.shared);
            }
        }
        if !due.is_empty() {
            // Wake outside the lock: a waker may run arbitrary code.
            drop(queue);
            for shared in due.iter().filter_map(Weak::upgrade) {
                shared.fired.store(true, Ordering::Release);
                if let Some(waker) = lock(&shared.waker).take() {
                    waker.wake();
                }
            }
            queue = lock(&timer.queue);
            continue;
        }
        queue = match queue.entries.peek() {
            Some(Reverse(next)) => {
                let wait = next.deadline.saturating_duration_since(now);
                timer
                    .changed
                    .wait_timeout(queue, wait)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => timer
                .changed
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

impl Sleep {
    pub(super) fn new(after: Duration) -> Self {
        Self {
            deadline: Instant::now().checked_add(after),
            shared: None,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.deadline else {
            return Poll::Pending;
        };
        if Instant::now() >= deadline {
            return Poll::Ready(());
        }
        let shared = match &self.shared {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared = Arc::new(Shared::default());
                if let Some(timer) = timer() {
                    let mut queue = lock(&timer.queue);
                    queue.seq = queue.seq.wrapping_add(1);
                    let seq = queue.seq;
                    queue.entries.push(Reverse(Entry {
                        deadline,
                        seq,
                        shared: Arc::downgrade(&shared),
                    }));
                    drop(queue);
                    timer.changed.notify_one();
                }
                self.shared = Some(Arc::clone(&shared));
                shared
            }
        };
        *lock(&shared.waker) = Some(cx.waker().clone());
        // Checked after storing the waker, so a firing in between is not lost.
        if shared.fired.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

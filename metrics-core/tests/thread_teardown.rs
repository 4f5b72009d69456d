//! Lookups made while a thread's thread-local storage is being torn down (from a
//! thread-local destructor) still count, and never panic: a panic there aborts the process.
//!
//! One test per file: a failure aborts the test binary.

use std::sync::LazyLock;

use promenade_core::{Counter, Family};

static FAMILY: LazyLock<Family<Counter>> = LazyLock::new(|| {
    Family::<Counter>::builder("teardown_total", "Counted from a thread's teardown.")
        .labels(&["when"])
        .build()
        .expect("valid family")
});

struct CountOnExit;

impl Drop for CountOnExit {
    fn drop(&mut self) {
        FAMILY.get(&["exit"]).expect("one value").inc();
        FAMILY.get(&["exit"]).expect("one value").inc();
    }
}

std::thread_local! {
    static ON_EXIT: CountOnExit = const { CountOnExit };
}

#[test]
fn lookups_from_thread_local_destructors_count_after_the_pins_are_gone() {
    std::thread::spawn(|| {
        // Registered first, so destroyed last: after the thread's pins and their ids.
        ON_EXIT.with(|_| ());
        FAMILY.get(&["live"]).expect("one value").inc();
        // The table is replaced (grows) so that the destructor's lookup must re-pin.
        for i in 0..100 {
            FAMILY.get(&[format!("k{i}")]).expect("one value").inc();
        }
    })
    .join()
    .expect("the thread ends normally");
    assert_eq!(FAMILY.get(&["live"]).unwrap().get(), 1.0);
    assert_eq!(FAMILY.get(&["exit"]).unwrap().get(), 2.0);
}

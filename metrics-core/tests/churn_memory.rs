//! Removed series are reclaimed: a million distinct label sets created and removed (one by
//! one, and in batches with `clear`) leave resident memory where it started.
//!
//! One test per file so that no other test's allocations disturb the measurement.

use promenade_core::{Counter, Family, Histogram};

/// Resident set size in bytes, from /proc (Linux only; elsewhere the test is a no-op).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

const MIB: u64 = 1024 * 1024;

#[test]
fn a_million_removed_series_leave_memory_where_it_started() {
    let Some(_) = rss_bytes() else {
        return;
    };
    let counters = Family::<Counter>::builder("churn_total", "Churn.")
        .labels(&["user", "op"])
        .build()
        .unwrap();
    let histograms = Family::<Histogram>::builder("churn_seconds", "Churn.")
        .labels(&["user"])
        .max_series(1_000)
        .build()
        .unwrap();
    let round = |base: u64, n: u64| {
        let mut key = String::new();
        for i in base..base + n {
            key.clear();
            key.push_str("user-");
            key.push_str(&i.to_string());
            counters.get(&[key.as_str(), "read"]).unwrap().inc();
            assert!(counters.remove(&[key.as_str(), "read"]));
            histograms.get(&[key.as_str()]).unwrap().observe(0.1);
            assert!(histograms.remove(&[key.as_str()]));
        }
        // Batches of live series, dropped with `clear`.
        for batch in 0..n / 1_000 {
            for i in 0..1_000 {
                key.clear();
                key.push_str(&format!("batch-{base}-{batch}-{i}"));
                counters.get(&[key.as_str(), "write"]).unwrap().inc();
            }
            counters.clear();
        }
    };
    // Warm up allocator arenas and table sizes first.
    round(0, 20_000);
    let before = rss_bytes().unwrap_or(0);
    round(1_000_000, 1_000_000);
    let after = rss_bytes().unwrap_or(0);
    assert!(counters.is_empty());
    assert!(histograms.is_empty());
    assert!(
        after < before + 8 * MIB,
        "resident memory grew from {} MiB to {} MiB with no live series",
        before / MIB,
        after / MIB
    );
}

//! Series lifecycle under concurrency: removing and re-creating series while other threads
//! observe and scrape must never stall a scrape, never mix an old series into a new one,
//! and never hold the registry's lock while collectors run.
//!
//! The churn tests run for `PROMENADE_LIFECYCLE_SECS` seconds each (default 10) with a
//! watchdog: a scrape that makes no progress for 5 s fails the test instead of hanging it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use promenade_core::encoding::MetricEncoder;
use promenade_core::{
    Buckets, Collector, Descriptor, Family, Format, Histogram, Metric, NativeBuckets,
    QuantileOptions, QuantileSummary, Registry, Summary,
};

fn run_seconds() -> Duration {
    let secs = std::env::var("PROMENADE_LIFECYCLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    Duration::from_secs(secs)
}

fn now_ms(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// Thread A observes `x` in a loop, thread B removes and re-creates `x`, thread C scrapes;
/// the calling thread is the watchdog. `consistent` checks each scraped page.
fn churn<M: Metric>(family: Family<M>, observe: fn(&M), consistent: fn(&str) -> Result<(), String>)
where
    M::Options: Send + Sync,
{
    let registry = Registry::new();
    registry.register(family.clone()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let last_scrape = Arc::new(AtomicU64::new(0));
    let scrapes = Arc::new(AtomicU64::new(0));

    let observer = {
        let (family, stop) = (family.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..64 {
                    observe(&family.get(&["x"]).unwrap());
                }
            }
        })
    };
    let churner = {
        let (family, stop) = (family.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                family.remove(&["x"]);
                observe(&family.get(&["x"]).unwrap());
                family.get(&["y"]).unwrap();
                if family.len() > 2 {
                    family.clear();
                }
            }
        })
    };
    let scraper = {
        let (registry, stop, last, scrapes) = (
            registry.clone(),
            Arc::clone(&stop),
            Arc::clone(&last_scrape),
            Arc::clone(&scrapes),
        );
        thread::spawn(move || -> Result<(), String> {
            while !stop.load(Ordering::Relaxed) {
                for format in [Format::Text, Format::OpenMetrics] {
                    let page = registry
                        .encode_to_string(format)
                        .map_err(|e| e.to_string())?;
                    consistent(&page)?;
                }
                last.store(now_ms(start), Ordering::Relaxed);
                scrapes.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        })
    };

    let duration = run_seconds();
    while start.elapsed() < duration {
        thread::sleep(Duration::from_millis(50));
        let since = now_ms(start) - last_scrape.load(Ordering::Relaxed);
        if since > 5_000 {
            stop.store(true, Ordering::Relaxed);
            panic!(
                "no scrape finished for {since} ms after {} scrapes: a scrape is stalled",
                scrapes.load(Ordering::Relaxed)
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    // A stalled scrape would also block the other threads (they wait for the family's
    // lock): give them a bounded time to finish rather than join blindly.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(observer.is_finished() && churner.is_finished() && scraper.is_finished()) {
        assert!(
            Instant::now() < deadline,
            "threads did not finish within 10 s of the stop: a scrape or lookup is stalled"
        );
        thread::sleep(Duration::from_millis(20));
    }
    observer.join().unwrap();
    churner.join().unwrap();
    scraper.join().unwrap().unwrap();
    assert!(scrapes.load(Ordering::Relaxed) > 10, "too few scrapes ran");
}

/// Every `+Inf` bucket equals the `_count` of the same series.
fn histogram_consistent(page: &str) -> Result<(), String> {
    let mut inf = Vec::new();
    let mut count = Vec::new();
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        if name.contains("le=\"+Inf\"") {
            inf.push((
                name.replace(",le=\"+Inf\"", "").replace("_bucket", ""),
                value.to_owned(),
            ));
        } else if name.contains("_count") {
            count.push((name.replace("_count", ""), value.to_owned()));
        }
    }
    for (series, value) in &inf {
        match count.iter().find(|(s, _)| s == series) {
            Some((_, c)) if c == value => {}
            other => {
                return Err(format!(
                    "+Inf bucket {value} of {series} does not match its count {other:?}\n{page}"
                ));
            }
        }
    }
    Ok(())
}

fn any_page(_: &str) -> Result<(), String> {
    Ok(())
}

#[test]
fn classic_histogram_churn_never_stalls_a_scrape() {
    let family = Family::<Histogram>::builder_with_options(
        "churn_seconds",
        "Churn.",
        Buckets::new(vec![0.1, 0.5, 1.0]).unwrap(),
    )
    .labels(&["k"])
    .build()
    .unwrap();
    churn(family, |h| h.observe(0.3), histogram_consistent);
}

#[test]
fn native_histogram_churn_never_stalls_a_scrape() {
    let family = Family::<Histogram>::builder_with_options(
        "churn_native_seconds",
        "Churn.",
        Buckets::new(vec![0.1, 1.0])
            .unwrap()
            .with_native(NativeBuckets::default()),
    )
    .labels(&["k"])
    .build()
    .unwrap();
    churn(family, |h| h.observe(0.3), histogram_consistent);
}

#[test]
fn summary_churn_never_stalls_a_scrape() {
    let family = Family::<Summary>::builder("churn_summary_seconds", "Churn.")
        .labels(&["k"])
        .build()
        .unwrap();
    churn(family, |s| s.observe(0.3), any_page);
}

#[test]
fn quantile_summary_churn_never_stalls_a_scrape() {
    let options = QuantileOptions::new(&[(0.5, 0.05), (0.99, 0.001)]).unwrap();
    let family =
        Family::<QuantileSummary>::builder_with_options("churn_q_seconds", "Churn.", options)
            .labels(&["k"])
            .build()
            .unwrap();
    churn(family, |s| s.observe(0.3), any_page);
}

#[test]
fn recreated_series_starts_fresh_and_old_handles_are_detached() {
    let family = Family::<Histogram>::builder("fresh_seconds", "Fresh.")
        .labels(&["k"])
        .build()
        .unwrap();
    let old = family.series(&["x"]).unwrap();
    old.observe(1.0);
    assert!(family.remove(&["x"]));
    old.observe(2.0); // detached: not exported
    let new = family.get(&["x"]).unwrap();
    assert_eq!(new.snapshot().count, 0);
    new.observe(0.5);
    assert_eq!(old.snapshot().count, 2);
    assert_eq!(family.get(&["x"]).unwrap().snapshot().count, 1);
    assert_eq!(family.len(), 1);
}

#[test]
fn label_sets_split_differently_stay_distinct() {
    let family = Family::<promenade_core::Counter>::builder("split_total", "Split.")
        .labels(&["a", "b"])
        .build()
        .unwrap();
    family.get(&["ab", "c"]).unwrap().inc();
    family.get(&["a", "bc"]).unwrap().inc_by(2.0).unwrap();
    assert_eq!(family.len(), 2);
    assert_eq!(family.get(&["ab", "c"]).unwrap().get(), 1.0);
    assert_eq!(family.get(&["a", "bc"]).unwrap().get(), 2.0);
}

#[test]
fn exposition_order_is_creation_order_across_removals() {
    let registry = Registry::new();
    let family = registry
        .counter_family("order_total", "Order.", &["k"])
        .unwrap();
    for k in ["c", "a", "d", "b"] {
        family.get(&[k]).unwrap().inc();
    }
    family.remove(&["a"]);
    family.get(&["e"]).unwrap().inc();
    let text = registry.encode_to_string(Format::Text).unwrap();
    let order: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("order_total{k=\""))
        .map(|l| &l[..1])
        .collect();
    assert_eq!(order, ["c", "d", "b", "e"]);
}

#[test]
fn many_removals_keep_lookups_and_counts_right() {
    let family = Family::<promenade_core::Counter>::builder("many_total", "Many.")
        .labels(&["k"])
        .build()
        .unwrap();
    for round in 0..5u32 {
        for i in 0..2_000u32 {
            family.get(&[format!("{round}-{i}")]).unwrap().inc();
        }
        for i in (0..2_000u32).filter(|i| i % 3 != 0) {
            assert!(family.remove(&[format!("{round}-{i}")]));
        }
    }
    assert_eq!(family.len(), 5 * 667);
    for round in 0..5u32 {
        for i in 0..2_000u32 {
            let key = format!("{round}-{i}");
            if i % 3 == 0 {
                assert_eq!(family.get(&[&key]).unwrap().get(), 1.0, "{key}");
            } else {
                assert!(!family.remove(&[&key]), "{key} was removed already");
            }
        }
    }
    assert_eq!(family.len(), 5 * 667);
    family.clear();
    assert!(family.is_empty());
}

/// A collector that takes its time, to show that registration does not wait for it.
struct Slow(Duration);

impl Collector for Slow {
    fn descriptors(&self) -> Vec<Descriptor> {
        Vec::new()
    }
    fn collect(&self, _: &mut MetricEncoder<'_>) {
        thread::sleep(self.0);
    }
}

#[test]
fn collectors_run_outside_the_registry_lock() {
    let registry = Registry::new();
    registry.register(Slow(Duration::from_secs(3))).unwrap();
    let scrape = {
        let registry = registry.clone();
        thread::spawn(move || registry.encode_to_string(Format::Text).unwrap())
    };
    thread::sleep(Duration::from_millis(300));
    // Under the old lock, `register` waited for the whole slow scrape.
    let t = Instant::now();
    registry
        .gauge("late", "Registered during a slow scrape.")
        .unwrap();
    let other = Registry::new();
    other.gauge("g", "G.").unwrap();
    other.encode_to_string(Format::Text).unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "register waited {:?} for a running collector",
        t.elapsed()
    );
    scrape.join().unwrap();
}

/// A reference held on this thread keeps the thread's pinned table borrowed: after another
/// thread grows the table and removes a series, lookups here read the current table instead,
/// find what the other thread created, start the removed label set afresh, and the held
/// reference still reads its (now detached) series.
#[test]
fn lookups_stay_exact_while_a_reference_is_held_across_a_rebuild() {
    let f = Family::<promenade_core::Counter>::builder("held_total", "Held.")
        .labels(&["k"])
        .build()
        .unwrap();
    let held = f.get(&["a"]).unwrap();
    held.inc();
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..1_000 {
                f.get(&[format!("k{i}")]).unwrap().inc();
            }
            assert!(f.remove(&["a"]));
        });
    });
    assert_eq!(f.get(&["k999"]).unwrap().get(), 1.0);
    assert_eq!(
        f.get(&["a"]).unwrap().get(),
        0.0,
        "a fresh series after removal"
    );
    assert_eq!(held.get(), 1.0);
    drop(held);
    f.get(&["k5"]).unwrap().inc();
    assert_eq!(f.get(&["k5"]).unwrap().get(), 2.0);
    assert_eq!(f.len(), 1_001);
}

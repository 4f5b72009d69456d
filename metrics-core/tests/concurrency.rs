//! Concurrency and read consistency: counters stay exact under contention, and every scrape of
//! a histogram under load reads count, sum and buckets from the same set of observations.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use promenade_core::{Buckets, Counter, Family, Format, Gauge, Histogram, Registry};

const THREADS: usize = 4;

#[test]
fn counter_threads_times_increments_exact() {
    let c = Arc::new(Counter::default());
    let per_thread = 250_000;
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let c = Arc::clone(&c);
            thread::spawn(move || (0..per_thread).for_each(|_| c.inc()))
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(c.get(), (THREADS * per_thread) as f64);
}

#[test]
fn counter_mixed_float_and_integer_increments_exact() {
    let c = Arc::new(Counter::default());
    let n = 100_000;
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let c = Arc::clone(&c);
            thread::spawn(move || {
                for _ in 0..n {
                    if i % 2 == 0 {
                        c.inc_by(0.5).unwrap()
                    } else {
                        c.inc()
                    }
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(
        c.get(),
        (THREADS / 2 * n) as f64 * 0.5 + (THREADS / 2 * n) as f64
    );
}

#[test]
fn counter_read_never_decreases_under_updates() {
    let c = Arc::new(Counter::default());
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|i| {
            let (c, stop) = (Arc::clone(&c), Arc::clone(&stop));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if i == 0 {
                        c.inc()
                    } else {
                        c.inc_by(0.25).unwrap()
                    }
                }
            })
        })
        .collect();
    let mut last = 0.0;
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        let v = c.get();
        assert!(v >= last, "counter went down from {last} to {v}");
        last = v;
    }
    stop.store(true, Ordering::Relaxed);
    writers.into_iter().for_each(|h| h.join().unwrap());
}

#[test]
fn gauge_add_sub_balance() {
    let g = Arc::new(Gauge::default());
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let g = Arc::clone(&g);
            thread::spawn(move || {
                for _ in 0..50_000 {
                    g.inc();
                    g.dec();
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(g.get(), 0.0);
}

/// Parses `name{...le="x"} v` bucket lines and `_count`/`_sum` out of a text exposition.
fn histogram_from_text(text: &str, name: &str) -> (Vec<(f64, u64)>, u64, f64) {
    let mut buckets = Vec::new();
    let (mut count, mut sum) = (None, None);
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        if let Some(rest) = series.strip_prefix(&format!("{name}_bucket{{")) {
            let le = rest.split("le=\"").nth(1).unwrap().trim_end_matches("\"}");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            buckets.push((le, value.parse().unwrap()));
        } else if series.starts_with(&format!("{name}_count")) {
            count = Some(value.parse().unwrap());
        } else if series.starts_with(&format!("{name}_sum")) {
            sum = Some(value.parse().unwrap());
        }
    }
    (buckets, count.unwrap(), sum.unwrap())
}

#[test]
fn histogram_scrapes_are_consistent_under_load() {
    let registry = Registry::new();
    let h = registry
        .histogram(
            "obs",
            "Observations.",
            Buckets::new(vec![0.5, 1.0, 2.0]).unwrap(),
        )
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let observers: Vec<_> = (0..3)
        .map(|_| {
            let (h, stop) = (h.clone(), Arc::clone(&stop));
            // Constant 1.0 so that sum == count exactly in every consistent read.
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) && n < 5_000_000 {
                    h.observe(1.0);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut last_count = 0;
    let mut last_buckets: Vec<(f64, u64)> = Vec::new();
    let mut scrapes = 0;
    let deadline = Instant::now() + Duration::from_millis(800);
    while Instant::now() < deadline {
        let text = registry.encode_to_string(Format::Text).unwrap();
        let (buckets, count, sum) = histogram_from_text(&text, "obs");
        assert_eq!(
            buckets.last().unwrap().1,
            count,
            "+Inf bucket must equal _count"
        );
        assert_eq!(
            sum, count as f64,
            "sum and count from different observation sets"
        );
        assert!(
            buckets.windows(2).all(|w| w[0].1 <= w[1].1),
            "buckets decrease in le: {buckets:?}"
        );
        assert!(count >= last_count, "count went down");
        for (now, before) in buckets.iter().zip(&last_buckets) {
            assert!(now.1 >= before.1, "bucket {} went down", now.0);
        }
        last_count = count;
        last_buckets = buckets;
        scrapes += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let total: u64 = observers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(h.snapshot().count, total);
    assert!(scrapes > 10, "only {scrapes} scrapes ran");
}

#[test]
fn concurrent_series_creation_and_scrapes() {
    let registry = Registry::new();
    let family = registry.counter_family("c", "C.", &["k"]).unwrap();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let f = family.clone();
            thread::spawn(move || {
                for i in 0..2_000 {
                    f.get(&[format!("{}", (i * 7 + t) % 1_000)]).unwrap().inc();
                }
            })
        })
        .collect();
    for _ in 0..20 {
        registry.encode_to_string(Format::OpenMetrics).unwrap();
    }
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert_eq!(family.len(), 1_000);
    let total: f64 = (0..1_000)
        .map(|i| family.get(&[i.to_string()]).unwrap().get())
        .sum();
    assert_eq!(total, (THREADS * 2_000) as f64);
}

#[test]
fn remove_while_updating_is_safe() {
    let family = Family::<Histogram>::builder("h", "H.")
        .labels(&["k"])
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (f, stop) = (family.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && i < 2_000_000 {
                f.get(&[(i % 10).to_string()]).unwrap().observe(0.1);
                i += 1;
            }
        })
    };
    for i in 0..2_000 {
        family.remove(&[(i % 10).to_string()]);
        if i % 100 == 0 {
            family.clear();
        }
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(family.len() <= 10);
}

//! Summary quantiles over a sliding window: accuracy, expiry, encoding and families.

use std::time::{Duration, Instant};

use promenade_core::{Family, Format, QuantileOptions, QuantileSummary, Registry};

fn shuffled(n: u64, seed: u64) -> Vec<f64> {
    let mut v: Vec<f64> = (1..=n).map(|x| x as f64).collect();
    let mut s = seed | 1;
    for i in (1..v.len()).rev() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v.swap(i, (s % (i as u64 + 1)) as usize);
    }
    v
}

#[test]
fn known_distribution_within_configured_error() {
    let objectives = [(0.01, 0.001), (0.5, 0.05), (0.9, 0.01), (0.99, 0.001)];
    let s = QuantileSummary::new(QuantileOptions::new(&objectives).unwrap());
    for v in shuffled(10_000, 99) {
        s.observe(v);
    }
    // Value v has rank v in 1..=10000, so the value itself is the rank.
    for ((q, v), (_, e)) in s.quantiles().into_iter().zip(objectives) {
        let rank = v / 10_000.0;
        assert!(
            (rank - q).abs() <= e,
            "q={q}: {v} (rank {rank}) outside ±{e}"
        );
    }
    let snap = s.snapshot();
    assert_eq!(snap.count, 10_000);
    assert_eq!(snap.sum, 50_005_000.0);
}

#[test]
fn concurrent_observers_within_error() {
    let objectives = [(0.5, 0.01), (0.9, 0.005)];
    let s = QuantileSummary::new(QuantileOptions::new(&objectives).unwrap());
    let values = shuffled(40_000, 5);
    std::thread::scope(|scope| {
        for chunk in values.chunks(10_000) {
            let s = &s;
            scope.spawn(move || chunk.iter().for_each(|v| s.observe(*v)));
        }
        // Scrapes while observing keep count and sum consistent.
        for _ in 0..20 {
            let _ = s.quantiles();
            let snap = s.snapshot();
            assert!(snap.count <= 40_000);
        }
    });
    for ((q, v), (_, e)) in s.quantiles().into_iter().zip(objectives) {
        assert!((v / 40_000.0 - q).abs() <= e, "q={q}: {v}");
    }
    assert_eq!(s.snapshot().count, 40_000);
}

#[test]
fn quantiles_turn_nan_after_max_age() {
    let opts = QuantileOptions::new(&[(0.5, 0.05), (0.99, 0.001)])
        .unwrap()
        .with_max_age(Duration::from_millis(200))
        .unwrap()
        .with_age_buckets(5)
        .unwrap();
    let s = QuantileSummary::new(opts);
    for v in 1..=100 {
        s.observe(f64::from(v));
    }
    let q = s.quantiles();
    assert!(q.iter().all(|(_, v)| v.is_finite()), "{q:?}");
    // Bounded wait: NaN within max age plus slack.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        std::thread::sleep(Duration::from_millis(25));
        let q = s.quantiles();
        if q.iter().all(|(_, v)| v.is_nan()) {
            break;
        }
        assert!(Instant::now() < deadline, "still {q:?}");
    }
    // Count and sum are cumulative and stay.
    assert_eq!(s.snapshot().count, 100);
    // New observations show up again.
    s.observe(7.0);
    assert!(s.quantiles().iter().all(|&(_, v)| v == 7.0));
}

#[test]
fn unscraped_observations_expire_too() {
    // No scrape between the observations and the end of the window: the buffered values
    // must not show up when the first scrape comes late.
    let opts = QuantileOptions::new(&[(0.5, 0.05)])
        .unwrap()
        .with_max_age(Duration::from_millis(200))
        .unwrap();
    let s = QuantileSummary::new(opts);
    for v in 1..=10 {
        s.observe(f64::from(v));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.quantiles()[0].1.is_nan(), "{:?}", s.quantiles());
    assert_eq!(s.snapshot().count, 10);
}

#[test]
fn encodes_quantiles_in_both_formats() {
    let r = Registry::new();
    let s = r
        .quantile_summary(
            "rpc_duration_seconds",
            "RPC latency.",
            QuantileOptions::new(&[(0.5, 0.05), (0.9, 0.01)]).unwrap(),
        )
        .unwrap();
    let empty = r.encode_to_string(Format::Text).unwrap();
    assert!(
        empty.contains("rpc_duration_seconds{quantile=\"0.5\"} NaN\n"),
        "{empty}"
    );
    assert!(empty.contains("rpc_duration_seconds_count 0\n"), "{empty}");
    s.observe(0.25);
    s.observe(0.75);
    let text = r.encode_to_string(Format::Text).unwrap();
    assert!(
        text.contains("# TYPE rpc_duration_seconds summary\n"),
        "{text}"
    );
    assert!(text.contains("rpc_duration_seconds_sum 1\n"), "{text}");
    assert!(text.contains("rpc_duration_seconds_count 2\n"), "{text}");
    assert!(
        text.contains("rpc_duration_seconds{quantile=\"0.9\"} 0.75\n"),
        "{text}"
    );
    let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    assert!(
        om.contains("rpc_duration_seconds{quantile=\"0.9\"} 0.75\n"),
        "{om}"
    );
    // A name clash with the summary's samples is refused.
    assert!(r.gauge("rpc_duration_seconds_count", "x").is_err());
}

#[test]
fn family_with_labels_and_reset() {
    let f = Family::<QuantileSummary>::builder("job_seconds", "Job time.")
        .labels(&["queue"])
        .build()
        .unwrap();
    f.get(&["a"]).unwrap().observe(1.0);
    f.get(&["b"]).unwrap().observe(2.0);
    let r = Registry::new();
    r.register(f.clone()).unwrap();
    let text = r.encode_to_string(Format::Text).unwrap();
    assert!(
        text.contains("job_seconds{queue=\"a\",quantile=\"0.5\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("job_seconds{queue=\"b\",quantile=\"0.99\"} 2\n"),
        "{text}"
    );
    assert!(f.remove(&["a"]));
    f.get(&["a"]).unwrap().observe(5.0);
    assert_eq!(f.get(&["a"]).unwrap().snapshot().count, 1);
    assert_eq!(f.get(&["a"]).unwrap().quantiles()[0].1, 5.0);
    // The quantile label is reserved.
    assert!(
        Family::<QuantileSummary>::builder("x", "X.")
            .labels(&["quantile"])
            .build()
            .is_err()
    );
}

#[test]
fn invalid_options_are_errors() {
    assert!(QuantileOptions::new(&[(f64::NAN, 0.1)]).is_err());
    assert!(QuantileOptions::new(&[(0.5, -0.1)]).is_err());
    assert!(QuantileOptions::new(&[(0.5, f64::NAN)]).is_err());
    assert!(
        QuantileOptions::default()
            .with_max_age(Duration::from_nanos(3))
            .is_err()
    );
    assert!(
        QuantileOptions::default()
            .with_age_buckets(1)
            .unwrap()
            .with_max_age(Duration::from_nanos(3))
            .unwrap()
            .with_age_buckets(5)
            .is_err()
    );
    assert!(QuantileOptions::new(&[]).is_ok());
    let s = QuantileSummary::new(QuantileOptions::new(&[]).unwrap());
    s.observe(1.0);
    assert!(s.quantiles().is_empty());
}

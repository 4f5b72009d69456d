//! The labelled hot path for an existing series allocates nothing (counted by dhat's
//! global allocator in testing mode). Runs without the libtest harness (`harness = false`),
//! whose own threads would otherwise allocate while we count.

use promenade_core::{Buckets, Family, Histogram, Registry};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    labelled_lookup_of_existing_series_allocates_nothing();
    println!("test labelled_lookup_of_existing_series_allocates_nothing ... ok");
}

fn labelled_lookup_of_existing_series_allocates_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let registry = Registry::new();
    let requests = registry
        .counter_family(
            "http_requests_total",
            "Requests.",
            &["method", "route", "status"],
        )
        .unwrap();
    let latency = registry
        .histogram_family(
            "http_request_duration_seconds",
            "Latency.",
            &["method", "route", "status"],
            Buckets::default(),
        )
        .unwrap();
    let gauge = Family::<Histogram>::builder("escaped", "E.")
        .labels(&["v"])
        .build()
        .unwrap();
    // Create the series first: creation may allocate.
    requests.get(&["GET", "/users/{id}", "200"]).unwrap().inc();
    latency
        .get(&["GET", "/users/{id}", "200"])
        .unwrap()
        .observe(0.1);
    gauge.get(&["needs \"escaping\"\n"]).unwrap().observe(1.0);
    let status = String::from("200");

    let before = dhat::HeapStats::get();
    for i in 0..10_000 {
        requests
            .get(&["GET", "/users/{id}", status.as_str()])
            .unwrap()
            .inc();
        latency
            .get(&["GET", "/users/{id}", "200"])
            .unwrap()
            .observe(f64::from(i) * 1e-4);
        gauge.get(&["needs \"escaping\"\n"]).unwrap().observe(2.0);
    }
    let after = dhat::HeapStats::get();
    dhat::assert_eq!(after.total_blocks, before.total_blocks);
    assert_eq!(
        requests.get(&["GET", "/users/{id}", "200"]).unwrap().get(),
        10_001.0
    );
}

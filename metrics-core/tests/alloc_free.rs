//! The labelled hot path for an existing series allocates nothing (counted by dhat's
//! global allocator in testing mode). Runs without the libtest harness (`harness = false`),
//! whose own threads would otherwise allocate while we count.

use promenade_core::{Buckets, Family, Histogram, Registry};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    labelled_lookup_of_existing_series_allocates_nothing();
    println!("test labelled_lookup_of_existing_series_allocates_nothing ... ok");
    http_request_on_a_known_route_allocates_nothing();
    println!("test http_request_on_a_known_route_allocates_nothing ... ok");
}

/// The HTTP tracker's whole request (start, route learned late or given at start, response
/// head, drop) allocates nothing once its series exist, with in-flight by method (the
/// default) and by route.
fn http_request_on_a_known_route_allocates_nothing() {
    use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    let _profiler = dhat::Profiler::builder().testing().build();
    let headers = http::HeaderMap::new();
    for by_route in [false, true] {
        let registry = Registry::new();
        let metrics = HttpMetrics::builder(&registry)
            .in_flight_by_route(by_route)
            .build()
            .unwrap();
        let request = |late: bool, route: Option<&str>| {
            let mut tracker = metrics.start(&RequestInfo {
                method: "GET",
                route: if late { None } else { route },
                path: "/users/7",
                headers: &headers,
            });
            if late {
                tracker.set_route(route);
            }
            tracker.response_head(200);
        };
        // Create the series first: creation may allocate.
        for late in [false, true] {
            request(late, Some("/users/{id}"));
            request(late, None);
        }
        let before = dhat::HeapStats::get();
        for i in 0..10_000 {
            request(i % 2 == 0, Some("/users/{id}"));
            request(i % 3 == 0, None);
        }
        let after = dhat::HeapStats::get();
        dhat::assert_eq!(after.total_blocks, before.total_blocks);
    }
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

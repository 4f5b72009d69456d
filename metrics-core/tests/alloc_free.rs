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
    http_request_with_declared_app_labels_allocates_nothing();
    println!("test http_request_with_declared_app_labels_allocates_nothing ... ok");
    grpc_call_allocates_nothing_with_and_without_app_labels();
    println!("test grpc_call_allocates_nothing_with_and_without_app_labels ... ok");
}

/// A gRPC call on a registered method allocates nothing once its series exist: without
/// labels from the application (the per-method cells), and with declared-value request and
/// response labels (metadata and extensions, values inside and outside the lists).
fn grpc_call_allocates_nothing_with_and_without_app_labels() {
    use promenade_core::grpc_metrics::{
        ExtensionsRef, GrpcCode, GrpcMetrics, GrpcType, LabelValues, Side,
    };
    #[derive(Clone)]
    struct Tenant(&'static str);
    #[derive(Clone)]
    struct Outcome(&'static str);
    let _profiler = dhat::Profiler::builder().testing().build();
    let registry = Registry::new();
    let plain = GrpcMetrics::builder(&registry, Side::Client)
        .method("/kv.Store/Get", GrpcType::Unary)
        .build()
        .unwrap();
    let labelled = GrpcMetrics::builder(&registry, Side::Server)
        .method("/kv.Store/Get", GrpcType::Unary)
        .request_metadata_label(
            "region",
            "x-region",
            LabelValues::one_of(&["eu", "us"], "other"),
        )
        .request_extension_label(
            "tenant",
            LabelValues::one_of(&["acme", "globex"], "other"),
            |t: &Tenant| t.0,
        )
        .response_metadata_label(
            "cache",
            "x-cache",
            LabelValues::one_of(&["hit", "miss"], "other"),
        )
        .response_extension_label(
            "outcome",
            LabelValues::one_of(&["paid"], "other"),
            |o: &Outcome| o.0,
        )
        .build()
        .unwrap();
    let mut requests = Vec::new();
    for (region, tenant) in [("eu", "acme"), ("mars", "initech")] {
        let mut request = http::Request::new(());
        request
            .headers_mut()
            .insert("x-region", region.parse().unwrap());
        request.extensions_mut().insert(Tenant(tenant));
        requests.push(request);
    }
    let mut responses = Vec::new();
    for (cache, outcome) in [("hit", "paid"), ("stale", "refunded")] {
        let mut response = http::Response::new(());
        response
            .headers_mut()
            .insert("x-cache", cache.parse().unwrap());
        response.extensions_mut().insert(Outcome(outcome));
        responses.push(response);
    }
    let call = |i: usize| {
        let c = plain.start("/kv.Store/Get");
        c.msg_sent();
        c.finish(GrpcCode::Ok);
        let request = &requests[i % 2];
        let response = &responses[(i / 2) % 2];
        let mut c = labelled.start_request(
            "/kv.Store/Get",
            request.headers(),
            ExtensionsRef::from(request.extensions()),
        );
        c.msg_received();
        c.response_labels(
            response.headers(),
            ExtensionsRef::from(response.extensions()),
        );
        c.finish(GrpcCode::Ok);
    };
    // Create the series first: creation may allocate.
    for i in 0..4 {
        call(i);
    }
    let before = dhat::HeapStats::get();
    for i in 0..10_000 {
        call(i);
    }
    let after = dhat::HeapStats::get();
    dhat::assert_eq!(after.total_blocks, before.total_blocks);
    let text = registry
        .encode_to_string(promenade_core::Format::Text)
        .unwrap();
    assert!(
        text.contains(
            r#"grpc_server_handled_total{grpc_type="unary",grpc_service="kv.Store",grpc_method="Get",grpc_code="OK",region="other",tenant="other",cache="other",outcome="other"} 2501"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"grpc_server_started_total{grpc_type="unary",grpc_service="kv.Store",grpc_method="Get",region="eu",tenant="acme"} 5002"#
        ),
        "{text}"
    );
    assert!(text.contains(
        r#"grpc_client_handled_total{grpc_type="unary",grpc_service="kv.Store",grpc_method="Get",grpc_code="OK"} 10004"#
    ));
}

/// Labels from the application with declared values cost no allocation per request once
/// their series exist: a request header label, a request extension label and a response
/// header and extension label, values inside and outside the lists.
fn http_request_with_declared_app_labels_allocates_nothing() {
    use promenade_core::http_metrics::{ExtensionsRef, HttpMetrics, LabelValues, RequestInfo};
    #[derive(Clone)]
    struct Tenant(&'static str);
    #[derive(Clone)]
    struct Outcome(&'static str);
    let _profiler = dhat::Profiler::builder().testing().build();
    let registry = Registry::new();
    let metrics = HttpMetrics::builder(&registry)
        .request_header_label(
            "client",
            "x-client",
            LabelValues::one_of(&["ios", "web"], "other"),
        )
        .request_extension_label(
            "tier",
            LabelValues::one_of(&["free", "pro"], "other"),
            |t: &Tenant| t.0,
        )
        .response_header_label(
            "cache",
            "x-cache",
            LabelValues::one_of(&["hit", "miss"], "other"),
        )
        .response_extension_label(
            "outcome",
            LabelValues::one_of(&["paid"], "other"),
            |o: &Outcome| o.0,
        )
        .build()
        .unwrap();
    let mut requests = Vec::new();
    for (client, tier) in [("ios", "pro"), ("tv", "gold")] {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-client", client.parse().unwrap());
        let mut extensions = http::Extensions::new();
        extensions.insert(Tenant(tier));
        requests.push((headers, extensions));
    }
    let mut responses = Vec::new();
    for (cache, outcome) in [("hit", "paid"), ("stale", "refunded")] {
        let mut response = http::Response::new(());
        response
            .headers_mut()
            .insert("x-cache", cache.parse().unwrap());
        response.extensions_mut().insert(Outcome(outcome));
        responses.push(response);
    }
    let request = |i: usize| {
        let (headers, extensions) = &requests[i % 2];
        let response = &responses[(i / 2) % 2];
        let mut tracker = metrics.start(&RequestInfo {
            method: "GET",
            route: Some("/users/{id}"),
            path: "/users/7",
            headers,
        });
        tracker.request_extensions(ExtensionsRef::from(extensions));
        tracker.response_head(200);
        tracker.response_labels(
            response.headers(),
            ExtensionsRef::from(response.extensions()),
        );
    };
    // Create the series first: creation may allocate.
    for i in 0..4 {
        request(i);
    }
    let before = dhat::HeapStats::get();
    for i in 0..10_000 {
        request(i);
    }
    let after = dhat::HeapStats::get();
    dhat::assert_eq!(after.total_blocks, before.total_blocks);
    let text = registry
        .encode_to_string(promenade_core::Format::Text)
        .unwrap();
    assert!(
        text.contains(
            r#"status="200",client="other",tier="other",cache="other",outcome="other"} 2501"#
        ),
        "{text}"
    );
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

//! The request tracker's rare paths (kept out of line) and the time-stamp-counter clock: first requests of a method, derived and application labels,
//! route policies, sizes, exemplars, and durations across threads.
#![allow(clippy::unwrap_used, missing_docs)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use promenade_core::clock::Instant;
use promenade_core::http_metrics::{
    DurationEnd, HttpMetrics, LabelValues, RequestInfo, RequestTracker, RoutePolicy,
};
use promenade_core::testutil::{sample_value as sample, sample_values};
use promenade_core::{Buckets, Format, Histogram, Registry};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

/// Asserts that the duration series of `GET route` with each of `statuses` carries the
/// trace id as an exemplar.
fn assert_exemplars(registry: &Registry, route: &str, statuses: &[&str]) {
    let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
    for status in statuses {
        let prefix = format!(
            r#"http_request_duration_seconds_bucket{{method="GET",route="{route}",status="{status}""#
        );
        assert!(
            om.lines()
                .filter(|l| l.starts_with(&prefix))
                .any(|l| l.contains(TRACE)),
            "{status}\n{om}"
        );
    }
}

/// Request headers with a sampled `traceparent` (trace id [`TRACE`]) and a `Content-Length`.
fn traced_headers(content_length: u64) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{TRACE}-00f067aa0ba902b7-01").parse().unwrap(),
    );
    headers.insert("content-length", content_length.into());
    headers
}

fn text(registry: &Registry) -> String {
    registry.encode_to_string(Format::Text).unwrap()
}

fn start(
    metrics: &HttpMetrics,
    method: &str,
    route: Option<&str>,
    headers: &http::HeaderMap,
) -> RequestTracker {
    metrics.start(&RequestInfo {
        method,
        route,
        path: route.unwrap_or("/nowhere"),
        headers,
    })
}

fn total_requests(text: &str) -> f64 {
    sample_values(text, "http_requests_total")
        .iter()
        .map(|(_, v)| v)
        .sum()
}

/// A derived label computed by the application panics for one request (a bug in the
/// closure, on one odd path): that request never gets a tracker, and in-flight must not
/// stay raised for ever because of it.
#[test]
fn a_panicking_derived_label_does_not_leave_in_flight_raised() {
    let registry = Registry::new();
    let metrics = HttpMetrics::builder(&registry)
        .derived_label("tenant", |req| {
            assert!(req.path != "/bad", "derived label closure panicked (test)");
            "t".to_owned()
        })
        .build()
        .unwrap();
    let headers = http::HeaderMap::new();
    let panicked = catch_unwind(AssertUnwindSafe(|| {
        let info = RequestInfo {
            method: "GET",
            route: Some("/x"),
            path: "/bad",
            headers: &headers,
        };
        drop(metrics.start(&info));
    }));
    assert!(panicked.is_err());
    let mut ok = start(&metrics, "GET", Some("/x"), &headers);
    ok.response_head(200);
    drop(ok);
    let t = text(&registry);
    assert_eq!(
        sample(&t, "http_requests_in_flight", r#"method="GET""#),
        Some(0.0),
        "{t}"
    );
}

/// The first requests of fresh methods start on many threads at once: each method's
/// in-flight gauge counts every one of them (the slot filled by one thread, found by the
/// others), and all return to 0.
#[test]
fn first_requests_of_a_method_race_without_losing_in_flight() {
    const THREADS: usize = 8;
    let registry = Registry::new();
    let metrics = HttpMetrics::builder(&registry)
        .extra_methods(&["PURGE"])
        .build()
        .unwrap();
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let methods = ["DELETE", "PURGE", "BREW", "PATCH"];
    let during = std::sync::Mutex::new(String::new());
    std::thread::scope(|s| {
        for i in 0..THREADS {
            let (metrics, barrier) = (&metrics, Arc::clone(&barrier));
            s.spawn(move || {
                let headers = http::HeaderMap::new();
                barrier.wait();
                let mut t = start(metrics, methods[i % methods.len()], Some("/r"), &headers);
                barrier.wait(); // all started
                barrier.wait(); // counted
                t.response_head(204);
            });
        }
        barrier.wait();
        barrier.wait();
        // Read here, asserted after the threads ended (a failed assertion here would leave
        // them waiting at the barrier).
        *during.lock().unwrap() = text(&registry);
        barrier.wait();
    });
    let during = during.into_inner().unwrap();
    for method in ["DELETE", "PURGE", "_OTHER", "PATCH"] {
        assert_eq!(
            sample(
                &during,
                "http_requests_in_flight",
                &format!(r#"method="{method}""#)
            ),
            Some((THREADS / methods.len()) as f64),
            "{method}\n{during}"
        );
    }
    let t = text(&registry);
    for method in ["DELETE", "PURGE", "_OTHER", "PATCH"] {
        assert_eq!(
            sample(
                &t,
                "http_requests_in_flight",
                &format!(r#"method="{method}""#)
            ),
            Some(0.0),
            "{t}"
        );
    }
    assert_eq!(total_requests(&t), THREADS as f64, "{t}");
}

/// Requests recorded through the uncached path (derived and application labels, an
/// uncommon status, the first of a status) keep their sizes, their exemplar, and are counted
/// once; a route whose duration is not recorded still counts them.
#[test]
fn uncached_series_keep_sizes_exemplars_and_counts() {
    let registry = Registry::new();
    let metrics = HttpMetrics::builder(&registry)
        .body_sizes(true)
        .derived_label("d", |req| req.path.trim_start_matches('/').to_owned())
        .request_header_label(
            "client",
            "x-client",
            LabelValues::one_of(&["web"], "other").when_absent("none"),
        )
        .route_policy(
            "/quiet",
            RoutePolicy::new().duration_end(DurationEnd::NotRecorded),
        )
        .build()
        .unwrap();
    let mut headers = traced_headers(10);
    headers.insert("x-client", "web".parse().unwrap());
    for status in [299u16, 299, 200, 599] {
        for route in ["/a", "/quiet"] {
            let mut t = metrics.start(&RequestInfo {
                method: "GET",
                route: Some(route),
                path: "/p",
                headers: &headers,
            });
            t.response_head(status);
            t.add_response_bytes(7);
        }
    }
    let t = text(&registry);
    for (status, n) in [("299", 2.0), ("200", 1.0), ("599", 1.0)] {
        for route in ["/a", "/quiet"] {
            let labels =
                format!(r#"method="GET",route="{route}",status="{status}",d="p",client="web""#);
            assert_eq!(
                sample(&t, "http_requests_total", &labels),
                Some(n),
                "{labels}\n{t}"
            );
            assert_eq!(
                sample(&t, "http_request_size_bytes_sum", &labels),
                Some(10.0 * n),
                "{labels}\n{t}"
            );
            assert_eq!(
                sample(&t, "http_response_size_bytes_sum", &labels),
                Some(7.0 * n),
                "{labels}\n{t}"
            );
        }
        let quiet = format!(r#"method="GET",route="/quiet",status="{status}",d="p",client="web""#);
        assert_eq!(
            sample(&t, "http_request_duration_seconds_count", &quiet),
            None,
            "{t}"
        );
    }
    assert_eq!(total_requests(&t), 8.0, "{t}");
    assert_exemplars(&registry, "/a", &["299", "200", "599"]);
}

/// The cached path (no derived or application labels) with sizes and exemplars, for a
/// status the route entry remembers and for one it does not.
#[test]
fn cached_series_keep_sizes_and_exemplars() {
    let registry = Registry::new();
    let metrics = HttpMetrics::builder(&registry)
        .body_sizes(true)
        .build()
        .unwrap();
    let headers = traced_headers(3);
    for status in [200u16, 200, 200, 418, 418] {
        let mut t = start(&metrics, "GET", Some("/c"), &headers);
        t.response_head(status);
        t.add_response_bytes(5);
    }
    drop(start(&metrics, "GET", Some("/c"), &headers)); // 499
    let t = text(&registry);
    for (status, n) in [("200", 3.0), ("418", 2.0), ("499", 1.0)] {
        let labels = format!(r#"method="GET",route="/c",status="{status}""#);
        assert_eq!(sample(&t, "http_requests_total", &labels), Some(n), "{t}");
        assert_eq!(
            sample(&t, "http_request_size_bytes_sum", &labels),
            Some(3.0 * n),
            "{t}"
        );
        let resp = if status == "499" { 0.0 } else { 5.0 * n };
        assert_eq!(
            sample(&t, "http_response_size_bytes_sum", &labels),
            Some(resp),
            "{t}"
        );
    }
    assert_exemplars(&registry, "/c", &["200", "418", "499"]);
}

/// A head-timed route policy: the duration ends at the head when there is one, at the drop
/// otherwise; other routes keep the builder's end. Bounds are generous: only the 200 ms the
/// test sleeps between head and drop is relied upon.
#[test]
fn head_timed_route_policy_ends_at_the_head_or_the_drop() {
    let registry = Registry::new();
    let metrics = HttpMetrics::builder(&registry)
        .route_policy(
            "/events",
            RoutePolicy::new()
                .duration_end(DurationEnd::Head)
                .buckets(Buckets::new(vec![0.15, 100.0]).unwrap()),
        )
        .derived_label("k", |_| "v".to_owned())
        .build()
        .unwrap();
    let headers = http::HeaderMap::new();
    let mut events = start(&metrics, "GET", Some("/events"), &headers);
    let mut other = start(&metrics, "GET", Some("/other"), &headers);
    let cancelled = start(&metrics, "GET", Some("/events"), &headers);
    events.response_head(200);
    other.response_head(200);
    std::thread::sleep(Duration::from_millis(200));
    drop((events, other, cancelled));
    let t = text(&registry);
    let head = sample(
        &t,
        "http_request_duration_seconds_sum",
        r#"method="GET",route="/events",status="200",k="v""#,
    )
    .unwrap();
    let body = sample(
        &t,
        "http_request_duration_seconds_sum",
        r#"method="GET",route="/other",status="200",k="v""#,
    )
    .unwrap();
    let dropped = sample(
        &t,
        "http_request_duration_seconds_sum",
        r#"method="GET",route="/events",status="499",k="v""#,
    )
    .unwrap();
    assert!((0.0..0.2).contains(&head), "head-timed: {head}\n{t}");
    assert!((0.2..60.0).contains(&body), "body-timed: {body}\n{t}");
    assert!((0.2..60.0).contains(&dropped), "no head: {dropped}\n{t}");
    assert_eq!(
        sample(
            &t,
            "http_request_duration_seconds_bucket",
            r#"method="GET",route="/events",status="200",k="v",le="0.15""#
        ),
        Some(1.0),
        "{t}"
    );
}

/// Trackers started on one thread and ended on another (as a work-stealing runtime does):
/// the duration covers the wait, is never negative, never absurd.
#[test]
fn durations_across_threads_cover_the_wait() {
    let registry = Registry::new();
    let metrics = HttpMetrics::builder(&registry).build().unwrap();
    let headers = http::HeaderMap::new();
    let trackers: Vec<RequestTracker> = (0..8)
        .map(|_| start(&metrics, "GET", Some("/x"), &headers))
        .collect();
    std::thread::sleep(Duration::from_millis(60));
    std::thread::scope(|s| {
        for mut t in trackers {
            s.spawn(move || {
                t.response_head(200);
                drop(t);
            });
        }
    });
    let h = Histogram::new(Buckets::new(vec![1.0]).unwrap());
    let timer = h.start_timer();
    std::thread::sleep(Duration::from_millis(60));
    let seconds = std::thread::scope(|s| s.spawn(move || timer.stop()).join().unwrap());
    assert!((0.06..60.0).contains(&seconds), "{seconds}");
    let t = text(&registry);
    let labels = r#"method="GET",route="/x",status="200""#;
    let sum = sample(&t, "http_request_duration_seconds_sum", labels).unwrap();
    assert_eq!(
        sample(&t, "http_request_duration_seconds_count", labels),
        Some(8.0)
    );
    assert!((8.0 * 0.06..8.0 * 60.0).contains(&sum), "{sum}\n{t}");
}

/// The clock is monotonic across threads: a reading taken after another thread's reading
/// (ordered through a channel) is never earlier, so no duration is cut to zero.
#[test]
fn clock_readings_are_ordered_across_threads() {
    promenade_core::clock::calibrate();
    let (to_b, from_a) = mpsc::channel::<Instant>();
    let (to_a, from_b) = mpsc::channel::<Instant>();
    let b = std::thread::spawn(move || {
        let mut backwards = 0u32;
        while let Ok(a) = from_a.recv() {
            let now = Instant::now();
            if now < a {
                backwards += 1;
            }
            if to_a.send(now).is_err() {
                break;
            }
        }
        backwards
    });
    let mut backwards = 0u32;
    for _ in 0..5_000 {
        to_b.send(Instant::now()).unwrap();
        let b_time = from_b.recv_timeout(Duration::from_secs(10)).unwrap();
        if Instant::now() < b_time {
            backwards += 1;
        }
    }
    drop(to_b);
    let backwards = backwards + b.join().unwrap();
    assert_eq!(backwards, 0, "readings went backwards across threads");
}

/// An immediate end is a duration of zero or more, in the lowest bucket.
#[test]
fn immediate_end_is_a_small_non_negative_duration() {
    let registry = Registry::new();
    let metrics = HttpMetrics::builder(&registry).build().unwrap();
    let headers = http::HeaderMap::new();
    for _ in 0..100 {
        let mut t = start(&metrics, "GET", Some("/z"), &headers);
        t.response_head(200);
    }
    let t = text(&registry);
    let labels = r#"method="GET",route="/z",status="200""#;
    let sum = sample(&t, "http_request_duration_seconds_sum", labels).unwrap();
    assert!((0.0..10.0).contains(&sum), "{sum}");
    assert_eq!(
        sample(&t, "http_request_duration_seconds_count", labels),
        Some(100.0)
    );
}

/// The application's own use of quanta's per-thread mock clock (`quanta::with_clock`, the
/// testing facility quanta documents) must not leak into the library's request durations:
/// a request that starts inside such a scope and ends outside it took microseconds, not
/// the machine's uptime.
#[test]
fn a_quanta_mock_clock_in_the_application_does_not_skew_durations() {
    let registry = Registry::new();
    let metrics = HttpMetrics::builder(&registry).build().unwrap();
    let headers = http::HeaderMap::new();
    let (clock, _mock) = quanta::Clock::mock();
    let mut t = quanta::with_clock(&clock, || start(&metrics, "GET", Some("/m"), &headers));
    t.response_head(200);
    drop(t);
    let t = text(&registry);
    let sum = sample(
        &t,
        "http_request_duration_seconds_sum",
        r#"method="GET",route="/m",status="200""#,
    )
    .unwrap();
    assert!(
        sum < 10.0,
        "a request of microseconds recorded as {sum} s\n{t}"
    );
}

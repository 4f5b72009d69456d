//! How a request ends, on every path of the actix middleware: panics and cancellation on the
//! default path (no `catch_unwind`: `in_poll` and unwinding) and with `catch_panics`,
//! excluded paths, errors, bodies that panic or are dropped, labels and exemplars.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::convert::Infallible;
use std::future::Future as _;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use actix_web::body::MessageBody;
use actix_web::dev::Service as _;
use actix_web::{App, HttpResponse, test, web};
use bytes::Bytes;
use common::sample;
use futures_core::Stream;
use promenade_actix::{DurationEnd, PrometheusMetrics, PrometheusMetricsBuilder};
use promenade_core::http_metrics::{LabelValues, RoutePolicy};
use promenade_core::{Format, Registry};

fn text(registry: &Registry) -> String {
    registry.encode_to_string(Format::Text).unwrap()
}

fn total(text: &str, labels: &str) -> Option<f64> {
    sample(text, "http_requests_total", labels)
}

fn in_flight(text: &str) -> Option<f64> {
    sample(text, "http_requests_in_flight", r#"method="GET""#)
}

/// Asserts `want` requests under `labels`; `case` names the case in a failure.
fn assert_total(t: &str, labels: &str, want: f64, case: impl std::fmt::Display) {
    assert_eq!(total(t, labels), Some(want), "{case}\n{t}");
}

/// Asserts one request in all, under `labels`, and in-flight back at 0.
fn assert_only(t: &str, labels: &str, case: impl std::fmt::Display) {
    assert_total(t, labels, 1.0, &case);
    assert_eq!(all_requests(t), 1.0, "{case}\n{t}");
    assert_eq!(in_flight(t), Some(0.0), "{case}\n{t}");
}

fn response_bytes(t: &str, labels: &str) -> Option<f64> {
    sample(t, "http_response_size_bytes_sum", labels)
}

/// Every `http_requests_total` sample, summed: a request counted twice shows here.
fn all_requests(text: &str) -> f64 {
    promenade_core::testutil::sample_values(text, "http_requests_total")
        .iter()
        .map(|(_, v)| v)
        .sum()
}

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

macro_rules! get {
    ($uri:expr) => {
        test::TestRequest::get().uri($uri).to_request()
    };
}

/// A body that yields one chunk, then panics on its next poll.
struct PanickingBody {
    sent: bool,
}

impl Stream for PanickingBody {
    type Item = Result<Bytes, Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.sent {
            panic!("response body panicked on purpose (test)");
        }
        self.sent = true;
        Poll::Ready(Some(Ok(Bytes::from_static(b"first chunk"))))
    }
}

/// A body that yields one chunk and then stays pending forever.
struct StallingBody {
    sent: bool,
}

impl Stream for StallingBody {
    type Item = Result<Bytes, Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.sent {
            return Poll::Pending;
        }
        self.sent = true;
        Poll::Ready(Some(Ok(Bytes::from_static(b"12345"))))
    }
}

/// Test routes beyond `common::routes`.
fn extra_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/late-panic/{id}",
        web::get().to(|| async {
            // Pending once, then a panic on the second poll.
            actix_rt::task::yield_now().await;
            panic!("handler panicked on its second poll (test)");
            #[allow(unreachable_code)]
            HttpResponse::Ok().finish()
        }),
    )
    .route(
        "/body-panic",
        web::get().to(|| async { HttpResponse::Ok().streaming(PanickingBody { sent: false }) }),
    )
    .route(
        "/stall",
        web::get().to(|| async { HttpResponse::Ok().streaming(StallingBody { sent: false }) }),
    )
    .route(
        "/tagged",
        web::get().to(|req: actix_web::HttpRequest| async move {
            let _ = &req;
            let mut res = HttpResponse::Ok()
                .insert_header(("x-cache", "hit"))
                .body("tagged");
            res.extensions_mut().insert(Tier("pro"));
            res
        }),
    );
}

#[derive(Clone, Copy)]
struct Tier(&'static str);

fn builder(registry: &Registry, catch: bool) -> PrometheusMetricsBuilder {
    PrometheusMetrics::builder(registry).catch_panics(catch)
}

macro_rules! app {
    ($mw:expr) => {
        test::init_service(
            App::new()
                .wrap($mw)
                .configure(common::routes)
                .configure(extra_routes),
        )
        .await
    };
}

/// A request polled once (pending) and then dropped is a cancellation: `499` under its
/// route, never `500`, in both panic modes; in-flight back at 0.
#[actix_rt::test]
async fn pending_then_dropped_is_499_with_its_route() {
    for catch in [false, true] {
        let registry = Registry::new();
        let app = app!(builder(&registry, catch).build().unwrap());
        let mut fut = Box::pin(app.call(get!("/slow?ms=10000")));
        assert!(fut.as_mut().poll(&mut noop_cx()).is_pending());
        assert_eq!(in_flight(&text(&registry)), Some(1.0));
        drop(fut);
        let t = text(&registry);
        assert_only(
            &t,
            r#"method="GET",route="/slow",status="499""#,
            format_args!("catch_panics={catch}"),
        );
    }
}

/// A request dropped before its future is ever polled is a cancellation too.
#[actix_rt::test]
async fn never_polled_then_dropped_is_499() {
    for catch in [false, true] {
        let registry = Registry::new();
        let app = app!(builder(&registry, catch).build().unwrap());
        drop(app.call(get!("/users/3")));
        let t = text(&registry);
        assert_total(
            &t,
            r#"method="GET",route="/users/{id}",status="499""#,
            1.0,
            format_args!("catch_panics={catch}"),
        );
        assert_eq!(in_flight(&t), Some(0.0), "{t}");
    }
}

/// The handler is pending on its first poll and panics on the second; the panic is caught
/// outside the middleware and the future dropped later (not while unwinding): `500` once
/// (the poll that never returned), with the route found through the resource map.
#[actix_rt::test]
async fn panic_on_a_later_poll_then_a_late_drop_is_500() {
    let registry = Registry::new();
    let app = app!(builder(&registry, false).build().unwrap());
    let mut fut = Box::pin(app.call(get!("/late-panic/7")));
    assert!(fut.as_mut().poll(&mut noop_cx()).is_pending());
    let second = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut noop_cx())));
    assert!(second.is_err(), "the handler's panic reaches the caller");
    // Not yet recorded: the future is still alive.
    assert_eq!(in_flight(&text(&registry)), Some(1.0));
    drop(fut);
    let t = text(&registry);
    assert_only(
        &t,
        r#"method="GET",route="/late-panic/{id}",status="500""#,
        "",
    );
}

/// The same with `catch_panics`: the second poll answers an error, recorded `500` once.
#[actix_rt::test]
async fn caught_panic_on_a_later_poll_is_500_once() {
    let registry = Registry::new();
    let app = app!(builder(&registry, true).build().unwrap());
    let err = app
        .call(get!("/late-panic/7"))
        .await
        .expect_err("a caught panic");
    assert_eq!(err.error_response().status(), 500);
    let t = text(&registry);
    assert_only(
        &t,
        r#"method="GET",route="/late-panic/{id}",status="500""#,
        "",
    );
}

/// A panic in an inner middleware's `call` with the route known before routing (in-flight
/// by route, and route exclusions, take the route first): `500` under the route, in-flight
/// by route back at 0, in both panic modes.
#[actix_rt::test]
async fn panic_in_call_with_the_route_known_before_routing() {
    for catch in [false, true] {
        let registry = Registry::new();
        let mw = builder(&registry, catch)
            .metrics(|m| m.in_flight_by_route(true).exclude_route("/slow"))
            .build()
            .unwrap();
        let app = test::init_service(
            App::new()
                .wrap_fn(|req, srv| {
                    if req.path().starts_with("/users/") {
                        panic!("synchronous panic in a middleware's call (test)");
                    }
                    srv.call(req)
                })
                .wrap(mw)
                .configure(common::routes),
        )
        .await;
        let called = catch_unwind(AssertUnwindSafe(|| app.call(get!("/users/9"))));
        match called {
            Ok(fut) => {
                assert!(catch, "the panic is caught only with catch_panics");
                let err = fut.await.expect_err("a caught panic");
                assert_eq!(err.error_response().status(), 500);
            }
            Err(_) => assert!(!catch, "catch_panics must catch a panic in call"),
        }
        let t = text(&registry);
        assert_total(
            &t,
            r#"method="GET",route="/users/{id}",status="500""#,
            1.0,
            format_args!("catch_panics={catch}"),
        );
        assert_eq!(all_requests(&t), 1.0, "{t}");
        assert_eq!(
            sample(
                &t,
                "http_requests_in_flight",
                r#"method="GET",route="/users/{id}""#
            ),
            Some(0.0),
            "{t}"
        );
    }
}

/// An error from the wrapped service is recorded with the error's status, not 500 or 499,
/// whether it comes from the handler or from an inner middleware's future.
#[actix_rt::test]
async fn errors_keep_their_status_in_both_modes() {
    for catch in [false, true] {
        let registry = Registry::new();
        let mw = builder(&registry, catch).build().unwrap();
        let app = test::init_service(
            App::new()
                .wrap_fn(|req, srv| {
                    let deny = req.path() == "/";
                    let fut = srv.call(req);
                    async move {
                        if deny {
                            return Err(actix_web::error::ErrorForbidden("denied"));
                        }
                        fut.await
                    }
                })
                .wrap(mw)
                .configure(common::routes),
        )
        .await;
        let err = app.call(get!("/")).await.expect_err("inner error");
        assert_eq!(err.error_response().status(), 403);
        let res = app.call(get!("/error")).await.unwrap();
        assert_eq!(res.status(), 409);
        drop(test::read_body(res).await);
        let t = text(&registry);
        assert_total(
            &t,
            r#"method="GET",route="/",status="403""#,
            1.0,
            format_args!("catch_panics={catch}"),
        );
        assert_total(
            &t,
            r#"method="GET",route="/error",status="409""#,
            1.0,
            format_args!("catch_panics={catch}"),
        );
        assert_eq!(all_requests(&t), 2.0, "{t}");
        assert_eq!(in_flight(&t), Some(0.0), "{t}");
    }
}

/// A panic while the response body is polled: the head (200) was sent, the request is
/// recorded once under it with the bytes sent so far, in-flight back at 0.
#[actix_rt::test]
async fn body_panic_is_recorded_once() {
    for catch in [false, true] {
        let registry = Registry::new();
        let mw = builder(&registry, catch)
            .metrics(|m| m.body_sizes(true))
            .build()
            .unwrap();
        let app = app!(mw);
        let res = app.call(get!("/body-panic")).await.unwrap();
        assert_eq!(res.status(), 200);
        let mut body = Box::pin(res.into_body());
        let first = body.as_mut().poll_next(&mut noop_cx());
        assert!(matches!(first, Poll::Ready(Some(Ok(_)))));
        let second = catch_unwind(AssertUnwindSafe(|| body.as_mut().poll_next(&mut noop_cx())));
        assert!(second.is_err());
        drop(body);
        let t = text(&registry);
        let labels = r#"method="GET",route="/body-panic",status="200""#;
        assert_only(&t, labels, format_args!("catch_panics={catch}"));
        assert_eq!(response_bytes(&t, labels), Some(11.0), "{t}");
    }
}

/// A body dropped mid-way (client gone): recorded once, under the head's status, with the
/// bytes produced so far.
#[actix_rt::test]
async fn body_dropped_mid_way_is_recorded_once_with_its_bytes() {
    let registry = Registry::new();
    let mw = builder(&registry, false)
        .metrics(|m| m.body_sizes(true))
        .build()
        .unwrap();
    let app = app!(mw);
    let res = app.call(get!("/stall")).await.unwrap();
    let mut body = Box::pin(res.into_body());
    assert!(matches!(
        body.as_mut().poll_next(&mut noop_cx()),
        Poll::Ready(Some(Ok(_)))
    ));
    assert!(body.as_mut().poll_next(&mut noop_cx()).is_pending());
    assert_eq!(in_flight(&text(&registry)), Some(1.0));
    drop(body);
    let t = text(&registry);
    let labels = r#"method="GET",route="/stall",status="200""#;
    assert_only(&t, labels, "");
    assert_eq!(response_bytes(&t, labels), Some(5.0), "{t}");
}

/// Excluded paths are never recorded, whatever happens to them: panics (caught or not),
/// cancellation; and a panic there leaves nothing in flight.
#[actix_rt::test]
async fn excluded_paths_stay_unrecorded_through_panics_and_cancellation() {
    for catch in [false, true] {
        let registry = Registry::new();
        let mw = builder(&registry, catch)
            .metrics(|m| m.exclude_path("/panic").exclude_path("/slow"))
            .build()
            .unwrap();
        let app = app!(mw);
        let mut fut = Box::pin(app.call(get!("/panic")));
        let polled = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut noop_cx())));
        match polled {
            Ok(Poll::Ready(Err(e))) => {
                assert!(catch);
                assert_eq!(e.error_response().status(), 500);
            }
            Ok(_) => panic!("unexpected poll result (catch_panics={catch})"),
            Err(_) => assert!(!catch, "catch_panics must catch an excluded path's panic"),
        }
        drop(fut);
        let mut slow = Box::pin(app.call(get!("/slow?ms=10000")));
        assert!(slow.as_mut().poll(&mut noop_cx()).is_pending());
        drop(slow);
        let t = text(&registry);
        assert_eq!(all_requests(&t), 0.0, "catch_panics={catch}\n{t}");
        assert_ne!(in_flight(&t), Some(1.0), "{t}");
    }
}

/// Application labels (request header, response header, response extension) and a
/// derived label, on the normal path and on a cancellation; a head-timed route policy.
#[actix_rt::test]
async fn app_and_derived_labels_on_normal_and_cancelled_requests() {
    let registry = Registry::new();
    let mw = builder(&registry, false)
        .metrics(|m| {
            m.request_header_label(
                "client",
                "x-client",
                LabelValues::one_of(&["web", "cli"], "other").when_absent("none"),
            )
            .response_header_label(
                "cache",
                "x-cache",
                LabelValues::one_of(&["hit", "miss"], "other").when_absent("none"),
            )
            .response_extension_label(
                "tier",
                LabelValues::one_of(&["free", "pro"], "other").when_absent("none"),
                |t: &Tier| t.0,
            )
            .derived_label("v", |req| {
                if req.path.starts_with("/slow") {
                    "slow".to_owned()
                } else {
                    "fast".to_owned()
                }
            })
            .route_policy(
                "/tagged",
                RoutePolicy::new().duration_end(DurationEnd::Head),
            )
        })
        .build()
        .unwrap();
    let app = app!(mw);
    let req = test::TestRequest::get()
        .uri("/tagged")
        .insert_header(("x-client", "cli"))
        .to_request();
    let res = app.call(req).await.unwrap();
    assert_eq!(res.status(), 200);
    drop(test::read_body(res).await);
    let mut slow = Box::pin(
        app.call(
            test::TestRequest::get()
                .uri("/slow?ms=10000")
                .insert_header(("x-client", "web"))
                .to_request(),
        ),
    );
    assert!(slow.as_mut().poll(&mut noop_cx()).is_pending());
    drop(slow);
    let t = text(&registry);
    assert_eq!(
        total(
            &t,
            r#"method="GET",route="/tagged",status="200",v="fast",client="cli",cache="hit",tier="pro""#
        ),
        Some(1.0),
        "{t}"
    );
    assert_eq!(
        total(
            &t,
            r#"method="GET",route="/slow",status="499",v="slow",client="web",cache="none",tier="none""#
        ),
        Some(1.0),
        "{t}"
    );
    assert_eq!(all_requests(&t), 2.0, "{t}");
    assert_eq!(in_flight(&t), Some(0.0), "{t}");
}

/// The first request of a method (a declared extra method, an unknown one) raises and
/// lowers its own in-flight gauge; a counted scrape is recorded under the scrape route.
#[actix_rt::test]
async fn first_requests_of_methods_and_counted_scrapes() {
    let registry = Registry::new();
    let mw = builder(&registry, false)
        .metrics(|m| m.extra_methods(&["PURGE"]))
        .scrape(|s| s.count_scrapes(true))
        .build()
        .unwrap();
    let app = app!(mw);
    for method in ["PURGE", "BREW", "PURGE"] {
        let req = test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
            .uri("/")
            .to_request();
        let res = app.call(req).await.unwrap();
        drop(test::read_body(res).await);
    }
    let res = app.call(get!("/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    drop(test::read_body(res).await);
    let t = text(&registry);
    for (method, n) in [("PURGE", 2.0), ("_OTHER", 1.0)] {
        let found: f64 = promenade_core::testutil::sample_values(&t, "http_requests_total")
            .iter()
            .filter(|(l, _)| l.starts_with(&format!(r#"method="{method}","#)))
            .map(|(_, v)| v)
            .sum();
        assert_eq!(found, n, "{method}\n{t}");
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
    assert_total(&t, r#"method="GET",route="/metrics",status="200""#, 1.0, "");
}

/// A `traceparent` exemplar survives every end: a normal response, a cancellation (499),
/// an uncaught panic (500), with and without derived labels (the uncached series path).
#[actix_rt::test]
async fn exemplars_on_every_end() {
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{TRACE}-00f067aa0ba902b7-01");
    for derived in [false, true] {
        let registry = Registry::new();
        let mw = builder(&registry, false)
            .metrics(|m| {
                if derived {
                    m.derived_label("d", |_| "x".to_owned())
                } else {
                    m
                }
            })
            .build()
            .unwrap();
        let app = app!(mw);
        let with_trace = |uri: &str| {
            test::TestRequest::get()
                .uri(uri)
                .insert_header(("traceparent", traceparent.as_str()))
                .to_request()
        };
        let res = app.call(with_trace("/")).await.unwrap();
        drop(test::read_body(res).await);
        let mut slow = Box::pin(app.call(with_trace("/slow?ms=10000")));
        assert!(slow.as_mut().poll(&mut noop_cx()).is_pending());
        drop(slow);
        let mut boom = Box::pin(app.call(with_trace("/panic")));
        assert!(catch_unwind(AssertUnwindSafe(|| boom.as_mut().poll(&mut noop_cx()))).is_err());
        drop(boom);
        let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
        for (route, status) in [("/", "200"), ("/slow", "499"), ("/panic", "500")] {
            let prefix = format!(
                r#"http_request_duration_seconds_bucket{{method="GET",route="{route}",status="{status}""#
            );
            let with_exemplar = om
                .lines()
                .filter(|l| l.starts_with(&prefix))
                .any(|l| l.contains(&format!(r#"# {{trace_id="{TRACE}"}}"#)));
            assert!(with_exemplar, "derived={derived} {route} {status}\n{om}");
        }
    }
}

/// A pending request dropped while its task unwinds for another reason (here: a sibling's
/// panic in the same task) counts as a server failure, `500`: the tracker cannot tell which
/// code on the unwinding thread panicked, and the tower adapter records it the same way. (In
/// an actix server each connection is its own task, so another request's panic does not
/// reach it.) Pinned here so that a change of this rule is a decision.
#[actix_rt::test]
async fn pending_request_dropped_by_an_unrelated_unwind_counts_as_500() {
    let registry = Registry::new();
    let app = app!(builder(&registry, false).build().unwrap());
    let mut slow = Box::pin(app.call(get!("/slow?ms=10000")));
    assert!(slow.as_mut().poll(&mut noop_cx()).is_pending());
    let unwound = catch_unwind(AssertUnwindSafe(move || {
        let _pending = slow;
        panic!("a sibling future of the same task panicked (test)");
    }));
    assert!(unwound.is_err());
    let t = text(&registry);
    assert_eq!(in_flight(&t), Some(0.0), "{t}");
    assert_total(&t, r#"method="GET",route="/slow",status="500""#, 1.0, "");
}

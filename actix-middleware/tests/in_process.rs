//! promenade-actix in process, through `actix_web::test::init_service`.

mod common;

use actix_web::{App, HttpResponse, test, web};
use common::sample;
use promenade_actix::{DurationEnd, PrometheusMetrics, ScrapeHandler, metrics_route};
use promenade_core::Registry;
use promenade_core::encoding::negotiate;

/// `(status, headers, body)` of one request through `app`.
macro_rules! call {
    ($app:expr, $req:expr) => {{
        let res = test::call_service(&$app, $req.to_request()).await;
        let status = res.status().as_u16();
        let headers: Vec<(String, String)> = res
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body = test::read_body(res).await;
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }};
}

macro_rules! get {
    ($app:expr, $uri:expr) => {
        call!($app, test::TestRequest::get().uri($uri))
    };
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[actix_rt::test]
async fn route_labels_follow_scopes_nested_resources_and_scope_wrap() {
    let registry = Registry::new();
    let mw = PrometheusMetrics::builder(&registry).build().unwrap();
    let app = test::init_service(
        App::new().wrap(mw).configure(common::routes).service(
            web::scope("/shop/{tenant}")
                .service(web::resource("/carts/{cart}").to(|| async { "cart" }))
                .default_service(web::to(HttpResponse::NotFound)),
        ),
    )
    .await;
    assert_eq!(get!(app, "/api/v1/things/x/parts/y").0, 200);
    assert_eq!(get!(app, "/api/items/1").0, 200);
    assert_eq!(get!(app, "/shop/acme/carts/42").0, 200);
    assert_eq!(get!(app, "/shop/acme/nothing").0, 404);
    assert_eq!(get!(app, "/users/7?x=1").0, 200);
    let text = get!(app, "/metrics").2;
    for (route, status) in [
        ("/api/v1/things/{thing}/parts/{part}", 200),
        ("/api/items/{id}", 200),
        ("/shop/{tenant}/carts/{cart}", 200),
        ("unmatched", 404),
        ("/users/{id}", 200),
    ] {
        let labels = format!(r#"method="GET",route="{route}",status="{status}""#);
        assert_eq!(
            sample(&text, "http_requests_total", &labels),
            Some(1.0),
            "{labels}\n{text}"
        );
    }

    // The middleware can also wrap just one scope.
    let registry = Registry::new();
    let mw = PrometheusMetrics::builder(&registry).build().unwrap();
    let app = test::init_service(
        App::new()
            .service(
                web::scope("/api")
                    .wrap(mw)
                    .route("/items/{id}", web::get().to(|| async { "item" })),
            )
            .route("/other", web::get().to(|| async { "other" })),
    )
    .await;
    assert_eq!(get!(app, "/api/items/5").0, 200);
    assert_eq!(get!(app, "/other").0, 200);
    let text = registry
        .encode_to_string(promenade_core::Format::Text)
        .unwrap();
    assert!(
        text.contains(
            r#"http_requests_total{method="GET",route="/api/items/{id}",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(!text.contains("/other"));
}

#[actix_rt::test]
async fn duration_can_end_at_the_response_head() {
    let registry = Registry::new();
    let mw = PrometheusMetrics::builder(&registry)
        .metrics(|m| m.duration_end(DurationEnd::Head))
        .build()
        .unwrap();
    let app = test::init_service(App::new().wrap(mw).configure(common::routes)).await;
    assert_eq!(get!(app, "/stream").0, 200);
    let text = get!(app, "/metrics").2;
    let labels = r#"method="GET",route="/stream",status="200""#;
    let sum = sample(&text, "http_request_duration_seconds_sum", labels).unwrap();
    assert!(
        sum < 0.1,
        "head-only duration should not include the 125 ms body: {sum}"
    );
}

/// Every Accept header a Prometheus release (2.0 to 3.x) sends gets the core's negotiated
/// Content-Type.
pub const PROMETHEUS_ACCEPT_HEADERS: &[(&str, &str)] = &[
    (
        "3.4+",
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    ),
    (
        "3.4+ protobuf-first",
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    ),
    (
        "3.0-3.3",
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.2,*/*;q=0.1",
    ),
    ("2.0-2.4", "text/plain;version=0.0.4;q=1,*/*;q=0.1"),
    (
        "2.5-2.33",
        "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    ),
    (
        "2.34-2.48",
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    ),
    (
        "2.40",
        "application/openmetrics-text;version=1.0.0;q=0.75,application/openmetrics-text;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    ),
    (
        "2.40 native",
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    ),
    (
        "2.49-2.54",
        "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    ),
    (
        "2.49.0 bug",
        "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=2",
    ),
    (
        "2.55 utf8",
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;escaping=allow-utf-8;q=0.2",
    ),
];

#[actix_rt::test]
async fn scrape_route_negotiates_every_prometheus_accept_header() {
    let registry = Registry::new();
    let mw = PrometheusMetrics::builder(&registry).build().unwrap();
    let app = test::init_service(
        App::new()
            .wrap(mw)
            .configure(common::routes)
            .configure(metrics_route(
                ScrapeHandler::builder(&registry)
                    .path("/alt-metrics")
                    .process_collector(false)
                    .build()
                    .unwrap(),
            )),
    )
    .await;
    let _ = get!(app, "/");
    for path in ["/metrics", "/alt-metrics"] {
        for (version, accept) in PROMETHEUS_ACCEPT_HEADERS {
            let req = test::TestRequest::get()
                .uri(path)
                .insert_header(("accept", *accept));
            let (status, headers, body) = call!(app, req);
            assert_eq!(status, 200);
            let ct = header(&headers, "content-type").unwrap();
            assert_eq!(ct, negotiate(Some(accept)).content_type(), "{version}");
            let om = ct.starts_with("application/openmetrics-text");
            assert_eq!(om, body.ends_with("# EOF\n"), "{version}: {ct}");
            let expected_prefix = match *version {
                "2.0-2.4" => "text/plain; version=0.0.4",
                // Invalid q=2: whatever the core decides (checked against it above).
                "2.49.0 bug" => "",
                "2.5-2.33" => "application/openmetrics-text; version=0.0.1",
                // Protobuf first (native histograms enabled in Prometheus): delimited protobuf.
                "2.40 native" | "3.4+ protobuf-first" | "3.0-3.3 protobuf-first" => {
                    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
                }
                _ => "application/openmetrics-text; version=1.0.0",
            };
            assert!(ct.starts_with(expected_prefix), "{version}: {ct}");
        }
        let (_, headers, body) = get!(app, path);
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8; escaping=underscores")
        );
        assert!(body.contains(r#"http_requests_total{method="GET",route="/",status="200"} 1"#));
    }
    // The configure helper refuses other methods too.
    let (status, headers, _) = call!(app, test::TestRequest::delete().uri("/alt-metrics"));
    assert_eq!(status, 405);
    assert_eq!(header(&headers, "allow"), Some("GET, HEAD"));
}

#[actix_rt::test]
async fn without_metrics_route_the_path_goes_to_the_app() {
    let registry = Registry::new();
    let mw = PrometheusMetrics::builder(&registry)
        .without_metrics_route()
        .build()
        .unwrap();
    let app = test::init_service(App::new().wrap(mw).configure(common::routes)).await;
    assert_eq!(get!(app, "/metrics").0, 404);
    let text = registry
        .encode_to_string(promenade_core::Format::Text)
        .unwrap();
    assert!(text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#));
}

/// An app behind `mw` whose inner middleware panics in `call` for `/`, and whose
/// `/panic` handler panics when polled.
macro_rules! panicking_app {
    ($mw:expr) => {
        test::init_service(
            App::new()
                .wrap_fn(|req, srv| {
                    if req.path() == "/" {
                        panic!("synchronous panic in a middleware's call (test)");
                    }
                    srv.call(req)
                })
                .wrap($mw)
                .configure(common::routes),
        )
        .await
    };
}

/// Both requests of a [`panicking_app!`] recorded once as `500`, in-flight back at 0.
fn assert_panics_recorded(registry: &Registry) {
    let text = registry
        .encode_to_string(promenade_core::Format::Text)
        .unwrap();
    for route in ["/", "/panic"] {
        let labels = format!(r#"method="GET",route="{route}",status="500""#);
        assert_eq!(
            sample(&text, "http_requests_total", &labels),
            Some(1.0),
            "{text}"
        );
    }
    assert_eq!(
        sample(&text, "http_requests_in_flight", r#"method="GET""#),
        Some(0.0),
        "{text}"
    );
}

#[actix_rt::test]
async fn panic_in_an_inner_service_call_is_recorded() {
    use actix_web::dev::Service as _;
    let registry = Registry::new();
    let mw = PrometheusMetrics::builder(&registry)
        .catch_panics(true)
        .build()
        .unwrap();
    let app = panicking_app!(mw);
    // The caught panic is an `Err` (the HTTP dispatcher turns it into a 500 response).
    for uri in ["/", "/panic"] {
        let err = app
            .call(test::TestRequest::get().uri(uri).to_request())
            .await
            .expect_err("a caught panic is an error");
        assert_eq!(err.error_response().status(), 500);
    }
    assert_panics_recorded(&registry);
}

/// Without `catch_panics` the panic goes on to actix, from the inner service's `call` as
/// from its future's poll: both requests are still recorded as `500` (seen during the
/// unwind) and leave in-flight at 0.
#[actix_rt::test]
async fn uncaught_panics_in_call_and_poll_are_recorded() {
    use actix_web::dev::Service as _;
    use std::future::Future as _;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let registry = Registry::new();
    let mw = PrometheusMetrics::builder(&registry).build().unwrap();
    let app = panicking_app!(mw);
    let in_call = catch_unwind(AssertUnwindSafe(|| {
        app.call(test::TestRequest::get().uri("/").to_request())
    }));
    assert!(in_call.is_err(), "the panic in call reaches the caller");
    let mut fut = Box::pin(app.call(test::TestRequest::get().uri("/panic").to_request()));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let in_poll = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx)));
    assert!(in_poll.is_err(), "the handler's panic reaches the executor");
    drop(fut);
    assert_panics_recorded(&registry);
}

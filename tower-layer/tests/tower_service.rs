//! The layer on plain tower services (no axum routing) and the scrape service on its own.
// Test helpers outside #[test] functions unwrap too; a failure is a test failure.
#![allow(clippy::unwrap_used)]

mod common;

use std::borrow::Cow;
use std::convert::Infallible;

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use promenade_core::Registry;
use promenade_tower::{HttpMetricsLayer, MetricsService, ScrapeAuth, ScrapeHandler, route_fn};
use tower::{Layer, ServiceBuilder, ServiceExt, service_fn};

type Req = Request<Full<Bytes>>;

fn get(uri: &str) -> Req {
    Request::get(uri).body(Full::default()).unwrap()
}

#[tokio::test]
async fn route_fn_extractor_labels_plain_tower_services() {
    let registry = Registry::new();
    let layer = HttpMetricsLayer::builder(&registry)
        .route_extractor(route_fn(|req| {
            let path = req.uri.path();
            if path == "/" {
                Some(Cow::Borrowed("/"))
            } else if path.starts_with("/users/") {
                Some(Cow::Borrowed("/users/{id}"))
            } else {
                None
            }
        }))
        .build()
        .unwrap();
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(|req: Req| async move {
            let status = if req.uri().path() == "/missing" {
                404
            } else {
                200
            };
            let mut resp = Response::new(Full::new(Bytes::from_static(b"x")));
            *resp.status_mut() = StatusCode::from_u16(status).unwrap();
            Ok::<_, Infallible>(resp)
        }));
    for uri in ["/", "/users/1", "/users/2", "/missing"] {
        let resp = svc.clone().oneshot(get(uri)).await.unwrap();
        resp.into_body().collect().await.unwrap();
    }
    let t = text(&registry);
    assert_eq!(requests(&t, "GET", "/", "200"), Some(1.0), "{t}");
    assert_eq!(requests(&t, "GET", "/users/{id}", "200"), Some(2.0), "{t}");
    assert_eq!(requests(&t, "GET", "unmatched", "404"), Some(1.0), "{t}");
    assert_eq!(total_in_flight(&t), 0.0);
}

#[tokio::test]
async fn inner_service_error_is_recorded_as_500() {
    let registry = Registry::new();
    let svc = HttpMetricsLayer::builder(&registry)
        .build()
        .unwrap()
        .layer(service_fn(|_req: Req| async {
            Err::<Response<Full<Bytes>>, _>(std::io::Error::other("backend down"))
        }));
    assert!(svc.oneshot(get("/")).await.is_err());
    let t = text(&registry);
    assert_eq!(requests(&t, "GET", "unmatched", "500"), Some(1.0), "{t}");
    assert_eq!(total_in_flight(&t), 0.0);
}

#[tokio::test]
async fn excluded_paths_are_not_recorded() {
    let registry = Registry::new();
    let svc = HttpMetricsLayer::builder(&registry)
        .metrics(|m| m.exclude_path("/metrics"))
        .build()
        .unwrap()
        .layer(MetricsService::new(ScrapeHandler::new(registry.clone())));
    let resp = svc.clone().oneshot(get("/metrics")).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    resp.into_body().collect().await.unwrap();
    let t = text(&registry);
    assert_eq!(series_count(&t, "http_requests_total"), 0, "{t}");
}

async fn scrape(svc: &MetricsService, method: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut b = Request::builder().method(method).uri("/metrics");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = svc.clone().oneshot(b.body(()).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, body.collect().await.unwrap().to_bytes())
}

/// Every Accept header a Prometheus release (2.0 to 3.x) sends gets the right Content-Type.
/// Protobuf-first headers (native histograms enabled) get delimited protobuf.
#[tokio::test]
async fn scrape_negotiates_every_prometheus_accept_header() {
    let registry = Registry::new();
    registry.counter("jobs_total", "Jobs.").unwrap().inc();
    let svc = MetricsService::new(ScrapeHandler::new(registry));
    const OM1: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    const OM0: &str = "application/openmetrics-text; version=0.0.1; charset=utf-8";
    const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";
    const PB: &str = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";
    let cases: &[(&str, &str, &str)] = &[
        (
            "3.4+",
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            OM1,
        ),
        (
            "3.4+ protobuf-first",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
            PB,
        ),
        (
            "3.0-3.3 protobuf-first",
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.2,*/*;escaping=allow-utf-8;q=0.1",
            PB,
        ),
        (
            "3.0-3.3",
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.2,*/*;escaping=allow-utf-8;q=0.1",
            OM1,
        ),
        ("2.0-2.4", "text/plain;version=0.0.4;q=1,*/*;q=0.1", TEXT),
        (
            "2.5-2.33",
            "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            OM0,
        ),
        (
            "2.34-2.48",
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            OM1,
        ),
        (
            "2.40",
            "application/openmetrics-text;version=1.0.0;q=0.75,application/openmetrics-text;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            OM1,
        ),
        (
            "2.40-2.48 native histograms",
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            PB,
        ),
        (
            "2.49-2.54",
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            OM1,
        ),
        (
            "2.49.0 bug",
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=2",
            OM1,
        ),
        (
            "2.55 utf8-names",
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;escaping=allow-utf-8;q=0.2",
            OM1,
        ),
        ("no Accept", "", TEXT),
        ("*/*", "*/*", TEXT),
    ];
    for (name, accept, want) in cases {
        let headers: Vec<(&str, &str)> = if accept.is_empty() {
            vec![]
        } else {
            vec![("accept", *accept)]
        };
        let resp = scrape(&svc, "GET", &headers).await;
        assert_eq!(resp.status(), StatusCode::OK, "{name}");
        let ct = resp.headers()["content-type"].to_str().unwrap();
        assert!(
            ct.starts_with(want) && ct.contains("; escaping="),
            "{name}: got {ct}, want {want}"
        );
        if *want == PB {
            let families =
                promenade_core::encoding::protobuf::decode_delimited(resp.body()).unwrap();
            assert_eq!(families[0].name.as_deref(), Some("jobs_total"), "{name}");
            continue;
        }
        let body = std::str::from_utf8(resp.body()).unwrap();
        assert_eq!(
            body.ends_with("# EOF\n"),
            *want != TEXT,
            "{name}: body format must match the Content-Type"
        );
    }
}

#[tokio::test]
async fn scrape_methods_auth_and_gzip() {
    let registry = Registry::new();
    registry.counter("jobs_total", "Jobs.").unwrap().inc();
    let svc = MetricsService::new(ScrapeHandler::new(registry.clone()));
    let head = scrape(&svc, "HEAD", &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.body().is_empty());
    let post = scrape(&svc, "POST", &[]).await;
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(post.headers()["allow"], "GET, HEAD");

    let gz = scrape(&svc, "GET", &[("accept-encoding", "gzip")]).await;
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let mut plain = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&gz.body()[..]),
        &mut plain,
    )
    .unwrap();
    assert!(plain.contains("jobs_total 1"));
    let no_gz = scrape(
        &MetricsService::new(
            ScrapeHandler::builder(&registry)
                .gzip(false)
                .build()
                .unwrap(),
        ),
        "GET",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert!(no_gz.headers().get("content-encoding").is_none());

    let with_auth = |auth| {
        MetricsService::new(
            ScrapeHandler::builder(&registry)
                .auth(auth)
                .build()
                .unwrap(),
        )
    };
    let bearer = with_auth(ScrapeAuth::Bearer("t0ken".into()));
    assert_eq!(
        scrape(&bearer, "GET", &[]).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        scrape(&bearer, "GET", &[("authorization", "Bearer wrong")])
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        scrape(&bearer, "GET", &[("authorization", "Bearer t0ken")])
            .await
            .status(),
        StatusCode::OK
    );
    let basic = with_auth(ScrapeAuth::Basic {
        username: "prom".into(),
        password: "pw".into(),
    });
    let denied = scrape(&basic, "GET", &[]).await;
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert!(!String::from_utf8_lossy(denied.body()).contains("jobs_total"));
    assert_eq!(
        scrape(&basic, "GET", &[("authorization", "Basic cHJvbTpwdw==")])
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn axum_scrape_route_auth() {
    use axum::Router;
    use axum::routing::get as aget;
    use promenade_tower::{Prometheus, PrometheusRouterExt};
    let registry = Registry::new();
    let app: Router = Router::new()
        .route("/", aget(|| async { "x" }))
        .with_prometheus(
            Prometheus::builder(&registry)
                .scrape(|s| {
                    s.path("/internal/metrics")
                        .auth(ScrapeAuth::Bearer("s".into()))
                })
                .build()
                .unwrap(),
        )
        .unwrap();
    let (status, headers, _) = send(&app, req("GET", "/internal/metrics")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["www-authenticate"], "Bearer realm=\"metrics\"");
    let mut r = req("GET", "/internal/metrics");
    r.headers_mut()
        .insert("authorization", "Bearer s".parse().unwrap());
    assert_eq!(send(&app, r).await.0, StatusCode::OK);
    assert_eq!(
        send(&app, req("DELETE", "/internal/metrics")).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        send(&app, req("GET", "/metrics")).await.0,
        StatusCode::NOT_FOUND
    );
}

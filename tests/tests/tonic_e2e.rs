//! End to end: a real tonic server with promenade-tonic's layer serves `/metrics` on its
//! gRPC port; a real Prometheus scrapes it over HTTP/1.1 and ingests the `grpc_server_*`
//! families with the Go middleware's labels; promtool accepts the exposition.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use promenade_core::grpc_metrics::{GrpcMetrics, Side};
use promenade_core::scrape::ScrapeHandler;
use promenade_core::{Format, Registry};
use promenade_tests::{
    FIRST_SCRAPE_TIMEOUT, PROMTOOL, PrometheusServer, ScrapeTarget, http_get, or_skip,
    promtool_check_metrics, require_tool,
};
use promenade_tonic::{
    GrpcClientLayer, GrpcMetricsBuilderExt as _, GrpcServerLayer, with_metrics_route,
};
use promenade_tonic_demo::{DemoClient, FILE_DESCRIPTOR_SET, Ping};
use tokio_stream::wrappers::TcpListenerStream;
use tower_layer::Layer as _;

const SVC: &str = "promenade.demo.v1.Demo";

/// Starts the instrumented server on a runtime of its own and drives one call of each kind
/// (plus an error mid-stream and a cancelled stream). Returns the runtime (dropping it stops
/// the server), the port and the registry.
fn start_and_drive() -> (tokio::runtime::Runtime, u16, Registry) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let registry = Registry::new();
    let r = registry.clone();
    let port = rt.block_on(async move {
        let metrics = GrpcMetrics::builder(&r, Side::Server)
            .file_descriptor_set(FILE_DESCRIPTOR_SET)
            .unwrap()
            .build()
            .unwrap();
        let client_metrics = GrpcMetrics::builder(&r, Side::Client)
            .file_descriptor_set(FILE_DESCRIPTOR_SET)
            .unwrap()
            .build()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let routes = tonic::service::Routes::new(promenade_tonic_demo::server());
        tokio::spawn(
            tonic::transport::Server::builder()
                .accept_http1(true)
                .layer(GrpcServerLayer::new(metrics))
                .add_routes(with_metrics_route(routes, ScrapeHandler::new(r)))
                .serve_with_incoming(TcpListenerStream::new(listener)),
        );
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .unwrap();
        let mut c = DemoClient::new(GrpcClientLayer::new(client_metrics).layer(channel));
        let ping = |count| Ping {
            text: "e2e".into(),
            count,
            ..Default::default()
        };
        for _ in 0..3 {
            c.unary(ping(0)).await.unwrap();
        }
        c.client_stream(tokio_stream::iter(vec![ping(0), ping(0)]))
            .await
            .unwrap();
        let mut s = c.server_stream(ping(4)).await.unwrap().into_inner();
        while s.message().await.unwrap().is_some() {}
        let mut s = c
            .bidi(tokio_stream::iter(vec![ping(0)]))
            .await
            .unwrap()
            .into_inner();
        while s.message().await.unwrap().is_some() {}
        let mut s = c.fail_mid_stream(ping(2)).await.unwrap().into_inner();
        for _ in 0..3 {
            if s.message().await.is_err() {
                break;
            }
        }
        addr.port()
    });
    (rt, port, registry)
}

#[test]
fn prometheus_scrapes_grpc_server_metrics_on_the_grpc_port() {
    let (_rt, port, _registry) = start_and_drive();
    // The scrape endpoint answers plain HTTP/1.1 on the gRPC port.
    let resp = http_get(&format!("http://127.0.0.1:{port}/metrics"), &[]).unwrap();
    assert_eq!(resp.status, 200);

    let prom = or_skip!(PrometheusServer::start(&[ScrapeTarget::new("tonic", port)]));
    prom.wait_for_up("tonic", FIRST_SCRAPE_TIMEOUT).unwrap();
    let q = |family: &str, ty: &str, method: &str, extra: &str| {
        format!(
            "{family}{{job=\"tonic\",grpc_type=\"{ty}\",grpc_service=\"{SVC}\",grpc_method=\"{method}\"{extra}}}"
        )
    };
    let t = Duration::from_secs(10);
    let v = prom
        .wait_for_value(
            &q(
                "grpc_server_handled_total",
                "unary",
                "Unary",
                ",grpc_code=\"OK\"",
            ),
            |v| v == 3.0,
            t,
        )
        .unwrap();
    assert_eq!(v, 3.0);
    let expect = [
        (q("grpc_server_started_total", "unary", "Unary", ""), 3.0),
        (
            q(
                "grpc_server_msg_received_total",
                "client_stream",
                "ClientStream",
                "",
            ),
            2.0,
        ),
        (
            q(
                "grpc_server_msg_sent_total",
                "server_stream",
                "ServerStream",
                "",
            ),
            4.0,
        ),
        (
            q("grpc_server_msg_sent_total", "bidi_stream", "Bidi", ""),
            1.0,
        ),
        (
            q(
                "grpc_server_handled_total",
                "server_stream",
                "FailMidStream",
                ",grpc_code=\"Aborted\"",
            ),
            1.0,
        ),
        (
            q("grpc_server_handling_seconds_count", "unary", "Unary", ""),
            3.0,
        ),
        (
            q(
                "grpc_client_handled_total",
                "server_stream",
                "FailMidStream",
                ",grpc_code=\"Aborted\"",
            ),
            1.0,
        ),
    ];
    for (promql, want) in expect {
        assert_eq!(prom.query_scalar(&promql), Some(want), "{promql}");
    }
    // The histogram has no grpc_code label, as in Go.
    let series = prom.series("grpc_server_handling_seconds_bucket").unwrap();
    assert!(!series.is_empty());
    assert!(series.iter().all(|s| !s.contains_key("grpc_code")));
}

#[test]
fn promtool_accepts_the_grpc_exposition() {
    require_tool!(PROMTOOL);
    let (_rt, _port, registry) = start_and_drive();
    let text = registry.encode_to_string(Format::Text).unwrap();
    assert!(text.contains("grpc_server_handled_total{"));
    promtool_check_metrics(&text).unwrap();
}

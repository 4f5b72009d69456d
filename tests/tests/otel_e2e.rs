//! End to end: one process with Promenade's axum HTTP layer, the `metrics` facade recorder
//! and OpenTelemetry instruments (counter, up-down counter, gauge, histogram, exponential
//! histogram) through the OpenTelemetry bridge, all on one `/metrics`. promtool checks the
//! text page, the strict Python OpenMetrics parser the OpenMetrics page, and a real
//! Prometheus scrapes it (protobuf, native histograms on) and holds every family with the
//! recorded values; the exponential histogram arrives as a native histogram.

use std::time::Duration;

use promenade_core::Registry;
use promenade_core::bridge::metrics::PrometheusRecorder;
use promenade_examples::otel_demo;
use promenade_tests::{
    FIRST_SCRAPE_TIMEOUT, PROMETHEUS, PROMTOOL, PYTHON_PROMETHEUS_CLIENT, PrometheusOptions,
    PrometheusServer, ScrapeTarget, find_family, http_get, http_request, or_skip,
    promtool_check_metrics, python_openmetrics_parse, require_tool,
};

const QUERY_TIMEOUT: Duration = Duration::from_secs(20);

#[test]
fn otel_facade_and_http_metrics_are_ingested_by_prometheus() {
    require_tool!(PROMETHEUS);
    require_tool!(PROMTOOL);
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let registry = Registry::new();

    // The `metrics` facade, through a local recorder: no global state.
    let recorder = PrometheusRecorder::builder(&registry).build().unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_counter!("imports_total", "Imports by source.");
        metrics::describe_histogram!("import_batch", metrics::Unit::Seconds, "Import batches.");
        metrics::counter!("imports_total", "source" => "csv").increment(3);
        metrics::histogram!("import_batch").record(0.25);
        metrics::histogram!("import_batch").record(0.75);
    });

    // OpenTelemetry instruments in an axum app with Promenade's HTTP layer.
    let provider = otel_demo::meter_provider(&registry).unwrap();
    let app = otel_demo::app(&registry, &provider).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });
    let post = |path: &str| {
        let resp = http_request("POST", &format!("http://{addr}{path}"), &[], b"").unwrap();
        assert_eq!(resp.status, 200, "{path}");
    };
    for amount in ["12.5", "40", "0.5"] {
        post(&format!("/order/{amount}"));
    }
    for _ in 0..3 {
        post("/cart/open");
    }
    post("/cart/close");

    // The text page: every family, promtool accepts it.
    let text = http_get(&format!("http://{addr}/metrics"), &[])
        .unwrap()
        .text();
    for line in [
        "shop_orders_total{payment_method=\"card\",otel_scope_name=\"shop\"} 3\n",
        "shop_carts_active{otel_scope_name=\"shop\"} 2\n",
        "shop_stock{otel_scope_name=\"shop\"} 99\n",
        "shop_checkout_duration_seconds_count{otel_scope_name=\"shop\"} 3\n",
        "shop_payment_amount_count{payment_method=\"card\",otel_scope_name=\"shop\"} 3\n",
        "shop_payment_amount_sum{payment_method=\"card\",otel_scope_name=\"shop\"} 53\n",
        "imports_total{source=\"csv\"} 3\n",
        "import_batch_seconds_count 2\n",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    assert!(text.contains("target_info{service_name=\"shop\""), "{text}");
    assert!(text.contains("http_requests_total{"), "{text}");
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));

    // The OpenMetrics page: the strict parser accepts it, with types and units.
    let om = http_get(
        &format!("http://{addr}/metrics"),
        &[("accept", "application/openmetrics-text; version=1.0.0")],
    )
    .unwrap()
    .text();
    let families =
        python_openmetrics_parse(&om).unwrap_or_else(|e| panic!("OpenMetrics parser: {e}\n{om}"));
    for (name, kind, unit) in [
        ("shop_orders", "counter", ""),
        ("shop_carts_active", "gauge", ""),
        ("shop_stock", "gauge", ""),
        ("shop_checkout_duration_seconds", "histogram", "seconds"),
        ("shop_payment_amount", "histogram", ""),
        ("target", "info", ""),
        ("imports", "counter", ""),
        ("import_batch_seconds", "histogram", "seconds"),
        ("http_requests", "counter", ""),
    ] {
        let family = find_family(&families, name).unwrap_or_else(|| panic!("{name} missing\n{om}"));
        assert_eq!(
            (family.kind.as_str(), family.unit.as_str()),
            (kind, unit),
            "{name}"
        );
    }
    assert_eq!(
        find_family(&families, "shop_orders").unwrap().help,
        "Orders placed."
    );

    // A real Prometheus, negotiating protobuf for native histograms.
    let options = PrometheusOptions::default().enable_feature("native-histograms");
    let prom = or_skip!(PrometheusServer::start_with(
        &[ScrapeTarget::new("otel", addr.port())],
        &options
    ));
    prom.wait_for_up("otel", FIRST_SCRAPE_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}"));
    for (promql, expected) in [
        (
            "shop_orders_total{payment_method=\"card\",otel_scope_name=\"shop\"}",
            3.0,
        ),
        ("shop_carts_active", 2.0),
        ("shop_stock", 99.0),
        ("shop_checkout_duration_seconds_count", 3.0),
        ("shop_checkout_duration_seconds_bucket{le=\"+Inf\"}", 3.0),
        ("target_info{service_name=\"shop\"}", 1.0),
        ("imports_total{source=\"csv\"}", 3.0),
        ("import_batch_seconds_sum", 1.0),
        ("sum(http_requests_total{route=\"/order/{amount}\"})", 3.0),
        ("sum(http_requests_total{route=\"/cart/open\"})", 3.0),
    ] {
        let got = prom.wait_for_value(promql, |v| v == expected, QUERY_TIMEOUT);
        got.unwrap_or_else(|e| panic!("{promql} != {expected}: {e}"));
    }

    // The exponential histogram is a native histogram series (not `_bucket` series).
    let native = (0..80)
        .find_map(|_| {
            let d = prom.query("shop_payment_amount").ok()?;
            let result = d["result"].as_array()?.first()?.clone();
            if result.get("histogram").is_some() {
                Some(result)
            } else {
                std::thread::sleep(Duration::from_millis(250));
                None
            }
        })
        .unwrap_or_else(|| panic!("no native histogram\n{}", prom.diagnostics()));
    let histogram = &native["histogram"][1];
    assert_eq!(histogram["count"], "3", "{native}");
    assert_eq!(histogram["sum"], "53", "{native}");
    // Three observations in three different buckets (0.5, 12.5 and 40 are far apart).
    assert_eq!(
        histogram["buckets"].as_array().map(Vec::len),
        Some(3),
        "{native}"
    );
    assert!(
        prom.query("shop_payment_amount_bucket")
            .map(|d| d["result"].as_array().is_some_and(Vec::is_empty))
            .unwrap_or(false),
        "classic buckets for a native-only histogram"
    );
    drop(provider);
}

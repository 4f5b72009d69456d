//! End to end: the facade demo (an axum app with Promenade's HTTP layer whose handlers call a
//! library that records through the `metrics` facade) scraped over HTTP; promtool checks the
//! text page and the strict Python OpenMetrics parser the OpenMetrics page. One test: the
//! recorder is the process's global one.

use promenade_tests::{
    PROMTOOL, PYTHON_PROMETHEUS_CLIENT, find_family, http_get, promtool_check_metrics,
    python_openmetrics_parse, require_tool,
};

#[test]
fn facade_metrics_beside_http_metrics_pass_promtool_and_openmetrics() {
    require_tool!(PROMTOOL);
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let registry = promenade_core::Registry::new();
    promenade_examples::facade_demo::install_recorder(&registry).unwrap();
    let app = promenade_examples::facade_demo::app(&registry).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    runtime.spawn(async move { axum::serve(listener, app).await });

    for key in 0..5 {
        let resp = http_get(&format!("http://{addr}/cache/{key}"), &[]).unwrap();
        assert_eq!(resp.status, 200);
    }
    let text = http_get(&format!("http://{addr}/metrics"), &[]).unwrap();
    let text = String::from_utf8(text.body).unwrap();
    assert!(
        text.contains("cache_lookups_total{result=\"hit\"} 3\n"),
        "{text}"
    );
    assert!(
        text.contains("cache_lookups_total{result=\"miss\"} 2\n"),
        "{text}"
    );
    assert!(text.contains("cache_lookup_seconds_count 5\n"), "{text}");
    assert!(text.contains("http_requests_total{"), "{text}");
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));

    let om = http_get(
        &format!("http://{addr}/metrics"),
        &[("accept", "application/openmetrics-text; version=1.0.0")],
    )
    .unwrap();
    let om = String::from_utf8(om.body).unwrap();
    assert!(om.contains("# UNIT cache_lookup_seconds seconds\n"), "{om}");
    let families =
        python_openmetrics_parse(&om).unwrap_or_else(|e| panic!("OpenMetrics parser: {e}\n{om}"));
    let lookups = find_family(&families, "cache_lookups").expect("cache_lookups family");
    assert_eq!(lookups.kind, "counter");
    assert_eq!(lookups.help, "Cache lookups by result.");
    let latency = find_family(&families, "cache_lookup_seconds").expect("latency family");
    assert_eq!(latency.unit, "seconds");
    assert!(find_family(&families, "http_requests").is_some());
}

//! Self-test of the end-to-end harness: every checker must accept a known-good input and
//! reject a known-bad one, and the real Prometheus and Pushgateway must start, scrape and
//! answer. If these fail, no other end-to-end test can be trusted.

use std::time::{Duration, Instant};

use promenade_tests::{
    E2eMode, FIRST_SCRAPE_TIMEOUT, PROMTOOL, PYTHON_PROMETHEUS_CLIENT, PrometheusServer,
    PushgatewayServer, ScrapeTarget, StaticResponse, StaticServer, TEXT_CONTENT_TYPE, e2e_mode,
    find_family, http_get, http_request, or_skip, promtool_check_metrics, python_openmetrics_parse,
    python_text_parse, require_tool,
};

/// A hand-written, valid and lint-clean text format 0.0.4 exposition.
const VALID_TEXT: &str = r#"# HELP demo_requests_total Total demo requests.
# TYPE demo_requests_total counter
demo_requests_total{method="GET",route="/users/{id}",status="200"} 7
demo_requests_total{method="POST",route="/users",status="201"} 2
# HELP demo_temperature_celsius Current temperature, with a "quote" and a \\ backslash.
# TYPE demo_temperature_celsius gauge
demo_temperature_celsius{path="C:\\DIR\\FILE.TXT"} 21.5
# HELP demo_request_duration_seconds Request duration.
# TYPE demo_request_duration_seconds histogram
demo_request_duration_seconds_bucket{le="0.1"} 3
demo_request_duration_seconds_bucket{le="1"} 8
demo_request_duration_seconds_bucket{le="+Inf"} 9
demo_request_duration_seconds_sum 4.25
demo_request_duration_seconds_count 9
# HELP demo_rpc_latency_seconds RPC latency.
# TYPE demo_rpc_latency_seconds summary
demo_rpc_latency_seconds{quantile="0.5"} 0.05
demo_rpc_latency_seconds{quantile="0.99"} 0.2
demo_rpc_latency_seconds_sum 12.5
demo_rpc_latency_seconds_count 100
"#;

/// A valid OpenMetrics 1.0 exposition.
const VALID_OPENMETRICS: &str = r#"# TYPE demo_requests counter
# HELP demo_requests Total demo requests.
demo_requests_total{method="GET"} 7 # {trace_id="abc"} 1.0 1700000000.5
# TYPE demo_request_duration_seconds histogram
# UNIT demo_request_duration_seconds seconds
# HELP demo_request_duration_seconds Request duration.
demo_request_duration_seconds_bucket{le="0.1"} 3
demo_request_duration_seconds_bucket{le="1.0"} 8
demo_request_duration_seconds_bucket{le="+Inf"} 9
demo_request_duration_seconds_sum 4.25
demo_request_duration_seconds_count 9
# TYPE demo_build info
demo_build_info{version="1.2.3"} 1
# TYPE demo_up gauge
demo_up NaN
# EOF
"#;

#[test]
fn promtool_accepts_valid_text_served_over_http() {
    require_tool!(PROMTOOL);
    let server = StaticServer::text(VALID_TEXT);
    let resp = http_get(&server.url(), &[]).expect("GET the static server");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some(TEXT_CONTENT_TYPE));
    assert_eq!(resp.text(), VALID_TEXT);
    promtool_check_metrics(&resp.text()).expect("promtool accepts the valid exposition");
}

#[test]
fn promtool_rejects_parse_errors_and_lint_problems() {
    require_tool!(PROMTOOL);
    // Parse error (exit 1): a second HELP line for the same name.
    let err = promtool_check_metrics("# HELP a First.\n# TYPE a gauge\na 1\n# HELP a Second.\n")
        .expect_err("a duplicate HELP must be rejected");
    assert!(err.contains("second HELP line"), "{err}");
    // Parse error: the last line lacks its newline.
    let err = promtool_check_metrics("# HELP a A.\n# TYPE a gauge\na 1")
        .expect_err("a missing final newline must be rejected");
    assert!(err.contains("unexpected end of input"), "{err}");
    // Lint problems only (exit 3): counter without _total, no HELP.
    let err = promtool_check_metrics("# TYPE foo counter\nfoo 1\n")
        .expect_err("lint problems must be reported");
    assert!(err.contains("_total"), "{err}");
    assert!(err.contains("no help text"), "{err}");
}

#[test]
fn python_openmetrics_parser_accepts_valid_and_rejects_missing_eof() {
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let families = python_openmetrics_parse(VALID_OPENMETRICS).expect("valid OpenMetrics");
    let names: Vec<&str> = families.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "demo_requests",
            "demo_request_duration_seconds",
            "demo_build",
            "demo_up"
        ]
    );

    let counter = find_family(&families, "demo_requests").expect("counter family");
    assert_eq!(counter.kind, "counter");
    assert_eq!(counter.help, "Total demo requests.");
    let total = counter
        .sample("demo_requests_total", &[("method", "GET")])
        .expect("counter sample");
    assert_eq!(total.value, 7.0);
    let exemplar = total.exemplar.as_ref().expect("exemplar parsed");
    assert_eq!(exemplar.labels["trace_id"], "abc");
    assert_eq!(exemplar.value, 1.0);
    assert_eq!(exemplar.timestamp, Some(1_700_000_000.5));

    let hist = find_family(&families, "demo_request_duration_seconds").expect("histogram");
    assert_eq!(hist.kind, "histogram");
    assert_eq!(hist.unit, "seconds");
    assert_eq!(
        hist.sample("demo_request_duration_seconds_bucket", &[("le", "+Inf")])
            .map(|s| s.value),
        Some(9.0)
    );
    assert_eq!(
        find_family(&families, "demo_build").map(|f| f.kind.as_str()),
        Some("info")
    );
    let up = find_family(&families, "demo_up").expect("gauge");
    assert!(up.samples[0].value.is_nan());

    let without_eof = VALID_OPENMETRICS.replace("# EOF\n", "");
    let err = python_openmetrics_parse(&without_eof).expect_err("missing # EOF must fail");
    assert!(err.contains("EOF"), "{err}");

    // Strictness: two spaces between tokens are invalid OpenMetrics.
    let err = python_openmetrics_parse("# TYPE a gauge\na  1\n# EOF\n")
        .expect_err("double space must fail");
    assert!(err.contains("Traceback"), "{err}");
}

#[test]
fn python_text_parser_reads_text_format() {
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let families = python_text_parse(VALID_TEXT).expect("valid 0.0.4 text");
    let counter = find_family(&families, "demo_requests").expect("counter family");
    assert_eq!(counter.kind, "counter");
    assert_eq!(
        counter
            .sample("demo_requests_total", &[("route", "/users/{id}")])
            .map(|s| s.value),
        Some(7.0)
    );
    let gauge = find_family(&families, "demo_temperature_celsius").expect("gauge family");
    assert_eq!(gauge.samples[0].labels["path"], r"C:\DIR\FILE.TXT");
    assert_eq!(
        gauge.help,
        r#"Current temperature, with a "quote" and a \ backslash."#
    );
    let summary = find_family(&families, "demo_rpc_latency_seconds").expect("summary");
    assert_eq!(summary.kind, "summary");
    assert_eq!(summary.samples.len(), 4);
}

#[test]
fn prometheus_scrapes_a_static_target() {
    let started = Instant::now();
    let target = StaticServer::text(VALID_TEXT);
    let prom = or_skip!(PrometheusServer::start(&[ScrapeTarget::new(
        "static",
        target.port()
    )]));
    eprintln!(
        "prometheus ready on {} after {:?}",
        prom.url(),
        started.elapsed()
    );

    prom.wait_for_up("static", FIRST_SCRAPE_TIMEOUT)
        .expect("the static target is scraped and up");
    eprintln!("first successful scrape after {:?}", started.elapsed());

    assert_eq!(prom.query_scalar(r#"up{job="static"}"#), Some(1.0));
    assert_eq!(
        prom.query_scalar(r#"demo_requests_total{method="GET"}"#),
        Some(7.0)
    );
    assert_eq!(
        prom.query_scalar(r#"demo_request_duration_seconds_bucket{le="+Inf"}"#),
        Some(9.0)
    );
    let samples = prom
        .query_vector("sum by (status) (demo_requests_total)")
        .expect("aggregation query");
    assert_eq!(samples.len(), 2, "{samples:?}");

    let series = prom
        .series(r#"{__name__="demo_temperature_celsius"}"#)
        .expect("series API");
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["path"], r"C:\DIR\FILE.TXT");
    assert_eq!(series[0]["job"], "static");
    assert_eq!(series[0]["instance"], target.address());

    let targets = prom.targets().expect("targets API");
    let active = targets["activeTargets"].as_array().expect("activeTargets");
    assert_eq!(active.len(), 1);
    assert_eq!(active[0]["health"], "up");

    // Metadata arrives with the scrape cache; allow for a further scrape.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let md = prom.metadata("demo_requests_total").expect("metadata API");
        if md["demo_requests_total"][0]["type"] == "counter" {
            break;
        }
        assert!(Instant::now() < deadline, "no metadata: {md}");
        std::thread::sleep(Duration::from_millis(250));
    }

    // The scrape requests Prometheus sent, for the negotiation tests to build on.
    let requests = target.requests();
    let scrape = requests
        .iter()
        .find(|r| {
            r.header("user-agent")
                .is_some_and(|u| u.starts_with("Prometheus/"))
        })
        .expect("a scrape request from Prometheus");
    assert_eq!(scrape.method, "GET");
    assert_eq!(scrape.target, "/metrics");
    let accept = scrape.header("accept").expect("Accept header");
    eprintln!(
        "Prometheus scrape: User-Agent={:?} Accept={accept:?}",
        scrape.header("user-agent")
    );
    assert!(accept.contains("text/plain;version=0.0.4"), "{accept}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn prometheus_reports_a_failing_target() {
    let target = StaticServer::start(StaticResponse::ok(TEXT_CONTENT_TYPE, "not a metric line"));
    let prom = or_skip!(PrometheusServer::start(&[ScrapeTarget::new(
        "broken",
        target.port()
    )]));
    let v = prom
        .wait_for_value(r#"up{job="broken"}"#, |v| v == 0.0, FIRST_SCRAPE_TIMEOUT)
        .expect("a broken exposition makes up == 0");
    assert_eq!(v, 0.0);
    let targets = prom.targets().expect("targets API");
    let last_error = targets["activeTargets"][0]["lastError"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!last_error.is_empty(), "expected a scrape error");
    eprintln!("scrape error as reported by Prometheus: {last_error}");
}

#[test]
fn pushgateway_starts_accepts_a_push_and_serves_it() {
    let pg = or_skip!(PushgatewayServer::start());
    let ready = http_get(&format!("{}/-/ready", pg.url()), &[]).expect("ready");
    assert_eq!(ready.status, 200);

    let push = http_request(
        "PUT",
        &format!("{}/metrics/job/harness/instance/selftest", pg.url()),
        &[("Content-Type", TEXT_CONTENT_TYPE)],
        b"# TYPE harness_pushed gauge\nharness_pushed 3\n",
    )
    .expect("push");
    assert!(
        push.status == 200 || push.status == 202,
        "{} {}",
        push.status,
        push.text()
    );

    let metrics = http_get(&format!("{}/metrics", pg.url()), &[]).expect("scrape");
    assert_eq!(metrics.status, 200);
    let text = metrics.text();
    assert!(
        text.contains(r#"harness_pushed{instance="selftest",job="harness"} 3"#),
        "{text}"
    );
    assert!(text.contains("push_time_seconds{"), "{text}");

    let status = http_get(&format!("{}/api/v1/status", pg.url()), &[]).expect("status");
    assert_eq!(status.status, 200);
}

#[test]
fn http_get_sends_no_accept_header_and_returns_error_statuses() {
    let server = StaticServer::start(StaticResponse {
        status: 503,
        content_type: "text/plain".to_owned(),
        headers: vec![("X-Test".to_owned(), "yes".to_owned())],
        body: b"down".to_vec(),
    });
    let resp = http_get(&server.url(), &[]).expect("a 503 is still a response");
    assert_eq!(resp.status, 503);
    assert_eq!(resp.header("x-test"), Some("yes"));
    assert_eq!(resp.body, b"down");

    let resp = http_get(
        &server.url(),
        &[
            ("Accept", "application/openmetrics-text"),
            ("Accept-Encoding", "gzip"),
        ],
    )
    .expect("GET");
    assert_eq!(resp.status, 503);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].header("accept"), None);
    assert_eq!(requests[0].header("accept-encoding"), None);
    assert_eq!(
        requests[1].header("accept"),
        Some("application/openmetrics-text")
    );
    assert_eq!(requests[1].header("accept-encoding"), Some("gzip"));
}

#[test]
fn missing_tool_skips_or_fails_according_to_mode() {
    let name = "intentionally-missing-tool-for-the-skip-policy-self-test";
    let result = std::panic::catch_unwind(|| promenade_tests::require_tool(name));
    match e2e_mode() {
        E2eMode::Required => assert!(result.is_err(), "required mode must panic"),
        E2eMode::Optional => assert_eq!(result.ok(), Some(None)),
    }
}

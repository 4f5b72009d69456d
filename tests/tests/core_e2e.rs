//! The core's expositions checked by tools we did not write: promtool, the Python reference
//! parsers, and a real Prometheus scraping a tiny server built on the core's `ScrapeHandler`.

use std::time::Duration;

use promenade_core::scrape::ScrapeHandler;
use promenade_core::{Buckets, Family, Format, GaugeHistogram, Registry, States, Unknown};
use promenade_tests::{
    FIRST_SCRAPE_TIMEOUT, PROMETHEUS, PROMTOOL, PYTHON_PROMETHEUS_CLIENT, PrometheusServer,
    ScrapeServer, ScrapeTarget, find_family, or_skip, promtool_check_metrics,
    python_openmetrics_parse, python_text_parse, require_tool,
};

/// A registry holding every metric type, escaped label values and awkward help text.
fn every_type_registry() -> Registry {
    let r = Registry::builder()
        .const_label("service", "e2e")
        .build()
        .unwrap();
    let requests = r
        .counter_family(
            "http_requests_total",
            "HTTP requests.\nWith a \"quoted\" C:\\path.",
            &["method", "path"],
        )
        .unwrap();
    requests
        .get(&["GET", "C:\\DIR\\FILE.TXT"])
        .unwrap()
        .inc_by(3.0)
        .unwrap();
    requests
        .get(&["POST", "Cannot find file:\n\"FILE.TXT\""])
        .unwrap()
        .inc();
    requests
        .get(&["PUT", "\u{1F631} ünïcödé"])
        .unwrap()
        .inc_by(0.5)
        .unwrap();
    r.gauge("temperature_celsius", "Temperature in celsius.")
        .unwrap()
        .set(-21.5);
    let latency = r
        .histogram(
            "request_latency_seconds",
            "Latency of requests.",
            Buckets::default(),
        )
        .unwrap();
    for v in [0.003, 0.04, 0.2, 1.5, 30.0] {
        latency.observe(v);
    }
    r.summary("payload_bytes", "Payload sizes in bytes.")
        .unwrap()
        .observe(1_500_000.0);
    r.info(
        "build",
        "Build information.",
        &[("version", "0.1.0"), ("commit", "abc123")],
    )
    .unwrap();
    r.stateset(
        "mode",
        "Current mode.",
        States::new(["starting", "serving"]).unwrap(),
    )
    .unwrap()
    .set("serving")
    .unwrap();
    let queue = Family::<GaugeHistogram>::builder_with_options(
        "queue_age_seconds",
        "Age of queued items in seconds.",
        Buckets::new(vec![1.0, 10.0]).unwrap(),
    )
    .unit("seconds")
    .build()
    .unwrap();
    queue.get(&[] as &[&str]).unwrap().observe(4.0);
    r.register(queue).unwrap();
    let legacy = Family::<Unknown>::builder("legacy_value", "Proxied value of unknown type.")
        .build()
        .unwrap();
    legacy.get(&[] as &[&str]).unwrap().set(7.0);
    r.register(legacy).unwrap();
    r
}

#[test]
fn promtool_accepts_every_type_in_text_format() {
    require_tool!(PROMTOOL);
    let text = every_type_registry()
        .encode_to_string(Format::Text)
        .unwrap();
    promtool_check_metrics(&text)
        .unwrap_or_else(|e| panic!("promtool rejected:\n{e}\n---\n{text}"));
}

#[test]
fn promtool_check_can_fail() {
    require_tool!(PROMTOOL);
    // A broken exposition must be caught, or the check above proves nothing.
    assert!(promtool_check_metrics("# TYPE x gauge\nx{a=\"unterminated} 1\n").is_err());
}

#[test]
fn python_parsers_accept_both_formats_with_exact_values() {
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let r = every_type_registry();
    let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    let families = python_openmetrics_parse(&om)
        .unwrap_or_else(|e| panic!("OpenMetrics parser rejected:\n{e}\n---\n{om}"));
    let expected = [
        ("build", "info"),
        ("http_requests", "counter"),
        ("legacy_value", "unknown"),
        ("mode", "stateset"),
        ("payload_bytes", "summary"),
        ("queue_age_seconds", "gaugehistogram"),
        ("request_latency_seconds", "histogram"),
        ("temperature_celsius", "gauge"),
    ];
    assert_eq!(families.len(), expected.len(), "{families:?}");
    for (name, kind) in expected {
        let f = find_family(&families, name).unwrap_or_else(|| panic!("family {name} missing"));
        assert_eq!(f.kind, kind, "{name}");
    }
    let requests = find_family(&families, "http_requests").unwrap();
    let s = requests
        .sample(
            "http_requests_total",
            &[
                ("service", "e2e"),
                ("method", "POST"),
                ("path", "Cannot find file:\n\"FILE.TXT\""),
            ],
        )
        .expect("escaped label value survives");
    assert_eq!(s.value, 1.0);
    let s = requests
        .sample(
            "http_requests_total",
            &[
                ("service", "e2e"),
                ("method", "PUT"),
                ("path", "\u{1F631} ünïcödé"),
            ],
        )
        .unwrap();
    assert_eq!(s.value, 0.5);
    assert_eq!(requests.help, "HTTP requests.\nWith a \"quoted\" C:\\path.");
    let latency = find_family(&families, "request_latency_seconds").unwrap();
    assert_eq!(
        latency
            .sample("request_latency_seconds_count", &[("service", "e2e")])
            .unwrap()
            .value,
        5.0
    );
    assert_eq!(
        latency
            .sample(
                "request_latency_seconds_bucket",
                &[("service", "e2e"), ("le", "+Inf")]
            )
            .unwrap()
            .value,
        5.0
    );

    let text = r.encode_to_string(Format::Text).unwrap();
    let families = python_text_parse(&text)
        .unwrap_or_else(|e| panic!("text parser rejected:\n{e}\n---\n{text}"));
    assert!(find_family(&families, "temperature_celsius").is_some());
}

#[test]
fn python_openmetrics_parser_rejects_broken_input() {
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let om = every_type_registry()
        .encode_to_string(Format::OpenMetrics)
        .unwrap();
    assert!(python_openmetrics_parse(om.trim_end_matches("# EOF\n")).is_err());
}

#[test]
fn random_label_values_pass_promtool_and_python() {
    require_tool!(PROMTOOL);
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    // Deterministic pseudo-random strings drawn from an alphabet full of special characters.
    let alphabet: Vec<char> = "aZ09 _-./\\\"\n\t{}=,#µ€😱\u{200b}'`".chars().collect();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let r = Registry::new();
    let f = r
        .counter_family(
            "fuzz_total",
            "Random \\ label \"values\"\nand help.",
            &["v", "w"],
        )
        .unwrap();
    let mut values = Vec::new();
    for _ in 0..300 {
        let len = (next() % 12) as usize;
        let v: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        let w = format!("{}", next() % 3);
        f.get(&[v.as_str(), w.as_str()]).unwrap().inc();
        values.push((v, w));
    }
    let text = r.encode_to_string(Format::Text).unwrap();
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool rejected:\n{e}"));
    let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    let families =
        python_openmetrics_parse(&om).unwrap_or_else(|e| panic!("python rejected:\n{e}"));
    let fam = find_family(&families, "fuzz").unwrap();
    assert_eq!(fam.samples.len(), f.len());
    for (v, w) in &values {
        assert!(
            fam.sample("fuzz_total", &[("v", v), ("w", w)]).is_some(),
            "value {v:?} lost"
        );
    }
}

#[test]
fn real_prometheus_ingests_every_family() {
    require_tool!(PROMETHEUS);
    let registry = every_type_registry();
    let server = ScrapeServer::start(ScrapeHandler::new(registry.clone()));
    let prom = or_skip!(PrometheusServer::start(&[ScrapeTarget::new(
        "core",
        server.port()
    )]));
    prom.wait_for_up("core", FIRST_SCRAPE_TIMEOUT)
        .unwrap_or_else(|e| panic!("{e}\n{}", prom.diagnostics()));
    // Prometheus 2.42 asks for OpenMetrics first, so this is the OpenMetrics encoder's output.
    let checks: [(&str, f64); 12] = [
        ("http_requests_total{method=\"GET\"}", 3.0),
        ("http_requests_total{method=\"PUT\"}", 0.5),
        ("temperature_celsius", -21.5),
        ("request_latency_seconds_count", 5.0),
        ("request_latency_seconds_bucket{le=\"+Inf\"}", 5.0),
        ("request_latency_seconds_bucket{le=\"0.05\"}", 2.0),
        ("payload_bytes_sum", 1.5e6),
        ("build_info{version=\"0.1.0\"}", 1.0),
        ("mode{mode=\"serving\"}", 1.0),
        ("queue_age_seconds_gcount", 1.0),
        ("legacy_value", 7.0),
        ("sum(http_requests_total)", 4.5),
    ];
    for (query, want) in checks {
        let got = prom.wait_for_value(query, |v| v == want, Duration::from_secs(10));
        assert_eq!(got, Ok(want), "{query}\n{}", prom.diagnostics());
    }
    // Every family arrived with its labels, including the escaped newline value.
    let series = prom.series("http_requests_total").unwrap();
    assert!(
        series
            .iter()
            .any(|s| s.get("path").map(String::as_str) == Some("Cannot find file:\n\"FILE.TXT\"")),
        "{series:?}"
    );
    assert!(
        series
            .iter()
            .all(|s| s.get("service").map(String::as_str) == Some("e2e"))
    );
}

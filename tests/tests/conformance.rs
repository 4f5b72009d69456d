//! Scrape conformance of every demo — axum (promenade-tower), actix (promenade-actix) and
//! tonic (promenade-tonic, `/metrics` on the gRPC port) — with one generic test each:
//!
//! * every Accept header a Prometheus release sends (2.0 to 3.x, plus no header, `*/*` and a
//!   bare OpenMetrics type) gets the Content-Type written out below (the Go `expfmt`
//!   negotiation, not our own `negotiate`), and a body that an independent parser accepts:
//!   `promtool check metrics` for text 0.0.4, the Python client's strict OpenMetrics parser
//!   for OpenMetrics 1.0.0 and 0.0.1, prost for delimited protobuf; each body shows the same
//!   value for a known counter;
//! * `HEAD` answers like `GET` without a body, other methods get 405 with `Allow`;
//! * a real Prometheus scraping the demo ingests every series the demo exposes, `_bucket`,
//!   `_count` and `_sum` included, and nothing else (its own `up`/`scrape_*` aside).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use common::{ActixDemoServer, AxumDemoServer, Demo, TonicDemoServer};
use promenade_core::encoding::protobuf::{decode_delimited, model};
use promenade_tests::{
    FIRST_SCRAPE_TIMEOUT, PROMTOOL, PYTHON_PROMETHEUS_CLIENT, PrometheusServer, ScrapeTarget,
    find_family, http_get, http_request, or_skip, promtool_check_metrics, python_openmetrics_parse,
    require_tool,
};
use promenade_tonic_demo::{DemoClient, Ping};

const SETTLE: Duration = Duration::from_secs(10);

const OM1: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=";
const OM0: &str = "application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=";
const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8; escaping=";
const PROTO: &str = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=";
const U: &str = "underscores";
const UTF8: &str = "allow-utf-8";

/// (who sends it, Accept header or `None` for no header, expected Content-Type as
/// `(prefix, escaping)`).
type AcceptCase = (
    &'static str,
    Option<&'static str>,
    (&'static str, &'static str),
);

/// The Accept header of every Prometheus release, and the defaults: no header or `*/*` gets
/// text 0.0.4, a bare OpenMetrics type means version 0.0.1 (as in Go). The expected escaping
/// follows the Go implementation: the last `escaping=` seen up to the chosen entry, else
/// `underscores`.
const ACCEPT_CASES: &[AcceptCase] = &[
    (
        "Prometheus >= 3.4",
        Some(
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        ),
        (OM1, UTF8),
    ),
    (
        "Prometheus >= 3.4, protobuf first",
        Some(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
        ),
        (PROTO, U),
    ),
    (
        "Prometheus 3.0-3.2",
        Some(
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;q=0.2",
        ),
        (OM1, UTF8),
    ),
    (
        "Prometheus 3.3",
        Some(
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;q=0.2",
        ),
        (OM1, UTF8),
    ),
    (
        "Prometheus 3.0-3.2, protobuf first",
        Some(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.2,*/*;q=0.1",
        ),
        (PROTO, UTF8),
    ),
    (
        "Prometheus 3.3, protobuf first",
        Some(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.2,*/*;q=0.1",
        ),
        (PROTO, UTF8),
    ),
    (
        "Prometheus 2.0-2.4",
        Some("text/plain;version=0.0.4;q=1,*/*;q=0.1"),
        (TEXT, U),
    ),
    (
        "Prometheus 2.5-2.33",
        Some(
            "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        ),
        (OM0, U),
    ),
    (
        "Prometheus 2.34-2.48",
        Some(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        ),
        (OM1, U),
    ),
    (
        "Prometheus 2.40",
        Some(
            "application/openmetrics-text;version=1.0.0;q=0.75,application/openmetrics-text;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        ),
        (OM1, U),
    ),
    (
        "Prometheus 2.40, native histograms",
        Some(
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        ),
        (PROTO, U),
    ),
    (
        "Prometheus 2.41-2.48, native histograms",
        Some(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        ),
        (PROTO, U),
    ),
    (
        "Prometheus 2.49-2.54",
        Some(
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        ),
        (OM1, U),
    ),
    (
        "Prometheus 2.49.0 (*/*;q=2 bug: */* matches no format, the next entry wins)",
        Some(
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=2",
        ),
        (OM1, U),
    ),
    (
        "Prometheus 2.49-2.54, native histograms",
        Some(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
        ),
        (PROTO, U),
    ),
    (
        "Prometheus 2.55, utf8-names",
        Some(
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;q=0.2",
        ),
        (OM1, UTF8),
    ),
    (
        "Prometheus 2.55, utf8-names (escaping on */* too)",
        Some(
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;escaping=allow-utf-8;q=0.2",
        ),
        (OM1, UTF8),
    ),
    (
        "Prometheus 2.55, utf8-names and native histograms",
        Some(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.4,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.2,*/*;q=0.1",
        ),
        (PROTO, UTF8),
    ),
    ("no Accept header", None, (TEXT, U)),
    ("*/*", Some("*/*"), (TEXT, U)),
    (
        "bare OpenMetrics type (Go: version 0.0.1)",
        Some("application/openmetrics-text"),
        (OM0, U),
    ),
];

/// A counter sample the demo must show after [`Conformance::traffic`].
struct Probe {
    /// Family name as the OpenMetrics parser reports it (counters without `_total`).
    family: &'static str,
    /// Sample (and protobuf family) name.
    sample: &'static str,
    labels: Vec<(&'static str, &'static str)>,
    value: f64,
}

impl Probe {
    /// `name{labels}` as in text 0.0.4 (labels in the order given).
    fn text_labels(&self) -> String {
        self.labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect::<Vec<_>>()
            .join(",")
    }
}

trait Conformance: Demo {
    /// Sends a fixed bit of traffic of every kind; returns a counter it must have moved.
    fn traffic(&self) -> Probe;
}

fn http_traffic<D: Demo>(demo: &D) -> Probe {
    for (method, path, status) in [
        ("GET", "/", 200),
        ("GET", "/users/1", 200),
        ("GET", "/no/such/route", 404),
        ("GET", "/panic", 500),
        ("GET", "/stream", 200),
        ("POST", "/echo", 200),
        ("DELETE", "/", 405),
    ] {
        let body: &[u8] = if method == "POST" { b"x" } else { b"" };
        let resp = http_request(method, &demo.url(path), &[], body).unwrap();
        assert_eq!(resp.status, status, "{method} {path}");
    }
    Probe {
        family: "http_requests",
        sample: "http_requests_total",
        labels: vec![
            ("method", "GET"),
            ("route", "/users/{id}"),
            ("status", "200"),
        ],
        value: 1.0,
    }
}

impl Conformance for AxumDemoServer {
    fn traffic(&self) -> Probe {
        http_traffic(self)
    }
}

impl Conformance for ActixDemoServer {
    fn traffic(&self) -> Probe {
        http_traffic(self)
    }
}

impl Conformance for TonicDemoServer {
    fn traffic(&self) -> Probe {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut c = DemoClient::new(self.channel().await);
            let ping = |count| Ping {
                text: "conformance".into(),
                count,
                ..Default::default()
            };
            for _ in 0..3 {
                c.unary(ping(0)).await.unwrap();
            }
            let err = c
                .unary(Ping {
                    fail_code: ::tonic::Code::NotFound as i32,
                    ..ping(0)
                })
                .await
                .unwrap_err();
            assert_eq!(err.code(), ::tonic::Code::NotFound);
            c.client_stream(tokio_stream::iter(vec![ping(0), ping(0)]))
                .await
                .unwrap();
            let mut s = c.server_stream(ping(2)).await.unwrap().into_inner();
            while s.message().await.unwrap().is_some() {}
            let mut s = c
                .bidi(tokio_stream::iter(vec![ping(0)]))
                .await
                .unwrap()
                .into_inner();
            while s.message().await.unwrap().is_some() {}
            let mut s = c.fail_mid_stream(ping(1)).await.unwrap().into_inner();
            assert!(s.message().await.unwrap().is_some());
            assert!(s.message().await.is_err());
        });
        Probe {
            family: "grpc_server_handled",
            sample: "grpc_server_handled_total",
            labels: vec![
                ("grpc_type", "unary"),
                ("grpc_service", "promenade.demo.v1.Demo"),
                ("grpc_method", "Unary"),
                ("grpc_code", "OK"),
            ],
            value: 3.0,
        }
    }
}

/// Starts the demo, sends its traffic and waits until the scrape shows the probe.
fn started_with_traffic<D: Conformance>() -> (D, Probe) {
    let demo = D::start();
    let probe = demo.traffic();
    let labels = probe.text_labels();
    let text = demo.scrape_until(SETTLE, |t| {
        common::sample(t, probe.sample, &labels) == Some(probe.value)
    });
    assert_eq!(
        common::sample(&text, probe.sample, &labels),
        Some(probe.value),
        "{}: {text}",
        D::ADAPTER
    );
    (demo, probe)
}

/// Family names of a text 0.0.4 exposition (`# TYPE` lines).
fn text_families(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .map(str::to_owned)
        .collect()
}

fn every_accept_header_gets_its_format_and_a_body_the_reference_parser_accepts<D: Conformance>() {
    require_tool!(PROMTOOL);
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let (demo, probe) = started_with_traffic::<D>();
    let text = demo.scrape();
    let families = text_families(&text);
    assert!(families.contains(probe.sample), "{text}");
    // Each distinct body is parsed once (process metrics make most bodies distinct).
    let mut checked: HashSet<Vec<u8>> = HashSet::new();
    let mut formats = BTreeSet::new();
    for (who, accept, (prefix, escaping)) in ACCEPT_CASES {
        let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
        let resp = http_get(&demo.url("/metrics"), &headers).unwrap();
        let what = format!("{}: {who}: Accept: {accept:?}", D::ADAPTER);
        assert_eq!(resp.status, 200, "{what}");
        let want = format!("{prefix}{escaping}");
        assert_eq!(resp.header("content-type"), Some(want.as_str()), "{what}");
        assert_eq!(resp.header_all("content-type").len(), 1, "{what}");
        formats.insert(*prefix);
        if !checked.insert(resp.body.clone()) {
            continue;
        }
        if *prefix == TEXT {
            let body = resp.text();
            promtool_check_metrics(&body).unwrap_or_else(|e| panic!("{what}: {e}\n{body}"));
            assert_eq!(
                common::sample(&body, probe.sample, &probe.text_labels()),
                Some(probe.value),
                "{what}"
            );
        } else if *prefix == OM1 || *prefix == OM0 {
            let body = resp.text();
            let parsed =
                python_openmetrics_parse(&body).unwrap_or_else(|e| panic!("{what}: {e}\n{body}"));
            let family = find_family(&parsed, probe.family)
                .unwrap_or_else(|| panic!("{what}: no family {}", probe.family));
            assert_eq!(family.kind, "counter", "{what}");
            let sample = family
                .sample(probe.sample, &probe.labels)
                .unwrap_or_else(|| panic!("{what}: no sample {}", probe.sample));
            assert_eq!(sample.value, probe.value, "{what}");
            // As many families and samples as the text exposition.
            assert_eq!(parsed.len(), families.len(), "{what}");
            let samples: usize = parsed.iter().map(|f| f.samples.len()).sum();
            assert_eq!(samples, common::sample_lines(&text), "{what}");
        } else {
            assert_eq!(*prefix, PROTO);
            let decoded = decode_delimited(&resp.body)
                .unwrap_or_else(|e| panic!("{what}: not delimited protobuf: {e}"));
            let names: BTreeSet<String> = decoded.iter().filter_map(|f| f.name.clone()).collect();
            assert_eq!(names, families, "{what}: protobuf and text families differ");
            let family = decoded
                .iter()
                .find(|f| f.name.as_deref() == Some(probe.sample))
                .unwrap();
            assert_eq!(family.r#type, Some(model::MetricType::Counter as i32));
            let value = family
                .metric
                .iter()
                .find(|m| {
                    probe.labels.iter().all(|(k, v)| {
                        m.label.iter().any(|l| {
                            l.name.as_deref() == Some(*k) && l.value.as_deref() == Some(*v)
                        })
                    })
                })
                .and_then(|m| m.counter.as_ref())
                .and_then(|c| c.value);
            assert_eq!(value, Some(probe.value), "{what}");
        }
    }
    // Every format was served: text, OpenMetrics 1.0.0 and 0.0.1, protobuf.
    assert_eq!(formats.len(), 4, "{}", D::ADAPTER);

    // HEAD: same head, no body. Other methods: 405 with Allow.
    let head = http_request("HEAD", &demo.url("/metrics"), &[], b"").unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), Some(&*format!("{TEXT}{U}")));
    assert!(head.body.is_empty());
    for method in ["POST", "PUT", "DELETE"] {
        let resp = http_request(method, &demo.url("/metrics"), &[], b"x").unwrap();
        assert_eq!(resp.status, 405, "{} {method}", D::ADAPTER);
        assert_eq!(resp.header("allow"), Some("GET, HEAD"), "{method}");
    }
}

/// The series of a text 0.0.4 exposition as `name{label="value",...}` with labels sorted
/// and `le`/`quantile` values normalised as numbers (so `1` and `1.0` are the same).
fn exposed_series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let (name, rest) = match line.find(['{', ' ']) {
                Some(i) => line.split_at(i),
                None => (line, ""),
            };
            let mut labels = BTreeMap::new();
            if let Some(mut rest) = rest.strip_prefix('{') {
                // key="value" pairs with \\, \" and \n escapes in the value.
                while !rest.starts_with('}') {
                    let (key, after) = rest.split_once("=\"").expect("label");
                    let mut value = String::new();
                    let mut chars = after.char_indices();
                    let end = loop {
                        let (i, c) = chars.next().expect("unterminated label value");
                        match c {
                            '\\' => match chars.next().expect("escape").1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            '"' => break i,
                            c => value.push(c),
                        }
                    };
                    labels.insert(key.to_owned(), value);
                    rest = after[end + 1..].trim_start_matches(',');
                }
            }
            key(name, labels)
        })
        .collect()
}

fn key(name: &str, mut labels: BTreeMap<String, String>) -> String {
    for l in ["le", "quantile"] {
        if let Some(v) = labels.get_mut(l) {
            *v = promenade_tests::parse_prom_float(v)
                .unwrap_or_else(|| panic!("{l}={v:?}"))
                .to_string();
        }
    }
    let labels = labels
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(",");
    format!("{name}{{{labels}}}")
}

/// The series Prometheus stored for `job`, without `job`/`instance` and its own
/// `up`/`scrape_*` series.
fn ingested_series(prom: &PrometheusServer, job: &str) -> BTreeSet<String> {
    prom.series(&format!("{{job=\"{job}\"}}"))
        .unwrap()
        .into_iter()
        .filter_map(|mut labels| {
            let name = labels.remove("__name__")?;
            labels.remove("job");
            labels.remove("instance");
            (name != "up" && !name.starts_with("scrape_")).then(|| key(&name, labels))
        })
        .collect()
}

fn names(series: &BTreeSet<String>) -> BTreeSet<&str> {
    series
        .iter()
        .map(|s| s.split('{').next().unwrap())
        .collect()
}

fn prometheus_ingests_every_exposed_series<D: Conformance>() {
    let (demo, probe) = started_with_traffic::<D>();
    let job = D::ADAPTER;
    let prom = or_skip!(PrometheusServer::start(&[ScrapeTarget::new(
        job,
        demo.port()
    )]));
    prom.wait_for_up(job, FIRST_SCRAPE_TIMEOUT).unwrap();
    let promql = format!("{}{{job=\"{job}\",{}}}", probe.sample, probe.text_labels());
    prom.wait_for_value(&promql, |v| v == probe.value, FIRST_SCRAPE_TIMEOUT)
        .unwrap();
    let exposed = exposed_series(&demo.scrape());
    let ingested = ingested_series(&prom, job);
    println!(
        "{job}: {} series exposed ({} sample names), {} ingested by Prometheus",
        exposed.len(),
        names(&exposed).len(),
        ingested.len()
    );
    assert_eq!(
        names(&ingested),
        names(&exposed),
        "{job}: sample names differ (left: Prometheus, right: exposed)"
    );
    let missing: Vec<_> = exposed.difference(&ingested).collect();
    let extra: Vec<_> = ingested.difference(&exposed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{job}: not ingested: {missing:#?}\nonly in Prometheus: {extra:#?}"
    );
    for suffix in ["_bucket", "_count", "_sum"] {
        assert!(
            names(&exposed).iter().any(|n| n.ends_with(suffix)),
            "{job}: no {suffix} series"
        );
    }
}

macro_rules! conformance {
    ($adapter:ident, $demo:ty) => {
        mod $adapter {
            use super::*;

            #[test]
            fn every_accept_header_gets_its_format_and_a_body_the_reference_parser_accepts() {
                super::every_accept_header_gets_its_format_and_a_body_the_reference_parser_accepts::<$demo>();
            }

            #[test]
            fn prometheus_ingests_every_exposed_series() {
                super::prometheus_ingests_every_exposed_series::<$demo>();
            }
        }
    };
}

conformance!(axum, AxumDemoServer);
conformance!(actix, ActixDemoServer);
conformance!(tonic, TonicDemoServer);

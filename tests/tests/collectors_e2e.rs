//! The process and Tokio collectors and quantile summaries, checked by tools we did not
//! write: `promtool check metrics` and the Python reference parsers.

use std::time::Duration;

use promenade_core::collectors::{TokioCollector, register_process_collector};
use promenade_core::{Format, QuantileOptions, Registry};
use promenade_tests::{
    PROMTOOL, PYTHON_PROMETHEUS_CLIENT, find_family, promtool_check_metrics,
    python_openmetrics_parse, python_text_parse, require_tool,
};

fn registry(rt: &tokio::runtime::Runtime) -> Registry {
    let r = Registry::new();
    register_process_collector(&r).unwrap();
    r.register(TokioCollector::new(rt.handle().clone()))
        .unwrap();
    let f = r
        .quantile_summary_family(
            "rpc_duration_seconds",
            "RPC latency in seconds.",
            &["method"],
            QuantileOptions::new(&[(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)])
                .unwrap()
                .with_max_age(Duration::from_secs(60))
                .unwrap(),
        )
        .unwrap();
    for i in 1..=1000 {
        f.get(&["get"]).unwrap().observe(f64::from(i) / 1000.0);
    }
    // A series without observations in its window: NaN quantiles.
    f.get(&["put"]).unwrap();
    r
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

#[test]
fn promtool_accepts_collectors_and_quantile_summaries() {
    require_tool!(PROMTOOL);
    let rt = runtime();
    let text = registry(&rt).encode_to_string(Format::Text).unwrap();
    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
}

#[test]
fn python_parsers_read_collectors_and_quantile_summaries() {
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let rt = runtime();
    let r = registry(&rt);
    for (format, families) in [
        (
            Format::OpenMetrics,
            python_openmetrics_parse(&r.encode_to_string(Format::OpenMetrics).unwrap()),
        ),
        (
            Format::Text,
            python_text_parse(&r.encode_to_string(Format::Text).unwrap()),
        ),
    ] {
        let families = families.unwrap_or_else(|e| panic!("{format:?}: {e}"));
        let summary = find_family(&families, "rpc_duration_seconds").unwrap();
        assert_eq!(summary.kind, "summary");
        let q = |method: &str, quantile: &str| {
            summary
                .samples
                .iter()
                .find(|s| {
                    s.labels.get("method").map(String::as_str) == Some(method)
                        && s.labels.get("quantile").map(String::as_str) == Some(quantile)
                })
                .map(|s| s.value)
        };
        let median = q("get", "0.5").unwrap();
        assert!((median - 0.5).abs() <= 0.05, "{format:?}: median {median}");
        let p99 = q("get", "0.99").unwrap();
        assert!((p99 - 0.99).abs() <= 0.001 + 1e-9, "{format:?}: p99 {p99}");
        assert!(q("put", "0.5").unwrap().is_nan());

        let cpu = find_family(&families, "process_cpu_seconds").unwrap();
        assert_eq!(cpu.kind, "counter");
        assert_eq!(
            find_family(&families, "process_open_fds").unwrap().help,
            "Number of open file descriptors."
        );
        let workers = find_family(&families, "tokio_workers").unwrap();
        assert_eq!(workers.samples[0].value, 2.0);
        let park = find_family(&families, "tokio_worker_park").unwrap();
        assert_eq!(park.kind, "counter");
        assert_eq!(
            park.samples
                .iter()
                .filter(|s| s.name.ends_with("_total"))
                .count(),
            2
        );
    }
}

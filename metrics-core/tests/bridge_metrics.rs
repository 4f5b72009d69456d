//! The `metrics` facade recorder: every metric kind, HELP/UNIT, hostile names, the series
//! cap, label-key sets and name conflicts, all through `metrics::with_local_recorder` (no
//! global state).
#![cfg(feature = "bridge-metrics")]

use promenade_core::bridge::metrics::{Matcher, PrometheusRecorder};
use promenade_core::name::{is_valid_label_name, is_valid_metric_name};
use promenade_core::{Buckets, Format, QuantileOptions, Registry};

fn recorder(registry: &Registry) -> PrometheusRecorder {
    PrometheusRecorder::builder(registry).build().unwrap()
}

fn text(registry: &Registry) -> String {
    let text = registry.encode_to_string(Format::Text).unwrap();
    check_exposition(&text);
    // OpenMetrics and protobuf run the same scrape-time checks; they must pass too.
    registry.encode_to_string(Format::OpenMetrics).unwrap();
    #[cfg(feature = "protobuf")]
    registry.encode_to_vec(Format::Protobuf).unwrap();
    text
}

/// Every sample line is `name{label="value",...} number` with valid names and no label
/// name twice: what promtool checks of a line's shape.
fn check_exposition(text: &str) {
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect(line);
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "{line}"
        );
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}').expect(line)),
            None => (series, ""),
        };
        assert!(is_valid_metric_name(name), "metric name in {line:?}");
        let mut seen = Vec::new();
        let mut rest = labels;
        while !rest.is_empty() {
            let (label, after) = rest.split_once("=\"").expect(line);
            assert!(
                is_valid_label_name(label),
                "label name {label:?} in {line:?}"
            );
            assert!(!seen.contains(&label), "label {label:?} twice in {line:?}");
            seen.push(label);
            // Skip the escaped value up to its closing quote.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in after.char_indices() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.expect(line);
            rest = after[end + 1..]
                .strip_prefix(',')
                .unwrap_or(&after[end + 1..]);
        }
    }
}

#[test]
fn every_kind() {
    let registry = Registry::new();
    let recorder = PrometheusRecorder::builder(&registry)
        .buckets_for(
            Matcher::Prefix("size".into()),
            Buckets::new(vec![10.0, 100.0]).unwrap(),
        )
        .summary_for(
            Matcher::Suffix("_pause".into()),
            QuantileOptions::new(&[(0.5, 0.05)]).unwrap(),
        )
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        let c = metrics::counter!("jobs_total", "queue" => "mail");
        c.increment(2);
        c.increment(3);
        metrics::counter!("synced").absolute(10);
        metrics::counter!("synced").absolute(7); // never goes down
        metrics::counter!("synced").absolute(12);
        let g = metrics::gauge!("depth");
        g.set(5.0);
        g.increment(2.5);
        g.decrement(1.0);
        metrics::histogram!("latency").record(0.3);
        metrics::histogram!("size_bytes").record(50.0);
        metrics::histogram!("gc_pause").record(4.0);
    });
    let text = text(&registry);
    assert!(text.contains("# TYPE jobs_total counter\n"), "{text}");
    assert!(text.contains("jobs_total{queue=\"mail\"} 5\n"), "{text}");
    assert!(text.contains("synced_total 12\n"), "{text}");
    assert!(text.contains("# TYPE depth gauge\ndepth 6.5\n"), "{text}");
    assert!(text.contains("latency_bucket{le=\"0.5\"} 1\n"), "{text}"); // default buckets
    assert!(text.contains("size_bytes_bucket{le=\"100\"} 1\n"), "{text}");
    assert!(!text.contains("size_bytes_bucket{le=\"0.5\"}"), "{text}");
    assert!(text.contains("# TYPE gc_pause summary\n"), "{text}");
    assert!(text.contains("gc_pause{quantile=\"0.5\"} 4\n"), "{text}");
}

#[cfg(feature = "protobuf")]
#[test]
fn native_histograms_by_option() {
    let registry = Registry::new();
    let native_recorder = PrometheusRecorder::builder(&registry)
        .native_histograms(promenade_core::NativeBuckets::default())
        .build()
        .unwrap();
    let plain = Registry::new();
    let plain_recorder = recorder(&plain);
    for r in [&native_recorder, &plain_recorder] {
        metrics::with_local_recorder(r, || {
            for v in [0.001, 0.01, 0.1, 1.0, 10.0] {
                metrics::histogram!("rpc_seconds").record(v);
            }
        });
    }
    // Text keeps the classic buckets; protobuf carries the native ones too.
    assert!(text(&registry).contains("rpc_seconds_bucket{le=\"+Inf\"} 5\n"));
    let native = registry.encode_to_vec(Format::Protobuf).unwrap();
    let classic = plain.encode_to_vec(Format::Protobuf).unwrap();
    assert!(
        native.len() > classic.len() + 10,
        "{} vs {}",
        native.len(),
        classic.len()
    );
}

#[test]
fn help_and_unit() {
    let registry = Registry::new();
    let recorder = recorder(&registry);
    metrics::with_local_recorder(&recorder, || {
        metrics::describe_histogram!("fetch", metrics::Unit::Seconds, "Fetch latency.");
        metrics::histogram!("fetch").record(0.2);
        metrics::describe_counter!("sent_total", metrics::Unit::Bytes, "Bytes sent.");
        metrics::counter!("sent_total").increment(100);
        // Already ends with its unit: no second suffix.
        metrics::describe_gauge!("mem_bytes", metrics::Unit::Bytes, "Memory.");
        metrics::gauge!("mem_bytes").set(1.0);
        // A count has no unit.
        metrics::describe_gauge!("items", metrics::Unit::Count, "Items.");
        metrics::gauge!("items").set(3.0);
        // Described after first use: renamed, the value kept.
        metrics::counter!("late").increment(4);
        metrics::describe_counter!("late", metrics::Unit::Seconds, "Late help.");
    });
    let text = text(&registry);
    assert!(
        text.contains("# HELP fetch_seconds Fetch latency.\n"),
        "{text}"
    );
    assert!(text.contains("fetch_seconds_count 1\n"), "{text}");
    assert!(
        text.contains("# HELP sent_bytes_total Bytes sent.\n"),
        "{text}"
    );
    assert!(text.contains("sent_bytes_total 100\n"), "{text}");
    assert!(text.contains("mem_bytes 1\n"), "{text}");
    assert!(text.contains("# HELP items Items.\nitems 3\n") || text.contains("items 3\n"));
    assert!(
        text.contains("# HELP late_seconds_total Late help.\n"),
        "{text}"
    );
    assert!(text.contains("late_seconds_total 4\n"), "{text}");
    assert!(!text.contains("late_total"), "{text}");
    let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
    assert!(om.contains("# UNIT fetch_seconds seconds\n"), "{om}");
    assert!(om.contains("# UNIT sent_bytes bytes\n"), "{om}");
    assert!(om.contains("# UNIT late_seconds seconds\n"), "{om}");
    assert!(!om.contains("# UNIT items"), "{om}");
}

#[test]
fn hostile_names_are_escaped() {
    let registry = Registry::builder()
        .const_label("region", "eu")
        .build()
        .unwrap();
    let recorder = recorder(&registry);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("http.server-requests", "a-b" => "1").increment(1);
        metrics::counter!("").increment(1);
        metrics::counter!("9lives", "" => "x", "0k" => "y").increment(1);
        metrics::histogram!("h", "le" => "1", "__name__" => "evil").record(1.0);
        metrics::gauge!("g", "region" => "us", "quote" => "a\"b\\c\nd").set(1.0);
        metrics::gauge!("g", "x.y" => "1", "x_y" => "2").set(2.0);
        metrics::counter!("ünïcode ✓").increment(1);
    });
    let text = text(&registry);
    assert!(
        text.contains("http_server_requests_total{region=\"eu\",a_b=\"1\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("unnamed_metric_total{region=\"eu\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("_9lives_total{region=\"eu\",_0k=\"y\",unnamed_label=\"x\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("h_count{region=\"eu\",exported___name__=\"evil\",exported_le=\"1\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("g{region=\"eu\",exported_region=\"us\",quote=\"a\\\"b\\\\c\\nd\"} 1\n"),
        "{text}"
    );
    // Two keys naming the same label: the first wins.
    assert!(text.contains("g{region=\"eu\",x_y=\"1\"} 2\n"), "{text}");
    assert!(
        text.contains("_n_code___total{region=\"eu\"} 1\n"),
        "{text}"
    );
}

#[test]
fn utf8_names_when_allowed() {
    let registry = Registry::new();
    let recorder = PrometheusRecorder::builder(&registry)
        .allow_utf8_names()
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("http.server.requests", "http.method" => "GET").increment(1);
        metrics::counter!("bad{name}").increment(1);
    });
    let text = text(&registry);
    assert!(
        text.contains("http_server_requests_total{http_method=\"GET\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("bad_name__total 1\n"), "{text}");
    let negotiated =
        promenade_core::encoding::negotiate(Some("text/plain;version=1.0.0;escaping=allow-utf-8"));
    let body = String::from_utf8(registry.encode_negotiated(&negotiated).unwrap()).unwrap();
    assert!(
        body.contains("{\"http.server.requests_total\",\"http.method\"=\"GET\"} 1\n"),
        "{body}"
    );
}

#[test]
fn distinct_label_values_are_bounded() {
    let registry = Registry::new();
    let recorder = PrometheusRecorder::builder(&registry)
        .max_series(1_000)
        .build()
        .unwrap();
    metrics::with_local_recorder(&recorder, || {
        for i in 0..100_000u32 {
            metrics::counter!("requests", "user" => i.to_string()).increment(1);
        }
        // A new name past the cap is dropped, not created.
        metrics::counter!("too_late").increment(1);
    });
    assert_eq!(recorder.series(), 1_000);
    let text = text(&registry);
    assert_eq!(text.matches("requests_total{").count(), 1_001); // + the overflow series
    assert!(
        text.contains("requests_total{user=\"__overflow__\"} 99000\n"),
        "overflow"
    );
    assert!(!text.contains("too_late"));
    assert!(text.contains("promenade_metrics_bridge_dropped_total{reason=\"series_limit\"} 1\n"));
}

#[test]
fn label_key_sets_share_one_family() {
    let registry = Registry::new();
    let recorder = recorder(&registry);
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("errors").increment(1);
        metrics::counter!("errors", "kind" => "io").increment(2);
        metrics::counter!("errors", "kind" => "io", "op" => "read").increment(3);
        // An empty value is an absent label in Prometheus: the series without `kind`.
        metrics::counter!("errors", "kind" => "").increment(10);
        // Key order does not matter.
        metrics::counter!("errors", "op" => "read", "kind" => "io").increment(30);
    });
    let text = text(&registry);
    assert_eq!(
        text.matches("# TYPE errors_total counter").count(),
        1,
        "{text}"
    );
    assert!(text.contains("errors_total 11\n"), "{text}");
    assert!(text.contains("errors_total{kind=\"io\"} 2\n"), "{text}");
    assert!(
        text.contains("errors_total{kind=\"io\",op=\"read\"} 33\n"),
        "{text}"
    );
    assert!(!text.contains("kind=\"\""), "{text}");
}

#[test]
fn conflicts_are_dropped_and_counted() {
    let registry = Registry::new();
    let http = registry
        .counter_family("http_requests_total", "From the HTTP layer.", &["method"])
        .unwrap();
    http.get(&["GET"]).unwrap().inc();
    let recorder = recorder(&registry);
    metrics::with_local_recorder(&recorder, || {
        // Taken by another family of the registry.
        metrics::counter!("http_requests_total", "x" => "1").increment(5);
        // A counter, then a gauge of the same name.
        metrics::counter!("mixed").increment(1);
        metrics::gauge!("mixed").set(9.0);
        metrics::histogram!("mixed").record(1.0);
    });
    let text = text(&registry);
    assert!(
        text.contains("http_requests_total{method=\"GET\"} 1\n"),
        "{text}"
    );
    assert!(!text.contains("x=\"1\""), "{text}");
    assert!(text.contains("mixed_total 1\n"), "{text}");
    assert!(
        text.contains("promenade_metrics_bridge_dropped_total{reason=\"name_conflict\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("promenade_metrics_bridge_dropped_total{reason=\"type_conflict\"} 2\n"),
        "{text}"
    );
}

#[test]
fn handles_are_cached_and_shared() {
    let registry = Registry::new();
    let recorder = recorder(&registry);
    metrics::with_local_recorder(&recorder, || {
        let kept = metrics::counter!("kept", "k" => "v");
        for _ in 0..10 {
            metrics::counter!("kept", "k" => "v").increment(1);
        }
        kept.increment(1);
    });
    assert_eq!(recorder.series(), 1);
    assert!(text(&registry).contains("kept_total{k=\"v\"} 11\n"));
}

#[test]
fn threads_record_concurrently() {
    let registry = Registry::new();
    let recorder = recorder(&registry);
    std::thread::scope(|s| {
        for t in 0..4 {
            let recorder = &recorder;
            s.spawn(move || {
                metrics::with_local_recorder(recorder, || {
                    for i in 0..1_000 {
                        metrics::counter!("work", "shard" => (i % 8).to_string()).increment(1);
                        metrics::histogram!("work_seconds", "t" => t.to_string()).record(0.01);
                    }
                })
            });
        }
    });
    let text = text(&registry);
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("work_total{"))
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 4_000.0);
    assert_eq!(recorder.series(), 12);
}

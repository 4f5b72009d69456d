//! Exposition format rules of text 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>) and OpenMetrics 1.0
//! (<https://github.com/prometheus/OpenMetrics/blob/v1.0.0/specification/OpenMetrics.md>),
//! checked against exact expected bytes.

use promenade_core::encoding::{write_go_float, write_openmetrics_float};
use promenade_core::{Buckets, Family, Format, GaugeHistogram, Registry, States};

fn go(v: f64) -> String {
    let mut s = String::new();
    write_go_float(&mut s, v);
    s
}

fn om(v: f64) -> String {
    let mut s = String::new();
    write_openmetrics_float(&mut s, v);
    s
}

#[test]
fn go_float_vectors() {
    let cases = [
        (1.0, "1"),
        (1e6, "1e+06"),
        (999_999.5, "999999.5"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (123_456_789.0, "1.23456789e+08"),
        (1.458255915e9, "1.458255915e+09"),
        (0.0, "0"),
        (-0.0, "-0"),
        (-2.5, "-2.5"),
        (1e21, "1e+21"),
        (1e-300, "1e-300"),
        (123456.0, "123456"),
        (0.1, "0.1"),
        (f64::MAX, "1.7976931348623157e+308"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
    ];
    for (v, want) in cases {
        assert_eq!(go(v), want, "formatting {v:e}");
    }
}

#[test]
fn openmetrics_canonical_float_vectors() {
    let cases = [
        (0.0, "0.0"),
        (0.001, "0.001"),
        (0.01, "0.01"),
        (0.1, "0.1"),
        (0.95, "0.95"),
        (0.99, "0.99"),
        (0.999, "0.999"),
        (1.0, "1.0"),
        (1.7, "1.7"),
        (10.0, "10.0"),
        (1e-10, "1e-10"),
        (1e-09, "1e-09"),
        (1e-05, "1e-05"),
        (0.0001, "0.0001"),
        (100000.0, "100000.0"),
        (1e6, "1e+06"),
        (1e10, "1e+10"),
        (1e23, "1e+23"),
        (f64::INFINITY, "+Inf"),
    ];
    for (v, want) in cases {
        assert_eq!(om(v), want, "formatting {v:e}");
    }
}

#[test]
fn text_counter_histogram_layout() {
    let r = Registry::new();
    let c = r
        .counter_family("jobs_total", "Jobs done.", &["queue"])
        .unwrap();
    c.get(&["a"]).unwrap().inc();
    let h = r
        .histogram(
            "lat_seconds",
            "Latency.",
            Buckets::new(vec![0.5, 1.0]).unwrap(),
        )
        .unwrap();
    h.observe(0.25);
    h.observe(2.0);
    let text = r.encode_to_string(Format::Text).unwrap();
    assert_eq!(
        text,
        "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total{queue=\"a\"} 1\n\
         # HELP lat_seconds Latency.\n# TYPE lat_seconds histogram\n\
         lat_seconds_bucket{le=\"0.5\"} 1\nlat_seconds_bucket{le=\"1\"} 1\nlat_seconds_bucket{le=\"+Inf\"} 2\n\
         lat_seconds_sum 2.25\nlat_seconds_count 2\n"
    );
}

#[test]
fn openmetrics_counter_unit_eof_created() {
    let r = Registry::builder().created_samples(true).build().unwrap();
    let f = Family::<promenade_core::Counter>::builder("io_bytes_total", "Bytes moved.")
        .unit("bytes")
        .build()
        .unwrap();
    f.get(&[] as &[&str]).unwrap().inc_by(5.0).unwrap();
    r.register(f).unwrap();
    let text = r.encode_to_string(Format::OpenMetrics).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "# TYPE io_bytes counter");
    assert_eq!(lines[1], "# UNIT io_bytes bytes");
    assert_eq!(lines[2], "# HELP io_bytes Bytes moved.");
    assert_eq!(lines[3], "io_bytes_total 5.0");
    assert!(lines[4].starts_with("io_bytes_created 1."), "{}", lines[4]);
    assert_eq!(lines[5], "# EOF");
    assert!(text.ends_with("# EOF\n"));
    // `_created` never appears in 0.0.4, which has no created timestamps.
    assert!(
        !r.encode_to_string(Format::Text)
            .unwrap()
            .contains("_created")
    );
}

#[test]
fn no_double_spaces_or_trailing_whitespace() {
    let r = Registry::builder()
        .prefix("app")
        .const_label("env", "prod")
        .build()
        .unwrap();
    r.gauge("g", "").unwrap().set(1.0);
    r.stateset("mode", "M.", States::new(["a", "b"]).unwrap())
        .unwrap()
        .set("a")
        .unwrap();
    r.info("build", "B.", &[("v", "1")]).unwrap();
    for format in [Format::Text, Format::OpenMetrics] {
        let text = r.encode_to_string(format).unwrap();
        for line in text.lines() {
            assert!(!line.contains("  "), "double space in {line:?}");
            assert_eq!(line, line.trim_end(), "trailing whitespace in {line:?}");
            assert!(!line.is_empty(), "blank line in {format:?}");
        }
    }
    let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    // In OpenMetrics an empty HELP counts as absent, and a state set's state label is named
    // like the family.
    assert!(!om.contains("# HELP app_g"));
    assert!(om.contains("app_mode{env=\"prod\",app_mode=\"a\"} 1\n"));
    assert!(om.contains("app_build_info{env=\"prod\",v=\"1\"} 1\n"));
}

#[test]
fn histogram_le_last_and_cumulative() {
    let r = Registry::new();
    let f = r
        .histogram_family(
            "h",
            "H.",
            &["zone"],
            Buckets::new(vec![1.0, 2.0, 3.0]).unwrap(),
        )
        .unwrap();
    let h = f.get(&["z1"]).unwrap();
    for v in [0.5, 1.5, 1.7, 2.5, 9.0, f64::NAN] {
        h.observe(v);
    }
    let text = r.encode_to_string(Format::Text).unwrap();
    assert!(text.contains("h_bucket{zone=\"z1\",le=\"1\"} 1\n"));
    assert!(text.contains("h_bucket{zone=\"z1\",le=\"2\"} 3\n"));
    assert!(text.contains("h_bucket{zone=\"z1\",le=\"3\"} 4\n"));
    assert!(text.contains("h_bucket{zone=\"z1\",le=\"+Inf\"} 6\n"));
    assert!(text.contains("h_sum{zone=\"z1\"} NaN\n"));
}

#[test]
fn unlabelled_metrics_exported_from_creation() {
    let r = Registry::new();
    r.counter("c_total", "C.").unwrap();
    r.histogram("h", "H.", Buckets::default()).unwrap();
    let text = r.encode_to_string(Format::Text).unwrap();
    assert!(text.contains("c_total 0\n"));
    assert!(text.contains("h_count 0\n"));
}

#[test]
fn families_sorted_by_name_and_stable() {
    let r = Registry::new();
    r.gauge("zeta", "Z.").unwrap();
    r.gauge("alpha", "A.").unwrap();
    let f = r.counter_family("mid", "M.", &["k"]).unwrap();
    for k in ["b", "a", "c"] {
        f.get(&[k]).unwrap().inc();
    }
    let a = r.encode_to_string(Format::Text).unwrap();
    assert!(a.find("alpha").unwrap() < a.find("mid").unwrap());
    assert!(a.find("mid").unwrap() < a.find("zeta").unwrap());
    assert_eq!(a, r.encode_to_string(Format::Text).unwrap());
}

#[test]
fn bucket_labels_follow_each_layout_even_from_temporary_bounds() {
    use promenade_core::encoding::{FamilyHeader, HistogramValue, LabelSet, MetricEncoder};
    use promenade_core::{Collector, Descriptor, MetricType};
    struct TwoLayouts;
    impl Collector for TwoLayouts {
        fn descriptors(&self) -> Vec<Descriptor> {
            vec![]
        }
        fn collect(&self, enc: &mut MetricEncoder<'_>) {
            for (name, bound) in [("a_seconds", 1.0), ("b_seconds", 2.0)] {
                let bounds = vec![bound];
                enc.family(&FamilyHeader {
                    name,
                    help: "H.",
                    unit: None,
                    metric_type: MetricType::Histogram,
                });
                let value = HistogramValue {
                    bounds: &bounds,
                    cumulative: &[1],
                    count: 1,
                    sum: bound,
                    created: None,
                    native: None,
                    exemplars: None,
                    native_exemplars: &[],
                };
                enc.histogram(&LabelSet::empty(), &value);
            }
        }
    }
    let r = Registry::new();
    r.register(TwoLayouts).unwrap();
    let text = r.encode_to_string(Format::Text).unwrap();
    assert!(text.contains("a_seconds_bucket{le=\"1\"} 1\n"), "{text}");
    assert!(text.contains("b_seconds_bucket{le=\"2\"} 1\n"), "{text}");
}

#[test]
fn gauge_histogram_unobserve_of_nothing_changes_nothing() {
    let g = GaugeHistogram::default();
    g.unobserve(5.0);
    let s = g.snapshot();
    assert_eq!((s.count, s.sum), (0, 0.0));
}

#[test]
fn fuzz_gauge_histogram_unobserve_of_an_absent_value_keeps_buckets_cumulative() {
    // Found by the `encode` fuzz target: observe 0.005, then take away 21 (never added). The
    // count dropped to 0 while the finite buckets stayed at 1, so `+Inf` < `le="10"`.
    let g = GaugeHistogram::default();
    g.observe(0.005);
    g.unobserve(21.0);
    let s = g.snapshot();
    assert_eq!(s.count, 0);
    assert!(s.cumulative.iter().all(|&c| c == 0), "{:?}", s.cumulative);
    // A value in an empty bucket range takes the item from the lower bucket instead.
    g.observe(0.005);
    g.observe(3.0);
    g.unobserve(0.3); // bucket 0.5 holds nothing of its own
    let s = g.snapshot();
    assert_eq!(s.count, 1);
    assert!(
        s.cumulative.windows(2).all(|w| w[0] <= w[1]),
        "{:?}",
        s.cumulative
    );
    assert!(
        s.cumulative.iter().all(|&c| c <= s.count),
        "{:?}",
        s.cumulative
    );
}

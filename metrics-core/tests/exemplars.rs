//! Exemplars on counters and histogram buckets, and from `traceparent`: the OpenMetrics
//! exemplar rules, and timestamped exemplars for native histograms in protobuf.

use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
use promenade_core::{Buckets, Counter, EXEMPLAR_MAX_RUNES, Error, Exemplar, Format, Registry};

#[test]
fn exemplar_rune_limit_counts_code_points() {
    let name = "id";
    let fits = "é".repeat(EXEMPLAR_MAX_RUNES - name.len());
    assert!(fits.len() > EXEMPLAR_MAX_RUNES, "more bytes than runes");
    assert!(Exemplar::new(&[(name, &fits)], 1.0).is_ok());
    let over = format!("{fits}x");
    assert_eq!(
        Exemplar::new(&[(name, &over)], 1.0).err(),
        Some(Error::ExemplarTooLong(EXEMPLAR_MAX_RUNES + 1))
    );
    assert!(Exemplar::new(&[("__bad", "x")], 1.0).is_err());
}

#[test]
fn openmetrics_counter_and_bucket_exemplars() {
    let r = Registry::new();
    let c = r.counter("jobs_total", "Jobs.").unwrap();
    c.inc_by_with_exemplar(2.0, &[("trace_id", "abc")]).unwrap();
    let h = r
        .histogram(
            "lat_seconds",
            "Latency.",
            Buckets::new(vec![0.1, 1.0]).unwrap(),
        )
        .unwrap();
    h.observe_with_exemplar(0.5, &[("trace_id", "def")])
        .unwrap();
    h.observe_with_exemplar(7.0, &[("trace_id", "inf")])
        .unwrap();
    let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    let line = |prefix: &str| {
        om.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} in\n{om}"))
            .to_owned()
    };
    let total = line("jobs_total ");
    assert!(
        total.starts_with("jobs_total 2.0 # {trace_id=\"abc\"} 2.0 1"),
        "{total}"
    );
    assert!(
        line("lat_seconds_bucket{le=\"1.0\"}")
            .starts_with("lat_seconds_bucket{le=\"1.0\"} 1 # {trace_id=\"def\"} 0.5 ")
    );
    assert!(line("lat_seconds_bucket{le=\"+Inf\"}").contains("# {trace_id=\"inf\"} 7.0 "));
    assert!(!line("lat_seconds_bucket{le=\"0.1\"}").contains('#'));
    // Never in text 0.0.4.
    assert!(!r.encode_to_string(Format::Text).unwrap().contains(" # "));
}

#[test]
fn rejected_exemplar_loses_nothing() {
    let c = Counter::default();
    let long = "x".repeat(200);
    assert!(c.inc_by_with_exemplar(1.0, &[("trace_id", &long)]).is_err());
    assert!(c.inc_by_with_exemplar(-1.0, &[("trace_id", "a")]).is_err());
    c.inc();
    assert_eq!(c.get(), 1.0);
}

#[cfg(feature = "protobuf")]
#[test]
fn protobuf_exemplars_classic_inf_and_native() {
    use promenade_core::NativeBuckets;
    use promenade_core::encoding::protobuf::decode_delimited;
    let r = Registry::new();
    let h = r
        .histogram(
            "lat_seconds",
            "Latency.",
            Buckets::new(vec![1.0])
                .unwrap()
                .with_native(NativeBuckets::default()),
        )
        .unwrap();
    for i in 0..12 {
        h.observe_with_exemplar(f64::from(i), &[("trace_id", &format!("t{i}"))])
            .unwrap();
    }
    let families = decode_delimited(&r.encode_to_vec(Format::Protobuf).unwrap()).unwrap();
    let m = families[0].metric[0].histogram.clone().unwrap();
    assert_eq!(
        m.bucket.len(),
        2,
        "le=1 plus an explicit +Inf carrying its exemplar"
    );
    assert_eq!(m.bucket[1].upper_bound, Some(f64::INFINITY));
    assert_eq!(m.bucket[1].cumulative_count, Some(12));
    assert_eq!(m.bucket[0].exemplar.as_ref().unwrap().value, Some(1.0));
    assert_eq!(m.exemplars.len(), 10, "the latest ten native exemplars");
    assert!(m.exemplars.iter().all(|e| e.timestamp.is_some()));
    assert_eq!(m.exemplars[9].label[0].value.as_deref(), Some("t11"));
}

#[test]
fn http_metrics_attach_trace_id_from_traceparent() {
    let registry = Registry::new();
    let metrics = HttpMetrics::builder(&registry).build().unwrap();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    let mut t = metrics.start(&RequestInfo {
        method: "GET",
        route: Some("/a"),
        path: "/a",
        headers: &headers,
    });
    t.response_head(200);
    drop(t);
    // Junk traceparent: recorded, no exemplar.
    headers.insert("traceparent", "00-zz-yy-01".parse().unwrap());
    let mut t = metrics.start(&RequestInfo {
        method: "GET",
        route: Some("/b"),
        path: "/b",
        headers: &headers,
    });
    t.response_head(200);
    drop(t);
    let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
    assert!(
        om.contains("# {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"}"),
        "{om}"
    );
    assert_eq!(om.matches("trace_id").count(), 1);
    assert!(om.contains("http_requests_total{method=\"GET\",route=\"/b\",status=\"200\"} 1"));
}

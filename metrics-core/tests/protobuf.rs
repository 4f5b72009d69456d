//! Protobuf exposition: golden bytes (field numbers and wire types of client_model's
//! `metrics.proto`) and decode round trips with prost.
#![cfg(feature = "protobuf")]

use promenade_core::encoding::protobuf::{decode_delimited, model};
use promenade_core::{Buckets, Format, Registry, States};

#[test]
fn golden_gauge_bytes() {
    let r = Registry::new();
    r.gauge("g", "G.").unwrap().set(2.0);
    let bytes = r.encode_to_vec(Format::Protobuf).unwrap();
    let expected: Vec<u8> = vec![
        0x16, // delimiter: 22 bytes follow
        0x0a, 0x01, b'g', // 1: name
        0x12, 0x02, b'G', b'.', // 2: help
        0x18, 0x01, // 3: type GAUGE
        0x22, 0x0b, // 4: metric, 11 bytes
        0x12, 0x09, // Metric.gauge (2), 9 bytes
        0x09, 0, 0, 0, 0, 0, 0, 0, 0x40, // Gauge.value (1, fixed64) = 2.0
    ];
    assert_eq!(bytes, expected);
}

#[test]
fn golden_counter_with_labels_bytes() {
    let r = Registry::new();
    r.counter_family("c", "", &["a"])
        .unwrap()
        .get(&["b"])
        .unwrap()
        .inc();
    let bytes = r.encode_to_vec(Format::Protobuf).unwrap();
    let expected: Vec<u8> = vec![
        0x22, // 34 bytes
        0x0a, 0x07, b'c', b'_', b't', b'o', b't', b'a', b'l', // name "c_total"
        0x12, 0x00, // empty help
        0x18, 0x00, // COUNTER
        0x22, 0x13, // metric, 19 bytes
        0x0a, 0x06, 0x0a, 0x01, b'a', 0x12, 0x01, b'b', // label {name a, value b}
        0x1a, 0x09, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, // counter {value 1.0}
    ];
    assert_eq!(bytes, expected);
}

#[test]
fn every_type_decodes() {
    let r = Registry::builder().const_label("svc", "x").build().unwrap();
    r.counter_family("req_total", "Requests.", &["path"])
        .unwrap()
        .get(&["a\"b\n"])
        .unwrap()
        .inc_by(3.0)
        .unwrap();
    let h = r
        .histogram(
            "lat_seconds",
            "Latency.",
            Buckets::new(vec![0.1, 1.0]).unwrap(),
        )
        .unwrap();
    h.observe(0.05);
    h.observe(5.0);
    r.summary("sz", "Sizes.").unwrap().observe(3.0);
    r.info("build", "B.", &[("v", "1")]).unwrap();
    r.stateset("mode", "M.", States::new(["a", "b"]).unwrap())
        .unwrap()
        .set("b")
        .unwrap();
    let families = decode_delimited(&r.encode_to_vec(Format::Protobuf).unwrap()).unwrap();
    let names: Vec<&str> = families
        .iter()
        .map(|f| f.name.as_deref().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["build_info", "lat_seconds", "mode", "req_total", "sz"]
    );
    let by_name = |n: &str| {
        families
            .iter()
            .find(|f| f.name.as_deref() == Some(n))
            .unwrap()
    };

    let req = by_name("req_total");
    assert_eq!(req.r#type, Some(model::MetricType::Counter as i32));
    let m = &req.metric[0];
    let labels: Vec<(&str, &str)> = m
        .label
        .iter()
        .map(|l| (l.name.as_deref().unwrap(), l.value.as_deref().unwrap()))
        .collect();
    assert_eq!(labels, vec![("svc", "x"), ("path", "a\"b\n")]);
    assert_eq!(m.counter.as_ref().unwrap().value, Some(3.0));

    let lat = by_name("lat_seconds").metric[0].histogram.clone().unwrap();
    assert_eq!(lat.sample_count, Some(2));
    assert_eq!(lat.sample_sum, Some(5.05));
    // +Inf is implicit in protobuf (written only when it carries an exemplar).
    let buckets: Vec<(f64, u64)> = lat
        .bucket
        .iter()
        .map(|b| (b.upper_bound.unwrap(), b.cumulative_count.unwrap()))
        .collect();
    assert_eq!(buckets, vec![(0.1, 1), (1.0, 1)]);
    assert!(
        lat.schema.is_none(),
        "a classic histogram carries no native fields"
    );

    let mode = by_name("mode");
    assert_eq!(mode.metric.len(), 2);
    assert_eq!(mode.metric[1].label[1].name.as_deref(), Some("mode"));
    assert_eq!(mode.metric[1].gauge.as_ref().unwrap().value, Some(1.0));
    assert_eq!(
        by_name("sz").metric[0]
            .summary
            .as_ref()
            .unwrap()
            .sample_count,
        Some(1)
    );
}

#[test]
fn created_timestamps_only_when_enabled() {
    for on in [false, true] {
        let r = Registry::builder().created_samples(on).build().unwrap();
        r.counter("c", "C.").unwrap();
        let f = decode_delimited(&r.encode_to_vec(Format::Protobuf).unwrap()).unwrap();
        let created = f[0].metric[0]
            .counter
            .as_ref()
            .unwrap()
            .created_timestamp
            .clone();
        assert_eq!(created.is_some(), on);
        if let Some(ts) = created {
            assert!(ts.seconds > 1_600_000_000);
        }
    }
}

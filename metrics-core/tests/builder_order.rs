//! Builder order never matters: native buckets and classic buckets can be set in either
//! order in the HTTP and gRPC builders, and both end up on the histogram.

#![cfg(feature = "protobuf")]

use promenade_core::encoding::protobuf::decode_delimited;
use promenade_core::grpc_metrics::{CallTracker, GrpcMetrics, GrpcType, Side};
use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
use promenade_core::{Buckets, Format, NativeBuckets, Registry};

/// The histogram `name` in a protobuf scrape: (classic bucket bounds, native schema).
fn histogram_shape(registry: &Registry, name: &str) -> (Vec<f64>, Option<i32>) {
    let body = registry.encode_to_vec(Format::Protobuf).unwrap();
    let families = decode_delimited(&body).unwrap();
    let family = families
        .iter()
        .find(|f| f.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no family {name}"));
    let h = family.metric[0].histogram.as_ref().unwrap();
    let bounds = h
        .bucket
        .iter()
        .filter_map(|b| b.upper_bound)
        .filter(|b| b.is_finite())
        .collect();
    (bounds, h.schema)
}

fn grpc_shape(native_first: bool) -> (Vec<f64>, Option<i32>) {
    let registry = Registry::new();
    let classic = Buckets::new(vec![0.1, 1.0]).unwrap();
    let native = NativeBuckets::with_factor(2.0).unwrap();
    let builder = GrpcMetrics::builder(&registry, Side::Server).method("/a.B/C", GrpcType::Unary);
    let builder = if native_first {
        builder
            .native_histograms(native)
            .handling_seconds_buckets(classic)
    } else {
        builder
            .handling_seconds_buckets(classic)
            .native_histograms(native)
    };
    let metrics = builder.build().unwrap();
    let mut call: CallTracker = metrics.start("/a.B/C");
    call.set_code(promenade_core::grpc_metrics::code::OK);
    drop(call);
    histogram_shape(&registry, "grpc_server_handling_seconds")
}

#[test]
fn grpc_native_and_classic_buckets_in_either_order() {
    let expected = (vec![0.1, 1.0], Some(0)); // factor 2 is schema 0
    assert_eq!(grpc_shape(true), expected);
    assert_eq!(grpc_shape(false), expected);
}

fn http_shape(native_first: bool) -> (Vec<f64>, Option<i32>) {
    let registry = Registry::new();
    let classic = Buckets::new(vec![0.1, 1.0]).unwrap();
    let native = NativeBuckets::with_factor(2.0).unwrap();
    let builder = HttpMetrics::builder(&registry);
    let builder = if native_first {
        builder.native_histograms(native).buckets(classic)
    } else {
        builder.buckets(classic).native_histograms(native)
    };
    let metrics = builder.build().unwrap();
    let headers = http::HeaderMap::new();
    let mut tracker = metrics.start(&RequestInfo {
        method: "GET",
        route: Some("/"),
        path: "/",
        headers: &headers,
    });
    tracker.response_head(200);
    drop(tracker);
    histogram_shape(&registry, "http_request_duration_seconds")
}

#[test]
fn http_native_and_classic_buckets_in_either_order() {
    let expected = (vec![0.1, 1.0], Some(0)); // factor 2 is schema 0
    assert_eq!(http_shape(true), expected);
    assert_eq!(http_shape(false), expected);
}

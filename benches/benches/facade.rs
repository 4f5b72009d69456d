//! The `metrics` facade with Promenade's recorder (`promenade_core::bridge::metrics`) against
//! `metrics-exporter-prometheus`, in the same run: `counter!(..).increment(1)` and
//! `histogram!(..).record(..)` on an existing key with labels (the macro's registration
//! lookup included, as a library calls it), and encoding 10,000 facade series; beside them,
//! the same 10,000 series recorded with OpenTelemetry instruments and encoded through
//! Promenade's OpenTelemetry bridge (`promenade otel bridge`: one SDK collection and the
//! mapping at every scrape).
//!
//! cargo bench -p promenade-benches --bench facade -- --warm-up-time 1 --measurement-time 3

use criterion::{Criterion, criterion_group, criterion_main};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use promenade_core::bridge::metrics::PrometheusRecorder;
use promenade_core::bridge::opentelemetry::OtelBridge;
use promenade_core::{DEFAULT_BUCKETS, Format, Registry};
use std::hint::black_box;

fn ours() -> (Registry, PrometheusRecorder) {
    let registry = Registry::new();
    let recorder = PrometheusRecorder::builder(&registry)
        .max_series(100_000)
        .build()
        .expect("recorder");
    (registry, recorder)
}

fn anchor() -> (
    metrics_exporter_prometheus::PrometheusRecorder,
    PrometheusHandle,
) {
    // Same buckets as ours (the exporter's default would be a summary).
    let recorder = PrometheusBuilder::new()
        .set_buckets(&DEFAULT_BUCKETS)
        .expect("buckets")
        .build_recorder();
    let handle = recorder.handle();
    (recorder, handle)
}

fn counter(c: &mut Criterion) {
    let mut g = c.benchmark_group("facade_counter_labelled");
    let (_registry, recorder) = ours();
    metrics::with_local_recorder(&recorder, || {
        metrics::counter!("requests_total", "method" => "GET", "status" => "200").increment(1);
        g.bench_function("promenade", |b| {
            b.iter(|| {
                metrics::counter!("requests_total", "method" => "GET", "status" => "200")
                    .increment(black_box(1))
            })
        });
    });
    let (anchor, _handle) = anchor();
    metrics::with_local_recorder(&anchor, || {
        metrics::counter!("requests_total", "method" => "GET", "status" => "200").increment(1);
        g.bench_function("metrics-exporter-prometheus", |b| {
            b.iter(|| {
                metrics::counter!("requests_total", "method" => "GET", "status" => "200")
                    .increment(black_box(1))
            })
        });
    });
    g.finish();
}

fn histogram(c: &mut Criterion) {
    let mut g = c.benchmark_group("facade_histogram_record");
    let (_registry, recorder) = ours();
    metrics::with_local_recorder(&recorder, || {
        g.bench_function("promenade", |b| {
            b.iter(|| {
                metrics::histogram!("request_seconds", "route" => "/users").record(black_box(0.042))
            })
        });
    });
    let (anchor, _handle) = anchor();
    metrics::with_local_recorder(&anchor, || {
        g.bench_function("metrics-exporter-prometheus", |b| {
            b.iter(|| {
                metrics::histogram!("request_seconds", "route" => "/users").record(black_box(0.042))
            })
        });
    });
    g.finish();
}

/// 100 counter names x 100 label values = 10,000 series.
fn fill() {
    for n in 0..100 {
        for v in 0..100 {
            metrics::counter!(format!("facade_counter_{n}_total"), "shard" => v.to_string())
                .increment(v + 1);
        }
    }
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("facade_encode_10k");
    let (registry, recorder) = ours();
    metrics::with_local_recorder(&recorder, fill);
    assert_eq!(recorder.series(), 10_000);
    g.bench_function("promenade", |b| {
        b.iter(|| registry.encode_to_string(Format::Text).expect("encode"))
    });
    let (anchor, handle) = anchor();
    metrics::with_local_recorder(&anchor, fill);
    g.bench_function("metrics-exporter-prometheus", |b| {
        b.iter(|| handle.render())
    });
    // The same 10,000 series as OpenTelemetry counters, without scope labels or resource so
    // that every page holds the same samples.
    let registry = Registry::new();
    let bridge = OtelBridge::builder()
        .scope_labels(false)
        .target_info(false)
        .max_series(100_000)
        .build()
        .expect("bridge");
    let provider = SdkMeterProvider::builder()
        .with_resource(Resource::builder_empty().build())
        .with_reader(bridge.reader())
        .build();
    registry.register(bridge.collector()).expect("register");
    let meter = provider.meter("bench");
    for n in 0..100 {
        let counter = meter.u64_counter(format!("facade_counter_{n}")).build();
        for v in 0..100u64 {
            counter.add(v + 1, &[KeyValue::new("shard", v.to_string())]);
        }
    }
    let page = registry.encode_to_string(Format::Text).expect("encode");
    assert_eq!(page.matches("_total{shard=").count(), 10_000);
    g.bench_function("promenade otel bridge", |b| {
        b.iter(|| registry.encode_to_string(Format::Text).expect("encode"))
    });
    g.finish();
}

criterion_group!(benches, counter, histogram, encode);
criterion_main!(benches);

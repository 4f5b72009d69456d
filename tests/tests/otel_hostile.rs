//! Hostile input through the OpenTelemetry bridge: instrument names the SDK would refuse
//! (its validation turned off here, as a custom SDK build or a view could let them through),
//! attribute keys and values full of delimiters, and 100,000 distinct attribute values. No
//! panic, a bounded number of series, and pages that promtool, the strict Python OpenMetrics
//! parser and the registry's own scrape-time checks accept.

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use promenade_core::bridge::opentelemetry::OtelBridge;
use promenade_core::{Format, Registry};
use promenade_tests::{
    PROMTOOL, PYTHON_PROMETHEUS_CLIENT, promtool_check_metrics, python_openmetrics_parse,
    require_tool,
};

const MAX_SERIES: usize = 1_000;

#[test]
fn hostile_names_and_100k_attribute_values_stay_bounded_and_valid() {
    require_tool!(PROMTOOL);
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    for utf8 in [false, true] {
        let registry = Registry::new();
        let mut builder = OtelBridge::builder().max_series(MAX_SERIES);
        if utf8 {
            builder = builder.allow_utf8_names();
        }
        let bridge = builder.build().unwrap();
        let provider = SdkMeterProvider::builder()
            .with_resource(
                Resource::builder_empty()
                    .with_attribute(KeyValue::new("service.name", "a\"b\\c\nd"))
                    .with_attribute(KeyValue::new("", "empty key"))
                    .build(),
            )
            .with_reader(bridge.reader())
            .build();
        registry.register(bridge.collector()).unwrap();
        let meter = provider.meter("hostile\"scope\n");
        for name in [
            "",
            "1st metric",
            "a\"b{c}=,d",
            "日本語.メトリクス",
            "__name__",
            "_",
            "x_total_total",
        ] {
            meter
                .u64_counter(name)
                .build()
                .add(1, &[KeyValue::new("", "v")]);
            meter
                .f64_gauge(format!("{name}.g"))
                .build()
                .record(f64::NAN, &[]);
            meter
                .f64_histogram(format!("{name}.h"))
                .with_unit("{weird}/s")
                .build()
                .record(-1.0, &[]);
        }
        let flood = meter.u64_counter("flood").build();
        let gauge = meter.f64_gauge("flood.gauge").build();
        for i in 0..100_000u32 {
            let value = format!("v{i}\"\\\n{{}}=,");
            flood.add(
                1,
                &[
                    KeyValue::new("id", value.clone()),
                    KeyValue::new("ключ", "значение"),
                ],
            );
            gauge.record(f64::from(i), &[KeyValue::new("=,{}\"", value)]);
        }

        // The registry's own checks: an invalid page would be an error here.
        for format in [Format::Text, Format::OpenMetrics, Format::Protobuf] {
            registry
                .encode_to_vec(format)
                .unwrap_or_else(|e| panic!("utf8={utf8} {format:?}: {e}"));
        }
        let text = registry.encode_to_string(Format::Text).unwrap();
        let samples = text.lines().filter(|l| !l.starts_with('#')).count();
        // Bounded: the cap, plus histogram lines per series and the self-metric.
        assert!(bridge.collector().series() <= MAX_SERIES);
        assert!(samples < MAX_SERIES * 4, "{samples} sample lines");
        assert!(
            text.contains("promenade_otel_bridge_dropped_series{reason=\"series_limit\"}"),
            "{text}"
        );
        // Hostile names break promtool's style lints (exit status 3, e.g. `_h_` reads as an
        // abbreviated unit); parsing must succeed and every family must have help.
        if let Err(e) = promtool_check_metrics(&text) {
            assert!(
                e.contains("exit status: 3") && !e.contains("error while linting"),
                "promtool (utf8={utf8}): {e}"
            );
            assert!(!e.contains("no help text"), "promtool (utf8={utf8}): {e}");
        }
        let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
        python_openmetrics_parse(&om)
            .unwrap_or_else(|e| panic!("OpenMetrics parser (utf8={utf8}): {e}"));
    }
}

//! One test per mapping rule, each on the exposition text (and protobuf for native
//! histograms), plus the bounds, conflicts and hostile input.

use std::time::{Duration, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
#[cfg(feature = "protobuf")]
use opentelemetry_sdk::metrics::{Aggregation, Instrument, Stream};

use super::gather::exemplar_of;
use super::*;
#[cfg(feature = "protobuf")]
use crate::encoding::protobuf::decode_delimited;
use crate::{CollectorErrors, Exemplar, Format, Registry};

/// A registry and a provider joined by a bridge; no resource, no scope labels unless asked,
/// so each test sees only its own rule.
struct Setup {
    registry: Registry,
    provider: SdkMeterProvider,
    bridge: OtelBridge,
}

fn setup_with(
    builder: OtelBridgeBuilder,
    provider: impl FnOnce(
        opentelemetry_sdk::metrics::MeterProviderBuilder,
    ) -> opentelemetry_sdk::metrics::MeterProviderBuilder,
) -> Setup {
    let registry = Registry::new();
    let bridge = builder.build().unwrap();
    let provider = provider(
        SdkMeterProvider::builder()
            .with_resource(Resource::builder_empty().build())
            .with_reader(bridge.reader()),
    )
    .build();
    registry.register(bridge.collector()).unwrap();
    Setup {
        registry,
        provider,
        bridge,
    }
}

fn setup() -> Setup {
    setup_with(OtelBridge::builder().scope_labels(false), |b| b)
}

impl Setup {
    fn meter(&self) -> Meter {
        self.provider.meter("test")
    }
    fn text(&self) -> String {
        self.registry.encode_to_string(Format::Text).unwrap()
    }
    fn om(&self) -> String {
        self.registry.encode_to_string(Format::OpenMetrics).unwrap()
    }
}

#[test]
fn monotonic_sum_is_a_counter_with_total() {
    let s = setup();
    let c = s
        .meter()
        .u64_counter("requests")
        .with_description("Requests.")
        .build();
    c.add(5, &[KeyValue::new("method", "GET")]);
    let text = s.text();
    assert!(
        text.contains("# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total{method=\"GET\"} 5\n"),
        "{text}"
    );
    // A name that already ends with `_total` does not get a second one.
    s.meter().f64_counter("jobs_total").build().add(1.5, &[]);
    assert!(s.text().contains("\njobs_total 1.5\n"), "{}", s.text());
}

#[test]
fn non_monotonic_sum_is_a_gauge() {
    let s = setup();
    let c = s.meter().i64_up_down_counter("queue.depth").build();
    c.add(5, &[]);
    c.add(-7, &[]);
    let text = s.text();
    assert!(
        text.contains("# TYPE queue_depth gauge\nqueue_depth -2\n"),
        "{text}"
    );
    // No description: the help names the instrument.
    assert!(
        text.contains("# HELP queue_depth OpenTelemetry instrument queue.depth.\n"),
        "{text}"
    );
}

#[test]
fn gauge_is_a_gauge() {
    let s = setup();
    s.meter()
        .f64_gauge("temperature")
        .build()
        .record(21.5, &[KeyValue::new("room", "a")]);
    let text = s.text();
    assert!(
        text.contains("# TYPE temperature gauge\ntemperature{room=\"a\"} 21.5\n"),
        "{text}"
    );
}

#[test]
fn histogram_is_a_classic_histogram() {
    let s = setup();
    let h = s
        .meter()
        .f64_histogram("latency")
        .with_boundaries(vec![0.1, 1.0])
        .build();
    for v in [0.05, 0.5, 0.7, 3.0] {
        h.record(v, &[]);
    }
    let text = s.text();
    assert!(
        text.contains(
            "# TYPE latency histogram\nlatency_bucket{le=\"0.1\"} 1\nlatency_bucket{le=\"1\"} 3\n\
             latency_bucket{le=\"+Inf\"} 4\nlatency_sum 4.25\nlatency_count 4\n"
        ),
        "{text}"
    );
}

/// Exponential histograms for every histogram instrument, at `max_scale`.
#[cfg(feature = "protobuf")]
fn exponential(
    max_scale: i8,
) -> impl FnOnce(
    opentelemetry_sdk::metrics::MeterProviderBuilder,
) -> opentelemetry_sdk::metrics::MeterProviderBuilder {
    move |b| {
        b.with_view(move |i: &Instrument| {
            (i.kind() == opentelemetry_sdk::metrics::InstrumentKind::Histogram).then(|| {
                Stream::builder()
                    .with_aggregation(Aggregation::Base2ExponentialHistogram {
                        max_size: 160,
                        max_scale,
                        record_min_max: true,
                    })
                    .build()
                    .unwrap()
            })
        })
    }
}

#[test]
#[cfg(feature = "protobuf")]
fn exponential_histogram_is_a_native_histogram() {
    let s = setup_with(OtelBridge::builder().scope_labels(false), exponential(0));
    let h = s.meter().f64_histogram("size").build();
    // Scale 0: 1.5 in (1, 2], 3 in (2, 4], -3 in the negative (2, 4], 0 in the zero bucket.
    for v in [1.5, 3.0, 3.5, -3.0, 0.0] {
        h.record(v, &[]);
    }
    let bytes = s.registry.encode_to_vec(Format::Protobuf).unwrap();
    let families = decode_delimited(&bytes).unwrap();
    let family = families
        .iter()
        .find(|f| f.name.as_deref() == Some("size"))
        .unwrap();
    let h = family.metric[0].histogram.as_ref().unwrap();
    assert_eq!(h.schema, Some(0));
    assert_eq!(h.sample_count, Some(5));
    assert_eq!(h.sample_sum, Some(5.0));
    assert_eq!(h.zero_count, Some(1));
    // Prometheus bucket 1 is (1, 2], bucket 2 is (2, 4]: one and two observations.
    assert_eq!(
        h.positive_span
            .iter()
            .map(|s| (s.offset, s.length))
            .collect::<Vec<_>>(),
        vec![(Some(1), Some(2))]
    );
    assert_eq!(h.positive_delta, vec![1, 1]);
    assert_eq!(
        h.negative_span
            .iter()
            .map(|s| (s.offset, s.length))
            .collect::<Vec<_>>(),
        vec![(Some(2), Some(1))]
    );
    assert_eq!(h.negative_delta, vec![1]);
    // Text scrapers get the classic fallback of a native-only histogram.
    let text = s.text();
    assert!(
        text.contains(
            "# TYPE size histogram\nsize_bucket{le=\"+Inf\"} 5\nsize_sum 5\nsize_count 5\n"
        ),
        "{text}"
    );
}

#[test]
#[cfg(feature = "protobuf")]
fn exponential_scale_above_8_is_merged_down_to_8() {
    let s = setup_with(OtelBridge::builder().scope_labels(false), exponential(20));
    let h = s.meter().f64_histogram("fine").build();
    // Two values close together: the SDK keeps scale 20, Prometheus gets schema 8.
    h.record(1.0001, &[]);
    h.record(1.0002, &[]);
    let bytes = s.registry.encode_to_vec(Format::Protobuf).unwrap();
    let families = decode_delimited(&bytes).unwrap();
    let family = families
        .iter()
        .find(|f| f.name.as_deref() == Some("fine"))
        .unwrap();
    let h = family.metric[0].histogram.as_ref().unwrap();
    assert_eq!(h.schema, Some(8));
    // At schema 8, 1.0001 and 1.0002 both lie in (1, 2^(1/256)] = Prometheus bucket 1.
    assert_eq!(
        h.positive_span
            .iter()
            .map(|s| (s.offset, s.length))
            .collect::<Vec<_>>(),
        vec![(Some(1), Some(1))]
    );
    assert_eq!(h.positive_delta, vec![2]);
}

#[test]
fn units_are_suffixed_as_the_specification_says() {
    let s = setup();
    let m = s.meter();
    m.f64_histogram("rpc.duration")
        .with_unit("s")
        .with_boundaries(vec![1.0])
        .build()
        .record(0.5, &[]);
    m.u64_counter("io.time").with_unit("ms").build().add(3, &[]);
    m.u64_counter("io.read")
        .with_unit("By")
        .build()
        .add(10, &[]);
    m.f64_gauge("cpu.utilization")
        .with_unit("1")
        .build()
        .record(0.5, &[]);
    m.u64_counter("items.handled")
        .with_unit("1")
        .build()
        .add(2, &[]);
    m.u64_counter("http.requests")
        .with_unit("{request}")
        .build()
        .add(4, &[]);
    m.f64_gauge("speed")
        .with_unit("m/s")
        .build()
        .record(3.0, &[]);
    m.f64_gauge("rate")
        .with_unit("foo/bar")
        .build()
        .record(1.0, &[]);
    m.f64_gauge("wait_seconds")
        .with_unit("s")
        .build()
        .record(2.0, &[]);
    let text = s.text();
    for line in [
        "rpc_duration_seconds_count 1\n",
        "io_time_milliseconds_total 3\n",
        "io_read_bytes_total 10\n",
        "cpu_utilization_ratio 0.5\n",
        "items_handled_total 2\n",
        "http_requests_total 4\n",
        "speed_meters_per_second 3\n",
        "rate_foo_per_bar 1\n",
        "\nwait_seconds 2\n",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    let om = s.om();
    assert!(om.contains("# UNIT rpc_duration_seconds seconds\n"), "{om}");
    assert!(om.contains("# UNIT io_read_bytes bytes\n"), "{om}");
    assert!(om.contains("# UNIT cpu_utilization_ratio ratio\n"), "{om}");
    assert!(om.contains("# UNIT wait_seconds seconds\n"), "{om}");
    assert!(!om.contains("# UNIT http_requests"), "{om}");
}

#[test]
fn names_and_attribute_keys_are_made_valid_and_collisions_merged() {
    let s = setup();
    let c = s.meter().u64_counter("http.server-requests").build();
    c.add(
        1,
        &[
            KeyValue::new("foo.bar", "2"),
            KeyValue::new("foo_bar", "3"),
            KeyValue::new("foo-bar", "1"),
            KeyValue::new("9lives", "cat"),
            KeyValue::new("__name__", "x"),
            KeyValue::new("", "empty"),
        ],
    );
    let text = s.text();
    assert!(
        text.contains(
            "http_server_requests_total{unnamed_label=\"empty\",_9lives=\"cat\",_name_=\"x\",foo_bar=\"1;2;3\"} 1\n"
        ),
        "{text}"
    );
}

#[test]
fn le_on_a_histogram_and_constant_labels_get_exported_prefix() {
    let registry = Registry::builder()
        .const_label("region", "eu")
        .build()
        .unwrap();
    let bridge = OtelBridge::builder().scope_labels(false).build().unwrap();
    let provider = SdkMeterProvider::builder()
        .with_resource(Resource::builder_empty().build())
        .with_reader(bridge.reader())
        .build();
    registry.register(bridge.collector()).unwrap();
    let h = provider
        .meter("t")
        .f64_histogram("h")
        .with_boundaries(vec![1.0])
        .build();
    h.record(
        0.5,
        &[KeyValue::new("le", "x"), KeyValue::new("region", "us")],
    );
    let text = registry.encode_to_string(Format::Text).unwrap();
    assert!(
        text.contains("h_count{region=\"eu\",exported_le=\"x\",exported_region=\"us\"} 1\n"),
        "{text}"
    );
}

#[test]
fn resource_is_target_info() {
    let s = setup_with(OtelBridge::builder().scope_labels(false), |b| {
        b.with_resource(
            Resource::builder_empty()
                .with_service_name("checkout")
                .with_attribute(KeyValue::new("deployment.environment", "prod"))
                .build(),
        )
    });
    let text = s.text();
    assert!(
        text.contains("# TYPE target_info gauge\ntarget_info{deployment_environment=\"prod\",service_name=\"checkout\"} 1\n"),
        "{text}"
    );
    let om = s.om();
    assert!(om.contains("# TYPE target info\n"), "{om}");
    // Off: no target_info.
    let off = setup_with(OtelBridge::builder().target_info(false), |b| {
        b.with_resource(
            Resource::builder_empty()
                .with_service_name("checkout")
                .build(),
        )
    });
    assert!(!off.text().contains("target_info"), "{}", off.text());
}

#[test]
fn scope_is_labels_switchable() {
    let s = setup_with(OtelBridge::builder(), |b| b);
    let meter = s.provider.meter_with_scope(
        opentelemetry::InstrumentationScope::builder("lib.db")
            .with_version("1.2.0")
            .build(),
    );
    meter
        .u64_counter("calls")
        .build()
        .add(1, &[KeyValue::new("otel_scope_name", "user")]);
    let text = s.text();
    assert!(
        text.contains("calls_total{exported_otel_scope_name=\"user\",otel_scope_name=\"lib.db\",otel_scope_version=\"1.2.0\"} 1\n"),
        "{text}"
    );
    let off = setup();
    off.meter().u64_counter("calls").build().add(1, &[]);
    assert!(off.text().contains("\ncalls_total 1\n"), "{}", off.text());
}

#[test]
fn same_name_in_two_scopes_is_one_family() {
    let s = setup_with(OtelBridge::builder().target_info(false), |b| b);
    s.provider
        .meter("a")
        .u64_counter("hits")
        .build()
        .add(1, &[]);
    s.provider
        .meter("b")
        .u64_counter("hits")
        .build()
        .add(2, &[]);
    let text = s.text();
    assert_eq!(
        text.matches("# TYPE hits_total counter").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("hits_total{otel_scope_name=\"a\"} 1\nhits_total{otel_scope_name=\"b\"} 2\n"),
        "{text}"
    );
}

#[test]
fn type_conflicts_are_dropped_and_counted() {
    let s = setup_with(
        OtelBridge::builder().scope_labels(false).target_info(false),
        |b| b,
    );
    s.provider.meter("a").u64_counter("x").build().add(1, &[]);
    // `x_total` would clash with the counter's sample; `x` as a gauge with its family.
    s.provider
        .meter("b")
        .f64_gauge("x")
        .build()
        .record(2.0, &[]);
    let text = s.text();
    // Scopes in name order: `a`'s counter came first and keeps the name.
    assert!(text.contains("\nx_total 1\n"), "{text}");
    assert!(!text.contains("\nx 2\n"), "{text}");
    assert!(
        text.contains("promenade_otel_bridge_dropped_series{reason=\"conflict\"} 1\n"),
        "{text}"
    );
}

#[test]
fn exemplars_carry_trace_and_span_ids() {
    let trace = [
        0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47,
        0x36,
    ];
    let span = [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7];
    let time = UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
    let e = exemplar_of(&trace, &span, 0.25, time).unwrap();
    assert_eq!(
        e.rendered_labels(),
        "trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\""
    );
    assert_eq!(e.value(), 0.25);
    assert_eq!(e.timestamp(), 1_700_000_000.5);
    // Not sampled: no exemplar.
    assert!(exemplar_of(&[0; 16], &[0; 8], 1.0, time).is_none());

    // Written as an OpenMetrics exemplar on the counter sample.
    struct One(Exemplar);
    impl Collector for One {
        fn descriptors(&self) -> Vec<Descriptor> {
            Vec::new()
        }
        fn collect(&self, enc: &mut MetricEncoder<'_>) {
            let mut families = Families::default();
            families.claim("orders", MetricType::Counter, "", None);
            let options = Options {
                max_series: 10,
                scope_labels: false,
                target_info: false,
                utf8: false,
            };
            let point = Point {
                labels: Vec::new(),
                value: Value::Counter(3.0, Some(self.0.clone())),
            };
            families.push("orders", point, &options, &mut Admitted::default());
            write(enc, &families);
        }
    }
    let registry = Registry::new();
    registry.register(One(e)).unwrap();
    let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
    assert!(
        om.contains("orders_total 3.0 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\",span_id=\"00f067aa0ba902b7\"} 0.25 1.7000000005e+09\n"),
        "{om}"
    );
}

#[test]
fn series_cap_keeps_admitted_series_and_counts_the_rest() {
    let s = setup_with(
        OtelBridge::builder().scope_labels(false).max_series(3),
        |b| b,
    );
    let c = s.meter().u64_counter("logins").build();
    for user in ["a", "b", "c"] {
        c.add(1, &[KeyValue::new("user", user)]);
    }
    assert_eq!(s.text().matches("logins_total{").count(), 3);
    for user in ["d", "e"] {
        c.add(1, &[KeyValue::new("user", user)]);
    }
    let text = s.text();
    // The first three stay; the later two are left out and counted.
    for user in ["a", "b", "c"] {
        assert!(
            text.contains(&format!("logins_total{{user=\"{user}\"}} 1\n")),
            "{text}"
        );
    }
    assert_eq!(text.matches("logins_total{").count(), 3, "{text}");
    assert!(
        text.contains("promenade_otel_bridge_dropped_series{reason=\"series_limit\"} 2\n"),
        "{text}"
    );
    assert_eq!(s.bridge.collector().series(), 3);
}

#[test]
fn registry_name_clash_is_refused_at_registration_and_at_scrape() {
    // At registration: the provider already has the instrument.
    let registry = Registry::new();
    registry.gauge("temperature", "Already here.").unwrap();
    let bridge = OtelBridge::builder().build().unwrap();
    let provider = SdkMeterProvider::builder()
        .with_reader(bridge.reader())
        .build();
    provider
        .meter("t")
        .f64_gauge("temperature")
        .build()
        .record(1.0, &[]);
    let err = registry.register(bridge.collector()).unwrap_err();
    assert!(matches!(err, Error::AlreadyRegistered { .. }), "{err}");

    // At the scrape: the instrument came later.
    let registry = Registry::new();
    registry.gauge("temperature", "Already here.").unwrap();
    let bridge = OtelBridge::builder().build().unwrap();
    let provider = SdkMeterProvider::builder()
        .with_reader(bridge.reader())
        .build();
    registry.register(bridge.collector()).unwrap();
    provider
        .meter("t")
        .f64_gauge("temperature")
        .build()
        .record(1.0, &[]);
    let err = registry.encode_to_string(Format::Text).unwrap_err();
    assert!(matches!(err, Error::Collector { .. }), "{err}");
    assert!(err.to_string().contains("\"temperature\""), "{err}");

    // With `Skip`, the family is left out and the rest is exposed.
    let registry = Registry::builder()
        .collector_errors(CollectorErrors::Skip)
        .build()
        .unwrap();
    registry.gauge("temperature", "Already here.").unwrap();
    let bridge = OtelBridge::builder().build().unwrap();
    let provider = SdkMeterProvider::builder()
        .with_reader(bridge.reader())
        .build();
    registry.register(bridge.collector()).unwrap();
    provider
        .meter("t")
        .f64_gauge("temperature")
        .build()
        .record(1.0, &[]);
    assert!(registry.encode_to_string(Format::Text).is_ok());
}

#[test]
fn a_reader_without_provider_fails_the_scrape_with_a_clear_message() {
    let registry = Registry::new();
    let bridge = OtelBridge::builder().build().unwrap();
    registry.register(bridge.collector()).unwrap();
    let err = registry.encode_to_string(Format::Text).unwrap_err();
    assert!(
        err.to_string().contains("never given to a meter provider"),
        "{err}"
    );
}

#[test]
fn a_shut_down_provider_exposes_nothing_but_the_self_metric() {
    let s = setup();
    s.meter().u64_counter("c").build().add(1, &[]);
    s.provider.shutdown().unwrap();
    let text = s.text();
    assert!(!text.contains("c_total"), "{text}");
    assert!(
        text.contains("promenade_otel_bridge_dropped_series{reason=\"conflict\"} 0\n"),
        "{text}"
    );
}

#[test]
fn hostile_attributes_stay_bounded_and_valid() {
    let s = setup_with(OtelBridge::builder().max_series(500), |b| {
        b.with_resource(
            Resource::builder_empty()
                .with_attribute(KeyValue::new("a\"b\\c\nd", "v\"\\\n"))
                .build(),
        )
    });
    let m = s.meter();
    let c = m.u64_counter("hostile").build();
    let g = m.f64_gauge("hostile.gauge").build();
    for i in 0..100_000u32 {
        let value = format!("v{i}\"\\\n{{}}=,");
        c.add(
            1,
            &[
                KeyValue::new("id", value.clone()),
                KeyValue::new("ключ", "значение"),
            ],
        );
        g.record(f64::from(i), &[KeyValue::new("=,{}\"", value)]);
    }
    // Non-finite and negative values where the types allow them.
    g.record(f64::NAN, &[]);
    m.f64_counter("nan.counter").build().add(f64::NAN, &[]);
    let text = s.text();
    // Bounded: at most the cap, whatever the SDK holds.
    let series = text.lines().filter(|l| l.starts_with("hostile")).count();
    assert!(series <= 500, "{series}");
    assert!(s.bridge.collector().series() <= 500);
    assert!(
        text.contains("promenade_otel_bridge_dropped_series{reason=\"series_limit\"}"),
        "{text}"
    );
    // Every format passes the registry's own scrape-time checks (an invalid page is an
    // error there) and encodes.
    for format in [
        Format::Text,
        Format::OpenMetrics,
        #[cfg(feature = "protobuf")]
        Format::Protobuf,
    ] {
        s.registry.encode_to_vec(format).unwrap();
    }
    let again = s.text();
    assert_eq!(
        again.lines().filter(|l| l.starts_with("hostile")).count(),
        series
    );
}

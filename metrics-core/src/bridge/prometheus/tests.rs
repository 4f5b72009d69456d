//! The bridge against real tikv registries: every kind with labels, exact text output.

use ::prometheus::core::{Collector as TikvCollector, Desc};
use ::prometheus::proto::{
    LabelPair, Metric, MetricFamily, MetricType as TikvType, Quantile, Summary, Untyped,
};
use ::prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts};

use super::PrometheusBridge;
use crate::{Error, Format, Registry};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn label(name: &str, value: &str) -> LabelPair {
    let mut pair = LabelPair::default();
    pair.set_name(name.to_owned());
    pair.set_value(value.to_owned());
    pair
}

/// Families the tikv crate has no metric type for (summary, untyped), as a custom tikv
/// collector hands them to `gather()`.
struct Handmade {
    descs: Vec<Desc>,
}

impl Handmade {
    fn new() -> Result<Self, ::prometheus::Error> {
        Ok(Self {
            descs: vec![
                Desc::new(
                    "rpc_seconds".into(),
                    "RPC latency.".into(),
                    vec!["service".into()],
                    Default::default(),
                )?,
                Desc::new(
                    "legacy_value".into(),
                    "Legacy.".into(),
                    vec!["kind".into()],
                    Default::default(),
                )?,
            ],
        })
    }
}

impl TikvCollector for Handmade {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        let mut summary = Summary::default();
        summary.set_sample_count(40);
        summary.set_sample_sum(1.5);
        summary.set_quantile(
            [(0.5, 0.25), (0.99, 0.75)]
                .into_iter()
                .map(|(q, v)| {
                    let mut quantile = Quantile::default();
                    quantile.set_quantile(q);
                    quantile.set_value(v);
                    quantile
                })
                .collect(),
        );
        let mut rpc = Metric::from_label(vec![label("service", "db")]);
        rpc.set_summary(summary);
        let mut rpc_family = MetricFamily::default();
        rpc_family.set_name("rpc_seconds".into());
        rpc_family.set_help("RPC latency.".into());
        rpc_family.set_field_type(TikvType::SUMMARY);
        rpc_family.set_metric(vec![rpc]);

        let mut untyped = Untyped::default();
        untyped.set_value(7.0);
        let mut legacy = Metric::from_label(vec![label("kind", "x")]);
        legacy.untyped = Some(untyped).into();
        let mut legacy_family = MetricFamily::default();
        legacy_family.set_name("legacy_value".into());
        legacy_family.set_help("Legacy.".into());
        legacy_family.set_field_type(TikvType::UNTYPED);
        legacy_family.set_metric(vec![legacy]);
        vec![rpc_family, legacy_family]
    }
}

#[test]
fn every_kind_with_labels_round_trips_exactly() -> TestResult {
    let tikv = ::prometheus::Registry::new();
    let requests = IntCounterVec::new(Opts::new("requests_total", "Requests."), &["method"])?;
    let temperature = GaugeVec::new(Opts::new("temperature_celsius", "Temperature."), &["room"])?;
    let latency = HistogramVec::new(
        HistogramOpts::new("latency_seconds", "Latency.").buckets(vec![0.5, 1.0]),
        &["route"],
    )?;
    tikv.register(Box::new(requests.clone()))?;
    tikv.register(Box::new(temperature.clone()))?;
    tikv.register(Box::new(latency.clone()))?;
    tikv.register(Box::new(Handmade::new()?))?;
    requests.with_label_values(&["GET"]).inc_by(3);
    requests.with_label_values(&["POST"]).inc();
    temperature.with_label_values(&["hall"]).set(21.5);
    for v in [0.25, 0.5, 2.0] {
        latency.with_label_values(&["/a"]).observe(v);
    }

    let registry = Registry::new();
    registry.register(PrometheusBridge::new(tikv))?;
    let text = registry.encode_to_string(Format::Text)?;
    // `gather()` sorts families by name.
    let expected = "\
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{route=\"/a\",le=\"0.5\"} 2
latency_seconds_bucket{route=\"/a\",le=\"1\"} 2
latency_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3
latency_seconds_sum{route=\"/a\"} 2.75
latency_seconds_count{route=\"/a\"} 3
# HELP legacy_value Legacy.
# TYPE legacy_value untyped
legacy_value{kind=\"x\"} 7
# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{method=\"GET\"} 3
requests_total{method=\"POST\"} 1
# HELP rpc_seconds RPC latency.
# TYPE rpc_seconds summary
rpc_seconds{service=\"db\",quantile=\"0.5\"} 0.25
rpc_seconds{service=\"db\",quantile=\"0.99\"} 0.75
rpc_seconds_sum{service=\"db\"} 1.5
rpc_seconds_count{service=\"db\"} 40
# HELP temperature_celsius Temperature.
# TYPE temperature_celsius gauge
temperature_celsius{room=\"hall\"} 21.5
";
    assert_eq!(text, expected);
    Ok(())
}

#[test]
fn a_counter_without_total_gets_it() -> TestResult {
    let tikv = ::prometheus::Registry::new();
    let events = IntCounter::new("events", "Events.")?;
    tikv.register(Box::new(events.clone()))?;
    events.inc();
    let registry = Registry::new();
    registry.register(PrometheusBridge::new(tikv))?;
    let text = registry.encode_to_string(Format::Text)?;
    assert_eq!(
        text,
        "# HELP events_total Events.\n# TYPE events_total counter\nevents_total 1\n"
    );
    Ok(())
}

#[test]
fn a_name_both_registries_have_is_refused_at_registration() -> TestResult {
    let tikv = ::prometheus::Registry::new();
    tikv.register(Box::new(IntCounter::new("requests_total", "Requests.")?))?;
    let registry = Registry::new();
    registry.counter("requests_total", "Requests, again.")?;
    let err = registry
        .register(PrometheusBridge::new(tikv))
        .expect_err("the name is taken");
    assert!(matches!(err, Error::AlreadyRegistered { .. }), "{err}");
    assert!(err.to_string().contains("requests"), "{err}");
    Ok(())
}

#[test]
fn a_clash_that_appears_later_fails_the_scrape_naming_the_family() -> TestResult {
    let tikv = ::prometheus::Registry::new();
    let registry = Registry::new();
    registry
        .gauge("temperature_celsius", "Temperature.")?
        .set(20.0);
    registry.register(PrometheusBridge::new(tikv.clone()))?;
    tikv.register(Box::new(::prometheus::Gauge::new(
        "temperature_celsius",
        "Also.",
    )?))?;
    let err = registry
        .encode_to_string(Format::Text)
        .expect_err("a doubled name");
    assert!(matches!(err, Error::Collector { .. }), "{err}");
    assert!(err.to_string().contains("temperature_celsius"), "{err}");
    Ok(())
}

#[test]
fn an_empty_tikv_registry_is_fine() -> TestResult {
    let registry = Registry::new();
    registry.register(PrometheusBridge::new(::prometheus::Registry::new()))?;
    assert_eq!(registry.encode_to_string(Format::Text)?, "");
    assert_eq!(registry.encode_to_string(Format::OpenMetrics)?, "# EOF\n");
    Ok(())
}

#[test]
fn metrics_registered_after_the_bridge_appear_at_the_next_scrape() -> TestResult {
    let tikv = ::prometheus::Registry::new();
    let registry = Registry::new();
    registry.register(PrometheusBridge::new(tikv.clone()))?;
    assert_eq!(registry.encode_to_string(Format::Text)?, "");
    let jobs = IntCounter::new("jobs_total", "Jobs.")?;
    tikv.register(Box::new(jobs.clone()))?;
    jobs.inc_by(2);
    assert_eq!(
        registry.encode_to_string(Format::Text)?,
        "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 2\n"
    );
    Ok(())
}

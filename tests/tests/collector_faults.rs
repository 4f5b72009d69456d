//! Collectors that lie, repeat themselves or panic never make a page that the real
//! `promtool` or the strict OpenMetrics parser rejects: under `CollectorErrors::Skip` the
//! offending families are left out and the rest parses; under the default the scrape fails
//! with a message that names the collector.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use promenade_core::encoding::{FamilyHeader, HistogramValue, LabelSet, MetricEncoder};
use promenade_core::{Collector, CollectorErrors, Descriptor, Format, MetricType, Registry};
use promenade_tests::{
    PROMTOOL, PYTHON_PROMETHEUS_CLIENT, find_family, promtool_check_metrics,
    python_openmetrics_parse, python_text_parse, require_tool,
};

/// A collector that writes one kind of mistake after a valid family of its own.
struct Liar(&'static str);

fn header(name: &str, metric_type: MetricType) -> FamilyHeader<'_> {
    FamilyHeader {
        name,
        help: "Help.",
        unit: None,
        metric_type,
    }
}

impl Collector for Liar {
    fn descriptors(&self) -> Vec<Descriptor> {
        Vec::new()
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        let kind = self.0;
        let ok_name = format!("{kind}_ok");
        enc.family(&header(&ok_name, MetricType::Gauge));
        enc.gauge(&LabelSet::empty(), 1.0);
        let bad = format!("{kind}_bad");
        let l = |v: &str| LabelSet::from_pairs(&[("k", v)]).unwrap();
        match kind {
            "negative" => {
                enc.family(&header(&bad, MetricType::Counter));
                enc.counter(&l("a"), 3.0, None);
                enc.counter(&l("b"), -3.0, None);
            }
            "nan" => {
                enc.family(&header(&bad, MetricType::Counter));
                enc.counter(&l("a"), f64::NAN, None);
            }
            "dupseries" => {
                enc.family(&header(&bad, MetricType::Gauge));
                enc.gauge(&l("a"), 1.0);
                enc.gauge(&l("a"), 2.0);
            }
            "dupfamily" => {
                // Its own valid family, written a second time.
                enc.family(&header(&ok_name, MetricType::Gauge));
                enc.gauge(&l("again"), 2.0);
            }
            "emptyname" => {
                enc.family(&header("", MetricType::Gauge));
                enc.gauge(&l("a"), 1.0);
            }
            "wrongtype" => {
                enc.family(&header(&bad, MetricType::Counter));
                enc.gauge(&l("a"), 1.0);
            }
            "buckets" => {
                enc.family(&header(&bad, MetricType::Histogram));
                enc.histogram(
                    &l("a"),
                    &HistogramValue {
                        bounds: &[1.0, 2.0],
                        cumulative: &[5, 2],
                        count: 4,
                        sum: 3.0,
                        created: None,
                        native: None,
                        exemplars: None,
                        native_exemplars: &[],
                    },
                );
            }
            "panic" => {
                enc.family(&header(&bad, MetricType::Gauge));
                enc.gauge(&l("a"), 1.0);
                panic!("the backend went away mid-scrape");
            }
            _ => {}
        }
    }
}

const KINDS: [&str; 8] = [
    "negative",
    "nan",
    "dupseries",
    "dupfamily",
    "emptyname",
    "wrongtype",
    "buckets",
    "panic",
];

#[test]
fn skipped_faults_leave_pages_that_promtool_and_the_strict_parser_accept() {
    require_tool!(PROMTOOL);
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let registry = Registry::builder()
        .collector_errors(CollectorErrors::Skip)
        .build()
        .unwrap();
    registry
        .counter("requests_total", "Requests.")
        .unwrap()
        .inc();
    for kind in KINDS {
        registry.register(Liar(kind)).unwrap();
    }
    let text = registry.encode_to_string(Format::Text).unwrap();
    let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
    std::panic::set_hook(hook);

    promtool_check_metrics(&text).unwrap_or_else(|e| panic!("promtool: {e}\n{text}"));
    python_text_parse(&text).unwrap_or_else(|e| panic!("0.0.4 parser: {e}\n{text}"));
    let families =
        python_openmetrics_parse(&om).unwrap_or_else(|e| panic!("OpenMetrics parser: {e}\n{om}"));
    for kind in KINDS {
        assert!(
            find_family(&families, &format!("{kind}_ok")).is_some(),
            "the valid family before the {kind} fault is missing:\n{om}"
        );
        assert!(
            find_family(&families, &format!("{kind}_bad")).is_none(),
            "the {kind} fault was exposed:\n{om}"
        );
    }
    assert!(find_family(&families, "requests").is_some());
    let errors = find_family(&families, "promenade_scrape_collector_errors").unwrap();
    // Two scrapes (text, OpenMetrics), eight faulty collectors each.
    assert_eq!(
        errors
            .sample("promenade_scrape_collector_errors_total", &[])
            .unwrap()
            .value,
        16.0
    );
}

#[test]
fn by_default_each_fault_fails_the_scrape_naming_the_collector() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    for kind in KINDS {
        let registry = Registry::new();
        registry.register(Liar(kind)).unwrap();
        for format in [Format::Text, Format::OpenMetrics, Format::Protobuf] {
            let err = registry.encode_to_vec(format).unwrap_err().to_string();
            assert!(
                err.contains("collector_faults::Liar"),
                "{kind}/{format:?}: {err}"
            );
        }
    }
    std::panic::set_hook(hook);
}

//! A collector's invalid output or panic never becomes an invalid page: the scrape fails
//! with an error naming the collector (default), or the offending family is left out and
//! counted (`CollectorErrors::Skip`).

use promenade_core::encoding::{FamilyHeader, HistogramValue, LabelSet, MetricEncoder};
use promenade_core::{Collector, CollectorErrors, Descriptor, Error, Format, MetricType, Registry};

/// A collector that runs a closure; named per case so the error can name it.
struct Writes(fn(&mut MetricEncoder<'_>));

impl Collector for Writes {
    fn descriptors(&self) -> Vec<Descriptor> {
        Vec::new()
    }
    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        (self.0)(enc)
    }
}

fn header(name: &str, metric_type: MetricType) -> FamilyHeader<'_> {
    FamilyHeader {
        name,
        help: "Help.",
        unit: None,
        metric_type,
    }
}

fn labels(v: &str) -> LabelSet<'static> {
    LabelSet::from_pairs(&[("k", v)]).unwrap()
}

/// Writes a valid family first, then `bad`'s family; `good` must survive under Skip.
fn case(bad: fn(&mut MetricEncoder<'_>), expect: &str) {
    case_keeping(bad, expect, None);
}

/// As [`case`]; `kept` is a family of the bad collector written validly before its
/// mistake, which stays exposed (once) under Skip.
fn case_keeping(bad: fn(&mut MetricEncoder<'_>), expect: &str, kept: Option<&str>) {
    for format in [Format::Text, Format::OpenMetrics] {
        // Default policy: the scrape fails with a message naming the collector.
        let registry = Registry::new();
        registry.gauge("good", "Good.").unwrap().set(1.0);
        registry.register(Writes(bad)).unwrap();
        let err = registry.encode_to_string(format).unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, Error::Collector { .. }), "{message}");
        assert!(
            message.contains("Writes"),
            "does not name the collector: {message}"
        );
        assert!(
            message.contains(expect),
            "{message:?} does not say {expect:?}"
        );

        // Skip: the family is left out, the rest is exposed, the error is counted.
        let registry = Registry::builder()
            .collector_errors(CollectorErrors::Skip)
            .build()
            .unwrap();
        registry.gauge("good", "Good.").unwrap().set(1.0);
        registry.register(Writes(bad)).unwrap();
        for scrape in 1..=2 {
            let page = registry.encode_to_string(format).unwrap();
            assert!(
                page.contains("\ngood 1") || page.starts_with("# HELP good"),
                "{page}"
            );
            let types: Vec<&str> = page.lines().filter(|l| l.starts_with("# TYPE")).collect();
            let mut unique = types.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(
                types.len(),
                unique.len(),
                "a family is written twice:\n{page}"
            );
            match kept {
                Some(name) => assert!(page.contains(&format!("# TYPE {name}")), "{page}"),
                None => assert!(
                    !page.contains("bad"),
                    "the offending family was exposed:\n{page}"
                ),
            }
            assert!(
                page.contains(&format!("promenade_scrape_collector_errors_total {scrape}")),
                "{page}"
            );
        }
    }
}

#[test]
fn negative_counter() {
    case(
        |enc| {
            enc.family(&header("bad", MetricType::Counter));
            enc.counter(&labels("a"), -1.0, None);
        },
        "non-negative",
    );
}

#[test]
fn nan_counter() {
    case(
        |enc| {
            enc.family(&header("bad", MetricType::Counter));
            enc.counter(&labels("a"), 1.0, None);
            enc.counter(&labels("b"), f64::NAN, None);
        },
        "NaN",
    );
}

#[test]
fn duplicate_family_in_one_collector() {
    case_keeping(
        |enc| {
            enc.family(&header("bad", MetricType::Gauge));
            enc.gauge(&labels("a"), 1.0);
            enc.family(&header("bad", MetricType::Gauge));
            enc.gauge(&labels("b"), 1.0);
        },
        "already written",
        Some("bad"),
    );
}

#[test]
fn family_clashing_with_another_collector() {
    // `good` is written by the registry's own gauge; this collector writes it again.
    for format in [Format::Text, Format::OpenMetrics] {
        let registry = Registry::new();
        registry.gauge("good", "Good.").unwrap().set(1.0);
        registry
            .register(Writes(|enc| {
                enc.family(&header("good", MetricType::Gauge));
                enc.gauge(&LabelSet::empty(), 2.0);
            }))
            .unwrap();
        let message = registry.encode_to_string(format).unwrap_err().to_string();
        assert!(message.contains("already written"), "{message}");
    }
}

#[test]
fn sample_names_clashing_across_families() {
    case_keeping(
        |enc| {
            enc.family(&header("bad", MetricType::Counter));
            enc.counter(&LabelSet::empty(), 1.0, None);
            // `bad_total` is the counter's sample name.
            enc.family(&header("bad_total", MetricType::Gauge));
            enc.gauge(&LabelSet::empty(), 1.0);
        },
        "already written",
        Some("bad"),
    );
}

#[test]
fn duplicate_series() {
    case(
        |enc| {
            enc.family(&header("bad", MetricType::Gauge));
            enc.gauge(&labels("a"), 1.0);
            enc.gauge(&labels("a"), 2.0);
        },
        "twice",
    );
}

#[test]
fn empty_family_name() {
    case(
        |enc| {
            enc.family(&header("", MetricType::Gauge));
            enc.gauge(&labels("bad"), 1.0);
        },
        "invalid name",
    );
}

#[test]
fn invalid_family_name() {
    case(
        |enc| {
            enc.family(&header("bad\"name{", MetricType::Gauge));
            enc.gauge(&labels("a"), 1.0);
        },
        "invalid name",
    );
}

#[test]
fn sample_of_the_wrong_type() {
    case(
        |enc| {
            enc.family(&header("bad", MetricType::Counter));
            enc.gauge(&labels("a"), 1.0);
        },
        "gauge sample into counter family",
    );
}

#[test]
fn sample_before_any_family() {
    case(|enc| enc.gauge(&labels("bad"), 1.0), "before any family");
}

#[test]
fn reserved_label_in_a_histogram() {
    case(
        |enc| {
            enc.family(&header("bad", MetricType::Histogram));
            let value = HistogramValue {
                bounds: &[1.0],
                cumulative: &[1],
                count: 1,
                sum: 0.5,
                created: None,
                native: None,
                exemplars: None,
                native_exemplars: &[],
            };
            enc.histogram(&LabelSet::from_pairs(&[("le", "x")]).unwrap(), &value);
        },
        "reserved",
    );
}

#[test]
fn non_cumulative_histogram() {
    case(
        |enc| {
            enc.family(&header("bad", MetricType::Histogram));
            let value = HistogramValue {
                bounds: &[1.0, 2.0],
                cumulative: &[3, 1],
                count: 3,
                sum: 4.0,
                created: None,
                native: None,
                exemplars: None,
                native_exemplars: &[],
            };
            enc.histogram(&labels("a"), &value);
        },
        "non-cumulative",
    );
}

#[test]
fn unsorted_histogram_bounds() {
    case(
        |enc| {
            enc.family(&header("bad", MetricType::Histogram));
            let value = HistogramValue {
                bounds: &[2.0, 1.0],
                cumulative: &[0, 1],
                count: 1,
                sum: 1.0,
                created: None,
                native: None,
                exemplars: None,
                native_exemplars: &[],
            };
            enc.histogram(&labels("a"), &value);
        },
        "strictly increasing",
    );
}

#[test]
fn panicking_collector() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    case(
        |enc| {
            enc.family(&header("bad", MetricType::Gauge));
            enc.gauge(&labels("a"), 1.0);
            panic!("backend unreachable");
        },
        "panicked during the scrape: backend unreachable",
    );
    std::panic::set_hook(hook);
}

#[test]
fn constant_label_repeated_by_a_collector() {
    let registry = Registry::builder().const_label("k", "v").build().unwrap();
    registry
        .register(Writes(|enc| {
            enc.family(&header("bad", MetricType::Gauge));
            enc.gauge(&labels("a"), 1.0);
        }))
        .unwrap();
    let message = registry
        .encode_to_string(Format::Text)
        .unwrap_err()
        .to_string();
    assert!(message.contains("reserved"), "{message}");
}

#[cfg(feature = "protobuf")]
#[test]
fn protobuf_leaves_out_the_offending_family_whole() {
    let registry = Registry::builder()
        .collector_errors(CollectorErrors::Skip)
        .build()
        .unwrap();
    registry.gauge("good", "Good.").unwrap().set(1.0);
    registry
        .register(Writes(|enc| {
            enc.family(&header("fine", MetricType::Gauge));
            enc.gauge(&labels("a"), 1.0);
            enc.family(&header("bad", MetricType::Counter));
            enc.counter(&labels("a"), 1.0, None);
            enc.counter(&labels("b"), -1.0, None);
        }))
        .unwrap();
    let body = registry.encode_to_vec(Format::Protobuf).unwrap();
    let families = promenade_core::encoding::protobuf::decode_delimited(&body).unwrap();
    let names: Vec<_> = families.iter().filter_map(|f| f.name.as_deref()).collect();
    assert_eq!(
        names,
        ["good", "fine", "promenade_scrape_collector_errors_total"]
    );
}

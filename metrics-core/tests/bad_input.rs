//! Bad input gets an error value, never a panic, and loses nothing already recorded.

use promenade_core::{
    Buckets, Counter, Error, Family, Format, Gauge, Histogram, Registry, States, Summary,
    exponential_buckets, linear_buckets,
};

#[test]
fn invalid_metric_and_label_names() {
    for bad in ["", "1abc", "a-b", "a b", "ä", "a.b", "a{b}"] {
        assert!(
            matches!(
                Family::<Gauge>::builder(bad, "x").build(),
                Err(Error::InvalidMetricName(_))
            ),
            "{bad:?}"
        );
    }
    for bad in ["", "1a", "a:b", "a-b", "é"] {
        assert!(
            matches!(
                Family::<Gauge>::builder("ok", "x").labels(&[bad]).build(),
                Err(Error::InvalidLabelName(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Family::<Gauge>::builder("ok", "x")
            .labels(&["__reserved"])
            .build(),
        Err(Error::ReservedLabelName { .. })
    ));
    assert!(matches!(
        Family::<Gauge>::builder("ok", "x")
            .labels(&["a", "a"])
            .build(),
        Err(Error::DuplicateLabelName(_))
    ));
}

#[test]
fn reserved_labels_per_type() {
    assert!(
        Family::<Histogram>::builder("h", "x")
            .labels(&["le"])
            .build()
            .is_err()
    );
    assert!(
        Family::<Summary>::builder("s", "x")
            .labels(&["quantile"])
            .build()
            .is_err()
    );
    assert!(
        Family::<Gauge>::builder("g", "x")
            .labels(&["le", "quantile"])
            .build()
            .is_ok()
    );
    let states = States::new(["a"]).unwrap();
    assert!(
        Family::<promenade_core::StateSet>::builder_with_options("mode", "x", states)
            .labels(&["mode"])
            .build()
            .is_err()
    );
}

#[test]
fn label_count_mismatch_is_an_error() {
    let f = Family::<Counter>::builder("c", "C.")
        .labels(&["a", "b"])
        .build()
        .unwrap();
    assert_eq!(
        f.get(&["x"]).err(),
        Some(Error::LabelCount {
            family: "c".into(),
            labels: vec!["a".into(), "b".into()],
            expected: 2,
            got: 1
        })
    );
    assert!(f.get(&["x", "y", "z"]).is_err());
    assert!(f.series(&[] as &[&str]).is_err());
    assert!(f.get_by_name(&[("a", "1"), ("c", "2")]).is_err());
    assert!(!f.remove(&["x"]));
    assert!(f.is_empty());
}

#[test]
fn counter_rejects_negative_and_nan_without_losing_value() {
    let c = Counter::default();
    c.inc_by(2.0).unwrap();
    assert!(matches!(c.inc_by(-1.0), Err(Error::InvalidIncrement(_))));
    assert!(c.inc_by(f64::NAN).is_err());
    assert!(c.inc_by(f64::NEG_INFINITY).is_err());
    assert_eq!(c.get(), 2.0);
    c.inc_by(f64::INFINITY).unwrap();
    assert_eq!(c.get(), f64::INFINITY);
}

#[test]
fn bucket_validation() {
    assert!(Buckets::new(vec![1.0, 0.5]).is_err());
    assert!(Buckets::new(vec![1.0, 1.0]).is_err());
    assert!(Buckets::new(vec![f64::NAN]).is_err());
    assert!(Buckets::new(vec![]).is_ok());
    assert_eq!(
        Buckets::new(vec![1.0, f64::INFINITY]).unwrap().bounds(),
        &[1.0]
    );
    assert!(linear_buckets(0.0, -1.0, 3).is_err());
    assert!(linear_buckets(0.0, 1.0, 0).is_err());
    assert!(exponential_buckets(1.0, 1.0, 3).is_err());
    assert!(exponential_buckets(-1.0, 2.0, 3).is_err());
    assert!(exponential_buckets(1.0, f64::NAN, 3).is_err());
}

#[test]
fn duplicate_and_clashing_registration() {
    let r = Registry::new();
    r.counter("foo", "Foo.").unwrap();
    // Same counter under its other spelling, a gauge on one of its sample names, the same name.
    assert!(matches!(
        r.counter("foo_total", "x"),
        Err(Error::AlreadyRegistered { .. })
    ));
    assert!(r.gauge("foo_created", "x").is_err());
    assert!(r.gauge("foo_total", "x").is_err());
    assert!(r.gauge("foo", "x").is_err());
    r.histogram("lat", "x", Buckets::default()).unwrap();
    assert!(r.gauge("lat_bucket", "x").is_err());
    assert!(r.gauge("lat_count", "x").is_err());
    assert!(r.gauge("lat_sum", "x").is_err());
    r.info("build", "x", &[("v", "1")]).unwrap();
    assert!(r.gauge("build_info", "x").is_err());
    // Distinct names are fine, and nothing registered before is lost.
    r.gauge("foo_bar", "x").unwrap();
    let text = r.encode_to_string(Format::Text).unwrap();
    assert!(text.contains("foo_total 0"));
    assert!(text.contains("foo_bar 0"));
}

#[test]
fn registry_constant_labels_cannot_be_reused() {
    let r = Registry::builder()
        .const_label("env", "prod")
        .build()
        .unwrap();
    assert!(r.counter_family("c", "C.", &["env"]).is_err());
    assert!(
        Registry::builder()
            .const_label("bad-name", "x")
            .build()
            .is_err()
    );
    assert!(Registry::builder().prefix("").build().is_err());
}

#[test]
fn unit_must_match_name() {
    assert!(matches!(
        Family::<Gauge>::builder("latency", "x")
            .unit("seconds")
            .build(),
        Err(Error::UnitMismatch { .. })
    ));
}

#[test]
fn stateset_unknown_state() {
    let s = Registry::new()
        .stateset("m", "M.", States::new(["a", "b"]).unwrap())
        .unwrap();
    assert!(matches!(s.set("c"), Err(Error::UnknownState(_))));
    assert!(States::new(["x", "x"]).is_err());
}

#[test]
fn hostile_label_values_are_escaped_not_rejected() {
    let r = Registry::new();
    let f = r.counter_family("c", "C.", &["v"]).unwrap();
    let hostile = [
        "\"} 1\nevil_metric 666\n#",
        "\\",
        "\n\n",
        "",
        "\u{0}",
        "\u{1F631}",
        "a\"b\\c\nd",
    ];
    for v in hostile {
        f.get(&[v]).unwrap().inc();
    }
    for format in [Format::Text, Format::OpenMetrics] {
        let text = r.encode_to_string(format).unwrap();
        assert!(
            !text.lines().any(|l| l.starts_with("evil_metric")),
            "injection in {format:?}:\n{text}"
        );
        let samples = text.lines().filter(|l| l.starts_with("c_total")).count();
        assert_eq!(samples, hostile.len());
    }
}

// Regressions found by the `encode` fuzz target (fuzz/, see fuzz/README.md).

#[test]
fn fuzz_a_second_trailing_inf_bound_is_refused() {
    // Only one trailing +Inf is implicit; `[1, +Inf, +Inf]` used to leave a finite-looking
    // `+Inf` bound and so write two `le="+Inf"` buckets.
    assert!(Buckets::new(vec![1.0, f64::INFINITY, f64::INFINITY]).is_err());
    assert!(Buckets::new(vec![f64::INFINITY, f64::INFINITY]).is_err());
    assert_eq!(
        Buckets::new(vec![1.0, f64::INFINITY]).unwrap().bounds(),
        &[1.0]
    );
}

#[test]
fn fuzz_reserved_labels_from_constant_labels_are_refused() {
    // A registry-wide `le` label used to be written next to the bucket's own `le`.
    let r = Registry::builder().const_label("le", "x").build().unwrap();
    assert!(matches!(
        r.histogram("h", "H.", Buckets::default()),
        Err(Error::ReservedLabelName { .. })
    ));
    assert!(r.gauge("g", "G.").is_ok());
    let r = Registry::builder()
        .const_label("quantile", "x")
        .build()
        .unwrap();
    assert!(r.summary("s", "S.").is_err());
}

#[test]
fn fuzz_state_set_label_clashes_and_colons_are_refused() {
    // The state label is named like the family (with the registry prefix); it used to be
    // written next to a constant label of the same name, or as the invalid label name `a:b`.
    let states = || States::new(["on", "off"]).unwrap();
    let r = Registry::builder()
        .const_label("mode", "x")
        .build()
        .unwrap();
    assert!(r.stateset("mode", "M.", states()).is_err());
    let r = Registry::builder().prefix("p").build().unwrap();
    let f = Family::<promenade_core::StateSet>::builder_with_options("s", "S.", states())
        .labels(&["p_s"])
        .build()
        .unwrap();
    assert!(r.register(f).is_err());
    assert!(Registry::new().stateset("a:b", "A.", states()).is_err());
    let r = Registry::builder().prefix("ns:x").build().unwrap();
    assert!(r.stateset("mode", "M.", states()).is_err());
    assert!(r.gauge("g", "G.").is_ok());
}

#[test]
fn fuzz_utf8_state_set_label_is_quoted() {
    let r = Registry::new();
    let f = Family::<promenade_core::StateSet>::builder_with_options(
        "door.state",
        "D.",
        States::new(["open"]).unwrap(),
    )
    .allow_utf8_names()
    .build()
    .unwrap();
    r.register(f).unwrap();
    let n =
        promenade_core::encoding::negotiate(Some("text/plain;version=0.0.4;escaping=allow-utf-8"));
    let text = String::from_utf8(r.encode_negotiated(&n).unwrap()).unwrap();
    assert!(
        text.contains("{\"door.state\",\"door.state\"=\"open\"} 0\n"),
        "{text}"
    );
    // Escaped, the label name is the escaped family name.
    let text = r.encode_to_string(Format::Text).unwrap();
    assert!(
        text.contains("door_state{door_state=\"open\"} 0\n"),
        "{text}"
    );
}

#[test]
fn fuzz_custom_collector_unit_must_fit_its_name() {
    use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    use promenade_core::{Collector, Descriptor, MetricType};

    /// Declares `unit` for `name`, and writes `written_unit` in the header at scrape time.
    struct U {
        name: &'static str,
        unit: Option<&'static str>,
        written_unit: Option<&'static str>,
    }
    impl Collector for U {
        fn descriptors(&self) -> Vec<Descriptor> {
            let mut d = Descriptor::new(self.name, "U.", MetricType::Gauge, &[] as &[&str]);
            d.unit = self.unit.map(str::to_owned);
            vec![d]
        }
        fn collect(&self, enc: &mut MetricEncoder<'_>) {
            enc.family(&FamilyHeader {
                name: self.name,
                help: "U.",
                unit: self.written_unit,
                metric_type: MetricType::Gauge,
            });
            enc.gauge(&LabelSet::empty(), 1.0);
        }
    }
    // Registration refuses a declared unit that is not the name's suffix, as OpenMetrics
    // requires...
    let r = Registry::new();
    let bad = U {
        name: "a",
        unit: Some("a"),
        written_unit: Some("a"),
    };
    assert!(matches!(r.register(bad), Err(Error::UnitMismatch { .. })));
    // ...and the encoder leaves out a header unit that does not fit rather than write it.
    let sneaky = U {
        name: "b",
        unit: None,
        written_unit: Some("x y"),
    };
    r.register(sneaky).unwrap();
    let good = U {
        name: "c_seconds",
        unit: Some("seconds"),
        written_unit: Some("seconds"),
    };
    r.register(good).unwrap();
    let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    assert!(!om.contains("# UNIT b"), "{om}");
    assert!(om.contains("# UNIT c_seconds seconds\n"), "{om}");
    // A UTF-8 name whose unit escaping changes loses the unit too, not the suffix rule.
    let f = Family::<Gauge>::builder("size_kilo.bytes", "S.")
        .unit("kilo.bytes")
        .allow_utf8_names()
        .build()
        .unwrap();
    let r = Registry::new();
    r.register(f).unwrap();
    let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    assert!(!om.contains("# UNIT"), "{om}");
}

#[test]
fn fuzz_label_clashes_after_escaping_are_refused() {
    // A UTF-8 state set `a.b` writes its state label as `a_b` under `underscores`, next to a
    // constant label `a_b`; the same for a UTF-8 label name of any family.
    let r = Registry::builder().const_label("a_b", "x").build().unwrap();
    let s = Family::<promenade_core::StateSet>::builder_with_options(
        "a.b",
        "S.",
        States::new(["on"]).unwrap(),
    )
    .allow_utf8_names()
    .build()
    .unwrap();
    assert!(matches!(r.register(s), Err(Error::DuplicateLabelName(_))));
    let g = Family::<Gauge>::builder("g", "G.")
        .labels(&["a.b"])
        .allow_utf8_names()
        .build()
        .unwrap();
    assert!(matches!(r.register(g), Err(Error::DuplicateLabelName(_))));
}

//! The exact error value for each invalid family definition, from the family builder and
//! from registration.
//!
//! Both places check the same rules (names, reserved labels, label clashes after escaping,
//! unit suffix) but each has its own order and wording: when a definition breaks several
//! rules, the first failing rule decides the error. These tests pin every value, including
//! the order, so that a change to the shared checks shows here.

use promenade_core::encoding::MetricEncoder;
use promenade_core::{
    Buckets, Collector, Counter, Descriptor, Error, Family, Gauge, GaugeHistogram, Histogram,
    MetricType, QuantileOptions, QuantileSummary, Registry, StateSet, States, Summary,
};

fn reserved(name: &str, context: &'static str) -> Error {
    Error::ReservedLabelName {
        name: name.to_owned(),
        context,
    }
}

const FOR_TYPE: &str = " for this metric type";
const INTERNAL: &str = " (names starting with __ are for internal use)";
const OWN_NAME: &str = " (a state set uses its own name as the state label)";

fn unit_mismatch(name: &str, unit: &str) -> Error {
    Error::UnitMismatch {
        name: name.to_owned(),
        unit: unit.to_owned(),
    }
}

fn states() -> States {
    States::new(["open", "shut"]).unwrap()
}

#[test]
fn family_builder_errors() {
    let gauge = |name: &str, labels: &[&str]| {
        Family::<Gauge>::builder(name, "G.")
            .labels(labels)
            .build()
            .unwrap_err()
    };
    assert_eq!(
        gauge("bad name", &[]),
        Error::InvalidMetricName("bad name".into())
    );
    assert_eq!(gauge("ok", &["a-b"]), Error::InvalidLabelName("a-b".into()));
    assert_eq!(gauge("ok", &["__x"]), reserved("__x", INTERNAL));
    assert_eq!(
        gauge("ok", &["a", "a"]),
        Error::DuplicateLabelName("a".into())
    );
    // The metric name is checked before the label names.
    assert_eq!(
        gauge("1st", &["a-b"]),
        Error::InvalidMetricName("1st".into())
    );

    // Reserved labels per type.
    let h = Family::<Histogram>::builder("h", "H.")
        .labels(&["le"])
        .build();
    assert_eq!(h.unwrap_err(), reserved("le", FOR_TYPE));
    let gh = Family::<GaugeHistogram>::builder("gh", "H.")
        .labels(&["le"])
        .build();
    assert_eq!(gh.unwrap_err(), reserved("le", FOR_TYPE));
    let s = Family::<Summary>::builder("s", "S.")
        .labels(&["quantile"])
        .build();
    assert_eq!(s.unwrap_err(), reserved("quantile", FOR_TYPE));
    let q = Family::<QuantileSummary>::builder("q", "Q.")
        .labels(&["quantile"])
        .build();
    assert_eq!(q.unwrap_err(), reserved("quantile", FOR_TYPE));
    assert!(
        Family::<Gauge>::builder("g", "G.")
            .labels(&["le", "quantile"])
            .build()
            .is_ok()
    );

    // A state set's own name is its state label.
    let door = Family::<StateSet>::builder_with_options("door", "D.", states())
        .labels(&["door"])
        .build();
    assert_eq!(door.unwrap_err(), reserved("door", OWN_NAME));
    // A `:` is fine in a state set's name here; registration refuses it (below).
    assert!(
        Family::<StateSet>::builder_with_options("a:b", "D.", states())
            .build()
            .is_ok()
    );

    // Unit suffix, checked on the normalised name (counters without `_total`).
    let h = Family::<Histogram>::builder("latency", "L.")
        .unit("seconds")
        .build();
    assert_eq!(h.unwrap_err(), unit_mismatch("latency", "seconds"));
    let c = Family::<Counter>::builder("jobs_total", "J.")
        .unit("total")
        .build();
    assert_eq!(c.unwrap_err(), unit_mismatch("jobs", "total"));
    assert!(
        Family::<Gauge>::builder("temp", "T.")
            .unit("")
            .build()
            .is_ok()
    );

    // Order: a reserved label (or a state set's own name) is reported before the unit.
    let h = Family::<Histogram>::builder("latency", "L.")
        .labels(&["le"])
        .unit("seconds")
        .build();
    assert_eq!(h.unwrap_err(), reserved("le", FOR_TYPE));
    let door = Family::<StateSet>::builder_with_options("door", "D.", states())
        .labels(&["door"])
        .unit("x")
        .build();
    assert_eq!(door.unwrap_err(), reserved("door", OWN_NAME));
    // Names before reserved labels.
    let h = Family::<Histogram>::builder("h", "H.")
        .labels(&["le", "le"])
        .build();
    assert_eq!(h.unwrap_err(), Error::DuplicateLabelName("le".into()));
}

#[test]
fn family_builder_utf8_errors() {
    let utf8 = |name: &str, labels: &[&str]| {
        Family::<Gauge>::builder(name, "G.")
            .labels(labels)
            .allow_utf8_names()
            .build()
            .unwrap_err()
    };
    assert_eq!(utf8("", &[]), Error::InvalidMetricName(String::new()));
    assert_eq!(utf8("a{b", &[]), Error::InvalidMetricName("a{b".into()));
    assert_eq!(utf8("ok", &[""]), Error::InvalidLabelName(String::new()));
    assert_eq!(utf8("ok", &["__x"]), reserved("__x", INTERNAL));
    assert_eq!(
        utf8("ok", &["a.b", "a.b"]),
        Error::DuplicateLabelName("a.b".into())
    );
    // Two names that one escaping scheme writes alike.
    assert_eq!(
        utf8("ok", &["a.b", "a_b"]),
        Error::DuplicateLabelName(r#"["a.b", "a_b"] after underscores escaping"#.into())
    );
    assert_eq!(
        utf8("ok", &["a.b", "a_dot_b"]),
        Error::DuplicateLabelName(r#"["a.b", "a_dot_b"] after dots escaping"#.into())
    );
    // An escaped name that would be reserved is reported the same way.
    assert_eq!(
        utf8("ok", &["_.x"]),
        Error::DuplicateLabelName(r#"["_.x"] after underscores escaping"#.into())
    );
    let h = Family::<Histogram>::builder("h.x", "H.")
        .labels(&["le"])
        .allow_utf8_names()
        .build();
    assert_eq!(h.unwrap_err(), reserved("le", FOR_TYPE));
    let h = Family::<Histogram>::builder("h.x", "H.")
        .unit("seconds")
        .allow_utf8_names()
        .build();
    assert_eq!(h.unwrap_err(), unit_mismatch("h.x", "seconds"));
}

/// A collector that only describes families.
struct Describes(Vec<Descriptor>);

impl Collector for Describes {
    fn descriptors(&self) -> Vec<Descriptor> {
        self.0.clone()
    }
    fn collect(&self, _: &mut MetricEncoder<'_>) {}
}

fn desc(name: &str, ty: MetricType, labels: &[&str], unit: Option<&str>) -> Describes {
    let mut d = Descriptor::new(name, "D.", ty, labels);
    d.unit = unit.map(str::to_owned);
    Describes(vec![d])
}

#[test]
fn registration_errors() {
    let r = Registry::new();
    let err = |c: Describes| r.register(c).unwrap_err();
    assert_eq!(
        err(desc("", MetricType::Gauge, &[], None)),
        Error::InvalidMetricName(String::new())
    );
    assert_eq!(
        err(desc("ok", MetricType::Gauge, &[""], None)),
        Error::InvalidLabelName(String::new())
    );
    assert_eq!(
        err(desc("ok", MetricType::Gauge, &["__x"], None)),
        reserved("__x", INTERNAL)
    );
    assert_eq!(
        err(desc("ok", MetricType::Gauge, &["a", "a"], None)),
        Error::DuplicateLabelName("a".into())
    );
    // Clashes after escaping name the escaped label.
    assert_eq!(
        err(desc("ok", MetricType::Gauge, &["a.b", "a_b"], None)),
        Error::DuplicateLabelName("a_b".into())
    );
    assert_eq!(
        err(desc("ok", MetricType::Histogram, &["le"], None)),
        reserved("le", FOR_TYPE)
    );
    assert_eq!(
        err(desc("ok", MetricType::Summary, &["quantile"], None)),
        reserved("quantile", FOR_TYPE)
    );
    assert_eq!(
        err(desc("latency", MetricType::Gauge, &[], Some("seconds"))),
        unit_mismatch("latency", "seconds")
    );
    // Order: the unit is reported before a reserved label here (unlike the family builder).
    assert_eq!(
        err(desc(
            "latency",
            MetricType::Histogram,
            &["le"],
            Some("seconds")
        )),
        unit_mismatch("latency", "seconds")
    );
    // A state set: no `:` in its name (it becomes a label name), and its own name is a
    // label that clashes with a label of the same name.
    assert_eq!(
        err(desc("a:b", MetricType::StateSet, &[], None)),
        Error::InvalidLabelName("a:b".into())
    );
    assert_eq!(
        err(desc("door", MetricType::StateSet, &["door"], None)),
        Error::DuplicateLabelName("door".into())
    );
    assert_eq!(
        err(desc("a.b", MetricType::StateSet, &["a_b"], None)),
        Error::DuplicateLabelName("a_b".into())
    );
    // A family the builder accepted can still be refused at registration.
    let colon = Family::<StateSet>::builder_with_options("a:b", "D.", states())
        .build()
        .unwrap();
    assert_eq!(
        r.register(colon).unwrap_err(),
        Error::InvalidLabelName("a:b".into())
    );
    // Sample names shared with another family, within one collector or across two.
    let two = Describes(vec![
        Descriptor::new("jobs", "J.", MetricType::Counter, &[] as &[&str]),
        Descriptor::new("jobs_created", "J.", MetricType::Gauge, &[] as &[&str]),
    ]);
    assert_eq!(
        r.register(two).unwrap_err(),
        Error::AlreadyRegistered {
            name: "jobs_created".into(),
            existing: "jobs_created".into()
        }
    );
    r.counter("jobs_total", "J.").unwrap();
    assert_eq!(
        r.gauge("jobs_created", "J.").unwrap_err(),
        Error::AlreadyRegistered {
            name: "jobs_created".into(),
            existing: "jobs_created".into()
        }
    );
}

#[test]
fn registration_errors_with_prefix_and_constant_labels() {
    let r = Registry::builder()
        .prefix("app")
        .const_label("env", "prod")
        .const_label("a_b", "x")
        .build()
        .unwrap();
    let err = |c: Describes| r.register(c).unwrap_err();
    assert_eq!(
        err(desc("ok", MetricType::Gauge, &["env"], None)),
        Error::DuplicateLabelName("env".into())
    );
    assert_eq!(
        err(desc("ok", MetricType::Gauge, &["a.b"], None)),
        Error::DuplicateLabelName("a_b".into())
    );
    // The unit must fit the prefixed name.
    assert_eq!(
        err(desc("temp", MetricType::Gauge, &[], Some("celsius"))),
        unit_mismatch("app_temp", "celsius")
    );
    assert!(
        r.register(desc(
            "temp_celsius",
            MetricType::Gauge,
            &[],
            Some("celsius")
        ))
        .is_ok()
    );
    // A state set's label is its prefixed name.
    assert_eq!(
        err(desc("mode", MetricType::StateSet, &["app_mode"], None)),
        Error::DuplicateLabelName("app_mode".into())
    );
    assert!(
        r.register(desc("mode", MetricType::StateSet, &["mode"], None))
            .is_ok()
    );
    // A reserved label may not come from the constant labels either.
    let le = Registry::builder().const_label("le", "x").build().unwrap();
    assert_eq!(
        le.histogram("h", "H.", Buckets::default()).unwrap_err(),
        reserved("le", FOR_TYPE)
    );
    assert!(le.gauge("g", "G.").is_ok());
    let q = Registry::builder()
        .const_label("quantile", "x")
        .build()
        .unwrap();
    assert_eq!(
        q.quantile_summary("q", "Q.", QuantileOptions::default())
            .unwrap_err(),
        reserved("quantile", FOR_TYPE)
    );
    // A `:` in the prefix ends up in a state set's label name.
    let colon = Registry::builder().prefix("a:b").build().unwrap();
    assert_eq!(
        colon.stateset("s", "S.", states()).map(|_| ()).unwrap_err(),
        Error::InvalidLabelName("a:b_s".into())
    );
}

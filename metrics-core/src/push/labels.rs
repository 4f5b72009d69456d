//! The check that no pushed series already carries `job` or a grouping-key label, which the
//! gateway would overwrite with the group's value.
//!
//! It reads the registry's structure, not an encoding of it: every family's label names as
//! the push body writes them. A collector that describes no families can write any label,
//! so for those alone the check falls back to reading the samples of the text exposition.

use super::PushError;
use crate::collector::Descriptor;
use crate::encoding::{EscapingScheme, escape_name_for_exposition};
use crate::metric::MetricType;
use crate::name::is_valid_label_name;
use crate::registry::Registry;

/// The escaping of the push body: both formats are encoded with `underscores`.
const PUSH_ESCAPING: EscapingScheme = EscapingScheme::Underscores;

/// Refuses a registry whose families carry `job` or a grouping-key label (`forbidden`).
/// Returns whether some collector describes no families: then the caller must also check
/// the samples themselves ([`check_sample_labels`]).
pub(super) fn check_family_labels(
    registry: &Registry,
    forbidden: &[String],
) -> Result<bool, PushError> {
    let (families, undescribed) = registry.family_label_names();
    for family in &families {
        if let Some(label) = written_label_names(family).find(|l| forbidden.contains(l)) {
            return Err(PushError::LabelCollision {
                metric: first_sample_name(family),
                label,
            });
        }
    }
    Ok(undescribed)
}

/// The label names a family's samples carry in the push body, in the order they are written:
/// constant labels, the family's own, then the one its type adds (a histogram's `le`, a
/// summary's `quantile`, a state set's own name).
fn written_label_names(family: &Descriptor) -> impl Iterator<Item = String> + '_ {
    let added = match family.metric_type {
        MetricType::StateSet => Some(escape_name_for_exposition(&family.name, PUSH_ESCAPING)),
        other => other.reserved_label().map(Into::into),
    };
    family
        .label_names
        .iter()
        .map(|l| {
            if is_valid_label_name(l) {
                l.clone()
            } else {
                escape_name_for_exposition(l, PUSH_ESCAPING).into_owned()
            }
        })
        .chain(added.map(std::borrow::Cow::into_owned))
}

/// The name of a family's first sample in the text format: `_total` for a counter, `_info`
/// for an info metric, `_bucket` for a histogram, the family name otherwise (a summary's
/// quantile samples).
fn first_sample_name(family: &Descriptor) -> String {
    let suffix = match family.metric_type {
        MetricType::Counter => "_total",
        MetricType::Info => "_info",
        MetricType::Histogram | MetricType::GaugeHistogram => "_bucket",
        _ => "",
    };
    format!(
        "{}{suffix}",
        escape_name_for_exposition(&family.name, PUSH_ESCAPING)
    )
}

/// Reads a quoted string starting after its opening quote; returns the unescaped content
/// and the rest after the closing quote.
fn read_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The sample name and label names of one text-format sample line.
fn sample_labels(line: &str) -> (String, Vec<String>) {
    let (name, mut rest) = match line.find(['{', ' ']) {
        Some(i) if line.as_bytes()[i] == b'{' => (line[..i].to_owned(), &line[i + 1..]),
        _ => return (line.split(' ').next().unwrap_or("").to_owned(), Vec::new()),
    };
    let mut name = name;
    let mut labels = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if rest.is_empty() || rest.starts_with('}') {
            break;
        }
        let (token, after) = if let Some(q) = rest.strip_prefix('"') {
            match read_quoted(q) {
                Some(t) => t,
                None => break,
            }
        } else {
            let end = rest.find(['=', ',', '}']).unwrap_or(rest.len());
            (rest[..end].trim().to_owned(), &rest[end..])
        };
        if let Some(value) = after.trim_start().strip_prefix('=') {
            labels.push(token);
            match value.trim_start().strip_prefix('"').and_then(read_quoted) {
                Some((_, r)) => rest = r,
                None => break,
            }
        } else {
            // A quoted metric name inside the braces (UTF-8 names).
            name = token;
            rest = after;
        }
    }
    (name, labels)
}

/// Refuses samples of a text exposition that carry `job` or a grouping-key label: the
/// fallback for collectors that describe no families.
pub(super) fn check_sample_labels(text: &str, forbidden: &[String]) -> Result<(), PushError> {
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') || !line.contains('{') {
            continue;
        }
        let (metric, labels) = sample_labels(line);
        if let Some(label) = labels.into_iter().find(|l| forbidden.contains(l)) {
            return Err(PushError::LabelCollision { metric, label });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    use crate::push::{PushFormat, Pushgateway};
    use crate::{Buckets, Collector, CollectorErrors, Family, Gauge, States};

    fn client(grouping: &[(&str, &str)]) -> Pushgateway {
        let mut b = Pushgateway::builder("http://127.0.0.1:1", "j").utf8_names(true);
        for (n, v) in grouping {
            b = b.grouping(n, v);
        }
        b.build().unwrap()
    }

    fn collision(r: &Registry, grouping: &[(&str, &str)]) -> Option<(String, String)> {
        match client(grouping).body(r) {
            Ok(_) => None,
            Err(PushError::LabelCollision { metric, label }) => Some((metric, label)),
            Err(e) => panic!("unexpected error: {e}"),
        }
    }

    /// Every body format this build has.
    fn formats() -> Vec<PushFormat> {
        vec![
            PushFormat::Text,
            #[cfg(feature = "protobuf")]
            PushFormat::Protobuf,
        ]
    }

    fn pair(metric: &str, label: &str) -> Option<(String, String)> {
        Some((metric.to_owned(), label.to_owned()))
    }

    /// A collector that describes no families and writes `custom{instance="i"}`.
    struct Undescribed;
    impl Collector for Undescribed {
        fn descriptors(&self) -> Vec<Descriptor> {
            Vec::new()
        }
        fn collect(&self, enc: &mut MetricEncoder<'_>) {
            enc.family(&FamilyHeader {
                name: "custom",
                help: "C.",
                unit: None,
                metric_type: MetricType::Gauge,
            });
            enc.gauge(&LabelSet::from_pairs(&[("instance", "i")]).unwrap(), 1.0);
        }
    }

    /// A described gauge that counts how often it is collected.
    struct Counted(Arc<AtomicUsize>);
    impl Collector for Counted {
        fn descriptors(&self) -> Vec<Descriptor> {
            vec![Descriptor::new("counted", "C.", MetricType::Gauge, &["a"])]
        }
        fn collect(&self, enc: &mut MetricEncoder<'_>) {
            self.0.fetch_add(1, Ordering::Relaxed);
            enc.family(&FamilyHeader {
                name: "counted",
                help: "C.",
                unit: None,
                metric_type: MetricType::Gauge,
            });
            enc.gauge(&LabelSet::from_pairs(&[("a", "1")]).unwrap(), 1.0);
        }
    }

    #[test]
    fn sample_label_parsing() {
        assert_eq!(sample_labels("up 1"), ("up".to_owned(), vec![]));
        assert_eq!(
            sample_labels(r#"x{a="1",job="q\"},job=\\"} 2"#),
            ("x".to_owned(), vec!["a".to_owned(), "job".to_owned()])
        );
        assert_eq!(
            sample_labels(r#"{"my.metric",instance="i"} 2"#),
            ("my.metric".to_owned(), vec!["instance".to_owned()])
        );
        assert_eq!(
            sample_labels(r#"y{"odd.label"="v"} 2"#),
            ("y".to_owned(), vec!["odd.label".to_owned()])
        );
    }

    #[test]
    fn refuses_job_and_grouping_labels() {
        let r = Registry::new();
        r.counter_family("c_total", "C.", &["job"])
            .unwrap()
            .get(&["x"])
            .unwrap()
            .inc();
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .build()
            .unwrap();
        let err = g.body(&r).unwrap_err();
        assert!(
            matches!(&err, PushError::LabelCollision { metric, label } if metric == "c_total" && label == "job"),
            "{err}"
        );

        let r = Registry::builder()
            .const_label("instance", "a")
            .build()
            .unwrap();
        r.gauge("g", "G.").unwrap();
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .grouping("instance", "b")
            .build()
            .unwrap();
        assert!(matches!(g.body(&r), Err(PushError::LabelCollision { .. })));
        // A label value that merely mentions job= is fine.
        let r = Registry::new();
        r.info("build", "B.", &[("note", "job=\"x\"")]).unwrap();
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .build()
            .unwrap();
        assert!(g.body(&r).is_ok());
    }

    #[test]
    fn labels_each_family_type_adds_are_checked() {
        let r = Registry::builder().prefix("app").build().unwrap();
        r.histogram("h", "H.", Buckets::default())
            .unwrap()
            .observe(1.0);
        assert_eq!(collision(&r, &[("le", "x")]), pair("app_h_bucket", "le"));
        let r = Registry::new();
        r.summary("s", "S.").unwrap().observe(1.0);
        // The gateway refuses a summary with a `quantile` label anyway (400).
        assert_eq!(collision(&r, &[("quantile", "x")]), pair("s", "quantile"));
        let r = Registry::new();
        r.stateset("mode", "Mode.", States::new(["a", "b"]).unwrap())
            .unwrap();
        assert_eq!(collision(&r, &[("mode", "x")]), pair("mode", "mode"));
        r.info("build", "B.", &[("version", "1")]).unwrap();
        assert_eq!(
            collision(&r, &[("version", "x")]),
            pair("build_info", "version")
        );
        assert_eq!(collision(&r, &[("other", "x")]), None);
    }

    #[test]
    fn label_names_are_compared_as_the_body_writes_them() {
        // A UTF-8 label name is written escaped with underscores in both body formats.
        let r = Registry::new();
        let f = Family::<Gauge>::builder("temp.celsius", "T.")
            .allow_utf8_names()
            .labels(&["room.name"])
            .build()
            .unwrap();
        f.get(&["hall"]).unwrap().set(1.0);
        r.register(f).unwrap();
        assert_eq!(
            collision(&r, &[("room_name", "x")]),
            pair("temp_celsius", "room_name")
        );
        assert_eq!(collision(&r, &[("room.name", "x")]), None);
    }

    #[test]
    fn constant_labels_count_even_for_the_self_metric() {
        // `CollectorErrors::Skip` writes its counter with the constant labels.
        let r = Registry::builder()
            .const_label("instance", "a")
            .collector_errors(CollectorErrors::Skip)
            .build()
            .unwrap();
        assert_eq!(
            collision(&r, &[("instance", "b")]),
            pair("promenade_scrape_collector_errors_total", "instance")
        );
    }

    #[test]
    fn families_without_series_are_checked_too() {
        // The structure says every future series will carry `job`.
        let r = Registry::new();
        r.counter_family("c_total", "C.", &["job"]).unwrap();
        assert_eq!(collision(&r, &[]), pair("c_total", "job"));
    }

    #[test]
    fn collectors_without_descriptors_are_checked_on_their_samples() {
        let r = Registry::new();
        r.gauge("up", "Up.").unwrap();
        r.register(Undescribed).unwrap();
        for format in formats() {
            let g = Pushgateway::builder("http://127.0.0.1:1", "j")
                .grouping("instance", "b")
                .format(format)
                .build()
                .unwrap();
            let err = g.body(&r).unwrap_err();
            assert!(
                matches!(&err, PushError::LabelCollision { metric, label } if metric == "custom" && label == "instance"),
                "{format:?}: {err}"
            );
        }
        assert_eq!(collision(&r, &[("zone", "b")]), None);
    }

    #[test]
    fn a_described_registry_is_collected_once_per_push() {
        let collected = Arc::new(AtomicUsize::new(0));
        let r = Registry::new();
        r.register(Counted(Arc::clone(&collected))).unwrap();
        for format in formats() {
            let g = Pushgateway::builder("http://127.0.0.1:1", "j")
                .format(format)
                .build()
                .unwrap();
            collected.store(0, Ordering::Relaxed);
            g.body(&r).unwrap();
            assert_eq!(collected.load(Ordering::Relaxed), 1, "{format:?}");
        }
        assert_eq!(collision(&r, &[("a", "x")]), pair("counted", "a"));
    }

    #[test]
    fn agrees_with_the_samples_whenever_series_exist() {
        // What the structure says equals what the text exposition shows, for families that
        // have series (and for a summary, quantiles).
        let r = Registry::builder()
            .prefix("app")
            .const_label("region", "eu")
            .build()
            .unwrap();
        r.counter_family("c_total", "C.", &["job"])
            .unwrap()
            .get(&["x"])
            .unwrap()
            .inc();
        r.histogram_family("h", "H.", &["path"], Buckets::default())
            .unwrap()
            .get(&["/"])
            .unwrap()
            .observe(1.0);
        r.stateset("mode", "Mode.", States::new(["a"]).unwrap())
            .unwrap();
        r.info("build", "B.", &[("version", "1")]).unwrap();
        let f = Family::<Gauge>::builder("t.c", "T.")
            .allow_utf8_names()
            .labels(&["room.name"])
            .build()
            .unwrap();
        f.get(&["hall"]).unwrap().set(1.0);
        r.register(f).unwrap();
        let text = r.encode_to_string(crate::Format::Text).unwrap();
        for name in [
            "job",
            "region",
            "path",
            "le",
            "app_mode",
            "version",
            "room_name",
            "room.name",
            "other",
        ] {
            let forbidden = vec![name.to_owned()];
            let structural = check_family_labels(&r, &forbidden);
            let sampled = check_sample_labels(&text, &forbidden);
            match (&structural, &sampled) {
                (Ok(undescribed), Ok(())) => assert!(!undescribed),
                (
                    Err(PushError::LabelCollision {
                        metric: m1,
                        label: l1,
                    }),
                    Err(PushError::LabelCollision {
                        metric: m2,
                        label: l2,
                    }),
                ) => assert_eq!((m1, l1), (m2, l2)),
                _ => panic!("{name}: {structural:?} but samples say {sampled:?}\n{text}"),
            }
        }
    }
}

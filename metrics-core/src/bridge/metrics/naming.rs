//! Facade names and label keys made valid Prometheus names, and the unit suffix rules.

use std::borrow::Cow;

/// The family name used when the facade gives an empty metric name.
pub(super) const EMPTY_NAME_FALLBACK: &str = "unnamed_metric";
/// The label name used when the facade gives an empty label key.
pub(super) const EMPTY_LABEL_FALLBACK: &str = "unnamed_label";
/// Prefix for label keys that are reserved here (`__…`, `le`, `quantile`, constant labels),
/// after Prometheus's own `exported_` rule for clashing labels
/// (<https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config>,
/// `honor_labels`).
pub(super) const RESERVED_LABEL_PREFIX: &str = "exported_";

/// Characters a UTF-8 name may not contain here (they delimit the rendered label form).
const UTF8_FORBIDDEN: [char; 7] = ['"', '\\', '\n', '=', ',', '{', '}'];

/// A metric name: legacy `[a-zA-Z_:][a-zA-Z0-9_:]*` with every other character replaced by
/// `_` and a leading digit prefixed with `_`
/// (<https://prometheus.io/docs/concepts/data_model/#metric-names-and-labels>); with
/// `utf8`, only the delimiter characters are replaced. Never empty.
pub(super) fn metric_name(raw: &str, utf8: bool) -> Cow<'_, str> {
    if raw.is_empty() {
        return Cow::Borrowed(EMPTY_NAME_FALLBACK);
    }
    if utf8 {
        return replace(raw, |c| UTF8_FORBIDDEN.contains(&c));
    }
    let legacy = replace(raw, |c| {
        !(c.is_ascii_alphanumeric() || c == '_' || c == ':')
    });
    prefix_digit(legacy)
}

/// A label name: legacy `[a-zA-Z_][a-zA-Z0-9_]*` (or UTF-8 without delimiters), never
/// empty and never starting with `__` (reserved for Prometheus's own labels).
pub(super) fn label_name(raw: &str, utf8: bool) -> Cow<'_, str> {
    let name = if raw.is_empty() {
        Cow::Borrowed(EMPTY_LABEL_FALLBACK)
    } else if utf8 {
        replace(raw, |c| UTF8_FORBIDDEN.contains(&c))
    } else {
        prefix_digit(replace(raw, |c| !(c.is_ascii_alphanumeric() || c == '_')))
    };
    if name.starts_with("__") {
        Cow::Owned(format!("{RESERVED_LABEL_PREFIX}{name}"))
    } else {
        name
    }
}

/// The form two label names must differ in to be distinct in every exposition (the
/// `underscores` escaping a legacy scraper gets is the lossy one).
pub(super) fn label_identity(name: &str) -> Cow<'_, str> {
    prefix_digit(replace(name, |c| !(c.is_ascii_alphanumeric() || c == '_')))
}

fn replace(raw: &str, bad: impl Fn(char) -> bool) -> Cow<'_, str> {
    if raw.chars().any(&bad) {
        Cow::Owned(raw.chars().map(|c| if bad(c) { '_' } else { c }).collect())
    } else {
        Cow::Borrowed(raw)
    }
}

fn prefix_digit(name: Cow<'_, str>) -> Cow<'_, str> {
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        Cow::Owned(format!("_{name}"))
    } else {
        name
    }
}

/// The Prometheus unit word for a facade unit, as the OpenTelemetry-to-Prometheus rules
/// translate units (<https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/#metric-metadata-1>):
/// a dimensionless count has no unit, `count/s` becomes `per_second`, the rest keep the
/// facade's plural word (`seconds`, `bytes`, `milliseconds`, `bits_per_second`, …).
pub(super) fn unit_word(unit: ::metrics::Unit) -> Option<&'static str> {
    match unit {
        ::metrics::Unit::Count => None,
        ::metrics::Unit::CountPerSecond => Some("per_second"),
        other => Some(other.as_str()),
    }
}

/// The exposed family name: `base` with `_<unit>` appended unless it already ends so
/// (<https://prometheus.io/docs/practices/naming/#metric-names>: "should have a suffix
/// describing the unit"; OpenMetrics requires the suffix whenever `# UNIT` is written).
/// Counters keep `_total` out of `base`: the sample becomes `<base>_<unit>_total`.
pub(super) fn with_unit(base: &str, unit: Option<&str>) -> String {
    match unit {
        Some(u) if !base.ends_with(&format!("_{u}")) => format!("{base}_{u}"),
        _ => base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(metric_name("", false), EMPTY_NAME_FALLBACK);
        assert_eq!(metric_name("http.server-req", false), "http_server_req");
        assert_eq!(metric_name("1st", false), "_1st");
        assert_eq!(metric_name("a:b", false), "a:b");
        assert_eq!(metric_name("http.server", true), "http.server");
        assert_eq!(metric_name("a{b}", true), "a_b_");
        assert_eq!(label_name("", false), EMPTY_LABEL_FALLBACK);
        assert_eq!(label_name("__name__", false), "exported___name__");
        assert_eq!(label_name("9x", false), "_9x");
        assert_eq!(label_name("a:b", false), "a_b");
        assert_eq!(label_name("error.type", true), "error.type");
        assert_eq!(label_identity("error.type"), "error_type");
    }

    #[test]
    fn units() {
        assert_eq!(with_unit("latency", Some("seconds")), "latency_seconds");
        assert_eq!(
            with_unit("latency_seconds", Some("seconds")),
            "latency_seconds"
        );
        assert_eq!(with_unit("jobs", None), "jobs");
        assert_eq!(unit_word(::metrics::Unit::Count), None);
        assert_eq!(
            unit_word(::metrics::Unit::CountPerSecond),
            Some("per_second")
        );
        assert_eq!(unit_word(::metrics::Unit::Bytes), Some("bytes"));
    }
}

//! OpenTelemetry metric names, units and attribute keys made Prometheus names, after the
//! OpenTelemetry specification "Prometheus and OpenMetrics Compatibility"
//! (<https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/#metric-metadata-1>).

use std::borrow::Cow;

/// The family name used when an instrument's name sanitizes to nothing.
pub(super) const EMPTY_NAME_FALLBACK: &str = "unnamed_metric";
/// The label name used when an attribute key sanitizes to nothing.
pub(super) const EMPTY_LABEL_FALLBACK: &str = "unnamed_label";
/// Prefix for attribute keys that are reserved here (`le` on histograms, the registry's
/// constant labels, the scope labels), after Prometheus's `exported_` rule for clashing
/// labels (<https://prometheus.io/docs/prometheus/latest/configuration/configuration/#scrape_config>,
/// `honor_labels`).
pub(super) const RESERVED_LABEL_PREFIX: &str = "exported_";

/// Characters a UTF-8 name may not contain here (they delimit the rendered label form).
const UTF8_FORBIDDEN: [char; 7] = ['"', '\\', '\n', '=', ',', '{', '}'];

/// A metric name: every character outside `[a-zA-Z0-9_:]` becomes `_`, runs of `_` become
/// one (the specification's "multiple consecutive `_` characters MUST be replaced with a
/// single `_`"), a leading digit gets a `_` in front. With `utf8`, only the delimiter
/// characters are replaced (Prometheus 3 accepts the rest). Never empty.
pub(super) fn metric_name(raw: &str, utf8: bool) -> String {
    let name = if utf8 {
        collapse(raw, |c| UTF8_FORBIDDEN.contains(&c))
    } else {
        collapse(raw, |c| {
            !(c.is_ascii_alphanumeric() || c == '_' || c == ':')
        })
    };
    finish(name, EMPTY_NAME_FALLBACK)
}

/// A label name from an attribute key, as [`metric_name`] but without `:`; runs of `_`
/// become one, so no key becomes a Prometheus-reserved `__…` name.
pub(super) fn label_name(raw: &str, utf8: bool) -> String {
    let name = if utf8 {
        collapse(raw, |c| UTF8_FORBIDDEN.contains(&c))
    } else {
        collapse(raw, |c| !(c.is_ascii_alphanumeric() || c == '_'))
    };
    finish(name, EMPTY_LABEL_FALLBACK)
}

/// The name a legacy scraper sees for a label name: itself when valid, else made valid as
/// [`label_name`] does (never `__…`, which the underscore escaping of a name such as `ключ`
/// would give and strict parsers refuse).
pub(super) fn legacy_label_name(name: &str) -> Cow<'_, str> {
    if crate::name::is_valid_label_name(name) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(label_name(name, false))
    }
}

/// Replaces every `bad` character with `_` and runs of `_` with one.
fn collapse(raw: &str, bad: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = if bad(c) { '_' } else { c };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out
}

fn finish(name: String, fallback: &str) -> String {
    if name.is_empty() || name == "_" {
        fallback.to_owned()
    } else if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

/// The Prometheus unit word for an OpenTelemetry (UCUM) unit, or `None` when the name gets
/// no unit suffix: annotations in braces are dropped (`{request}` is no unit, `{packet}/s`
/// is `per_second`), the common units get their Prometheus words (`s` → `seconds`, `By` →
/// `bytes`, …), `a/b` becomes `a_per_b` with `b` in the singular (`m/s` →
/// `meters_per_second`), and `1` is `ratio` for gauges and no unit otherwise. Other units
/// are kept, made valid like a label name.
pub(super) fn unit_word(unit: &str, gauge: bool) -> Option<String> {
    let unit = strip_annotations(unit);
    let unit = unit.trim();
    if unit.is_empty() {
        return None;
    }
    if unit == "1" {
        return gauge.then(|| "ratio".to_owned());
    }
    let (main, per) = match unit.split_once('/') {
        Some((main, per)) => (main.trim(), Some(per.trim())),
        None => (unit, None),
    };
    let main = (!main.is_empty() && main != "1").then(|| plural_word(main));
    let per = per
        .filter(|p| !p.is_empty())
        .map(|p| format!("per_{}", singular_word(p)));
    let word = match (main, per) {
        (Some(m), Some(p)) => format!("{m}_{p}"),
        (Some(m), None) => m,
        (None, Some(p)) => p,
        (None, None) => return None,
    };
    let word = collapse(&word, |c| !(c.is_ascii_alphanumeric() || c == '_'));
    let word = word.trim_matches('_');
    (!word.is_empty()).then(|| word.to_owned())
}

/// `unit` without its `{…}` annotations (UCUM curly-brace annotations carry no unit).
fn strip_annotations(unit: &str) -> Cow<'_, str> {
    if !unit.contains('{') {
        return Cow::Borrowed(unit);
    }
    let mut out = String::with_capacity(unit.len());
    let mut depth = 0usize;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// The plural Prometheus word of a UCUM unit, from the specification's table; an
/// unknown unit is kept as given.
fn plural_word(unit: &str) -> String {
    let word = match unit {
        "d" => "days",
        "h" => "hours",
        "min" => "minutes",
        "s" => "seconds",
        "ms" => "milliseconds",
        "us" => "microseconds",
        "ns" => "nanoseconds",
        "By" => "bytes",
        "KiBy" => "kibibytes",
        "MiBy" => "mebibytes",
        "GiBy" => "gibibytes",
        "TiBy" => "tibibytes",
        "KBy" => "kilobytes",
        "MBy" => "megabytes",
        "GBy" => "gigabytes",
        "TBy" => "terabytes",
        "m" => "meters",
        "V" => "volts",
        "A" => "amperes",
        "J" => "joules",
        "W" => "watts",
        "g" => "grams",
        "Cel" => "celsius",
        "Hz" => "hertz",
        "%" => "percent",
        other => return other.to_owned(),
    };
    word.to_owned()
}

/// The singular word of a unit after `/`, from the specification's table.
fn singular_word(unit: &str) -> String {
    let word = match unit {
        "s" => "second",
        "m" => "minute",
        "h" => "hour",
        "d" => "day",
        "w" => "week",
        "mo" => "month",
        "y" => "year",
        other => return plural_word(other),
    };
    word.to_owned()
}

/// The exposed family name: `base` with `_<unit>` appended unless it already ends so
/// (the specification: the unit suffix is added "if not already present"). Counters pass
/// `base` without `_total`; the encoder appends it after the unit.
pub(super) fn with_unit(base: &str, unit: Option<&str>) -> String {
    match unit {
        Some(u) if base != u && !base.ends_with(&format!("_{u}")) => format!("{base}_{u}"),
        _ => base.to_owned(),
    }
}

/// Attributes as labels: keys made valid, and keys that become equal merged into one label
/// whose value joins theirs with `;` in the order of the original keys (the
/// specification's rule for colliding sanitized keys). Pairs are `(original key, value)`.
/// A name `reserved` refuses gets the `exported_` prefix.
pub(super) fn merge_labels(
    pairs: &mut [(Cow<'_, str>, String)],
    utf8: bool,
    reserved: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(String, String)> = Vec::with_capacity(pairs.len());
    for (key, value) in pairs.iter() {
        let mut name = label_name(key, utf8);
        if reserved(&name) {
            name.insert_str(0, RESERVED_LABEL_PREFIX);
        }
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, joined)) => {
                joined.push(';');
                joined.push_str(value);
            }
            None => out.push((name, value.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_are_made_valid() {
        assert_eq!(
            metric_name("http.server.duration", false),
            "http_server_duration"
        );
        assert_eq!(metric_name("a..b--c", false), "a_b_c");
        assert_eq!(metric_name("1st", false), "_1st");
        assert_eq!(metric_name("", false), EMPTY_NAME_FALLBACK);
        assert_eq!(metric_name("...", false), EMPTY_NAME_FALLBACK);
        assert_eq!(metric_name("a:b", false), "a:b");
        assert_eq!(metric_name("http.server", true), "http.server");
        assert_eq!(metric_name("a{b}", true), "a_b_");
        assert_eq!(label_name("__name__", false), "_name_");
        assert_eq!(label_name("9x", false), "_9x");
        assert_eq!(label_name("a:b", false), "a_b");
        assert_eq!(label_name("", false), EMPTY_LABEL_FALLBACK);
        assert_eq!(label_name("error.type", true), "error.type");
        assert_eq!(legacy_label_name("ключ"), EMPTY_LABEL_FALLBACK);
        assert_eq!(legacy_label_name("error.type"), "error_type");
        assert_eq!(legacy_label_name("ok"), "ok");
    }

    #[test]
    fn units_follow_the_specification_table() {
        assert_eq!(unit_word("s", false).as_deref(), Some("seconds"));
        assert_eq!(unit_word("ms", false).as_deref(), Some("milliseconds"));
        assert_eq!(unit_word("By", false).as_deref(), Some("bytes"));
        assert_eq!(unit_word("1", true).as_deref(), Some("ratio"));
        assert_eq!(unit_word("1", false), None);
        assert_eq!(unit_word("{request}", false), None);
        assert_eq!(
            unit_word("{packet}/s", false).as_deref(),
            Some("per_second")
        );
        assert_eq!(
            unit_word("m/s", false).as_deref(),
            Some("meters_per_second")
        );
        assert_eq!(
            unit_word("By/s", false).as_deref(),
            Some("bytes_per_second")
        );
        assert_eq!(unit_word("foo/bar", false).as_deref(), Some("foo_per_bar"));
        assert_eq!(unit_word("widget", false).as_deref(), Some("widget"));
        assert_eq!(unit_word("{", false), None);
        assert_eq!(unit_word("/", false), None);
        assert_eq!(with_unit("latency", Some("seconds")), "latency_seconds");
        assert_eq!(
            with_unit("latency_seconds", Some("seconds")),
            "latency_seconds"
        );
        assert_eq!(with_unit("jobs", None), "jobs");
    }

    #[test]
    fn colliding_keys_are_merged_in_key_order() {
        let mut pairs = vec![
            (Cow::Borrowed("foo.bar"), "2".to_owned()),
            (Cow::Borrowed("foo_bar"), "3".to_owned()),
            (Cow::Borrowed("foo-bar"), "1".to_owned()),
        ];
        let merged = merge_labels(&mut pairs, false, &|_| false);
        assert_eq!(merged, vec![("foo_bar".to_owned(), "1;2;3".to_owned())]);
        let mut pairs = vec![(Cow::Borrowed("le"), "x".to_owned())];
        let merged = merge_labels(&mut pairs, false, &|n| n == "le");
        assert_eq!(merged, vec![("exported_le".to_owned(), "x".to_owned())]);
    }
}

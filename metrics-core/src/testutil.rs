//! Helpers for testing code that records metrics, in the spirit of client_golang's
//! `testutil` package: read one sample's value from a registry or an exposition, count
//! series, and compare a registry's families with expected text. Feature `testutil`.
//!
//! All helpers read the Prometheus text format 0.0.4, the format every scraper accepts and
//! the easiest to write by hand in a test.
//!
//! ```
//! use promenade_core::testutil::{collect_and_compare, sample_value, series_count, value};
//! use promenade_core::Registry;
//!
//! let registry = Registry::new();
//! let jobs = registry.counter_family("jobs_total", "Jobs done.", &["queue"]).unwrap();
//! jobs.get(&["mail"]).unwrap().inc_by(3.0).unwrap();
//!
//! assert_eq!(value(&registry, "jobs_total", &[("queue", "mail")]), Some(3.0));
//! let text = registry.encode_to_string(promenade_core::Format::Text).unwrap();
//! assert_eq!(sample_value(&text, "jobs_total", r#"queue="mail""#), Some(3.0));
//! assert_eq!(series_count(&text, "jobs_total"), 1);
//! let expected = "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total{queue=\"mail\"} 3\n";
//! collect_and_compare(&registry, expected, &["jobs_total"]).unwrap();
//! ```

use crate::encoding::Format;
use crate::labels::render_labels;
use crate::registry::Registry;

/// The value of the sample `name{labels}` in a text exposition, where `labels` is the label
/// set as written (`method="GET",status="200"`, or `""` for none).
///
/// ```
/// let text = "up 1\nhttp_requests_total{method=\"GET\"} 7\n";
/// assert_eq!(promenade_core::testutil::sample_value(text, "up", ""), Some(1.0));
/// assert_eq!(promenade_core::testutil::sample_value(text, "http_requests_total", "method=\"GET\""), Some(7.0));
/// assert_eq!(promenade_core::testutil::sample_value(text, "http_requests_total", ""), None);
/// ```
pub fn sample_value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let key = if labels.is_empty() {
        format!("{name} ")
    } else {
        format!("{name}{{{labels}}} ")
    };
    text.lines()
        .find_map(|line| line.strip_prefix(key.as_str()))
        .and_then(parse_value)
}

/// Every `(labels, value)` of the samples named `name` in a text exposition, in order
/// (`labels` as written, without braces; `""` for an unlabelled sample).
///
/// ```
/// let text = "hits_total{path=\"/a\"} 1\nhits_total{path=\"/b\"} 2\n";
/// let all = promenade_core::testutil::sample_values(text, "hits_total");
/// assert_eq!(all, vec![("path=\"/a\"".to_string(), 1.0), ("path=\"/b\"".to_string(), 2.0)]);
/// ```
pub fn sample_values(text: &str, name: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let rest = line.strip_prefix(name)?;
            if let Some(unlabelled) = rest.strip_prefix(' ') {
                return Some((String::new(), parse_value(unlabelled)?));
            }
            let (labels, value) = rest.strip_prefix('{')?.rsplit_once("} ")?;
            Some((labels.to_owned(), parse_value(value)?))
        })
        .collect()
}

/// The number of samples named exactly `name` (any labels) in a text exposition.
///
/// ```
/// let text = "a_total 1\na_total_x 2\nb{k=\"v\"} 3\nb{k=\"w\"} 4\n";
/// assert_eq!(promenade_core::testutil::series_count(text, "a_total"), 1);
/// assert_eq!(promenade_core::testutil::series_count(text, "b"), 2);
/// ```
pub fn series_count(text: &str, name: &str) -> usize {
    sample_values(text, name).len()
}

/// The value of the sample `name` with these labels (in the order the family declares them),
/// read from a scrape of `registry`; `None` when the sample is absent or the scrape fails.
///
/// ```
/// let registry = promenade_core::Registry::new();
/// registry.gauge("temperature_celsius", "Temperature.").unwrap().set(21.5);
/// assert_eq!(promenade_core::testutil::value(&registry, "temperature_celsius", &[]), Some(21.5));
/// ```
pub fn value(registry: &Registry, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = registry.encode_to_string(Format::Text).ok()?;
    let names: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
    let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
    let mut rendered = String::new();
    render_labels(&mut rendered, &names, &values);
    sample_value(&text, name, &rendered)
}

/// The number of series (sample lines) a scrape of `registry` writes, like client_golang's
/// `testutil.CollectAndCount`; only families named in `names` when it is not empty.
///
/// ```
/// let registry = promenade_core::Registry::new();
/// let f = registry.counter_family("jobs_total", "Jobs.", &["queue"]).unwrap();
/// f.get(&["a"]).unwrap().inc();
/// f.get(&["b"]).unwrap().inc();
/// assert_eq!(promenade_core::testutil::count_series(&registry, &[]), 2);
/// ```
pub fn count_series(registry: &Registry, names: &[&str]) -> usize {
    let Ok(text) = registry.encode_to_string(Format::Text) else {
        return 0;
    };
    families(&text)
        .into_iter()
        .filter(|(name, _)| names.is_empty() || names.contains(&name.as_str()))
        .map(|(_, block)| {
            block
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
                .count()
        })
        .sum()
}

/// Compares the families named in `names` (all families when empty) of a scrape of
/// `registry` with `expected` text, like client_golang's `testutil.CollectAndCompare`.
/// Families are compared whole (HELP, TYPE and every sample, in order), regardless of the
/// order in which the families appear; `Err` says what differs.
///
/// ```
/// let registry = promenade_core::Registry::new();
/// registry.gauge("up", "Up.").unwrap().set(1.0);
/// registry.gauge("other", "Other.").unwrap();
/// promenade_core::testutil::collect_and_compare(&registry, "# HELP up Up.\n# TYPE up gauge\nup 1\n", &["up"]).unwrap();
/// assert!(promenade_core::testutil::collect_and_compare(&registry, "# HELP up Up.\n# TYPE up gauge\nup 2\n", &["up"]).is_err());
/// ```
pub fn collect_and_compare(
    registry: &Registry,
    expected: &str,
    names: &[&str],
) -> Result<(), String> {
    let text = registry
        .encode_to_string(Format::Text)
        .map_err(|e| format!("the scrape failed: {e}"))?;
    let pick = |text: &str| -> Vec<(String, String)> {
        let mut picked: Vec<(String, String)> = families(text)
            .into_iter()
            .filter(|(name, _)| names.is_empty() || names.contains(&name.as_str()))
            .collect();
        picked.sort();
        picked
    };
    let got = pick(&text);
    let want = pick(expected);
    if got == want {
        return Ok(());
    }
    let render = |f: &[(String, String)]| f.iter().map(|(_, b)| b.as_str()).collect::<String>();
    Err(format!(
        "families differ\n--- expected ---\n{}--- got ---\n{}",
        render(&want),
        render(&got)
    ))
}

/// Splits a text exposition into `(family name, block)` pairs; a block runs from the
/// family's first `#` line to the line before the next family's.
fn families(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let name = line
            .strip_prefix("# HELP ")
            .or_else(|| line.strip_prefix("# TYPE "))
            .and_then(|rest| rest.split(' ').next());
        if let Some(name) = name
            && current.as_deref() != Some(name)
        {
            current = Some(name.to_owned());
            out.push((name.to_owned(), String::new()));
        }
        if let Some((_, block)) = out.last_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

fn parse_value(text: &str) -> Option<f64> {
    // A sample may carry a timestamp after the value.
    let value = text.split_whitespace().next()?;
    match value {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        v => v.parse().ok(),
    }
}

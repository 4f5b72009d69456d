//! The two text formats: Prometheus 0.0.4
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>) and OpenMetrics 1.0
//! (<https://github.com/prometheus/OpenMetrics/blob/v1.0.0/specification/OpenMetrics.md>).
//!
//! Special values. Text 0.0.4 carries any float in any sample, and Prometheus ingests NaN and
//! negative sums and quantiles from it, so it writes values as they are (as the Go client
//! does). OpenMetrics 1.0 does not: its `_sum`, `_count`, `_gsum` and `_gcount` are
//! counter-like, and a parser rejects the whole page over one bad sample. There:
//!
//! - a histogram's `_sum` is written only when it is neither NaN nor negative and no bucket
//!   threshold is negative; `_count` comes and goes with it (the `+Inf` bucket still counts);
//! - a gauge histogram's `_gsum` is left out when NaN, or negative without a negative
//!   threshold, together with `_gcount`;
//! - a summary's `_sum` is left out when NaN or negative (its `_count` stays: a count of
//!   observations is valid whatever their values), and so is each quantile sample whose
//!   value is negative; NaN (no recent observations) and `+Inf` quantiles are written.

use super::float::{write_go_float, write_openmetrics_float, write_u64};
use super::help_escape::escape_help;
use super::name_escaping::escape_name_for_exposition;
use super::{Encode, EscapingScheme, FamilyHeader, HistogramValue, SummaryValue};
use crate::labels::escape_label_value;
use crate::metric::{Exemplar, MetricType};
use crate::name::is_valid_metric_name;

/// Writes one exposition in either text format into a `String`.
pub(crate) struct TextEncoder<'o> {
    out: &'o mut String,
    openmetrics: bool,
    const_labels: &'o str,
    created_samples: bool,
    escaping: EscapingScheme,
    /// `le` values formatted once per bucket layout, not once per series (keyed by the bound
    /// values: comparing them is far cheaper than formatting them).
    le_key: Vec<f64>,
    le_cache: Vec<String>,
    /// Whether the current family's name is written quoted (UTF-8 name, `allow-utf-8`).
    quoted: bool,
    /// The current family's sample base name (with prefix; for info without `_info`).
    name: String,
    scratch: String,
    /// Where the current family's header starts in `out`, for [`Encode::discard_family`].
    family_start: usize,
}

impl<'o> TextEncoder<'o> {
    pub(crate) fn new(
        out: &'o mut String,
        openmetrics: bool,
        const_labels: &'o str,
        created_samples: bool,
        escaping: EscapingScheme,
    ) -> Self {
        Self {
            out,
            openmetrics,
            const_labels,
            created_samples: created_samples && openmetrics,
            escaping,
            quoted: false,
            le_key: Vec::new(),
            le_cache: Vec::new(),
            name: String::new(),
            scratch: String::new(),
            family_start: 0,
        }
    }

    /// Ends the exposition (`# EOF` for OpenMetrics).
    pub(crate) fn finish(self) {
        if self.openmetrics {
            self.out.push_str("# EOF\n");
        }
    }

    fn float(&mut self, v: f64) {
        if self.openmetrics {
            write_openmetrics_float(self.out, v);
        } else {
            write_go_float(self.out, v);
        }
    }

    fn float_label(&mut self, v: f64) {
        self.scratch.clear();
        if self.openmetrics {
            write_openmetrics_float(&mut self.scratch, v);
        } else {
            write_go_float(&mut self.scratch, v);
        }
    }

    /// `name<suffix>{const,labels,extra="scratch"} ` — the value follows.
    fn start_sample(&mut self, suffix: &str, labels: &str, extra: Option<&str>) {
        let parts = [self.const_labels, labels];
        let mut first = true;
        if self.quoted {
            // `{"name<suffix>",labels…}`: a UTF-8 name is quoted, first inside the braces.
            self.out.push_str("{\"");
            escape_label_value(self.out, &self.name);
            self.out.push_str(suffix);
            self.out.push('"');
            first = false;
        } else {
            self.out.push_str(&self.name);
            self.out.push_str(suffix);
        }
        let any = self.quoted || parts.iter().any(|p| !p.is_empty()) || extra.is_some();
        if any {
            if !self.quoted {
                self.out.push('{');
            }
            for p in parts.iter().filter(|p| !p.is_empty()) {
                if !first {
                    self.out.push(',');
                }
                self.out.push_str(p);
                first = false;
            }
            if let Some(extra) = extra {
                if !first {
                    self.out.push(',');
                }
                self.out.push_str(extra);
                self.out.push_str("=\"");
                self.out.push_str(&self.scratch);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
    }

    fn float_sample(&mut self, suffix: &str, labels: &str, v: f64) {
        self.start_sample(suffix, labels, None);
        self.float(v);
        self.out.push('\n');
    }

    fn uint_sample(&mut self, suffix: &str, labels: &str, extra: Option<&str>, v: u64) {
        self.start_sample(suffix, labels, extra);
        write_u64(self.out, v);
        self.out.push('\n');
    }

    fn created(&mut self, labels: &str, created: Option<f64>) {
        if let (true, Some(ts)) = (self.created_samples, created) {
            self.float_sample("_created", labels, ts);
        }
    }

    fn buckets(&mut self, labels: &str, v: &HistogramValue<'_>) {
        if self.le_key != v.bounds {
            self.le_cache.clear();
            for bound in v.bounds {
                self.float_label(*bound);
                self.le_cache.push(self.scratch.clone());
            }
            self.le_key.clear();
            self.le_key.extend_from_slice(v.bounds);
        }
        let exemplar = |i: usize| v.exemplars.and_then(|e| e.get(i)).and_then(Option::as_ref);
        for (i, count) in v.cumulative.iter().enumerate().take(v.bounds.len()) {
            self.scratch.clear();
            self.scratch.push_str(&self.le_cache[i]);
            self.start_sample("_bucket", labels, Some("le"));
            write_u64(self.out, *count);
            self.exemplar(exemplar(i));
            self.out.push('\n');
        }
        self.scratch.clear();
        self.scratch.push_str("+Inf");
        self.start_sample("_bucket", labels, Some("le"));
        write_u64(self.out, v.count);
        self.exemplar(exemplar(v.bounds.len()));
        self.out.push('\n');
    }

    /// ` # {labels} value timestamp` after a sample (the OpenMetrics exemplar syntax),
    /// OpenMetrics only.
    fn exemplar(&mut self, exemplar: Option<&Exemplar>) {
        let Some(e) = exemplar.filter(|_| self.openmetrics) else {
            return;
        };
        self.out.push_str(" # {");
        self.out.push_str(e.rendered_labels());
        self.out.push_str("} ");
        write_openmetrics_float(self.out, e.value());
        self.out.push(' ');
        write_openmetrics_float(self.out, e.timestamp());
    }

    fn header_line(&mut self, kind: &str, sample_suffix: &str) {
        self.out.push_str("# ");
        self.out.push_str(kind);
        self.out.push(' ');
        if self.quoted {
            self.out.push('"');
            escape_label_value(self.out, &self.name);
            self.out.push_str(sample_suffix);
            self.out.push('"');
        } else {
            self.out.push_str(&self.name);
            self.out.push_str(sample_suffix);
        }
    }
}

/// Whether `v` may be written as a counter-like OpenMetrics sample: not NaN, not negative
/// (`-0.0` is zero).
fn is_counter_like(v: f64) -> bool {
    v >= 0.0
}

/// Whether a histogram has a negative bucket threshold (`-0.0` is not negative).
fn has_negative_bound(bounds: &[f64]) -> bool {
    bounds.iter().any(|b| *b < 0.0)
}

/// Whether `unit` may be written as the `# UNIT` of `name`: non-empty, made of name
/// characters, and `name` ends with `_<unit>` (as OpenMetrics requires of a UNIT).
fn unit_fits(name: &str, unit: &str) -> bool {
    !unit.is_empty()
        && unit
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
        && name
            .strip_suffix(unit)
            .is_some_and(|base| base.ends_with('_'))
}

impl Encode for TextEncoder<'_> {
    fn discard_family(&mut self) {
        self.out.truncate(self.family_start);
    }

    fn family(&mut self, h: &FamilyHeader<'_>) {
        self.family_start = self.out.len();
        self.name.clear();
        self.quoted = false;
        if is_valid_metric_name(h.name) {
            self.name.push_str(h.name);
        } else if self.escaping == EscapingScheme::AllowUtf8 {
            self.quoted = true;
            self.name.push_str(h.name);
        } else {
            // Escape the whole sample name, as Go does, so `dots`/`values` double the suffix's
            // underscore too; the family base is what precedes the suffix.
            let suffix = match h.metric_type {
                MetricType::Counter => "_total",
                MetricType::Info => "_info",
                _ => "",
            };
            let full = escape_name_for_exposition(&format!("{}{suffix}", h.name), self.escaping)
                .into_owned();
            self.name
                .push_str(full.strip_suffix(suffix).unwrap_or(&full));
        }
        if self.openmetrics {
            let kind = match h.metric_type {
                MetricType::Counter => "counter",
                MetricType::Gauge => "gauge",
                MetricType::Histogram => "histogram",
                MetricType::GaugeHistogram => "gaugehistogram",
                MetricType::Summary => "summary",
                MetricType::Info => "info",
                MetricType::StateSet => "stateset",
                MetricType::Unknown => "unknown",
            };
            self.header_line("TYPE", "");
            self.out.push(' ');
            self.out.push_str(kind);
            self.out.push('\n');
            // OpenMetrics: a UNIT must be the written name's suffix; one that is not (a custom
            // collector's, or one that escaping changed) is left out rather than written wrong.
            if let Some(unit) = h.unit.filter(|u| unit_fits(&self.name, u)) {
                self.header_line("UNIT", "");
                self.out.push(' ');
                self.out.push_str(unit);
                self.out.push('\n');
            }
            if !h.help.is_empty() {
                self.header_line("HELP", "");
                self.out.push(' ');
                escape_help(self.out, h.help, true);
                self.out.push('\n');
            }
        } else {
            // In 0.0.4 the family is named after its samples: counters carry `_total`, info `_info`.
            let (suffix, kind) = match h.metric_type {
                MetricType::Counter => ("_total", "counter"),
                MetricType::Gauge | MetricType::StateSet => ("", "gauge"),
                MetricType::Info => ("_info", "gauge"),
                MetricType::Histogram | MetricType::GaugeHistogram => ("", "histogram"),
                MetricType::Summary => ("", "summary"),
                MetricType::Unknown => ("", "untyped"),
            };
            if !h.help.is_empty() {
                self.header_line("HELP", suffix);
                self.out.push(' ');
                escape_help(self.out, h.help, false);
                self.out.push('\n');
            }
            self.header_line("TYPE", suffix);
            self.out.push(' ');
            self.out.push_str(kind);
            self.out.push('\n');
        }
    }

    fn counter(
        &mut self,
        labels: &str,
        value: f64,
        created: Option<f64>,
        exemplar: Option<&Exemplar>,
    ) {
        self.start_sample("_total", labels, None);
        self.float(value);
        self.exemplar(exemplar);
        self.out.push('\n');
        self.created(labels, created);
    }

    fn gauge(&mut self, labels: &str, value: f64) {
        self.float_sample("", labels, value);
    }

    fn unknown(&mut self, labels: &str, value: f64) {
        self.float_sample("", labels, value);
    }

    fn histogram(&mut self, labels: &str, v: &HistogramValue<'_>) {
        self.buckets(labels, v);
        if self.openmetrics {
            // OpenMetrics 1.0: the sum is counter-like (never NaN or negative) and is left
            // out when a threshold is negative; `_count` is present exactly when `_sum` is.
            if is_counter_like(v.sum) && !has_negative_bound(v.bounds) {
                self.uint_sample("_count", labels, None, v.count);
                self.float_sample("_sum", labels, v.sum);
            }
            self.created(labels, v.created);
        } else {
            self.float_sample("_sum", labels, v.sum);
            self.uint_sample("_count", labels, None, v.count);
        }
    }

    fn gauge_histogram(&mut self, labels: &str, v: &HistogramValue<'_>) {
        self.buckets(labels, v);
        if self.openmetrics {
            // OpenMetrics 1.0: `_gsum` is never NaN, and negative only next to a negative
            // threshold; `_gcount` and `_gsum` come together or not at all.
            if !v.sum.is_nan() && (v.sum >= 0.0 || has_negative_bound(v.bounds)) {
                self.uint_sample("_gcount", labels, None, v.count);
                self.float_sample("_gsum", labels, v.sum);
            }
        } else {
            self.float_sample("_sum", labels, v.sum);
            self.uint_sample("_count", labels, None, v.count);
        }
    }

    fn summary(&mut self, labels: &str, v: &SummaryValue<'_>) {
        for (q, value) in v.quantiles {
            // OpenMetrics 1.0: quantile values are not negative (NaN means no recent
            // observations and is fine).
            if self.openmetrics && *value < 0.0 {
                continue;
            }
            self.float_label(*q);
            self.start_sample("", labels, Some("quantile"));
            self.float(*value);
            self.out.push('\n');
        }
        if self.openmetrics {
            self.uint_sample("_count", labels, None, v.count);
            // OpenMetrics 1.0: the sum is counter-like. A summary's `_count` stands alone.
            if is_counter_like(v.sum) {
                self.float_sample("_sum", labels, v.sum);
            }
            self.created(labels, v.created);
        } else {
            self.float_sample("_sum", labels, v.sum);
            self.uint_sample("_count", labels, None, v.count);
        }
    }

    fn info(&mut self, labels: &str) {
        self.uint_sample("_info", labels, None, 1);
    }

    fn stateset(&mut self, labels: &str, states: &[(String, bool)]) {
        // The state label is named like the family (without any prefix folded in twice).
        // A UTF-8 name is written quoted, as a label name too (label names outside the legacy
        // character set are quoted like metric names).
        let label_name = if self.quoted {
            let mut quoted = String::from("\"");
            escape_label_value(&mut quoted, &self.name);
            quoted.push('"');
            quoted
        } else {
            self.name.clone()
        };
        for (state, on) in states {
            self.scratch.clear();
            escape_label_value(&mut self.scratch, state);
            self.uint_sample("", labels, Some(&label_name), u64::from(*on));
        }
    }
}

//! Scrape-time checks of what collectors write, so that one collector's mistake never turns
//! into a page that scrapers reject whole (Prometheus and the OpenMetrics parsers drop the
//! entire exposition on a duplicate family, a duplicate series or a negative counter).
//!
//! Families built by this crate are correct by construction; for them only the cheap
//! per-family and per-value checks run. Custom collectors also get their label sets checked
//! and their series checked for duplicates.

use std::collections::HashSet;
use std::hash::BuildHasher;

use super::name_escaping::escape_name_for_exposition;
use super::{EscapingScheme, HistogramValue, SummaryValue};
use crate::labels::parse_rendered_labels;
use crate::metric::MetricType;

/// The state of the checks during one exposition.
pub(crate) struct Check {
    escaping: EscapingScheme,
    /// Constant label names of the registry: a collector's labels must not repeat them.
    const_labels: Vec<String>,
    /// Every sample name written so far, as written (escaped): a second family with the
    /// same name, or whose samples clash with an earlier family's, is refused.
    sample_names: HashSet<String>,
    /// The current family's type and name (as the collector gave it, with prefix).
    family: Option<(MetricType, String)>,
    /// Hashes of the current family's label sets, for collectors not trusted to be unique.
    series: HashSet<u64>,
    hasher: foldhash::fast::RandomState,
    /// Whether the current collector's series are unique by construction.
    trusted: bool,
    /// The first problem of the current collector.
    problem: Option<String>,
    /// After a problem, the rest of the family is dropped.
    skipping: bool,
}

impl Check {
    pub(crate) fn new(escaping: EscapingScheme, const_labels: Vec<String>) -> Self {
        Self {
            escaping,
            const_labels,
            sample_names: HashSet::new(),
            family: None,
            series: HashSet::new(),
            hasher: foldhash::fast::RandomState::default(),
            trusted: true,
            problem: None,
            skipping: false,
        }
    }

    /// Whether `name` is a constant label of the registry.
    #[cfg(feature = "bridge-opentelemetry")]
    pub(crate) fn is_const_label(&self, name: &str) -> bool {
        self.const_labels.iter().any(|c| c == name)
    }

    /// A new collector starts writing.
    pub(crate) fn begin_collector(&mut self, trusted: bool) {
        self.trusted = trusted;
        self.problem = None;
        self.skipping = false;
        self.family = None;
    }

    /// The first problem of the collector that just finished, if any.
    pub(crate) fn end_collector(&mut self) -> Option<String> {
        self.family = None;
        self.skipping = false;
        self.problem.take()
    }

    /// Records a problem; the caller drops the current family's output.
    pub(crate) fn fail(&mut self, problem: String) {
        if self.problem.is_none() {
            self.problem = Some(problem);
        }
        self.skipping = true;
    }

    fn family_name(&self) -> &str {
        self.family.as_ref().map_or("", |(_, n)| n.as_str())
    }

    /// Checks a family header; `Err` is the problem.
    pub(crate) fn family(&mut self, name: &str, metric_type: MetricType) -> Result<(), String> {
        self.skipping = false;
        self.series.clear();
        self.family = Some((metric_type, name.to_owned()));
        if crate::name::check_utf8_metric_name(name).is_err() {
            return Err(format!("wrote a family with the invalid name {name:?}"));
        }
        let escaped = escape_name_for_exposition(name, self.escaping);
        let mut own: Vec<String> = metric_type
            .sample_suffixes()
            .iter()
            .map(|suffix| format!("{escaped}{suffix}"))
            .collect();
        own.push(escaped.into_owned());
        own.sort();
        own.dedup();
        if let Some(clash) = own.iter().find(|n| self.sample_names.contains(*n)) {
            return Err(format!(
                "wrote family {name:?}, whose sample name {clash:?} was already written by an \
                 earlier family (a family written twice, or two collectors exposing the same name)"
            ));
        }
        self.sample_names.extend(own);
        Ok(())
    }

    /// Whether a sample of `kind` with `labels` may be written now; `Err` is the problem.
    /// `Ok(false)` means the family is being dropped after an earlier problem.
    pub(crate) fn sample(&mut self, kind: MetricType, labels: &str) -> Result<bool, String> {
        if self.skipping {
            return Ok(false);
        }
        let Some((family_type, _)) = &self.family else {
            return Err(format!(
                "wrote a {} sample before any family header",
                type_name(kind)
            ));
        };
        if *family_type != kind {
            return Err(format!(
                "wrote a {} sample into {} family {:?}",
                type_name(kind),
                type_name(*family_type),
                self.family_name()
            ));
        }
        if !self.trusted {
            self.check_labels(kind, labels)?;
            if !self.series.insert(self.hasher.hash_one(labels)) {
                return Err(format!(
                    "wrote the series {{{labels}}} of family {:?} twice",
                    self.family_name()
                ));
            }
        }
        Ok(true)
    }

    fn check_labels(&self, kind: MetricType, labels: &str) -> Result<(), String> {
        for (name, _) in parse_rendered_labels(labels) {
            let name = name
                .strip_prefix('"')
                .and_then(|n| n.strip_suffix('"'))
                .unwrap_or(name);
            let reserved = kind.reserved_label() == Some(name)
                || (kind == MetricType::StateSet && name == self.family_name());
            if reserved || self.const_labels.iter().any(|c| c == name) {
                return Err(format!(
                    "wrote the label {name:?} in family {:?}, where it is reserved (by the \
                     metric type or a constant label of the registry)",
                    self.family_name()
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn counter(&self, value: f64) -> Result<(), String> {
        if value.is_nan() || value < 0.0 {
            return Err(format!(
                "wrote the counter value {value} in family {:?}; counters must be non-negative \
                 and not NaN",
                self.family_name()
            ));
        }
        Ok(())
    }

    pub(crate) fn histogram(&self, v: &HistogramValue<'_>) -> Result<(), String> {
        let family = self.family_name();
        if v.bounds.iter().any(|b| !b.is_finite()) || v.bounds.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "wrote histogram bounds {:?} in family {family:?}; bounds must be finite and \
                 strictly increasing (+Inf is implicit)",
                v.bounds
            ));
        }
        if v.cumulative.len() != v.bounds.len() {
            return Err(format!(
                "wrote {} bucket counts for {} bounds in family {family:?}",
                v.cumulative.len(),
                v.bounds.len()
            ));
        }
        if v.cumulative.windows(2).any(|w| w[0] > w[1])
            || v.cumulative.last().is_some_and(|&last| last > v.count)
        {
            return Err(format!(
                "wrote non-cumulative bucket counts {:?} (count {}) in family {family:?}",
                v.cumulative, v.count
            ));
        }
        if let Some(exemplars) = v.exemplars
            && exemplars.len() != v.bounds.len() + 1
        {
            return Err(format!(
                "wrote {} exemplar slots for {} buckets in family {family:?}",
                exemplars.len(),
                v.bounds.len() + 1
            ));
        }
        if let Some(native) = &v.native {
            let sorted = |spans: &[(i32, u64)]| spans.windows(2).all(|w| w[0].0 < w[1].0);
            if !(-4..=8).contains(&native.schema)
                || native.zero_threshold.is_nan()
                || native.zero_threshold < 0.0
                || !sorted(native.positive)
                || !sorted(native.negative)
            {
                return Err(format!(
                    "wrote an invalid native histogram in family {family:?} (schema {}, zero \
                     threshold {}; schemas run from -4 to 8 and bucket indices must increase)",
                    native.schema, native.zero_threshold
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn summary(&self, v: &SummaryValue<'_>) -> Result<(), String> {
        let in_range = v.quantiles.iter().all(|(q, _)| (0.0..=1.0).contains(q));
        let increasing = v.quantiles.windows(2).all(|w| w[0].0 < w[1].0);
        if !in_range || !increasing {
            return Err(format!(
                "wrote summary quantiles {:?} in family {:?}; quantiles must increase and lie \
                 in [0, 1]",
                v.quantiles.iter().map(|(q, _)| *q).collect::<Vec<_>>(),
                self.family_name()
            ));
        }
        Ok(())
    }

    pub(crate) fn stateset(&self, states: &[(String, bool)]) -> Result<(), String> {
        let mut seen = HashSet::new();
        if let Some((name, _)) = states.iter().find(|(name, _)| !seen.insert(name.as_str())) {
            return Err(format!(
                "wrote the state {name:?} in state set {:?}; states must be unique",
                self.family_name()
            ));
        }
        Ok(())
    }
}

fn type_name(t: MetricType) -> &'static str {
    match t {
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Histogram => "histogram",
        MetricType::GaugeHistogram => "gauge histogram",
        MetricType::Summary => "summary",
        MetricType::Info => "info",
        MetricType::StateSet => "state set",
        MetricType::Unknown => "unknown-type",
    }
}

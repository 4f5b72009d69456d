//! One collection of the SDK's metrics turned into Prometheus families: names, units, labels,
//! types and values mapped, conflicts and the series cap applied. Writing them to an encoder
//! is the collector's business (`mod.rs`).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, Exemplar as OtelExemplar, Metric, MetricData, ResourceMetrics,
};

use super::naming::{legacy_label_name, merge_labels, metric_name, unit_word, with_unit};
use super::native::{Native, to_native};
use crate::encoding::{EscapingScheme, escape_name_for_exposition};
use crate::metric::{Exemplar, MetricType};

/// The self-metric: series left out of the last scrape, by reason.
pub(super) const DROPPED: &str = "promenade_otel_bridge_dropped_series";
/// The family of the resource attributes (`target_info`, an info metric).
pub(super) const TARGET: &str = "target";
/// Scope labels, as the specification names them.
pub(super) const SCOPE_NAME: &str = "otel_scope_name";
pub(super) const SCOPE_VERSION: &str = "otel_scope_version";

/// What the bridge was configured with.
#[derive(Debug, Clone)]
pub(super) struct Options {
    pub(super) max_series: usize,
    pub(super) scope_labels: bool,
    pub(super) target_info: bool,
    pub(super) utf8: bool,
}

/// A sample's value, by exposed type.
#[derive(Debug, Clone)]
pub(super) enum Value {
    Counter(f64, Option<Exemplar>),
    Gauge(f64),
    Info,
    Histogram {
        bounds: Vec<f64>,
        cumulative: Vec<u64>,
        count: u64,
        sum: f64,
        exemplars: Option<Vec<Option<Exemplar>>>,
    },
    Native {
        count: u64,
        sum: f64,
        native: Option<Native>,
        exemplars: Vec<Exemplar>,
    },
}

/// One series: labels as `(name, unescaped value)`, in exposition order.
#[derive(Debug, Clone)]
pub(super) struct Point {
    pub(super) labels: Vec<(String, String)>,
    pub(super) value: Value,
}

/// One family: header and series.
#[derive(Debug)]
pub(super) struct Family {
    pub(super) metric_type: MetricType,
    pub(super) help: String,
    pub(super) unit: Option<String>,
    pub(super) points: Vec<Point>,
    /// Hashes of the label sets, so that a second series with the same labels (two
    /// instruments of one name without scope labels) is dropped rather than written twice.
    seen: HashSet<u64>,
}

/// Series left out, by reason.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Dropped {
    /// Past [`Options::max_series`].
    pub(super) series_limit: u64,
    /// A name taken by another type or unit, or the same series twice.
    pub(super) conflict: u64,
    /// A value Prometheus cannot take (NaN or negative counter, delta temporality).
    pub(super) invalid: u64,
}

/// The label sets admitted so far, at most `max_series`: a label set admitted once keeps its
/// place, so the series that are exposed do not change from one scrape to the next.
#[derive(Debug, Default)]
pub(super) struct Admitted {
    keys: HashSet<u64>,
}

impl Admitted {
    pub(super) fn len(&self) -> usize {
        self.keys.len()
    }

    fn admit(&mut self, key: u64, max: usize) -> bool {
        self.keys.contains(&key) || (self.keys.len() < max && self.keys.insert(key))
    }
}

/// The families of one collection, sorted by name.
#[derive(Debug, Default)]
pub(super) struct Families {
    pub(super) families: BTreeMap<String, Family>,
    /// Every sample name taken, so that no two families clash in the exposition.
    sample_names: HashSet<String>,
    pub(super) dropped: Dropped,
}

/// Whether a label name is taken by the metric type or the registry.
pub(super) type Reserved<'a> = &'a dyn Fn(MetricType, &str) -> bool;

/// A number type of OpenTelemetry data points.
trait Number: Copy {
    fn to_f64(self) -> f64;
}
impl Number for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}
impl Number for i64 {
    fn to_f64(self) -> f64 {
        // Precision past 2^53 is lost, as in every Prometheus sample.
        self as f64
    }
}
impl Number for u64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// The families of `rm` under `options`; `admitted` carries the series cap across scrapes.
pub(super) fn gather(
    rm: &ResourceMetrics,
    options: &Options,
    admitted: &mut Admitted,
    reserved: Reserved<'_>,
) -> Families {
    let mut out = Families::default();
    // Reserved first: a metric that takes these names is the one left out.
    out.claim(DROPPED, MetricType::Gauge, "", None);
    if options.target_info {
        let labels = resource_labels(rm.resource(), options.utf8, reserved);
        if !labels.is_empty() && out.claim(TARGET, MetricType::Info, "Target metadata.", None) {
            out.push(
                TARGET,
                Point {
                    labels,
                    value: Value::Info,
                },
                options,
                admitted,
            );
        }
    }
    // In a fixed order (the SDK's is a hash map's): when two instruments clash, the same
    // one wins at every scrape, and the series cap admits the same series.
    let mut scopes: Vec<_> = rm.scope_metrics().collect();
    scopes.sort_by(|a, b| {
        (a.scope().name(), a.scope().version()).cmp(&(b.scope().name(), b.scope().version()))
    });
    for scope_metrics in scopes {
        let scope = scope_metrics.scope();
        let mut scope_labels = Vec::new();
        if options.scope_labels {
            scope_labels.push((SCOPE_NAME.to_owned(), scope.name().to_owned()));
            if let Some(version) = scope.version().filter(|v| !v.is_empty()) {
                scope_labels.push((SCOPE_VERSION.to_owned(), version.to_owned()));
            }
        }
        let mut metrics: Vec<_> = scope_metrics.metrics().collect();
        metrics.sort_by(|a, b| a.name().cmp(b.name()));
        for metric in metrics {
            let mut ctx = MetricCtx {
                out: &mut out,
                metric,
                scope_labels: &scope_labels,
                options,
                admitted,
                reserved,
            };
            match metric.data() {
                AggregatedMetrics::F64(data) => ctx.add(data),
                AggregatedMetrics::I64(data) => ctx.add(data),
                AggregatedMetrics::U64(data) => ctx.add(data),
            }
        }
    }
    for family in out.families.values_mut() {
        // Sorted series: the same page for the same data, whatever the SDK's order.
        family.points.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    out
}

/// Resource attributes as the labels of `target_info`.
fn resource_labels(
    resource: &Resource,
    utf8: bool,
    reserved: Reserved<'_>,
) -> Vec<(String, String)> {
    let mut pairs: Vec<(Cow<'_, str>, String)> = resource
        .iter()
        .map(|(k, v)| (Cow::Borrowed(k.as_str()), v.as_str().into_owned()))
        .collect();
    merge_labels(&mut pairs, utf8, &|name| reserved(MetricType::Info, name))
}

impl Families {
    /// Takes `name` for a family of `metric_type`, or finds it taken by the same type and
    /// unit (instruments of one name in several scopes are one family). `false` when the
    /// name or one of its sample names is taken otherwise.
    pub(super) fn claim(
        &mut self,
        name: &str,
        metric_type: MetricType,
        help: &str,
        unit: Option<&str>,
    ) -> bool {
        if let Some(family) = self.families.get(name) {
            return family.metric_type == metric_type && family.unit.as_deref() == unit;
        }
        // A UTF-8 name is also reserved in the form legacy scrapers get (`a.b` is `a_b`
        // there), so that no scrape sees two families of one name.
        let escaped = escape_name_for_exposition(name, EscapingScheme::Underscores);
        let mut own: Vec<String> = Vec::new();
        for form in [name, escaped.as_ref()] {
            own.extend(
                metric_type
                    .sample_suffixes()
                    .iter()
                    .map(|suffix| format!("{form}{suffix}")),
            );
            own.push(form.to_owned());
        }
        own.sort();
        own.dedup();
        if own.iter().any(|n| self.sample_names.contains(n)) {
            return false;
        }
        self.sample_names.extend(own);
        self.families.insert(
            name.to_owned(),
            Family {
                metric_type,
                help: help.to_owned(),
                unit: unit.map(str::to_owned),
                points: Vec::new(),
                seen: HashSet::new(),
            },
        );
        true
    }

    /// Adds a series to a claimed family, within the series cap.
    pub(super) fn push(
        &mut self,
        name: &str,
        point: Point,
        options: &Options,
        admitted: &mut Admitted,
    ) {
        let Some(family) = self.families.get_mut(name) else {
            return;
        };
        let mut hasher = DefaultHasher::new();
        // By the names legacy scrapers get: `{a.b="1"}` and `{a_b="1"}` are one series there.
        for (label, value) in &point.labels {
            legacy_label_name(label).hash(&mut hasher);
            value.hash(&mut hasher);
        }
        let labels_key = hasher.finish();
        if family.seen.contains(&labels_key) {
            self.dropped.conflict += 1;
            return;
        }
        name.hash(&mut hasher);
        if !admitted.admit(hasher.finish(), options.max_series) {
            self.dropped.series_limit += 1;
            return;
        }
        family.seen.insert(labels_key);
        family.points.push(point);
    }
}

/// One metric being added.
struct MetricCtx<'a, 'b> {
    out: &'a mut Families,
    metric: &'b Metric,
    scope_labels: &'b [(String, String)],
    options: &'b Options,
    admitted: &'a mut Admitted,
    reserved: Reserved<'b>,
}

impl MetricCtx<'_, '_> {
    fn add<T: Number>(&mut self, data: &MetricData<T>) {
        match data {
            MetricData::Sum(sum) => {
                let points = sum
                    .data_points()
                    .map(|p| (p.attributes(), p.value(), p.exemplars()));
                if sum.temporality() != Temporality::Cumulative {
                    self.out.dropped.invalid += sum.data_points().count() as u64;
                    return;
                }
                let metric_type = if sum.is_monotonic() {
                    MetricType::Counter
                } else {
                    MetricType::Gauge
                };
                let Some(name) = self.family(metric_type) else {
                    self.out.dropped.conflict += sum.data_points().count() as u64;
                    return;
                };
                for (attributes, value, exemplars) in points {
                    let value = value.to_f64();
                    let value = if metric_type == MetricType::Counter {
                        if value.is_nan() || value < 0.0 {
                            self.out.dropped.invalid += 1;
                            continue;
                        }
                        Value::Counter(value, exemplars.filter_map(exemplar).last())
                    } else {
                        Value::Gauge(value)
                    };
                    self.point(&name, metric_type, attributes, value);
                }
            }
            MetricData::Gauge(gauge) => {
                let Some(name) = self.family(MetricType::Gauge) else {
                    self.out.dropped.conflict += gauge.data_points().count() as u64;
                    return;
                };
                for p in gauge.data_points() {
                    self.point(
                        &name,
                        MetricType::Gauge,
                        p.attributes(),
                        Value::Gauge(p.value().to_f64()),
                    );
                }
            }
            MetricData::Histogram(histogram) => {
                if histogram.temporality() != Temporality::Cumulative {
                    self.out.dropped.invalid += histogram.data_points().count() as u64;
                    return;
                }
                let Some(name) = self.family(MetricType::Histogram) else {
                    self.out.dropped.conflict += histogram.data_points().count() as u64;
                    return;
                };
                for p in histogram.data_points() {
                    let bounds: Vec<f64> = p.bounds().collect();
                    let mut cumulative = Vec::with_capacity(bounds.len());
                    let mut running = 0u64;
                    // OpenTelemetry counts per bucket, the last one past the last bound;
                    // Prometheus counts up to each bound, `+Inf` being the total.
                    for count in p.bucket_counts().take(bounds.len()) {
                        running = running.saturating_add(count);
                        cumulative.push(running);
                    }
                    let mut slots: Vec<Option<Exemplar>> = vec![None; bounds.len() + 1];
                    let mut any = false;
                    for e in p.exemplars().filter_map(exemplar) {
                        let slot = bounds
                            .iter()
                            .position(|b| e.value() <= *b)
                            .unwrap_or(bounds.len());
                        slots[slot] = Some(e);
                        any = true;
                    }
                    let value = Value::Histogram {
                        cumulative,
                        count: p.count(),
                        sum: p.sum().to_f64(),
                        exemplars: any.then_some(slots),
                        bounds,
                    };
                    self.point(&name, MetricType::Histogram, p.attributes(), value);
                }
            }
            MetricData::ExponentialHistogram(histogram) => {
                if histogram.temporality() != Temporality::Cumulative {
                    self.out.dropped.invalid += histogram.data_points().count() as u64;
                    return;
                }
                let Some(name) = self.family(MetricType::Histogram) else {
                    self.out.dropped.conflict += histogram.data_points().count() as u64;
                    return;
                };
                for p in histogram.data_points() {
                    let positive = p.positive_bucket();
                    let negative = p.negative_bucket();
                    let native = to_native(
                        p.scale(),
                        p.zero_threshold(),
                        p.zero_count(),
                        (positive.offset(), positive.counts()),
                        (negative.offset(), negative.counts()),
                    );
                    let value = Value::Native {
                        count: p.count() as u64,
                        sum: p.sum().to_f64(),
                        native,
                        exemplars: p.exemplars().filter_map(exemplar).collect(),
                    };
                    self.point(&name, MetricType::Histogram, p.attributes(), value);
                }
            }
        }
    }

    /// The exposed family name of this metric as `metric_type`, claimed; `None` when taken.
    fn family(&mut self, metric_type: MetricType) -> Option<String> {
        let mut base = metric_name(self.metric.name(), self.options.utf8);
        if metric_type == MetricType::Counter {
            // The encoder writes `_total` after the unit: `requests_total` in seconds is
            // `requests_seconds_total`.
            if let Some(stripped) = base.strip_suffix("_total").filter(|s| !s.is_empty()) {
                base = stripped.to_owned();
            }
        }
        let unit = unit_word(self.metric.unit(), metric_type == MetricType::Gauge);
        let name = with_unit(&base, unit.as_deref());
        // `# UNIT` only where the name ends with it (OpenMetrics requires the suffix).
        let unit = unit.filter(|u| name.ends_with(&format!("_{u}")));
        // Prometheus's linter (`promtool check metrics`) wants help on every family; an
        // instrument without a description gets its own name, which sanitizing may change.
        let help = match self.metric.description() {
            "" => Cow::Owned(format!("OpenTelemetry instrument {}.", self.metric.name())),
            description => Cow::Borrowed(description),
        };
        self.out
            .claim(&name, metric_type, &help, unit.as_deref())
            .then_some(name)
    }

    fn point<'k>(
        &mut self,
        name: &str,
        metric_type: MetricType,
        attributes: impl Iterator<Item = &'k opentelemetry::KeyValue>,
        value: Value,
    ) {
        let mut pairs: Vec<(Cow<'_, str>, String)> = attributes
            .map(|kv| {
                (
                    Cow::Borrowed(kv.key.as_str()),
                    kv.value.as_str().into_owned(),
                )
            })
            .collect();
        let scope_on = !self.scope_labels.is_empty();
        let reserved = self.reserved;
        let mut labels = merge_labels(&mut pairs, self.options.utf8, &|label| {
            reserved(metric_type, label)
                || (scope_on && (label == SCOPE_NAME || label == SCOPE_VERSION))
        });
        labels.extend(self.scope_labels.iter().cloned());
        self.out
            .push(name, Point { labels, value }, self.options, self.admitted);
    }
}

/// An OpenTelemetry exemplar as an OpenMetrics one (`trace_id`, `span_id` in lowercase hex,
/// as W3C Trace Context writes them), when it belongs to a sampled span.
fn exemplar<T: Number>(e: &OtelExemplar<T>) -> Option<Exemplar> {
    exemplar_of(e.trace_id(), e.span_id(), e.value.to_f64(), e.time())
}

/// See [`exemplar`]; separate so that it can be tested (the SDK's exemplars have no public
/// constructor).
pub(super) fn exemplar_of(
    trace_id: &[u8; 16],
    span_id: &[u8; 8],
    value: f64,
    time: SystemTime,
) -> Option<Exemplar> {
    // All-zero ids: no span was active or it was not sampled.
    if trace_id.iter().all(|b| *b == 0) {
        return None;
    }
    let trace = hex(trace_id);
    let mut labels = vec![("trace_id", trace.as_str())];
    let span = hex(span_id);
    if span_id.iter().any(|b| *b != 0) {
        labels.push(("span_id", span.as_str()));
    }
    let timestamp = time
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    Exemplar::new(&labels, value)
        .ok()
        .map(|e| e.with_timestamp(timestamp))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

//! Exposes an existing tikv [`prometheus`](https://docs.rs/prometheus/0.14) crate registry
//! through a Promenade [`Registry`](crate::Registry): [`PrometheusBridge`] is a
//! [`Collector`] that calls the tikv registry's `gather()` at every scrape and writes its
//! families (counter, gauge, histogram, summary, untyped; labels and help) through the
//! ordinary collector API, so negotiation, name escaping and the scrape-time checks apply
//! to them as to any other family.
//!
//! ```
//! use promenade_core::{Format, Registry, bridge::prometheus::PrometheusBridge};
//!
//! // A library that already records with the `prometheus` crate.
//! let legacy = prometheus::Registry::new();
//! let jobs = prometheus::IntCounterVec::new(prometheus::Opts::new("jobs_total", "Jobs run."), &["queue"])?;
//! legacy.register(Box::new(jobs.clone()))?;
//! jobs.with_label_values(&["mail"]).inc_by(3);
//!
//! let registry = Registry::new();
//! registry.register(PrometheusBridge::new(legacy))?;
//! let text = registry.encode_to_string(Format::Text)?;
//! assert!(text.contains("# TYPE jobs_total counter\njobs_total{queue=\"mail\"} 3\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! How the families map:
//! - a counter named `x_total` is the Promenade counter `x` and keeps its sample name; a
//!   counter named without `_total` gets it, as in OpenMetrics (`x` becomes `x_total`);
//! - untyped families are `unknown`; histograms keep their finite buckets (`+Inf` is the
//!   count); summaries keep their quantiles;
//! - per-sample timestamps are not carried over (Prometheus discourages them for
//!   instrumentation: <https://prometheus.io/docs/instrumenting/writing_exporters/#scheduling>).
//!
//! Names are never exposed twice. At registration the bridge describes the tikv registry's
//! current families, so a name the Promenade registry already has is refused with
//! [`Error::AlreadyRegistered`](crate::Error::AlreadyRegistered). Families registered in
//! the tikv registry later are checked at every scrape: a name that clashes fails the scrape
//! with [`Error::Collector`](crate::Error::Collector) naming the family (or, with
//! [`CollectorErrors::Skip`](crate::CollectorErrors::Skip), leaves it out).

use ::prometheus::proto;

use crate::collector::{Collector, Descriptor};
use crate::encoding::{FamilyHeader, HistogramValue, LabelSet, MetricEncoder, SummaryValue};
use crate::metric::MetricType;

/// A [`Collector`] that exposes a tikv `prometheus` [`Registry`](::prometheus::Registry)
/// (see the [module](self) documentation).
///
/// ```
/// use promenade_core::{Format, Registry, bridge::prometheus::PrometheusBridge};
/// let legacy = prometheus::Registry::new();
/// let registry = Registry::new();
/// registry.register(PrometheusBridge::new(legacy.clone()))?;
/// // Registered after the bridge: it appears at the next scrape.
/// let temp = prometheus::Gauge::new("temperature_celsius", "Temperature.")?;
/// legacy.register(Box::new(temp.clone()))?;
/// temp.set(21.5);
/// assert!(registry.encode_to_string(Format::Text)?.contains("temperature_celsius 21.5\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct PrometheusBridge {
    registry: ::prometheus::Registry,
}

impl std::fmt::Debug for PrometheusBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tikv registry has no `Debug`.
        f.debug_struct("PrometheusBridge").finish_non_exhaustive()
    }
}

impl PrometheusBridge {
    /// A bridge that exposes `registry` (a clone of a tikv registry shares its metrics).
    ///
    /// ```
    /// let bridge = promenade_core::bridge::prometheus::PrometheusBridge::new(prometheus::Registry::new());
    /// promenade_core::Registry::new().register(bridge)?;
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn new(registry: ::prometheus::Registry) -> Self {
        Self { registry }
    }

    /// The tikv registry this bridge exposes.
    ///
    /// ```
    /// let bridge = promenade_core::bridge::prometheus::PrometheusBridge::new(prometheus::Registry::new());
    /// assert!(bridge.registry().gather().is_empty());
    /// ```
    pub fn registry(&self) -> &::prometheus::Registry {
        &self.registry
    }
}

/// The Promenade family name and type of a tikv family.
fn family_of(family: &proto::MetricFamily) -> (&str, MetricType) {
    let name = family.name();
    match family.get_field_type() {
        // The Promenade family of a counter has no `_total`; the encoder appends it.
        proto::MetricType::COUNTER => (
            name.strip_suffix("_total")
                .filter(|n| !n.is_empty())
                .unwrap_or(name),
            MetricType::Counter,
        ),
        proto::MetricType::GAUGE => (name, MetricType::Gauge),
        proto::MetricType::SUMMARY => (name, MetricType::Summary),
        proto::MetricType::HISTOGRAM => (name, MetricType::Histogram),
        proto::MetricType::UNTYPED => (name, MetricType::Unknown),
    }
}

impl Collector for PrometheusBridge {
    fn descriptors(&self) -> Vec<Descriptor> {
        self.registry
            .gather()
            .iter()
            .map(|family| {
                let (name, metric_type) = family_of(family);
                let label_names: Vec<&str> = family
                    .get_metric()
                    .first()
                    .map(|m| m.get_label().iter().map(|l| l.name()).collect())
                    .unwrap_or_default();
                Descriptor::new(name, family.help(), metric_type, &label_names)
            })
            .collect()
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        let mut bounds = Vec::new();
        let mut cumulative = Vec::new();
        let mut quantiles = Vec::new();
        for family in self.registry.gather() {
            let (name, metric_type) = family_of(&family);
            enc.family(&FamilyHeader {
                name,
                help: family.help(),
                unit: None,
                metric_type,
            });
            for metric in family.get_metric() {
                let pairs: Vec<(&str, &str)> = metric
                    .get_label()
                    .iter()
                    .map(|l| (l.name(), l.value()))
                    .collect();
                let labels = match LabelSet::from_pairs(&pairs) {
                    Ok(labels) => labels,
                    Err(e) => {
                        // The tikv crate validates label names as this crate does; should
                        // one differ, the family fails the scrape (or is skipped) by name.
                        enc.fail(format!(
                            "wrote family {:?} with invalid labels: {e}",
                            family.name()
                        ));
                        break;
                    }
                };
                match metric_type {
                    MetricType::Counter => enc.counter(&labels, metric.get_counter().value(), None),
                    MetricType::Gauge => enc.gauge(&labels, metric.get_gauge().value()),
                    MetricType::Unknown => enc.unknown(&labels, metric.untyped.value()),
                    MetricType::Summary => {
                        let summary = metric.get_summary();
                        quantiles.clear();
                        quantiles.extend(
                            summary
                                .get_quantile()
                                .iter()
                                .map(|q| (q.quantile(), q.value())),
                        );
                        enc.summary(
                            &labels,
                            &SummaryValue {
                                quantiles: &quantiles,
                                count: summary.sample_count(),
                                sum: summary.sample_sum(),
                                created: None,
                            },
                        );
                    }
                    MetricType::Histogram => {
                        let histogram = metric.get_histogram();
                        bounds.clear();
                        cumulative.clear();
                        // `+Inf` is the count; the tikv crate normally leaves it out, but a
                        // collector's hand-made family may not.
                        for bucket in histogram
                            .get_bucket()
                            .iter()
                            .filter(|b| b.upper_bound().is_finite())
                        {
                            bounds.push(bucket.upper_bound());
                            cumulative.push(bucket.cumulative_count());
                        }
                        enc.histogram(
                            &labels,
                            &HistogramValue {
                                bounds: &bounds,
                                cumulative: &cumulative,
                                count: histogram.get_sample_count(),
                                sum: histogram.get_sample_sum(),
                                created: None,
                                native: None,
                                exemplars: None,
                                native_exemplars: &[],
                            },
                        );
                    }
                    // `family_of` gives no other type.
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

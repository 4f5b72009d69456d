//! The registry: owns collectors, checks their descriptors at registration, runs them and
//! encodes what they write on scrape.
//!
//! Every `impl Registry` is in this file, so one place lists what a registry can do: the
//! builder and its options, `register`/`unregister`, a constructor per metric type
//! (quantile summaries included) and the `encode_*` entry points. The collector interface
//! it runs is in `collector`; the rules it checks descriptors against are in `validate`.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use crate::callback::CallbackMetric;
use crate::collector::{Collector, CollectorErrors, CollectorId};

use crate::encoding::escape_name_for_exposition;
use crate::encoding::{
    Encode, EscapingScheme, FamilyHeader, Format, LabelSet, MetricEncoder, Negotiated, TextEncoder,
};
use crate::error::{Error, Result};
use crate::family::{Family, Series};
use crate::labels::render_labels;
use crate::metric::{
    Buckets, Counter, Gauge, Histogram, Info, MetricType, QuantileOptions, QuantileSummary,
    StateSet, States, Summary,
};
use crate::name::{check_label_names, check_metric_name};
use crate::validate::{Definition, Origin, check_definition};

/// The name of the self-metric that counts collector errors under [`CollectorErrors::Skip`].
const SCRAPE_ERRORS: &str = "promenade_scrape_collector_errors";

struct Registered {
    id: CollectorId,
    sort_key: String,
    sample_names: Vec<String>,
    collector: Arc<dyn Collector>,
    /// How errors name this collector: its type, and its first family if it describes one.
    label: Arc<str>,
}

struct Inner {
    prefix: Option<String>,
    const_labels: Vec<(String, String)>,
    const_rendered: String,
    created_samples: bool,
    collector_errors: CollectorErrors,
    scrape_errors: AtomicU64,
    next_id: AtomicU64,
    collectors: RwLock<Vec<Registered>>,
}

/// A set of collectors exposed together. Cheap to clone (clones share state), `Send + Sync`.
///
/// ```
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// let jobs = registry.counter("jobs_total", "Jobs processed.").unwrap();
/// jobs.inc();
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains("# TYPE jobs_total counter\njobs_total 1\n"));
/// assert!(registry.counter("jobs", "Again.").is_err()); // same samples: refused
/// ```
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("prefix", &self.inner.prefix)
            .field("const_labels", &self.inner.const_labels)
            .finish_non_exhaustive()
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// Configures a [`Registry`]; see [`Registry::builder`].
///
/// ```
/// use promenade_core::{Format, Registry};
/// let registry = Registry::builder()
///     .prefix("shop")
///     .const_label("region", "eu")
///     .created_samples(false)
///     .build()
///     .unwrap();
/// registry.counter("orders_total", "Orders.").unwrap().inc();
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains("shop_orders_total{region=\"eu\"} 1\n"));
/// ```
#[derive(Debug, Default)]
pub struct RegistryBuilder {
    prefix: Option<String>,
    const_labels: Vec<(String, String)>,
    created_samples: bool,
    collector_errors: CollectorErrors,
}

impl RegistryBuilder {
    /// Prepends `prefix_` to every family name.
    ///
    /// ```
    /// let r = promenade_core::Registry::builder().prefix("myapp").build().unwrap();
    /// r.gauge("up", "Up.").unwrap();
    /// assert!(r.encode_to_string(promenade_core::Format::Text).unwrap().contains("myapp_up 0"));
    /// ```
    #[must_use]
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = Some(prefix.to_owned());
        self
    }

    /// Adds a label to every series of the registry.
    ///
    /// ```
    /// let r = promenade_core::Registry::builder().const_label("env", "prod").build().unwrap();
    /// r.gauge("up", "Up.").unwrap();
    /// assert!(r.encode_to_string(promenade_core::Format::Text).unwrap().contains("up{env=\"prod\"} 0"));
    /// ```
    #[must_use]
    pub fn const_label(mut self, name: &str, value: &str) -> Self {
        self.const_labels.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Writes `_created` samples in OpenMetrics (off by default: they double the series count).
    ///
    /// ```
    /// let r = promenade_core::Registry::builder().created_samples(true).build().unwrap();
    /// r.counter("c", "C.").unwrap();
    /// assert!(r.encode_to_string(promenade_core::Format::OpenMetrics).unwrap().contains("c_created "));
    /// ```
    #[must_use]
    pub fn created_samples(mut self, on: bool) -> Self {
        self.created_samples = on;
        self
    }

    /// What a scrape does when a collector writes something invalid (a duplicate family or
    /// series, a negative counter, …) or panics: fail with a message naming the collector
    /// (the default), or leave the family out and count the error. Either way no scrape ever
    /// returns a page that Prometheus would reject whole.
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, CollectorErrors, Descriptor, Format, MetricType, Registry};
    ///
    /// struct Panics;
    /// impl Collector for Panics {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, _: &mut MetricEncoder<'_>) { panic!("backend unreachable") }
    /// }
    /// let registry = Registry::builder().collector_errors(CollectorErrors::Skip).build().unwrap();
    /// registry.gauge("up", "Up.").unwrap().set(1.0);
    /// registry.register(Panics).unwrap();
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("up 1\n"));
    /// assert!(text.contains("promenade_scrape_collector_errors_total 1\n"));
    /// ```
    #[must_use]
    pub fn collector_errors(mut self, policy: CollectorErrors) -> Self {
        self.collector_errors = policy;
        self
    }

    /// Validates the prefix and constant labels.
    ///
    /// ```
    /// assert!(promenade_core::Registry::builder().prefix("1x").build().is_err());
    /// assert!(promenade_core::Registry::builder().const_label("__x", "y").build().is_err());
    /// ```
    pub fn build(self) -> Result<Registry> {
        if let Some(p) = &self.prefix {
            check_metric_name(p)?;
        }
        let names: Vec<&str> = self.const_labels.iter().map(|(n, _)| n.as_str()).collect();
        check_label_names(&names)?;
        let values: Vec<&str> = self.const_labels.iter().map(|(_, v)| v.as_str()).collect();
        let mut const_rendered = String::new();
        render_labels(&mut const_rendered, &names, &values);
        Ok(Registry {
            inner: Arc::new(Inner {
                prefix: self.prefix,
                const_labels: self.const_labels,
                const_rendered,
                created_samples: self.created_samples,
                collector_errors: self.collector_errors,
                scrape_errors: AtomicU64::new(0),
                next_id: AtomicU64::new(0),
                collectors: RwLock::new(Vec::new()),
            }),
        })
    }
}

/// The process-wide default registry. Nothing in Promenade registers into it unless told to.
///
/// ```
/// promenade_core::default_registry().gauge("doc_default_registry_example", "Example.").unwrap();
/// ```
pub fn default_registry() -> &'static Registry {
    static DEFAULT: OnceLock<Registry> = OnceLock::new();
    DEFAULT.get_or_init(Registry::new)
}

impl Registry {
    /// An empty registry without prefix or constant labels.
    ///
    /// ```
    /// let r = promenade_core::Registry::new();
    /// assert_eq!(r.encode_to_string(promenade_core::Format::OpenMetrics).unwrap(), "# EOF\n");
    /// ```
    pub fn new() -> Self {
        RegistryBuilder::default()
            .build()
            .unwrap_or_else(|_| unreachable!("an empty builder is always valid"))
    }

    /// Configures prefix, constant labels and `_created` samples.
    ///
    /// ```
    /// let r = promenade_core::Registry::builder().prefix("app").build().unwrap();
    /// ```
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    fn full_name(&self, name: &str) -> String {
        match &self.inner.prefix {
            Some(p) => format!("{p}_{name}"),
            None => name.to_owned(),
        }
    }

    /// Registers a collector after checking its descriptors: valid names, no reserved or
    /// constant label names reused, no sample name shared with another family.
    ///
    /// ```
    /// use promenade_core::{Counter, Family, Registry};
    /// let r = Registry::new();
    /// let f = Family::<Counter>::builder("a_total", "A.").build().unwrap();
    /// let id = r.register(f.clone()).unwrap();
    /// assert!(r.register(f).is_err());
    /// r.unregister(id).unwrap();
    /// ```
    pub fn register<C: Collector>(&self, collector: C) -> Result<CollectorId> {
        let descriptors = collector.descriptors();
        let mut sample_names: Vec<String> = Vec::new();
        for d in &descriptors {
            let full = self.full_name(&d.name);
            check_definition(
                &Definition {
                    name: &full,
                    metric_type: d.metric_type,
                    label_names: &d.label_names,
                    unit: d.unit.as_deref(),
                },
                Origin::Registry {
                    const_labels: &self.inner.const_labels,
                },
            )?;
            // Every sample name, raw and as each escaping scheme writes it: two families
            // whose samples a scrape would write under one name cannot both be registered.
            let mine: BTreeSet<String> = d
                .sample_names(&full)
                .into_iter()
                .flat_map(|n| {
                    let escaped = [
                        EscapingScheme::Underscores,
                        EscapingScheme::Dots,
                        EscapingScheme::Values,
                    ]
                    .map(|s| escape_name_for_exposition(&n, s).into_owned());
                    std::iter::once(n).chain(escaped)
                })
                .collect();
            if let Some(clash) = sample_names.iter().find(|n| mine.contains(*n)) {
                return Err(Error::AlreadyRegistered {
                    name: full,
                    existing: clash.clone(),
                });
            }
            sample_names.extend(mine);
        }
        let own: BTreeSet<&str> = sample_names.iter().map(String::as_str).collect();
        let mut collectors = self
            .inner
            .collectors
            .write()
            .unwrap_or_else(|p| p.into_inner());
        for r in collectors.iter() {
            if let Some(clash) = r.sample_names.iter().find(|n| own.contains(n.as_str())) {
                let name = descriptors
                    .first()
                    .map_or_else(String::new, |d| self.full_name(&d.name));
                return Err(Error::AlreadyRegistered {
                    name,
                    existing: clash.clone(),
                });
            }
        }
        let id = CollectorId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let sort_key = descriptors
            .first()
            .map_or_else(|| "\u{10ffff}".to_owned(), |d| self.full_name(&d.name));
        // Families are exposed sorted by name (as the Go client does), unchecked collectors last.
        let at = collectors.partition_point(|r| r.sort_key <= sort_key);
        let type_name = std::any::type_name::<C>();
        let label: Arc<str> = match descriptors.first() {
            Some(d) => format!("{type_name} (family {:?})", self.full_name(&d.name)).into(),
            None => type_name.into(),
        };
        collectors.insert(
            at,
            Registered {
                id,
                sort_key,
                sample_names,
                collector: Arc::new(collector),
                label,
            },
        );
        Ok(id)
    }

    /// Removes a registration.
    ///
    /// ```
    /// let r = promenade_core::Registry::new();
    /// let f = promenade_core::Family::<promenade_core::Gauge>::builder("g", "G.").build().unwrap();
    /// let id = r.register(f).unwrap();
    /// r.unregister(id).unwrap();
    /// assert!(r.unregister(id).is_err());
    /// ```
    pub fn unregister(&self, id: CollectorId) -> Result<()> {
        let mut collectors = self
            .inner
            .collectors
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let before = collectors.len();
        collectors.retain(|r| r.id != id);
        if collectors.len() == before {
            Err(Error::NotRegistered)
        } else {
            Ok(())
        }
    }

    /// The names of the constant labels written on every series.
    #[cfg_attr(not(feature = "bridge-metrics"), allow(dead_code))]
    pub(crate) fn const_label_names(&self) -> impl Iterator<Item = &str> {
        self.inner.const_labels.iter().map(|(n, _)| n.as_str())
    }

    fn register_family<M: crate::Metric>(&self, family: Family<M>) -> Result<Family<M>> {
        self.register(family.clone())?;
        Ok(family)
    }

    /// Creates and registers an unlabelled counter.
    ///
    /// ```
    /// let c = promenade_core::Registry::new().counter("done_total", "Done.").unwrap();
    /// c.inc();
    /// ```
    pub fn counter(&self, name: &str, help: &str) -> Result<Series<Counter>> {
        self.counter_family(name, help, &[] as &[&str])?
            .series(&[] as &[&str])
    }

    /// Creates and registers a labelled counter family.
    ///
    /// ```
    /// let f = promenade_core::Registry::new().counter_family("req_total", "Requests.", &["code"]).unwrap();
    /// f.get(&["200"]).unwrap().inc();
    /// ```
    pub fn counter_family<S: AsRef<str>>(
        &self,
        name: &str,
        help: &str,
        labels: &[S],
    ) -> Result<Family<Counter>> {
        self.register_family(Family::builder(name, help).labels(labels).build()?)
    }

    /// Creates and registers an unlabelled gauge.
    ///
    /// ```
    /// promenade_core::Registry::new().gauge("temp", "Temp.").unwrap().set(3.0);
    /// ```
    pub fn gauge(&self, name: &str, help: &str) -> Result<Series<Gauge>> {
        self.gauge_family(name, help, &[] as &[&str])?
            .series(&[] as &[&str])
    }

    /// Creates and registers a labelled gauge family.
    ///
    /// ```
    /// let f = promenade_core::Registry::new().gauge_family("temp", "Temp.", &["room"]).unwrap();
    /// f.get(&["hall"]).unwrap().set(19.0);
    /// ```
    pub fn gauge_family<S: AsRef<str>>(
        &self,
        name: &str,
        help: &str,
        labels: &[S],
    ) -> Result<Family<Gauge>> {
        self.register_family(Family::builder(name, help).labels(labels).build()?)
    }

    /// Creates and registers an unlabelled histogram.
    ///
    /// ```
    /// let h = promenade_core::Registry::new()
    ///     .histogram("latency_seconds", "Latency.", promenade_core::Buckets::default()).unwrap();
    /// h.observe(0.3);
    /// ```
    pub fn histogram(&self, name: &str, help: &str, buckets: Buckets) -> Result<Series<Histogram>> {
        self.histogram_family(name, help, &[] as &[&str], buckets)?
            .series(&[] as &[&str])
    }

    /// Creates and registers a labelled histogram family.
    ///
    /// ```
    /// let f = promenade_core::Registry::new()
    ///     .histogram_family("latency_seconds", "Latency.", &["route"], promenade_core::Buckets::default()).unwrap();
    /// f.get(&["/"]).unwrap().observe(0.01);
    /// ```
    pub fn histogram_family<S: AsRef<str>>(
        &self,
        name: &str,
        help: &str,
        labels: &[S],
        buckets: Buckets,
    ) -> Result<Family<Histogram>> {
        self.register_family(
            Family::builder_with_options(name, help, buckets)
                .labels(labels)
                .build()?,
        )
    }

    /// Creates and registers an unlabelled summary (count and sum).
    ///
    /// ```
    /// promenade_core::Registry::new().summary("size_bytes", "Sizes.").unwrap().observe(10.0);
    /// ```
    pub fn summary(&self, name: &str, help: &str) -> Result<Series<Summary>> {
        self.register_family(Family::<Summary>::builder(name, help).build()?)?
            .series(&[] as &[&str])
    }

    /// Creates and registers an unlabelled summary with quantiles over a sliding window.
    ///
    /// ```
    /// use promenade_core::{Format, QuantileOptions, Registry};
    /// let r = Registry::new();
    /// let s = r.quantile_summary("rpc_seconds", "RPC latency.", QuantileOptions::new(&[(0.5, 0.05)]).unwrap()).unwrap();
    /// s.observe(0.2);
    /// let text = r.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("rpc_seconds{quantile=\"0.5\"} 0.2"));
    /// assert!(text.contains("rpc_seconds_count 1"));
    /// ```
    pub fn quantile_summary(
        &self,
        name: &str,
        help: &str,
        options: QuantileOptions,
    ) -> Result<Series<QuantileSummary>> {
        self.quantile_summary_family(name, help, &[] as &[&str], options)?
            .series(&[] as &[&str])
    }

    /// Creates and registers a labelled family of quantile summaries.
    ///
    /// ```
    /// use promenade_core::{QuantileOptions, Registry};
    /// let f = Registry::new()
    ///     .quantile_summary_family("job_seconds", "Job time.", &["queue"], QuantileOptions::default())
    ///     .unwrap();
    /// f.get(&["mail"]).unwrap().observe(1.5);
    /// ```
    pub fn quantile_summary_family<S: AsRef<str>>(
        &self,
        name: &str,
        help: &str,
        labels: &[S],
        options: QuantileOptions,
    ) -> Result<Family<QuantileSummary>> {
        self.register_family(
            Family::builder_with_options(name, help, options)
                .labels(labels)
                .build()?,
        )
    }

    /// Creates and registers an info metric with the given labels (value always 1).
    ///
    /// ```
    /// promenade_core::Registry::new().info("build", "Build.", &[("version", "1.0")]).unwrap();
    /// ```
    pub fn info(&self, name: &str, help: &str, labels: &[(&str, &str)]) -> Result<Family<Info>> {
        let names: Vec<&str> = labels.iter().map(|(n, _)| *n).collect();
        let values: Vec<&str> = labels.iter().map(|(_, v)| *v).collect();
        let family = Family::<Info>::builder(name, help).labels(&names).build()?;
        family.get(&values)?;
        self.register_family(family)
    }

    /// Creates and registers an unlabelled state set.
    ///
    /// ```
    /// let s = promenade_core::Registry::new()
    ///     .stateset("mode", "Mode.", promenade_core::States::new(["a", "b"]).unwrap()).unwrap();
    /// s.set("b").unwrap();
    /// ```
    pub fn stateset(&self, name: &str, help: &str, states: States) -> Result<Series<StateSet>> {
        self.register_family(Family::<StateSet>::builder_with_options(name, help, states).build()?)?
            .series(&[] as &[&str])
    }

    /// Registers a gauge whose value is read by calling `f` at scrape time.
    ///
    /// ```
    /// let r = promenade_core::Registry::new();
    /// r.gauge_fn("answer", "The answer.", || 42.0).unwrap();
    /// assert!(r.encode_to_string(promenade_core::Format::Text).unwrap().contains("answer 42"));
    /// ```
    pub fn gauge_fn<F: Fn() -> f64 + Send + Sync + 'static>(
        &self,
        name: &str,
        help: &str,
        f: F,
    ) -> Result<CollectorId> {
        self.register(CallbackMetric::new(name, help, MetricType::Gauge, f)?)
    }

    /// Registers a counter whose value is read by calling `f` at scrape time (it must not decrease).
    ///
    /// ```
    /// let r = promenade_core::Registry::new();
    /// r.counter_fn("bytes_read_total", "Bytes read.", || 1024.0).unwrap();
    /// assert!(r.encode_to_string(promenade_core::Format::Text).unwrap().contains("bytes_read_total 1024"));
    /// ```
    pub fn counter_fn<F: Fn() -> f64 + Send + Sync + 'static>(
        &self,
        name: &str,
        help: &str,
        f: F,
    ) -> Result<CollectorId> {
        self.register(CallbackMetric::new(name, help, MetricType::Counter, f)?)
    }

    /// Runs every collector into `enc`. The collectors are taken from the list under the
    /// lock and run outside it, so a slow collector delays neither `register` nor another
    /// scrape's start. Each runs under `catch_unwind`: a panic is a collector error.
    pub(crate) fn collect_into(
        &self,
        enc: &mut dyn Encode,
        escaping: EscapingScheme,
    ) -> Result<()> {
        let collectors: Vec<(Arc<dyn Collector>, Arc<str>)> = self
            .inner
            .collectors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|r| (Arc::clone(&r.collector), Arc::clone(&r.label)))
            .collect();
        let const_names = self
            .inner
            .const_labels
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        let mut encoder =
            MetricEncoder::new(enc, self.inner.prefix.as_deref(), escaping, const_names);
        for (collector, label) in &collectors {
            encoder.begin_collector(collector.series_unique_by_construction());
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                collector.collect(&mut encoder)
            }));
            let panicked = run.err().map(|payload| panic_message(payload.as_ref()));
            if let Some(problem) = encoder.end_collector(panicked) {
                match self.inner.collector_errors {
                    CollectorErrors::Fail => {
                        return Err(Error::Collector {
                            collector: label.to_string(),
                            problem,
                        });
                    }
                    CollectorErrors::Skip => {
                        self.inner.scrape_errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
        if self.inner.collector_errors == CollectorErrors::Skip {
            encoder.begin_collector(true);
            encoder.family(&FamilyHeader {
                name: SCRAPE_ERRORS,
                help: "Collector errors (invalid output or panics) whose families were left out of scrapes.",
                unit: None,
                metric_type: MetricType::Counter,
            });
            encoder.counter(
                &LabelSet::empty(),
                self.inner.scrape_errors.load(Ordering::Relaxed) as f64,
                None,
            );
            if let Some(problem) = encoder.end_collector(None) {
                // Only possible when a collector already wrote a family of this name.
                return Err(Error::Collector {
                    collector: "promenade_core::Registry (self-metric)".to_owned(),
                    problem,
                });
            }
        }
        Ok(())
    }

    /// Writes every family in a text `format` into `out` (names escaped with `underscores`
    /// where needed). For protobuf, use [`Registry::encode_to_vec`].
    ///
    /// ```
    /// let r = promenade_core::Registry::new();
    /// let mut out = String::new();
    /// r.encode(promenade_core::Format::Text, &mut out).unwrap();
    /// assert!(out.is_empty());
    /// ```
    pub fn encode(&self, format: Format, out: &mut String) -> Result<()> {
        self.encode_text(format, EscapingScheme::Underscores, out)
    }

    fn encode_text(
        &self,
        format: Format,
        escaping: EscapingScheme,
        out: &mut String,
    ) -> Result<()> {
        if !format.is_openmetrics() && format != Format::Text {
            return Err(Error::InvalidConfig(format!(
                "{format:?} is not a text format; use encode_to_vec"
            )));
        }
        let mut enc = TextEncoder::new(
            out,
            format.is_openmetrics(),
            &self.inner.const_rendered,
            self.inner.created_samples,
            escaping,
        );
        self.collect_into(&mut enc, escaping)?;
        enc.finish();
        Ok(())
    }

    /// Encodes in any format into bytes, with the escaping scheme a negotiation chose.
    ///
    /// ```
    /// use promenade_core::{Format, Registry};
    /// let r = Registry::new();
    /// r.counter("c", "C.").unwrap().inc();
    /// let bytes = r.encode_to_vec(Format::Text).unwrap();
    /// assert!(String::from_utf8(bytes).unwrap().contains("c_total 1"));
    /// ```
    pub fn encode_to_vec(&self, format: Format) -> Result<Vec<u8>> {
        self.encode_negotiated(&Negotiated {
            format,
            escaping: EscapingScheme::Underscores,
        })
    }

    /// Encodes what a [`negotiate`](crate::encoding::negotiate) call chose.
    ///
    /// ```
    /// let r = promenade_core::Registry::new();
    /// let n = promenade_core::encoding::negotiate(Some("application/openmetrics-text;version=1.0.0"));
    /// assert!(r.encode_negotiated(&n).unwrap().ends_with(b"# EOF\n"));
    /// ```
    pub fn encode_negotiated(&self, negotiated: &Negotiated) -> Result<Vec<u8>> {
        match negotiated.format {
            #[cfg(feature = "protobuf")]
            Format::Protobuf => {
                let mut out = Vec::with_capacity(4096);
                let mut enc = crate::encoding::protobuf::ProtobufEncoder::new(
                    &mut out,
                    &self.inner.const_rendered,
                    self.inner.created_samples,
                    negotiated.escaping,
                );
                self.collect_into(&mut enc, negotiated.escaping)?;
                enc.finish();
                Ok(out)
            }
            format => {
                let mut out = String::with_capacity(4096);
                self.encode_text(format, negotiated.escaping, &mut out)?;
                Ok(out.into_bytes())
            }
        }
    }

    /// Encodes into a new `String`.
    ///
    /// ```
    /// let s = promenade_core::Registry::new().encode_to_string(promenade_core::Format::OpenMetrics).unwrap();
    /// assert!(s.ends_with("# EOF\n"));
    /// ```
    pub fn encode_to_string(&self, format: Format) -> Result<String> {
        let mut out = String::new();
        self.encode(format, &mut out)?;
        Ok(out)
    }

    /// The families this registry writes, read from its structure instead of collected:
    /// each collector's descriptors, with `name` the full name (prefix included) and
    /// `label_names` the constant labels followed by the family's own, plus the self-metric
    /// that [`CollectorErrors::Skip`] adds. The `bool` tells whether some collector describes
    /// no families, so that what it writes is known only by collecting it.
    #[cfg(feature = "push")]
    pub(crate) fn family_label_names(&self) -> (Vec<crate::collector::Descriptor>, bool) {
        // Descriptors are user code: called outside the lock, as in `collect_into`.
        let collectors: Vec<Arc<dyn Collector>> = self
            .inner
            .collectors
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|r| Arc::clone(&r.collector))
            .collect();
        let mut families = Vec::new();
        let mut undescribed = false;
        for collector in &collectors {
            let described = collector.descriptors();
            undescribed |= described.is_empty();
            families.extend(described);
        }
        if self.inner.collector_errors == CollectorErrors::Skip {
            families.push(crate::collector::Descriptor::new(
                SCRAPE_ERRORS,
                "",
                MetricType::Counter,
                &[] as &[&str],
            ));
        }
        for family in &mut families {
            family.name = self.full_name(&family.name);
            let own = std::mem::take(&mut family.label_names);
            family.label_names = (self.inner.const_labels.iter().map(|(n, _)| n.clone()))
                .chain(own)
                .collect();
        }
        (families, undescribed)
    }
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

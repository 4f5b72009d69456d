//! The recorder's configuration: bucket and summary rules by name ([`Matcher`]), native
//! histograms, the series cap, UTF-8 names; `build` registers the self-metric and makes the
//! recorder.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};

use super::{DROPPED, PrometheusRecorder, SHARDS, Shared};
#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::family::Family;
use crate::metric::{Buckets, Counter, NativeBuckets, QuantileOptions};
use crate::registry::Registry;

/// Which histogram names a bucket or summary rule applies to (matched against the name as
/// the facade gives it), as in `metrics-exporter-prometheus`.
///
/// ```
/// use promenade_core::bridge::metrics::Matcher;
/// assert!(Matcher::Full("db_seconds".into()).matches("db_seconds"));
/// assert!(Matcher::Prefix("db_".into()).matches("db_seconds"));
/// assert!(Matcher::Suffix("_bytes".into()).matches("body_bytes"));
/// assert!(!Matcher::Suffix("_bytes".into()).matches("db_seconds"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matcher {
    /// The whole name.
    Full(String),
    /// The start of the name.
    Prefix(String),
    /// The end of the name.
    Suffix(String),
}

impl Matcher {
    /// Whether `name` matches.
    ///
    /// ```
    /// assert!(promenade_core::bridge::metrics::Matcher::Prefix("".into()).matches("anything"));
    /// ```
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Matcher::Full(m) => name == m,
            Matcher::Prefix(m) => name.starts_with(m.as_str()),
            Matcher::Suffix(m) => name.ends_with(m.as_str()),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) enum Distribution {
    Buckets(Buckets),
    Summary(QuantileOptions),
}

/// Configures a [`PrometheusRecorder`]; see [`PrometheusRecorder::builder`].
///
/// ```
/// use promenade_core::bridge::metrics::{Matcher, PrometheusRecorder};
/// use promenade_core::{Buckets, NativeBuckets, QuantileOptions, Registry};
///
/// let registry = Registry::new();
/// let recorder = PrometheusRecorder::builder(&registry)
///     .buckets_for(Matcher::Suffix("_bytes".into()), Buckets::new(vec![1e3, 1e4, 1e5]).unwrap())
///     .summary_for(Matcher::Prefix("gc_".into()), QuantileOptions::default())
///     .native_histograms(NativeBuckets::default())
///     .max_series(5_000)
///     .build()
///     .unwrap();
/// # drop(recorder);
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` or `install`"]
pub struct PrometheusRecorderBuilder {
    pub(super) registry: Registry,
    pub(super) rules: Vec<(Matcher, Distribution)>,
    pub(super) native: Option<NativeBuckets>,
    pub(super) max_series: usize,
    pub(super) utf8_names: bool,
}

impl PrometheusRecorderBuilder {
    /// Classic buckets for the histograms whose facade name matches. Rules are tried in the
    /// order they were added; the first match wins.
    ///
    /// ```
    /// use promenade_core::bridge::metrics::{Matcher, PrometheusRecorder};
    /// use promenade_core::{Buckets, Format, Registry};
    /// let registry = Registry::new();
    /// let recorder = PrometheusRecorder::builder(&registry)
    ///     .buckets_for(Matcher::Full("size_bytes".into()), Buckets::new(vec![10.0, 100.0]).unwrap())
    ///     .build().unwrap();
    /// metrics::with_local_recorder(&recorder, || metrics::histogram!("size_bytes").record(50.0));
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("size_bytes_bucket{le=\"100\"} 1\n"));
    /// ```
    pub fn buckets_for(mut self, matcher: Matcher, buckets: Buckets) -> Self {
        self.rules.push((matcher, Distribution::Buckets(buckets)));
        self
    }

    /// Quantile summaries (a sliding window, see [`QuantileSummary`](crate::QuantileSummary)) instead of histograms
    /// for the histograms whose facade name matches. Summaries cannot be aggregated across
    /// instances; prefer native histograms where the scraper supports them.
    ///
    /// ```
    /// use promenade_core::bridge::metrics::{Matcher, PrometheusRecorder};
    /// use promenade_core::{Format, QuantileOptions, Registry};
    /// let registry = Registry::new();
    /// let recorder = PrometheusRecorder::builder(&registry)
    ///     .summary_for(Matcher::Full("gc_pause".into()), QuantileOptions::new(&[(0.5, 0.05)]).unwrap())
    ///     .build().unwrap();
    /// metrics::with_local_recorder(&recorder, || metrics::histogram!("gc_pause").record(2.0));
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("gc_pause{quantile=\"0.5\"} 2\n"));
    /// ```
    pub fn summary_for(mut self, matcher: Matcher, options: QuantileOptions) -> Self {
        self.rules.push((matcher, Distribution::Summary(options)));
        self
    }

    /// Native (exponential) buckets for every histogram, beside its classic buckets: good
    /// resolution at any scale with no bucket configuration. Scrapers get them in protobuf;
    /// text scrapers keep the classic buckets.
    ///
    /// ```
    /// use promenade_core::bridge::metrics::PrometheusRecorder;
    /// use promenade_core::{NativeBuckets, Registry};
    /// let registry = Registry::new();
    /// let recorder = PrometheusRecorder::builder(&registry).native_histograms(NativeBuckets::default()).build().unwrap();
    /// # drop(recorder);
    /// ```
    pub fn native_histograms(mut self, native: NativeBuckets) -> Self {
        self.native = Some(native);
        self
    }

    /// At most `max` label sets in all (default [`DEFAULT_MAX_SERIES`](super::DEFAULT_MAX_SERIES)); see the module
    /// documentation for what happens past it.
    ///
    /// ```
    /// use promenade_core::bridge::metrics::PrometheusRecorder;
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let recorder = PrometheusRecorder::builder(&registry).max_series(2).build().unwrap();
    /// metrics::with_local_recorder(&recorder, || {
    ///     for user in ["ann", "bob", "cy"] {
    ///         metrics::counter!("logins", "user" => user).increment(1);
    ///     }
    /// });
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("logins_total{user=\"__overflow__\"} 1\n"));
    /// assert_eq!(recorder.series(), 2);
    /// ```
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max;
        self
    }

    /// Keeps metric names and label keys outside the legacy character set (Prometheus 3's
    /// UTF-8 names, e.g. `http.server.duration`), as
    /// [`FamilyBuilder::allow_utf8_names`](crate::FamilyBuilder::allow_utf8_names) does.
    ///
    /// ```
    /// use promenade_core::bridge::metrics::PrometheusRecorder;
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let recorder = PrometheusRecorder::builder(&registry).allow_utf8_names().build().unwrap();
    /// metrics::with_local_recorder(&recorder, || metrics::counter!("db.calls", "db.system" => "pg").increment(1));
    /// // Scrapers that did not ask for UTF-8 names get them escaped.
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("db_calls_total{db_system=\"pg\"} 1\n"));
    /// ```
    pub fn allow_utf8_names(mut self) -> Self {
        self.utf8_names = true;
        self
    }

    /// Builds the recorder, for [`metrics::with_local_recorder`]
    /// or [`PrometheusRecorder::install`]. Registers the self-metric
    /// `promenade_metrics_bridge_dropped_total`, so a second recorder on one registry is
    /// refused ([`Error::AlreadyRegistered`]).
    ///
    /// ```
    /// use promenade_core::bridge::metrics::PrometheusRecorder;
    /// let registry = promenade_core::Registry::new();
    /// assert!(PrometheusRecorder::builder(&registry).build().is_ok());
    /// assert!(PrometheusRecorder::builder(&registry).build().is_err());
    /// ```
    pub fn build(self) -> Result<PrometheusRecorder> {
        let dropped = Family::<Counter>::builder(
            DROPPED,
            "Facade metric registrations the Promenade recorder dropped, by reason \
             (series_limit, name_conflict, type_conflict).",
        )
        .labels(&["reason"])
        .build()?;
        let dropped_id = self.registry.register(dropped.clone())?;
        let series = |reason: &str| dropped.series(&[reason]);
        let reserved = self
            .registry
            .const_label_names()
            .map(str::to_owned)
            .collect();
        let shards = (0..SHARDS).map(|_| RwLock::default()).collect();
        Ok(PrometheusRecorder {
            shared: Arc::new(Shared {
                dropped_series_limit: series("series_limit")?,
                dropped_name_conflict: series("name_conflict")?,
                dropped_type_conflict: series("type_conflict")?,
                dropped_id,
                registry: self.registry,
                rules: self.rules,
                native: self.native,
                max_series: self.max_series,
                utf8_names: self.utf8_names,
                reserved,
                cache: shards,
                cached: AtomicUsize::new(0),
                names: RwLock::default(),
                descriptions: Mutex::default(),
            }),
        })
    }

    /// Builds the recorder and installs it as the process's global `metrics` recorder
    /// ([`metrics::set_global_recorder`]). Returns a handle
    /// to the same recorder; fails with [`Error::AlreadyInstalled`] (and leaves the registry
    /// as it was) when a global recorder is already set.
    ///
    /// ```
    /// use promenade_core::bridge::metrics::PrometheusRecorder;
    /// use promenade_core::{Error, Format, Registry};
    /// let registry = Registry::new();
    /// PrometheusRecorder::builder(&registry).install().unwrap();
    /// metrics::counter!("installed_total").increment(1);
    /// assert!(registry.encode_to_string(Format::Text).unwrap().contains("installed_total 1\n"));
    /// let again = PrometheusRecorder::builder(&Registry::new()).install();
    /// assert_eq!(again.unwrap_err(), Error::AlreadyInstalled("`metrics` recorder"));
    /// ```
    pub fn install(self) -> Result<PrometheusRecorder> {
        let recorder = self.build()?;
        recorder.clone().install()?;
        Ok(recorder)
    }
}

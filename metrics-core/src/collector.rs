//! The collector interface: what the registry asks of everything it exposes.
//!
//! [`Collector`] is what a registry runs at scrape time (families implement it, and so can
//! user types that read values from elsewhere); [`Descriptor`] is what a collector declares
//! in advance, so that registration can refuse invalid or clashing names before any scrape;
//! [`CollectorId`] names a registration; [`CollectorErrors`] says what a scrape does with a
//! collector that writes something invalid or panics.
//!
//! Layer: above the encoder and the metric types, below `family` and `registry`, so that a
//! family implements the interface and the registry runs it without either importing the
//! other's internals.

use std::sync::Arc;

use crate::encoding::MetricEncoder;
use crate::metric::MetricType;

/// What a collector will expose: used at registration to refuse invalid or clashing names.
///
/// ```
/// use promenade_core::encoding::MetricEncoder;
/// use promenade_core::{Collector, Descriptor, Error, MetricType, Registry};
///
/// struct Jobs;
/// impl Collector for Jobs {
///     fn descriptors(&self) -> Vec<Descriptor> {
///         let mut d = Descriptor::new("job_duration_seconds", "Job durations.", MetricType::Histogram, &["le"]);
///         d.unit = Some("seconds".into());
///         vec![d]
///     }
///     fn collect(&self, _: &mut MetricEncoder<'_>) {}
/// }
/// // The descriptor lets the registry refuse the reserved `le` label before any scrape.
/// let err = Registry::new().register(Jobs).unwrap_err();
/// assert!(matches!(err, Error::ReservedLabelName { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    /// Family name, without registry prefix (counters without `_total`).
    pub name: String,
    /// Help text.
    pub help: String,
    /// The type.
    pub metric_type: MetricType,
    /// The label names of every series.
    pub label_names: Vec<String>,
    /// Unit, if any.
    pub unit: Option<String>,
}

impl Descriptor {
    /// A descriptor without a unit.
    ///
    /// ```
    /// let d = promenade_core::Descriptor::new("queue_depth", "Items.", promenade_core::MetricType::Gauge, &["queue"]);
    /// assert_eq!(d.label_names, vec!["queue".to_string()]);
    /// ```
    pub fn new<S: AsRef<str>>(
        name: &str,
        help: &str,
        metric_type: MetricType,
        label_names: &[S],
    ) -> Self {
        Self {
            name: name.to_owned(),
            help: help.to_owned(),
            metric_type,
            label_names: label_names.iter().map(|s| s.as_ref().to_owned()).collect(),
            unit: None,
        }
    }

    /// Every sample name this family can produce, plus the family name itself: registration
    /// refuses a family whose samples would share a name with another family's (a counter
    /// `jobs` writes `jobs_total`, so a gauge `jobs_total` would clash with it).
    pub(crate) fn sample_names(&self, full_name: &str) -> Vec<String> {
        let mut names = vec![full_name.to_owned()];
        names.extend(
            self.metric_type
                .sample_suffixes()
                .iter()
                .map(|s| format!("{full_name}{s}")),
        );
        names
    }
}

/// Something that writes metric families at scrape time. Families implement it; implement it
/// yourself for values read from elsewhere (see [`MetricEncoder`] for an example).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
/// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
///
/// /// Exposes a byte count that another component keeps in an atomic.
/// struct BytesSent(Arc<AtomicU64>);
/// impl Collector for BytesSent {
///     fn descriptors(&self) -> Vec<Descriptor> {
///         vec![Descriptor::new("sent_bytes", "Bytes sent.", MetricType::Counter, &[] as &[&str])]
///     }
///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
///         enc.family(&FamilyHeader { name: "sent_bytes", help: "Bytes sent.", unit: None, metric_type: MetricType::Counter });
///         enc.counter(&LabelSet::empty(), self.0.load(Ordering::Relaxed) as f64, None);
///     }
/// }
/// let sent = Arc::new(AtomicU64::new(0));
/// let registry = Registry::new();
/// registry.register(BytesSent(Arc::clone(&sent))).unwrap();
/// sent.fetch_add(1500, Ordering::Relaxed);
/// assert!(registry.encode_to_string(Format::Text).unwrap().contains("sent_bytes_total 1500\n"));
/// // The descriptor reserves the names: a second `sent_bytes` counter is refused.
/// assert!(registry.counter("sent_bytes_total", "Again.").is_err());
/// ```
pub trait Collector: Send + Sync + 'static {
    /// The families [`Collector::collect`] writes. Registration checks their names; a collector
    /// that cannot know them in advance may return an empty list and is then not checked.
    fn descriptors(&self) -> Vec<Descriptor>;
    /// Writes the current values.
    ///
    /// What it writes is checked during the scrape: a duplicate family or series, a
    /// negative or NaN counter, a sample of the wrong type, invalid buckets, or a panic
    /// make the scrape fail with [`Error::Collector`] naming this collector, or (with
    /// [`CollectorErrors::Skip`]) leave the offending family out. A collector runs outside
    /// the registry's lock, so a slow one never blocks registration or other scrapes' start.
    ///
    /// [`Error::Collector`]: crate::Error::Collector
    fn collect(&self, encoder: &mut MetricEncoder<'_>);

    /// Whether every series this collector writes is unique by construction, so the
    /// scrape-time duplicate-series check can be skipped. For this crate's own collectors.
    #[doc(hidden)]
    fn series_unique_by_construction(&self) -> bool {
        false
    }
}

impl<C: Collector + ?Sized> Collector for Arc<C> {
    fn descriptors(&self) -> Vec<Descriptor> {
        (**self).descriptors()
    }
    fn collect(&self, encoder: &mut MetricEncoder<'_>) {
        (**self).collect(encoder)
    }
    fn series_unique_by_construction(&self) -> bool {
        (**self).series_unique_by_construction()
    }
}

/// What a scrape does when a collector writes something invalid or panics (see
/// [`RegistryBuilder::collector_errors`]), after client_golang's `HandlerOpts.ErrorHandling`.
///
/// ```
/// use promenade_core::{CollectorErrors, Registry};
/// let registry = Registry::builder().collector_errors(CollectorErrors::Skip).build().unwrap();
/// # drop(registry);
/// ```
///
/// [`RegistryBuilder::collector_errors`]: crate::RegistryBuilder::collector_errors
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CollectorErrors {
    /// The scrape fails with [`Error::Collector`] naming the collector and the problem; the
    /// scrape handlers answer `500` with that message. Never an invalid page.
    ///
    /// [`Error::Collector`]: crate::Error::Collector
    #[default]
    Fail,
    /// The offending family is left out, the rest is exposed, and the self-metric
    /// `promenade_scrape_collector_errors_total` counts such errors.
    Skip,
}

/// Identifies a registration, for [`Registry::unregister`](crate::Registry::unregister).
///
/// ```
/// use promenade_core::{Counter, Family, Format, Registry};
/// let registry = Registry::new();
/// let temp = Family::<Counter>::builder("migration_rows_total", "Rows migrated.").build().unwrap();
/// let id = registry.register(temp).unwrap();
/// assert!(registry.encode_to_string(Format::Text).unwrap().contains("migration_rows_total 0"));
/// registry.unregister(id).unwrap(); // the migration is over
/// assert!(!registry.encode_to_string(Format::Text).unwrap().contains("migration_rows_total"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CollectorId(pub(crate) u64);

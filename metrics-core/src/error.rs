//! Error values returned by the core. Nothing a user passes in makes the library panic.

use thiserror::Error;

/// Everything that can go wrong when creating, registering or updating metrics.
///
/// ```
/// use promenade_core::{Error, Registry};
/// let registry = Registry::new();
/// let err = registry.counter("bad name", "Oops.").unwrap_err();
/// assert_eq!(err, Error::InvalidMetricName("bad name".into()));
/// assert!(err.to_string().starts_with("invalid metric name"));
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A metric name is empty or contains characters outside `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    #[error("invalid metric name {0:?}: must match [a-zA-Z_:][a-zA-Z0-9_:]*")]
    InvalidMetricName(String),
    /// A label name is empty or contains characters outside `[a-zA-Z_][a-zA-Z0-9_]*`.
    #[error("invalid label name {0:?}: must match [a-zA-Z_][a-zA-Z0-9_]*")]
    InvalidLabelName(String),
    /// A label name is reserved: it starts with `__`, or it is `le`/`quantile` on the type that uses it.
    #[error("label name {name:?} is reserved{context}")]
    ReservedLabelName {
        /// The offending label name.
        name: String,
        /// Why it is reserved, e.g. " for histograms".
        context: &'static str,
    },
    /// The same label name appears twice in one label set.
    #[error("label name {0:?} appears more than once")]
    DuplicateLabelName(String),
    /// A label-value list did not match the label names fixed at creation.
    #[error(
        "family {family:?} has {expected} label(s) {labels:?}, but {got} label value(s) were given"
    )]
    LabelCount {
        /// The family's name.
        family: String,
        /// The family's label names, in the order values are expected.
        labels: Vec<String>,
        /// How many labels the family was created with.
        expected: usize,
        /// How many values were passed.
        got: usize,
    },
    /// A label was addressed by a name the family does not have.
    #[error("unknown label name {0:?}")]
    UnknownLabelName(String),
    /// A counter was asked to go down, or to add NaN.
    #[error("counter increments must be non-negative and not NaN, got {0}")]
    InvalidIncrement(f64),
    /// Histogram bucket bounds are not strictly increasing, or one is NaN.
    #[error("histogram buckets must be strictly increasing finite numbers: {0}")]
    InvalidBuckets(String),
    /// Summary quantile objectives are outside [0, 1] or the error is outside [0, 1).
    #[error("invalid summary objective: {0}")]
    InvalidObjective(String),
    /// A family or sample name is already taken in this registry.
    #[error(
        "cannot register {name:?}: the name {existing:?} is already registered in this registry \
         (a second metrics layer or collector on the same registry?)"
    )]
    AlreadyRegistered {
        /// The name that was being registered.
        name: String,
        /// The registered family whose sample names overlap.
        existing: String,
    },
    /// `unregister` was called for a collector that is not registered.
    #[error("collector is not registered")]
    NotRegistered,
    /// A unit does not fit the metric name (the name must end in `_<unit>`).
    #[error("metric name {name:?} must end with its unit {unit:?}")]
    UnitMismatch {
        /// The metric name.
        name: String,
        /// The unit that was given.
        unit: String,
    },
    /// A StateSet was given an unknown state.
    #[error("unknown state {0:?}")]
    UnknownState(String),
    /// An exemplar's label names and values hold more than 128 code points together.
    #[error("exemplar labels hold {0} code points; at most 128 are allowed")]
    ExemplarTooLong(usize),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A collector wrote something that would have made the whole exposition invalid, or
    /// panicked, during a scrape. Scrapers reject an invalid page whole, so by default the
    /// scrape fails with this error instead (see
    /// [`RegistryBuilder::collector_errors`](crate::RegistryBuilder::collector_errors)).
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, Error, Format, MetricType, Registry};
    ///
    /// struct Broken;
    /// impl Collector for Broken {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         enc.family(&FamilyHeader { name: "jobs", help: "Jobs.", unit: None, metric_type: MetricType::Counter });
    ///         enc.counter(&LabelSet::empty(), -1.0, None);
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(Broken).unwrap();
    /// let err = registry.encode_to_string(Format::Text).unwrap_err();
    /// assert!(matches!(err, Error::Collector { .. }));
    /// assert!(err.to_string().contains("Broken"));
    /// assert!(err.to_string().contains("negative"));
    /// ```
    #[error("collector {collector} {problem}")]
    Collector {
        /// The collector's type (and the first family it describes, if any).
        collector: String,
        /// What it did.
        problem: String,
    },
    /// A process-wide hook (such as the global `metrics` recorder) was already installed;
    /// the value names the hook.
    ///
    /// ```
    /// let err = promenade_core::Error::AlreadyInstalled("`metrics` recorder");
    /// assert_eq!(err.to_string(), "a global `metrics` recorder is already installed in this process");
    /// ```
    #[error("a global {0} is already installed in this process")]
    AlreadyInstalled(&'static str),
}

/// Shorthand for results in this crate.
///
/// ```
/// use promenade_core::{Counter, Family, Result};
///
/// fn jobs_family() -> Result<Family<Counter>> {
///     Family::builder("jobs_total", "Jobs.").labels(&["queue"]).build()
/// }
/// assert!(jobs_family().is_ok());
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// So that `?` works in the usual `async fn main() -> std::io::Result<()>` of actix-web and
/// tokio programs.
///
/// ```
/// fn main() -> std::io::Result<()> {
///     let registry = promenade_core::Registry::new();
///     registry.counter("jobs_total", "Jobs.")?;
///     let err = registry.counter("jobs_total", "Again.").map_err(std::io::Error::from).unwrap_err();
///     assert!(err.to_string().contains("already registered"));
///     Ok(())
/// }
/// ```
impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        std::io::Error::other(e)
    }
}

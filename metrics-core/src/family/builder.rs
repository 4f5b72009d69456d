//! [`FamilyBuilder`]: names, labels, unit, options and series cap, validated once.

use std::sync::atomic::AtomicU64;

use std::sync::{Arc, Mutex};

use super::current::CurrentTable;
use super::table::{MIN_CAPACITY, Table};
use super::{Family, Inner, WriteState};
use crate::error::Result;
use crate::metric::{Metric, MetricType};
use crate::validate::{Definition, Origin, check_definition};

/// Builds a [`Family`]; see [`Family::builder`].
///
/// ```
/// use promenade_core::{Buckets, Family, Format, Histogram, Registry};
/// let latency = Family::<Histogram>::builder("db_query_seconds", "Query latency.")
///     .labels(&["table"])
///     .unit("seconds")
///     .options(Buckets::new(vec![0.01, 0.1]).unwrap())
///     .max_series(100)
///     .build()
///     .unwrap();
/// latency.get(&["users"]).unwrap().observe(0.05);
/// let registry = Registry::new();
/// registry.register(latency).unwrap();
/// let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
/// assert!(om.contains("# UNIT db_query_seconds seconds\n"));
/// assert!(om.contains("db_query_seconds_bucket{table=\"users\",le=\"0.1\"} 1\n"));
/// ```
#[derive(Debug)]
pub struct FamilyBuilder<M: Metric> {
    pub(super) name: String,
    pub(super) help: String,
    pub(super) unit: Option<String>,
    pub(super) labels: Vec<String>,
    pub(super) options: M::Options,
    pub(super) max_series: Option<usize>,
    pub(super) utf8_names: bool,
}

impl<M: Metric> FamilyBuilder<M> {
    /// Allows metric and label names outside the legacy character set (Prometheus 3's UTF-8
    /// names, e.g. `http.server.duration`). Scrapers that asked for `escaping=allow-utf-8`
    /// get them quoted; everyone else gets them escaped. Names whose escaped forms collide
    /// with another family's are refused at registration.
    ///
    /// ```
    /// use promenade_core::{Counter, Family, Format, Registry};
    /// let f = Family::<Counter>::builder("my.requests", "Requests.").labels(&["error.type"]).allow_utf8_names().build().unwrap();
    /// f.get(&["timeout"]).unwrap().inc();
    /// let r = Registry::new();
    /// r.register(f).unwrap();
    /// assert!(r.encode_to_string(Format::Text).unwrap().contains(r#"my_requests_total{error_type="timeout"} 1"#));
    /// ```
    #[must_use]
    pub fn allow_utf8_names(mut self) -> Self {
        self.utf8_names = true;
        self
    }

    /// The label names, fixed for the family's life.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Gauge>::builder("temp_celsius", "Temperature.")
    ///     .labels(&["room"]).build().unwrap();
    /// f.get(&["kitchen"]).unwrap().set(21.5);
    /// ```
    #[must_use]
    pub fn labels<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.labels = names.iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }

    /// The unit (OpenMetrics `# UNIT`); the name must end with `_<unit>`.
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Histogram>::builder("latency_seconds", "Latency.")
    ///     .unit("seconds").build();
    /// assert!(f.is_ok());
    /// ```
    #[must_use]
    pub fn unit(mut self, unit: &str) -> Self {
        self.unit = Some(unit.to_owned());
        self
    }

    /// Options every series is built from (histogram buckets, state names).
    ///
    /// ```
    /// use promenade_core::{Buckets, Family, Histogram};
    /// let f = Family::<Histogram>::builder("size_bytes", "Sizes.")
    ///     .options(Buckets::new(vec![100.0, 1000.0]).unwrap()).build().unwrap();
    /// f.get(&[] as &[&str]).unwrap().observe(512.0);
    /// ```
    #[must_use]
    pub fn options(mut self, options: M::Options) -> Self {
        self.options = options;
        self
    }

    /// Caps the number of live series. Past the cap, new label sets are folded into one
    /// overflow series whose every label value is [`OVERFLOW_LABEL_VALUE`](super::OVERFLOW_LABEL_VALUE), so memory stays
    /// bounded and no update is lost; [`Family::overflowed`] counts the folded lookups.
    ///
    /// ```
    /// use promenade_core::{Counter, Family, OVERFLOW_LABEL_VALUE};
    /// let f = Family::<Counter>::builder("hits_total", "Hits.").labels(&["path"]).max_series(1).build().unwrap();
    /// f.get(&["/a"]).unwrap().inc();
    /// f.get(&["/b"]).unwrap().inc();
    /// assert_eq!(f.get(&[OVERFLOW_LABEL_VALUE]).unwrap().get(), 1.0);
    /// assert_eq!(f.overflowed(), 1);
    /// ```
    #[must_use]
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = Some(max);
        self
    }

    /// Validates names and builds the family. An unlabelled family gets its one series now,
    /// so it is exported (as zero) from the start.
    ///
    /// ```
    /// use promenade_core::{Family, Histogram};
    /// assert!(Family::<Histogram>::builder("h", "x").labels(&["le"]).build().is_err());
    /// assert!(Family::<Histogram>::builder("bad name", "x").build().is_err());
    /// ```
    pub fn build(self) -> Result<Family<M>> {
        let name = normalise_name(&self.name, M::TYPE);
        check_definition(
            &Definition {
                name: &name,
                metric_type: M::TYPE,
                label_names: &self.labels,
                unit: self.unit.as_deref(),
            },
            Origin::Builder {
                utf8_names: self.utf8_names,
            },
        )?;
        // Legacy label names can be written as they are; others are re-rendered per scrape.
        let legacy_labels = self
            .labels
            .iter()
            .all(|l| crate::name::is_valid_label_name(l));
        let family = Family {
            inner: Arc::new(Inner {
                name,
                help: self.help,
                unit: self.unit.filter(|u| !u.is_empty()),
                label_names: self
                    .labels
                    .into_iter()
                    .map(String::into_boxed_str)
                    .collect(),
                options: self.options,
                max_series: self.max_series,
                legacy_labels,
                hasher: foldhash::fast::RandomState::default(),
                table: CurrentTable::new(Table::with_capacity(MIN_CAPACITY)),
                write: Mutex::new(WriteState {
                    order: Vec::new(),
                    live: 0,
                    occupied: 0,
                }),
                overflowed: AtomicU64::new(0),
            }),
        };
        if family.inner.label_names.is_empty() {
            family.get(&[] as &[&str])?;
        }
        Ok(family)
    }
}

/// Counters are named without `_total` and info metrics without `_info` (the suffix is
/// added to the sample), so `foo` and `foo_total` name the same counter.
fn normalise_name(name: &str, ty: MetricType) -> String {
    let suffix = match ty {
        MetricType::Counter => "_total",
        MetricType::Info => "_info",
        _ => return name.to_owned(),
    };
    name.strip_suffix(suffix)
        .filter(|s| !s.is_empty())
        .unwrap_or(name)
        .to_owned()
}

impl<M: Metric> Family<M>
where
    M::Options: Default,
{
    /// Starts building a family with default options (default buckets for histograms).
    ///
    /// ```
    /// let f = promenade_core::Family::<promenade_core::Counter>::builder("a_total", "A.").build().unwrap();
    /// assert_eq!(f.name(), "a");
    /// ```
    pub fn builder(name: &str, help: &str) -> FamilyBuilder<M> {
        Self::builder_with_options(name, help, M::Options::default())
    }
}

//! Exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0 text, the encoder
//! interface collectors write to, and content negotiation.

mod escape;
mod escaping;
mod float;
mod negotiate;
#[cfg(feature = "protobuf")]
pub mod protobuf;
mod text;

use std::borrow::Cow;

pub use escape::escape_label_value;
pub(crate) use escape::{parse_rendered_labels, render_labels, rendered_labels_match};
pub use escaping::{escape_name, escape_name_for_exposition, unescape_name};
pub use float::{write_go_float, write_openmetrics_float};
pub use negotiate::{EscapingScheme, Negotiated, negotiate};
pub(crate) use text::TextEncoder;

use crate::error::Result;
use crate::metric::{CellsReading, Exemplar, MetricType};
use crate::name::check_label_names;

/// An exposition format this crate can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
    /// OpenMetrics text requested as `version=0.0.1` (same body, different Content-Type).
    OpenMetricsV0_0_1,
    /// Length-delimited protobuf `io.prometheus.client.MetricFamily` messages; the only
    /// format that carries native histograms.
    #[cfg(feature = "protobuf")]
    Protobuf,
}

impl Format {
    /// The Content-Type for this format, without the escaping parameter.
    ///
    /// ```
    /// assert_eq!(promenade_core::Format::Text.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    /// ```
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::OpenMetricsV0_0_1 => {
                "application/openmetrics-text; version=0.0.1; charset=utf-8"
            }
            #[cfg(feature = "protobuf")]
            Format::Protobuf => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
            }
        }
    }

    pub(crate) fn is_openmetrics(self) -> bool {
        matches!(self, Format::OpenMetrics | Format::OpenMetricsV0_0_1)
    }
}

/// A family's metadata as written to the exposition.
#[derive(Debug, Clone, Copy)]
pub struct FamilyHeader<'a> {
    /// The family name (for counters without `_total`, for info without `_info`).
    pub name: &'a str,
    /// Help text (escaped by the encoder).
    pub help: &'a str,
    /// Unit, written as `# UNIT` in OpenMetrics; the name must end with `_<unit>`.
    pub unit: Option<&'a str>,
    /// The type.
    pub metric_type: MetricType,
}

/// A series' labels, already rendered as `name="escaped value",...` (no braces).
///
/// ```
/// let l = promenade_core::encoding::LabelSet::from_pairs(&[("path", "a\"b")]).unwrap();
/// assert_eq!(l.rendered(), r#"path="a\"b""#);
/// assert!(promenade_core::encoding::LabelSet::from_pairs(&[("0bad", "x")]).is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct LabelSet<'a> {
    rendered: Cow<'a, str>,
}

impl<'a> LabelSet<'a> {
    /// Labels from name/value pairs, for custom collectors. Names are validated.
    ///
    /// ```
    /// assert!(promenade_core::encoding::LabelSet::from_pairs(&[("a", "1"), ("a", "2")]).is_err());
    /// ```
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Result<LabelSet<'static>> {
        let names: Vec<&str> = pairs.iter().map(|(n, _)| n.as_ref()).collect();
        check_label_names(&names)?;
        let values: Vec<&str> = pairs.iter().map(|(_, v)| v.as_ref()).collect();
        let mut s = String::new();
        render_labels(&mut s, &names, &values);
        Ok(LabelSet {
            rendered: Cow::Owned(s),
        })
    }

    /// The empty label set.
    ///
    /// ```
    /// assert_eq!(promenade_core::encoding::LabelSet::empty().rendered(), "");
    /// ```
    pub fn empty() -> LabelSet<'static> {
        LabelSet {
            rendered: Cow::Borrowed(""),
        }
    }

    pub(crate) fn pre_rendered(rendered: &'a str) -> Self {
        LabelSet {
            rendered: Cow::Borrowed(rendered),
        }
    }

    /// The rendered form.
    ///
    /// ```
    /// assert_eq!(promenade_core::encoding::LabelSet::from_pairs(&[("a", "b")]).unwrap().rendered(), "a=\"b\"");
    /// ```
    pub fn rendered(&self) -> &str {
        &self.rendered
    }
}

/// A histogram's values as handed to an encoder.
#[derive(Debug, Clone, Copy)]
pub struct HistogramValue<'a> {
    /// Finite upper bounds, increasing.
    pub bounds: &'a [f64],
    /// Cumulative counts, one per bound.
    pub cumulative: &'a [u64],
    /// Total count (the `+Inf` bucket).
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Creation time in Unix seconds, for `_created`.
    pub created: Option<f64>,
    /// Native (sparse, exponential) buckets, when the histogram has them.
    pub native: Option<NativeValue<'a>>,
    /// Exemplars per classic bucket, the `+Inf` bucket last.
    pub exemplars: Option<&'a [Option<Exemplar>]>,
    /// Exemplars of the native buckets (each timestamped).
    pub native_exemplars: &'a [Exemplar],
}

/// The native-bucket part of a histogram (checklist E).
#[derive(Debug, Clone, Copy)]
pub struct NativeValue<'a> {
    /// Resolution: bucket boundaries are powers of `2^(2^-schema)`.
    pub schema: i32,
    /// Observations with absolute value at most this go to the zero bucket.
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: u64,
    /// `(bucket index, count)` for positive observations, sorted by index.
    pub positive: &'a [(i32, u64)],
    /// `(bucket index, count)` for negative observations (by absolute value), sorted by index.
    pub negative: &'a [(i32, u64)],
}

/// A summary's values as handed to an encoder.
#[derive(Debug, Clone, Copy)]
pub struct SummaryValue<'a> {
    /// `(quantile, value)` pairs with increasing quantile.
    pub quantiles: &'a [(f64, f64)],
    /// Number of observations.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Creation time in Unix seconds, for `_created`.
    pub created: Option<f64>,
}

/// The format-specific writer behind [`MetricEncoder`].
pub(crate) trait Encode {
    fn family(&mut self, header: &FamilyHeader<'_>);
    fn counter(
        &mut self,
        labels: &str,
        value: f64,
        created: Option<f64>,
        exemplar: Option<&Exemplar>,
    );
    fn gauge(&mut self, labels: &str, value: f64);
    fn unknown(&mut self, labels: &str, value: f64);
    fn histogram(&mut self, labels: &str, value: &HistogramValue<'_>);
    fn gauge_histogram(&mut self, labels: &str, value: &HistogramValue<'_>);
    fn summary(&mut self, labels: &str, value: &SummaryValue<'_>);
    fn info(&mut self, labels: &str);
    fn stateset(&mut self, labels: &str, states: &[(String, bool)]);
}

/// What collectors write their families and samples to during a scrape.
///
/// Call [`MetricEncoder::family`] once per family, then one method per series of the
/// family's type. Custom collectors use it like this:
///
/// ```
/// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
/// use promenade_core::{Collector, Descriptor, MetricType, Registry};
///
/// struct QueueDepth;
/// impl Collector for QueueDepth {
///     fn descriptors(&self) -> Vec<Descriptor> {
///         vec![Descriptor::new("queue_depth", "Items waiting.", MetricType::Gauge, &["queue"])]
///     }
///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
///         enc.family(&FamilyHeader { name: "queue_depth", help: "Items waiting.", unit: None, metric_type: MetricType::Gauge });
///         let labels = LabelSet::from_pairs(&[("queue", "mail")]).expect("valid label name");
///         enc.gauge(&labels, 3.0);
///     }
/// }
///
/// let registry = Registry::new();
/// registry.register(QueueDepth).unwrap();
/// let text = registry.encode_to_string(promenade_core::Format::Text).unwrap();
/// assert!(text.contains("queue_depth{queue=\"mail\"} 3"));
/// ```
pub struct MetricEncoder<'a> {
    inner: &'a mut dyn Encode,
    prefix: Option<&'a str>,
    escaping: EscapingScheme,
    name: String,
    reading: CellsReading,
    states: Vec<(String, bool)>,
}

impl std::fmt::Debug for MetricEncoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricEncoder")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<'a> MetricEncoder<'a> {
    /// The escaping scheme of this exposition (families with UTF-8 label names re-render
    /// their labels with it).
    pub fn escaping(&self) -> EscapingScheme {
        self.escaping
    }

    pub(crate) fn new(
        inner: &'a mut dyn Encode,
        prefix: Option<&'a str>,
        escaping: EscapingScheme,
    ) -> Self {
        Self {
            inner,
            prefix,
            escaping,
            name: String::new(),
            reading: CellsReading::default(),
            states: Vec::new(),
        }
    }

    /// Starts a family; the registry's prefix, if any, is prepended to its name.
    pub fn family(&mut self, header: &FamilyHeader<'_>) {
        match self.prefix {
            Some(prefix) => {
                self.name.clear();
                self.name.push_str(prefix);
                self.name.push('_');
                self.name.push_str(header.name);
                let name = std::mem::take(&mut self.name);
                self.inner.family(&FamilyHeader {
                    name: &name,
                    ..*header
                });
                self.name = name;
            }
            None => self.inner.family(header),
        }
    }

    /// A counter sample (`_total`, and `_created` when enabled).
    pub fn counter(&mut self, labels: &LabelSet<'_>, value: f64, created: Option<f64>) {
        self.inner.counter(labels.rendered(), value, created, None);
    }

    /// A counter sample with an exemplar (written in OpenMetrics and protobuf).
    pub fn counter_with_exemplar(
        &mut self,
        labels: &LabelSet<'_>,
        value: f64,
        created: Option<f64>,
        exemplar: Option<&Exemplar>,
    ) {
        self.inner
            .counter(labels.rendered(), value, created, exemplar);
    }

    /// A gauge sample.
    pub fn gauge(&mut self, labels: &LabelSet<'_>, value: f64) {
        self.inner.gauge(labels.rendered(), value);
    }

    /// A sample of unknown type.
    pub fn unknown(&mut self, labels: &LabelSet<'_>, value: f64) {
        self.inner.unknown(labels.rendered(), value);
    }

    /// A histogram's buckets, sum and count.
    pub fn histogram(&mut self, labels: &LabelSet<'_>, value: &HistogramValue<'_>) {
        self.inner.histogram(labels.rendered(), value);
    }

    /// A gauge histogram's buckets, gsum and gcount.
    pub fn gauge_histogram(&mut self, labels: &LabelSet<'_>, value: &HistogramValue<'_>) {
        self.inner.gauge_histogram(labels.rendered(), value);
    }

    /// A summary's quantiles, sum and count.
    pub fn summary(&mut self, labels: &LabelSet<'_>, value: &SummaryValue<'_>) {
        self.inner.summary(labels.rendered(), value);
    }

    /// An info sample (value 1).
    pub fn info(&mut self, labels: &LabelSet<'_>) {
        self.inner.info(labels.rendered());
    }

    /// A state set: one sample per state.
    pub fn stateset(&mut self, labels: &LabelSet<'_>, states: &[(String, bool)]) {
        self.inner.stateset(labels.rendered(), states);
    }

    pub(crate) fn take_reading(&mut self) -> CellsReading {
        std::mem::take(&mut self.reading)
    }

    pub(crate) fn put_reading(&mut self, reading: CellsReading) {
        self.reading = reading;
    }

    pub(crate) fn take_states(&mut self) -> Vec<(String, bool)> {
        let mut s = std::mem::take(&mut self.states);
        s.clear();
        s
    }

    pub(crate) fn put_states(&mut self, states: Vec<(String, bool)>) {
        self.states = states;
    }
}

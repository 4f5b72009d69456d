//! Exposition formats: Prometheus text 0.0.4 and OpenMetrics 1.0 text, the encoder
//! interface collectors write to, and content negotiation.

mod check;
mod float;
pub(crate) mod gzip;
mod help_escape;
mod name_escaping;
mod negotiate;
#[cfg(feature = "protobuf")]
pub mod protobuf;
mod text;

use std::borrow::Cow;

pub(crate) use check::Check;
// Label values are escaped by the label-set format (`crate::labels`); the function stays
// reachable here, where custom encoders look for it.
pub use crate::labels::escape_label_value;
pub use float::{write_go_float, write_openmetrics_float};
pub use name_escaping::{escape_name, escape_name_for_exposition, unescape_name};
pub use negotiate::{EscapingScheme, Negotiated, negotiate};
pub(crate) use text::TextEncoder;

use crate::error::Result;
use crate::labels::render_labels;
use crate::metric::{Exemplar, MetricType};
use crate::name::check_label_names;

/// An exposition format this crate can write.
///
/// ```
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// registry.gauge("up", "Up.").unwrap().set(1.0);
/// assert!(registry.encode_to_string(Format::Text).unwrap().contains("# TYPE up gauge\nup 1\n"));
/// // OpenMetrics writes float values with a decimal point and ends with `# EOF`.
/// assert!(registry.encode_to_string(Format::OpenMetrics).unwrap().ends_with("up 1.0\n# EOF\n"));
/// ```
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
///
/// ```
/// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
/// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
///
/// struct Temperature;
/// impl Collector for Temperature {
///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
///         enc.family(&FamilyHeader { name: "room_celsius", help: "Room temperature.", unit: Some("celsius"), metric_type: MetricType::Gauge });
///         enc.gauge(&LabelSet::empty(), 21.5);
///     }
/// }
/// let registry = Registry::new();
/// registry.register(Temperature).unwrap();
/// let text = registry.encode_to_string(Format::OpenMetrics).unwrap();
/// assert!(text.contains("# TYPE room_celsius gauge\n# UNIT room_celsius celsius\n# HELP room_celsius Room temperature.\n"));
/// ```
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
///
/// ```
/// use promenade_core::encoding::{FamilyHeader, HistogramValue, LabelSet, MetricEncoder};
/// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
///
/// /// Re-exports a histogram read from another system.
/// struct Imported;
/// impl Collector for Imported {
///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
///         enc.family(&FamilyHeader { name: "job_seconds", help: "Job durations.", unit: None, metric_type: MetricType::Histogram });
///         enc.histogram(&LabelSet::empty(), &HistogramValue {
///             bounds: &[1.0, 10.0],
///             cumulative: &[2, 5], // cumulative: 2 at most 1 s, 5 at most 10 s
///             count: 6,            // the `+Inf` bucket
///             sum: 31.5,
///             created: None,
///             native: None,
///             exemplars: None,
///             native_exemplars: &[],
///         });
///     }
/// }
/// let registry = Registry::new();
/// registry.register(Imported).unwrap();
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains("job_seconds_bucket{le=\"10\"} 5\njob_seconds_bucket{le=\"+Inf\"} 6\njob_seconds_sum 31.5\njob_seconds_count 6\n"));
/// ```
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

/// The native-bucket part of a histogram: sparse, exponential buckets (only protobuf
/// carries them).
///
/// ```
/// # #[cfg(feature = "protobuf")] {
/// use promenade_core::encoding::{FamilyHeader, HistogramValue, LabelSet, MetricEncoder, NativeValue};
/// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
///
/// struct NativeOnly;
/// impl Collector for NativeOnly {
///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
///         enc.family(&FamilyHeader { name: "rtt_seconds", help: "Round trips.", unit: None, metric_type: MetricType::Histogram });
///         enc.histogram(&LabelSet::empty(), &HistogramValue {
///             bounds: &[],
///             cumulative: &[],
///             count: 3,
///             sum: 3.5,
///             created: None,
///             // Schema 0: bucket i covers (2^(i-1), 2^i]; 1.0 is in bucket 0, 2.5 in bucket 2.
///             native: Some(NativeValue { schema: 0, zero_threshold: 1e-9, zero_count: 1, positive: &[(0, 1), (2, 1)], negative: &[] }),
///             exemplars: None,
///             native_exemplars: &[],
///         });
///     }
/// }
/// let registry = Registry::new();
/// registry.register(NativeOnly).unwrap();
/// // Only protobuf carries native buckets.
/// let bytes = registry.encode_to_vec(Format::Protobuf).unwrap();
/// let families = promenade_core::encoding::protobuf::decode_delimited(&bytes).unwrap();
/// let h = families[0].metric[0].histogram.as_ref().unwrap();
/// assert_eq!(h.schema, Some(0));
/// assert_eq!(h.zero_count, Some(1));
/// assert_eq!(h.positive_delta, vec![1, -1, 1]); // bucket 1 is filled with an explicit zero
/// # }
/// ```
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
///
/// ```
/// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder, SummaryValue};
/// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
///
/// struct Latency;
/// impl Collector for Latency {
///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
///         enc.family(&FamilyHeader { name: "rpc_seconds", help: "RPC latency.", unit: None, metric_type: MetricType::Summary });
///         enc.summary(&LabelSet::empty(), &SummaryValue { quantiles: &[(0.5, 0.02), (0.99, 0.3)], count: 40, sum: 1.6, created: None });
///     }
/// }
/// let registry = Registry::new();
/// registry.register(Latency).unwrap();
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains("rpc_seconds{quantile=\"0.99\"} 0.3\nrpc_seconds_sum 1.6\nrpc_seconds_count 40\n"));
/// ```
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
    /// Drops everything written since the current family's header, the header included
    /// (a collector's invalid or half-written family is left out of the exposition whole).
    fn discard_family(&mut self);
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
    scratch: Scratch,
    check: Check,
    /// Whether the current family's header went to the format writer.
    header_written: bool,
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
    ///
    /// ```
    /// use promenade_core::encoding::{negotiate, FamilyHeader, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, MetricType, Registry};
    ///
    /// /// Reports the escaping scheme of the scrape it is collected in.
    /// struct Scheme;
    /// impl Collector for Scheme {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         enc.family(&FamilyHeader { name: "scheme", help: "", unit: None, metric_type: MetricType::Gauge });
    ///         let labels = LabelSet::from_pairs(&[("escaping", enc.escaping().as_str())]).unwrap();
    ///         enc.gauge(&labels, 1.0);
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(Scheme).unwrap();
    /// let body = registry.encode_negotiated(&negotiate(Some("text/plain;version=0.0.4;escaping=dots"))).unwrap();
    /// assert!(String::from_utf8(body).unwrap().contains("scheme{escaping=\"dots\"} 1"));
    /// ```
    pub fn escaping(&self) -> EscapingScheme {
        self.escaping
    }

    pub(crate) fn new(
        inner: &'a mut dyn Encode,
        prefix: Option<&'a str>,
        escaping: EscapingScheme,
        const_labels: Vec<String>,
    ) -> Self {
        Self {
            inner,
            prefix,
            escaping,
            name: String::new(),
            scratch: Scratch::default(),
            check: Check::new(escaping, const_labels),
            header_written: false,
        }
    }

    /// A collector starts writing; `trusted` collectors skip the per-series label checks.
    pub(crate) fn begin_collector(&mut self, trusted: bool) {
        self.check.begin_collector(trusted);
        self.header_written = false;
    }

    /// The collector finished (or panicked): its first problem, with its unfinished or
    /// invalid family already dropped from the output.
    pub(crate) fn end_collector(&mut self, panicked: Option<String>) -> Option<String> {
        if let Some(message) = panicked {
            self.reject(format!("panicked during the scrape: {message}"));
        }
        self.header_written = false;
        self.check.end_collector()
    }

    /// Fails the current family with `problem`, as an invalid sample would: for this
    /// crate's bridges, whose sources can hold what `LabelSet::from_pairs` refuses.
    #[cfg(any(feature = "bridge-prometheus", feature = "bridge-opentelemetry"))]
    pub(crate) fn fail(&mut self, problem: String) {
        self.reject(problem);
    }

    /// Whether `name` is one of the registry's constant labels, which a collector's series
    /// must not repeat (a bridge renames such labels instead of failing the family).
    #[cfg(feature = "bridge-opentelemetry")]
    pub(crate) fn is_const_label(&self, name: &str) -> bool {
        self.check.is_const_label(name)
    }

    fn reject(&mut self, problem: String) {
        self.check.fail(problem);
        if self.header_written {
            self.inner.discard_family();
            self.header_written = false;
        }
    }

    /// Whether a sample may be written; a refused one drops its family.
    #[inline]
    fn admit(&mut self, kind: MetricType, labels: &str) -> bool {
        match self.check.sample(kind, labels) {
            Ok(ok) => ok,
            Err(problem) => {
                self.reject(problem);
                false
            }
        }
    }

    #[inline]
    fn admit_value(&mut self, value: std::result::Result<(), String>) -> bool {
        match value {
            Ok(()) => true,
            Err(problem) => {
                self.reject(problem);
                false
            }
        }
    }

    /// Starts a family; the registry's prefix, if any, is prepended to its name.
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
    ///
    /// struct Queue;
    /// impl Collector for Queue {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         enc.family(&FamilyHeader { name: "queue_depth", help: "Items waiting.", unit: None, metric_type: MetricType::Gauge });
    ///         enc.gauge(&LabelSet::empty(), 4.0);
    ///     }
    /// }
    /// let registry = Registry::builder().prefix("myapp").build().unwrap();
    /// registry.register(Queue).unwrap();
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("# TYPE myapp_queue_depth gauge\nmyapp_queue_depth 4\n"));
    /// ```
    pub fn family(&mut self, header: &FamilyHeader<'_>) {
        self.header_written = false;
        let name = match self.prefix {
            Some(prefix) => {
                self.name.clear();
                self.name.push_str(prefix);
                self.name.push('_');
                self.name.push_str(header.name);
                std::mem::take(&mut self.name)
            }
            None => String::new(),
        };
        let full = if self.prefix.is_some() {
            name.as_str()
        } else {
            header.name
        };
        match self.check.family(full, header.metric_type) {
            Ok(()) => {
                self.inner.family(&FamilyHeader {
                    name: full,
                    ..*header
                });
                self.header_written = true;
            }
            Err(problem) => self.reject(problem),
        }
        self.name = name;
    }

    /// A counter sample (`_total`, and `_created` when enabled).
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
    ///
    /// struct Retries;
    /// impl Collector for Retries {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         // The family name has no `_total`; the encoder appends it to the sample.
    ///         enc.family(&FamilyHeader { name: "retries", help: "Retries.", unit: None, metric_type: MetricType::Counter });
    ///         enc.counter(&LabelSet::from_pairs(&[("peer", "db")]).unwrap(), 7.0, None);
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(Retries).unwrap();
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("# TYPE retries_total counter\nretries_total{peer=\"db\"} 7\n"));
    /// ```
    pub fn counter(&mut self, labels: &LabelSet<'_>, value: f64, created: Option<f64>) {
        self.counter_with_exemplar(labels, value, created, None);
    }

    /// A counter sample with an exemplar (written in OpenMetrics and protobuf).
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, Exemplar, Format, MetricType, Registry};
    ///
    /// struct Errors;
    /// impl Collector for Errors {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         let exemplar = Exemplar::new(&[("trace_id", "abc123")], 1.0).unwrap();
    ///         enc.family(&FamilyHeader { name: "errors", help: "Errors.", unit: None, metric_type: MetricType::Counter });
    ///         enc.counter_with_exemplar(&LabelSet::empty(), 2.0, None, Some(&exemplar));
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(Errors).unwrap();
    /// let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
    /// assert!(om.contains("errors_total 2.0 # {trace_id=\"abc123\"} 1.0 "));
    /// // Text 0.0.4 has no exemplars.
    /// assert!(registry.encode_to_string(Format::Text).unwrap().contains("errors_total 2\n"));
    /// ```
    pub fn counter_with_exemplar(
        &mut self,
        labels: &LabelSet<'_>,
        value: f64,
        created: Option<f64>,
        exemplar: Option<&Exemplar>,
    ) {
        if self.admit(MetricType::Counter, labels.rendered()) {
            let valid = self.check.counter(value);
            if self.admit_value(valid) {
                self.inner
                    .counter(labels.rendered(), value, created, exemplar);
            }
        }
    }

    /// A gauge sample.
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
    ///
    /// struct Disk;
    /// impl Collector for Disk {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         enc.family(&FamilyHeader { name: "disk_free_bytes", help: "Free space.", unit: None, metric_type: MetricType::Gauge });
    ///         for (mount, free) in [("/", 1.5e9), ("/tmp", 2048.0)] {
    ///             enc.gauge(&LabelSet::from_pairs(&[("mount", mount)]).unwrap(), free);
    ///         }
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(Disk).unwrap();
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("disk_free_bytes{mount=\"/\"} 1.5e+09\ndisk_free_bytes{mount=\"/tmp\"} 2048\n"));
    /// ```
    pub fn gauge(&mut self, labels: &LabelSet<'_>, value: f64) {
        if self.admit(MetricType::Gauge, labels.rendered()) {
            self.inner.gauge(labels.rendered(), value);
        }
    }

    /// A sample of unknown type.
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
    ///
    /// struct Proxied;
    /// impl Collector for Proxied {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         enc.family(&FamilyHeader { name: "legacy_value", help: "", unit: None, metric_type: MetricType::Unknown });
    ///         enc.unknown(&LabelSet::empty(), 12.0);
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(Proxied).unwrap();
    /// assert!(registry.encode_to_string(Format::Text).unwrap().contains("# TYPE legacy_value untyped\nlegacy_value 12\n"));
    /// assert!(registry.encode_to_string(Format::OpenMetrics).unwrap().contains("# TYPE legacy_value unknown\nlegacy_value 12.0\n"));
    /// ```
    pub fn unknown(&mut self, labels: &LabelSet<'_>, value: f64) {
        if self.admit(MetricType::Unknown, labels.rendered()) {
            self.inner.unknown(labels.rendered(), value);
        }
    }

    /// A histogram's buckets, sum and count.
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, HistogramValue, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
    ///
    /// struct Sizes;
    /// impl Collector for Sizes {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         enc.family(&FamilyHeader { name: "payload_bytes", help: "Payloads.", unit: None, metric_type: MetricType::Histogram });
    ///         let value = HistogramValue { bounds: &[1024.0], cumulative: &[3], count: 4, sum: 5000.0, created: None, native: None, exemplars: None, native_exemplars: &[] };
    ///         enc.histogram(&LabelSet::from_pairs(&[("dir", "in")]).unwrap(), &value);
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(Sizes).unwrap();
    /// let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
    /// assert!(om.contains("payload_bytes_bucket{dir=\"in\",le=\"1024.0\"} 3\npayload_bytes_bucket{dir=\"in\",le=\"+Inf\"} 4\npayload_bytes_count{dir=\"in\"} 4\n"));
    /// ```
    pub fn histogram(&mut self, labels: &LabelSet<'_>, value: &HistogramValue<'_>) {
        if self.admit(MetricType::Histogram, labels.rendered()) {
            let valid = self.check.histogram(value);
            if self.admit_value(valid) {
                self.inner.histogram(labels.rendered(), value);
            }
        }
    }

    /// A gauge histogram's buckets, gsum and gcount.
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, HistogramValue, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
    ///
    /// struct QueueAges;
    /// impl Collector for QueueAges {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         enc.family(&FamilyHeader { name: "queue_age_seconds", help: "Ages of queued items.", unit: None, metric_type: MetricType::GaugeHistogram });
    ///         let value = HistogramValue { bounds: &[60.0], cumulative: &[2], count: 3, sum: 400.0, created: None, native: None, exemplars: None, native_exemplars: &[] };
    ///         enc.gauge_histogram(&LabelSet::empty(), &value);
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(QueueAges).unwrap();
    /// let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
    /// assert!(om.contains("# TYPE queue_age_seconds gaugehistogram\n"));
    /// assert!(om.contains("queue_age_seconds_gcount 3\nqueue_age_seconds_gsum 400.0\n"));
    /// ```
    pub fn gauge_histogram(&mut self, labels: &LabelSet<'_>, value: &HistogramValue<'_>) {
        if self.admit(MetricType::GaugeHistogram, labels.rendered()) {
            let valid = self.check.histogram(value);
            if self.admit_value(valid) {
                self.inner.gauge_histogram(labels.rendered(), value);
            }
        }
    }

    /// A summary's quantiles, sum and count.
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder, SummaryValue};
    /// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
    ///
    /// struct GcPauses;
    /// impl Collector for GcPauses {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         enc.family(&FamilyHeader { name: "gc_pause_seconds", help: "GC pauses.", unit: None, metric_type: MetricType::Summary });
    ///         enc.summary(&LabelSet::empty(), &SummaryValue { quantiles: &[(0.5, 0.001)], count: 10, sum: 0.02, created: None });
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(GcPauses).unwrap();
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("gc_pause_seconds{quantile=\"0.5\"} 0.001\ngc_pause_seconds_sum 0.02\ngc_pause_seconds_count 10\n"));
    /// ```
    pub fn summary(&mut self, labels: &LabelSet<'_>, value: &SummaryValue<'_>) {
        if self.admit(MetricType::Summary, labels.rendered()) {
            let valid = self.check.summary(value);
            if self.admit_value(valid) {
                self.inner.summary(labels.rendered(), value);
            }
        }
    }

    /// An info sample (value 1).
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
    ///
    /// struct Build;
    /// impl Collector for Build {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         // The family name has no `_info`; the encoder appends it.
    ///         enc.family(&FamilyHeader { name: "build", help: "Build.", unit: None, metric_type: MetricType::Info });
    ///         enc.info(&LabelSet::from_pairs(&[("version", "1.2.3")]).unwrap());
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(Build).unwrap();
    /// assert!(registry.encode_to_string(Format::Text).unwrap().contains("build_info{version=\"1.2.3\"} 1\n"));
    /// ```
    pub fn info(&mut self, labels: &LabelSet<'_>) {
        if self.admit(MetricType::Info, labels.rendered()) {
            self.inner.info(labels.rendered());
        }
    }

    /// A state set: one sample per state.
    ///
    /// ```
    /// use promenade_core::encoding::{FamilyHeader, LabelSet, MetricEncoder};
    /// use promenade_core::{Collector, Descriptor, Format, MetricType, Registry};
    ///
    /// struct Breaker;
    /// impl Collector for Breaker {
    ///     fn descriptors(&self) -> Vec<Descriptor> { Vec::new() }
    ///     fn collect(&self, enc: &mut MetricEncoder<'_>) {
    ///         enc.family(&FamilyHeader { name: "breaker", help: "Circuit breaker.", unit: None, metric_type: MetricType::StateSet });
    ///         let states = [("open".to_string(), false), ("closed".to_string(), true)];
    ///         enc.stateset(&LabelSet::empty(), &states);
    ///     }
    /// }
    /// let registry = Registry::new();
    /// registry.register(Breaker).unwrap();
    /// // One sample per state; the state label is named like the family.
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("breaker{breaker=\"open\"} 0\nbreaker{breaker=\"closed\"} 1\n"));
    /// ```
    pub fn stateset(&mut self, labels: &LabelSet<'_>, states: &[(String, bool)]) {
        if self.admit(MetricType::StateSet, labels.rendered()) {
            let valid = self.check.stateset(states);
            if self.admit_value(valid) {
                self.inner.stateset(labels.rendered(), states);
            }
        }
    }

    /// An empty count buffer to fill for one series; give it back with
    /// [`MetricEncoder::put_counts`] once the series is written.
    pub(crate) fn take_counts(&mut self) -> Vec<u64> {
        let mut counts = std::mem::take(&mut self.scratch.counts);
        counts.clear();
        counts
    }

    pub(crate) fn put_counts(&mut self, counts: Vec<u64>) {
        self.scratch.counts = counts;
    }

    /// An empty state buffer to fill for one series; give it back with
    /// [`MetricEncoder::put_states`] once the series is written.
    pub(crate) fn take_states(&mut self) -> Vec<(String, bool)> {
        let mut states = std::mem::take(&mut self.scratch.states);
        states.clear();
        states
    }

    pub(crate) fn put_states(&mut self, states: Vec<(String, bool)>) {
        self.scratch.states = states;
    }
}

/// Buffers a metric type borrows from the encoder while it writes one series and gives
/// back for the next, so that a scrape of many series allocates them once rather than once
/// per series. They are plain vectors: what a metric type keeps in them is its own business,
/// and the encoder stays ignorant of the metric types' internals.
#[derive(Debug, Default)]
struct Scratch {
    /// Counts, such as a histogram's buckets.
    counts: Vec<u64>,
    /// A state set's state names and values.
    states: Vec<(String, bool)>,
}

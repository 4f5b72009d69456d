//! What a metric hands the encoder: the family header, the label set of a series and the
//! values of the composite types (histogram, native histogram, summary).

use std::borrow::Cow;

use crate::error::Result;
use crate::labels::render_labels;
use crate::metric::{Exemplar, MetricType};
use crate::name::check_label_names;

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

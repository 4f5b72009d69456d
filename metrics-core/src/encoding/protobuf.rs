//! The protobuf exposition: length-delimited `io.prometheus.client.MetricFamily` messages
//! (<https://prometheus.io/docs/instrumenting/exposition_formats/>), with native histograms
//! encoded as in <https://prometheus.io/docs/specs/native_histograms/>. The message types are declared here with `prost` derives,
//! field for field as in prometheus/client_model `metrics.proto` (proto2), so no `protoc`
//! is needed to build.
//!
//! Special values are written as they are: a NaN, infinite or negative sum, a negative
//! quantile, a sum next to a negative bucket bound. Prometheus ingests them from protobuf,
//! the Go client writes them the same way, and a native histogram's NaN sum is meaningful
//! (a NaN observation is counted and makes the sum NaN, but goes into no bucket). Only OpenMetrics text leaves such samples out (see the text encoder).

use std::borrow::Cow;

use prost::Message;

use super::name_escaping::escape_name_for_exposition;
use super::{Encode, EscapingScheme, FamilyHeader, HistogramValue, NativeValue, SummaryValue};
use crate::labels::parse_rendered_labels;
use crate::metric::{Exemplar, MetricType};

/// The `io.prometheus.client` message types.
///
/// ```
/// use promenade_core::encoding::protobuf::{decode_delimited, model};
/// use promenade_core::{Format, Registry};
///
/// let registry = Registry::new();
/// registry.counter("jobs_total", "Jobs.").unwrap().inc_by(3.0).unwrap();
/// let families = decode_delimited(&registry.encode_to_vec(Format::Protobuf).unwrap()).unwrap();
/// let family = &families[0];
/// assert_eq!(family.name.as_deref(), Some("jobs_total"));
/// assert_eq!(family.r#type, Some(model::MetricType::Counter as i32));
/// assert_eq!(family.metric[0].counter.as_ref().and_then(|c| c.value), Some(3.0));
/// ```
pub mod model {
    #![allow(missing_docs)]

    /// `LabelPair`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LabelPair {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub value: Option<String>,
    }

    /// `google.protobuf.Timestamp` (same wire format).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Timestamp {
        #[prost(int64, tag = "1")]
        pub seconds: i64,
        #[prost(int32, tag = "2")]
        pub nanos: i32,
    }

    /// `Gauge`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Gauge {
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
    }

    /// `Exemplar`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Exemplar {
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        #[prost(double, optional, tag = "2")]
        pub value: Option<f64>,
        #[prost(message, optional, tag = "3")]
        pub timestamp: Option<Timestamp>,
    }

    /// `Counter`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Counter {
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
        #[prost(message, optional, tag = "2")]
        pub exemplar: Option<Exemplar>,
        #[prost(message, optional, tag = "3")]
        pub created_timestamp: Option<Timestamp>,
    }

    /// `Quantile`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Quantile {
        #[prost(double, optional, tag = "1")]
        pub quantile: Option<f64>,
        #[prost(double, optional, tag = "2")]
        pub value: Option<f64>,
    }

    /// `Summary`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Summary {
        #[prost(uint64, optional, tag = "1")]
        pub sample_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub sample_sum: Option<f64>,
        #[prost(message, repeated, tag = "3")]
        pub quantile: Vec<Quantile>,
        #[prost(message, optional, tag = "4")]
        pub created_timestamp: Option<Timestamp>,
    }

    /// `Untyped`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Untyped {
        #[prost(double, optional, tag = "1")]
        pub value: Option<f64>,
    }

    /// `Bucket` (classic).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Bucket {
        #[prost(uint64, optional, tag = "1")]
        pub cumulative_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub upper_bound: Option<f64>,
        #[prost(message, optional, tag = "3")]
        pub exemplar: Option<Exemplar>,
        #[prost(double, optional, tag = "4")]
        pub cumulative_count_float: Option<f64>,
    }

    /// `BucketSpan` (native).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BucketSpan {
        #[prost(sint32, optional, tag = "1")]
        pub offset: Option<i32>,
        #[prost(uint32, optional, tag = "2")]
        pub length: Option<u32>,
    }

    /// `Histogram` (classic and native parts).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Histogram {
        #[prost(uint64, optional, tag = "1")]
        pub sample_count: Option<u64>,
        #[prost(double, optional, tag = "2")]
        pub sample_sum: Option<f64>,
        #[prost(message, repeated, tag = "3")]
        pub bucket: Vec<Bucket>,
        #[prost(double, optional, tag = "4")]
        pub sample_count_float: Option<f64>,
        #[prost(sint32, optional, tag = "5")]
        pub schema: Option<i32>,
        #[prost(double, optional, tag = "6")]
        pub zero_threshold: Option<f64>,
        #[prost(uint64, optional, tag = "7")]
        pub zero_count: Option<u64>,
        #[prost(double, optional, tag = "8")]
        pub zero_count_float: Option<f64>,
        #[prost(message, repeated, tag = "9")]
        pub negative_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, packed = "false", tag = "10")]
        pub negative_delta: Vec<i64>,
        #[prost(double, repeated, packed = "false", tag = "11")]
        pub negative_count: Vec<f64>,
        #[prost(message, repeated, tag = "12")]
        pub positive_span: Vec<BucketSpan>,
        #[prost(sint64, repeated, packed = "false", tag = "13")]
        pub positive_delta: Vec<i64>,
        #[prost(double, repeated, packed = "false", tag = "14")]
        pub positive_count: Vec<f64>,
        #[prost(message, optional, tag = "15")]
        pub created_timestamp: Option<Timestamp>,
        #[prost(message, repeated, tag = "16")]
        pub exemplars: Vec<Exemplar>,
    }

    /// `Metric`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Metric {
        #[prost(message, repeated, tag = "1")]
        pub label: Vec<LabelPair>,
        #[prost(message, optional, tag = "2")]
        pub gauge: Option<Gauge>,
        #[prost(message, optional, tag = "3")]
        pub counter: Option<Counter>,
        #[prost(message, optional, tag = "4")]
        pub summary: Option<Summary>,
        #[prost(message, optional, tag = "5")]
        pub untyped: Option<Untyped>,
        #[prost(int64, optional, tag = "6")]
        pub timestamp_ms: Option<i64>,
        #[prost(message, optional, tag = "7")]
        pub histogram: Option<Histogram>,
    }

    /// `MetricType`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum MetricType {
        Counter = 0,
        Gauge = 1,
        Summary = 2,
        Untyped = 3,
        Histogram = 4,
        GaugeHistogram = 5,
    }

    /// `MetricFamily`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct MetricFamily {
        #[prost(string, optional, tag = "1")]
        pub name: Option<String>,
        #[prost(string, optional, tag = "2")]
        pub help: Option<String>,
        #[prost(enumeration = "MetricType", optional, tag = "3")]
        pub r#type: Option<i32>,
        #[prost(message, repeated, tag = "4")]
        pub metric: Vec<Metric>,
        #[prost(string, optional, tag = "5")]
        pub unit: Option<String>,
    }
}

/// Spans and deltas for sorted `(index, count)` buckets (the sparse bucket encoding of the
/// native-histogram spec). Gaps of one or two empty buckets are filled with explicit zeros
/// rather than opening a new span, as Go does.
///
/// ```
/// use promenade_core::encoding::protobuf::spans_and_deltas;
/// // Buckets 0, 1 and 5: a gap of three empty buckets opens a second span.
/// let (spans, deltas) = spans_and_deltas(&[(0, 4), (1, 6), (5, 1)]);
/// let spans: Vec<(i32, u32)> = spans.iter().map(|s| (s.offset.unwrap(), s.length.unwrap())).collect();
/// assert_eq!(spans, vec![(0, 2), (3, 1)]);
/// assert_eq!(deltas, vec![4, 2, -5]); // each count relative to the one before
/// ```
pub fn spans_and_deltas(buckets: &[(i32, u64)]) -> (Vec<model::BucketSpan>, Vec<i64>) {
    let mut spans: Vec<model::BucketSpan> = Vec::new();
    let mut deltas = Vec::with_capacity(buckets.len());
    let mut previous_count: i64 = 0;
    let mut next_index: Option<i32> = None;
    for &(index, count) in buckets {
        let gap = next_index.map(|n| index - n);
        match gap {
            Some(g) if (0..=2).contains(&g) => {
                for _ in 0..g {
                    deltas.push(-previous_count);
                    previous_count = 0;
                }
                if let Some(span) = spans.last_mut() {
                    span.length = Some(span.length.unwrap_or(0) + g as u32 + 1);
                }
            }
            _ => spans.push(model::BucketSpan {
                offset: Some(gap.unwrap_or(index)),
                length: Some(1),
            }),
        }
        let count = count as i64;
        deltas.push(count - previous_count);
        previous_count = count;
        next_index = Some(index + 1);
    }
    (spans, deltas)
}

fn bucket_exemplar<'a>(v: &HistogramValue<'a>, i: usize) -> Option<&'a Exemplar> {
    v.exemplars.and_then(|e| e.get(i)).and_then(Option::as_ref)
}

fn exemplar_message(e: &Exemplar) -> model::Exemplar {
    model::Exemplar {
        label: parse_rendered_labels(e.rendered_labels())
            .map(|(n, v)| model::LabelPair {
                name: Some(n.to_owned()),
                value: Some(v.into_owned()),
            })
            .collect(),
        value: Some(e.value()),
        timestamp: Some(timestamp(e.timestamp())),
    }
}

fn timestamp(seconds: f64) -> model::Timestamp {
    let whole = seconds.floor();
    model::Timestamp {
        seconds: whole as i64,
        nanos: ((seconds - whole) * 1e9) as i32,
    }
}

/// Writes one protobuf exposition.
///
/// Families and metrics are written straight to the wire format into two reused buffers (the
/// open family's body, one metric) instead of building `MetricFamily` messages: a scrape of
/// 100,000 series would otherwise allocate a `String` per label name and value and a
/// `Metric` per series, only to encode and drop them. The small typed parts (`Counter`,
/// `Histogram`, ...) still go through the `prost` model above, so the field layout is
/// declared once.
pub(crate) struct ProtobufEncoder<'o> {
    out: &'o mut Vec<u8>,
    const_labels: Vec<(String, String)>,
    created_samples: bool,
    escaping: EscapingScheme,
    /// Whether a family is open (between `family` and the next flush or discard).
    open: bool,
    /// Fields 1 to 4 of the open `MetricFamily` message.
    body: Vec<u8>,
    metrics: usize,
    unit: Option<String>,
    /// One `Metric` message being written.
    metric: Vec<u8>,
    family_name: String,
}

/// `MetricFamily` fields.
const FAMILY_NAME: u32 = 1;
const FAMILY_HELP: u32 = 2;
const FAMILY_TYPE: u32 = 3;
const FAMILY_METRIC: u32 = 4;
const FAMILY_UNIT: u32 = 5;
/// `Metric` fields.
const METRIC_LABEL: u32 = 1;
const METRIC_GAUGE: u32 = 2;
const METRIC_COUNTER: u32 = 3;
const METRIC_SUMMARY: u32 = 4;
const METRIC_UNTYPED: u32 = 5;
const METRIC_HISTOGRAM: u32 = 7;

/// Writes a length-delimited field `tag` holding `bytes`.
fn put_bytes(tag: u32, bytes: &[u8], buf: &mut Vec<u8>) {
    prost::encoding::encode_key(tag, prost::encoding::WireType::LengthDelimited, buf);
    prost::encoding::encode_varint(bytes.len() as u64, buf);
    buf.extend_from_slice(bytes);
}

/// Writes a `LabelPair` as field `tag`.
fn put_label_pair(tag: u32, name: &str, value: &str, buf: &mut Vec<u8>) {
    let field_len = |len: usize| 1 + prost::encoding::encoded_len_varint(len as u64) + len;
    let len = field_len(name.len()) + field_len(value.len());
    prost::encoding::encode_key(tag, prost::encoding::WireType::LengthDelimited, buf);
    prost::encoding::encode_varint(len as u64, buf);
    put_bytes(1, name.as_bytes(), buf);
    put_bytes(2, value.as_bytes(), buf);
}

impl<'o> ProtobufEncoder<'o> {
    pub(crate) fn new(
        out: &'o mut Vec<u8>,
        const_rendered: &str,
        created_samples: bool,
        escaping: EscapingScheme,
    ) -> Self {
        let const_labels = parse_rendered_labels(const_rendered)
            .map(|(n, v)| (n.to_owned(), v.into_owned()))
            .collect();
        Self {
            out,
            const_labels,
            created_samples,
            escaping,
            open: false,
            body: Vec::new(),
            metrics: 0,
            unit: None,
            metric: Vec::new(),
            family_name: String::new(),
        }
    }

    fn flush(&mut self) {
        // Go's gatherer drops families without metrics; so do we.
        if self.open && self.metrics > 0 {
            if let Some(unit) = self.unit.take() {
                put_bytes(FAMILY_UNIT, unit.as_bytes(), &mut self.body);
            }
            prost::encoding::encode_varint(self.body.len() as u64, self.out);
            self.out.extend_from_slice(&self.body);
        }
        self.open = false;
        self.body.clear();
        self.metrics = 0;
        self.unit = None;
    }

    pub(crate) fn finish(mut self) {
        self.flush();
    }

    /// Writes one `Metric` of the open family: its labels (constant labels, the series'
    /// rendered labels, then `extra`), and `value` as field `field`.
    fn push<V: Message>(
        &mut self,
        rendered: &str,
        extra: Option<(&str, &str)>,
        field: u32,
        value: &V,
    ) {
        if !self.open {
            return;
        }
        self.metric.clear();
        let escaping = self.escaping;
        let consts = self
            .const_labels
            .iter()
            .map(|(n, v)| (n.as_str(), Cow::Borrowed(v.as_str())));
        for (n, v) in consts
            .chain(parse_rendered_labels(rendered))
            .chain(extra.map(|(n, v)| (n, Cow::Borrowed(v))))
        {
            // Families with UTF-8 label names may hand over quoted names (names never
            // contain quotes themselves).
            let n = n
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(n);
            let n = escape_name_for_exposition(n, escaping);
            put_label_pair(METRIC_LABEL, &n, &v, &mut self.metric);
        }
        prost::encoding::message::encode(field, value, &mut self.metric);
        put_bytes(FAMILY_METRIC, &self.metric, &mut self.body);
        self.metrics += 1;
    }

    fn histogram_message(&self, v: &HistogramValue<'_>) -> model::Histogram {
        let mut h = model::Histogram {
            sample_count: Some(v.count),
            sample_sum: Some(v.sum),
            bucket: v
                .bounds
                .iter()
                .zip(v.cumulative)
                .enumerate()
                .map(|(i, (b, c))| model::Bucket {
                    cumulative_count: Some(*c),
                    upper_bound: Some(*b),
                    exemplar: bucket_exemplar(v, i).map(exemplar_message),
                    ..Default::default()
                })
                .collect(),
            created_timestamp: v.created.filter(|_| self.created_samples).map(timestamp),
            ..Default::default()
        };
        // The +Inf bucket is implicit in protobuf; like the Go client, it is written only when
        // it carries an exemplar.
        if let Some(e) = bucket_exemplar(v, v.bounds.len()) {
            h.bucket.push(model::Bucket {
                cumulative_count: Some(v.count),
                upper_bound: Some(f64::INFINITY),
                exemplar: Some(exemplar_message(e)),
                ..Default::default()
            });
        }
        if let Some(native) = &v.native {
            fill_native(&mut h, native);
            h.exemplars = v.native_exemplars.iter().map(exemplar_message).collect();
        }
        h
    }
}

fn fill_native(h: &mut model::Histogram, n: &NativeValue<'_>) {
    h.schema = Some(n.schema);
    h.zero_threshold = Some(n.zero_threshold);
    h.zero_count = Some(n.zero_count);
    let (ps, pd) = spans_and_deltas(n.positive);
    let (ns, nd) = spans_and_deltas(n.negative);
    h.positive_span = ps;
    h.positive_delta = pd;
    h.negative_span = ns;
    h.negative_delta = nd;
    // Without observations and with a zero threshold of zero, a no-op span marks the
    // histogram as native (without it, it could not be told apart from a classic one).
    if n.zero_threshold == 0.0
        && n.zero_count == 0
        && h.positive_span.is_empty()
        && h.negative_span.is_empty()
    {
        h.positive_span.push(model::BucketSpan {
            offset: Some(0),
            length: Some(0),
        });
    }
}

impl Encode for ProtobufEncoder<'_> {
    fn discard_family(&mut self) {
        // The current family is still buffered here: nothing of it reached `out`.
        self.open = false;
        self.body.clear();
        self.metrics = 0;
        self.unit = None;
    }

    fn family(&mut self, h: &FamilyHeader<'_>) {
        self.flush();
        let (suffix, ty) = match h.metric_type {
            MetricType::Counter => ("_total", model::MetricType::Counter),
            MetricType::Gauge | MetricType::StateSet => ("", model::MetricType::Gauge),
            MetricType::Info => ("_info", model::MetricType::Gauge),
            MetricType::Histogram => ("", model::MetricType::Histogram),
            MetricType::GaugeHistogram => ("", model::MetricType::GaugeHistogram),
            MetricType::Summary => ("", model::MetricType::Summary),
            MetricType::Unknown => ("", model::MetricType::Untyped),
        };
        self.family_name.clear();
        self.family_name.push_str(h.name);
        let full = format!("{}{suffix}", h.name);
        let name = escape_name_for_exposition(&full, self.escaping);
        put_bytes(FAMILY_NAME, name.as_bytes(), &mut self.body);
        put_bytes(FAMILY_HELP, h.help.as_bytes(), &mut self.body);
        prost::encoding::encode_key(
            FAMILY_TYPE,
            prost::encoding::WireType::Varint,
            &mut self.body,
        );
        prost::encoding::encode_varint(ty as i32 as u64, &mut self.body);
        self.unit = h.unit.map(str::to_owned);
        self.open = true;
    }

    fn counter(
        &mut self,
        labels: &str,
        value: f64,
        created: Option<f64>,
        exemplar: Option<&Exemplar>,
    ) {
        let counter = model::Counter {
            value: Some(value),
            exemplar: exemplar.map(exemplar_message),
            created_timestamp: created.filter(|_| self.created_samples).map(timestamp),
        };
        self.push(labels, None, METRIC_COUNTER, &counter);
    }

    fn gauge(&mut self, labels: &str, value: f64) {
        self.push(
            labels,
            None,
            METRIC_GAUGE,
            &model::Gauge { value: Some(value) },
        );
    }

    fn unknown(&mut self, labels: &str, value: f64) {
        self.push(
            labels,
            None,
            METRIC_UNTYPED,
            &model::Untyped { value: Some(value) },
        );
    }

    fn histogram(&mut self, labels: &str, v: &HistogramValue<'_>) {
        let h = self.histogram_message(v);
        self.push(labels, None, METRIC_HISTOGRAM, &h);
    }

    fn gauge_histogram(&mut self, labels: &str, v: &HistogramValue<'_>) {
        let mut h = self.histogram_message(v);
        h.created_timestamp = None;
        self.push(labels, None, METRIC_HISTOGRAM, &h);
    }

    fn summary(&mut self, labels: &str, v: &SummaryValue<'_>) {
        let summary = model::Summary {
            sample_count: Some(v.count),
            sample_sum: Some(v.sum),
            quantile: v
                .quantiles
                .iter()
                .map(|(q, x)| model::Quantile {
                    quantile: Some(*q),
                    value: Some(*x),
                })
                .collect(),
            created_timestamp: v.created.filter(|_| self.created_samples).map(timestamp),
        };
        self.push(labels, None, METRIC_SUMMARY, &summary);
    }

    fn info(&mut self, labels: &str) {
        self.gauge(labels, 1.0);
    }

    fn stateset(&mut self, labels: &str, states: &[(String, bool)]) {
        let label_name = std::mem::take(&mut self.family_name);
        for (state, on) in states {
            let gauge = model::Gauge {
                value: Some(if *on { 1.0 } else { 0.0 }),
            };
            self.push(labels, Some((&label_name, state)), METRIC_GAUGE, &gauge);
        }
        self.family_name = label_name;
    }
}

/// Decodes a delimited protobuf exposition (for tests and tools).
///
/// ```
/// let r = promenade_core::Registry::new();
/// r.gauge("g", "G.").unwrap().set(2.0);
/// let bytes = r.encode_to_vec(promenade_core::Format::Protobuf).unwrap();
/// let families = promenade_core::encoding::protobuf::decode_delimited(&bytes).unwrap();
/// assert_eq!(families[0].name.as_deref(), Some("g"));
/// ```
pub fn decode_delimited(mut bytes: &[u8]) -> Result<Vec<model::MetricFamily>, prost::DecodeError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        out.push(model::MetricFamily::decode_length_delimited(&mut bytes)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_deltas_native_histogram_spec_example() {
        // Indices -2:3, -1:5, 2:1, 4:3, 5:2. Gaps of one or two are filled (Go), so this is
        // the single-span form: [-2,8] with zeros in between.
        let (spans, deltas) = spans_and_deltas(&[(-2, 3), (-1, 5), (2, 1), (4, 3), (5, 2)]);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].offset, Some(-2));
        assert_eq!(spans[0].length, Some(8));
        assert_eq!(deltas, vec![3, 2, -5, 0, 1, -1, 3, -1]);
        // A gap of three starts a new span.
        let (spans, deltas) = spans_and_deltas(&[(0, 1), (4, 2)]);
        assert_eq!(
            spans
                .iter()
                .map(|s| (s.offset.unwrap(), s.length.unwrap()))
                .collect::<Vec<_>>(),
            vec![(0, 1), (3, 1)]
        );
        assert_eq!(deltas, vec![1, 1]);
        // Deltas never sum to a negative count.
        let mut acc = 0;
        for d in spans_and_deltas(&[(1, 9), (2, 1), (5, 4)]).1 {
            acc += d;
            assert!(acc >= 0);
        }
    }
}

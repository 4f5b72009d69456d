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
pub(crate) struct ProtobufEncoder<'o> {
    out: &'o mut Vec<u8>,
    const_labels: Vec<(String, String)>,
    created_samples: bool,
    escaping: EscapingScheme,
    family: Option<model::MetricFamily>,
    family_name: String,
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
            family: None,
            family_name: String::new(),
        }
    }

    fn flush(&mut self) {
        if let Some(family) = self.family.take() {
            // Go's gatherer drops families without metrics; so do we.
            if !family.metric.is_empty() {
                // Writing into a Vec cannot fail.
                let _ = family.encode_length_delimited(self.out);
            }
        }
    }

    pub(crate) fn finish(mut self) {
        self.flush();
    }

    fn name(&self, name: &str) -> String {
        escape_name_for_exposition(name, self.escaping).into_owned()
    }

    fn labels(&self, rendered: &str, extra: Option<(&str, &str)>) -> Vec<model::LabelPair> {
        let pairs = self
            .const_labels
            .iter()
            .map(|(n, v)| (n.as_str(), Cow::Borrowed(v.as_str())));
        pairs
            .chain(parse_rendered_labels(rendered))
            .chain(extra.map(|(n, v)| (n, Cow::Borrowed(v))))
            .map(|(n, v)| {
                // Families with UTF-8 label names may hand over quoted names (names never
                // contain quotes themselves).
                let n = n
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(n);
                model::LabelPair {
                    name: Some(self.name(n)),
                    value: Some(v.into_owned()),
                }
            })
            .collect()
    }

    fn push(&mut self, metric: model::Metric) {
        if let Some(f) = self.family.as_mut() {
            f.metric.push(metric);
        }
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
        self.family = None;
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
        self.family_name = h.name.to_owned();
        let name = self.name(&format!("{}{suffix}", h.name));
        self.family = Some(model::MetricFamily {
            name: Some(name),
            help: Some(h.help.to_owned()),
            r#type: Some(ty as i32),
            metric: Vec::new(),
            unit: h.unit.map(str::to_owned),
        });
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
        let metric = model::Metric {
            label: self.labels(labels, None),
            counter: Some(counter),
            ..Default::default()
        };
        self.push(metric);
    }

    fn gauge(&mut self, labels: &str, value: f64) {
        let metric = model::Metric {
            label: self.labels(labels, None),
            gauge: Some(model::Gauge { value: Some(value) }),
            ..Default::default()
        };
        self.push(metric);
    }

    fn unknown(&mut self, labels: &str, value: f64) {
        let metric = model::Metric {
            label: self.labels(labels, None),
            untyped: Some(model::Untyped { value: Some(value) }),
            ..Default::default()
        };
        self.push(metric);
    }

    fn histogram(&mut self, labels: &str, v: &HistogramValue<'_>) {
        let metric = model::Metric {
            label: self.labels(labels, None),
            histogram: Some(self.histogram_message(v)),
            ..Default::default()
        };
        self.push(metric);
    }

    fn gauge_histogram(&mut self, labels: &str, v: &HistogramValue<'_>) {
        let mut h = self.histogram_message(v);
        h.created_timestamp = None;
        let metric = model::Metric {
            label: self.labels(labels, None),
            histogram: Some(h),
            ..Default::default()
        };
        self.push(metric);
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
        let metric = model::Metric {
            label: self.labels(labels, None),
            summary: Some(summary),
            ..Default::default()
        };
        self.push(metric);
    }

    fn info(&mut self, labels: &str) {
        self.gauge(labels, 1.0);
    }

    fn stateset(&mut self, labels: &str, states: &[(String, bool)]) {
        let label_name = self.family_name.clone();
        for (state, on) in states {
            let metric = model::Metric {
                label: self.labels(labels, Some((&label_name, state))),
                gauge: Some(model::Gauge {
                    value: Some(if *on { 1.0 } else { 0.0 }),
                }),
                ..Default::default()
            };
            self.push(metric);
        }
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

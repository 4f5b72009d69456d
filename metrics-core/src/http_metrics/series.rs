//! The storage behind the HTTP series: one in-flight gauge per method (or per method and
//! route, when asked), one route entry per (method, route), one request series per (method,
//! route, status, derived labels). The collector decides how they are exposed (which
//! names, which label names); here they are only kept.

use std::sync::{Arc, OnceLock};

use super::policy::STATUS_SLOTS;
use crate::encoding::{LabelSet, MetricEncoder};
use crate::family::Series;
use crate::metric::{Buckets, Gauge, Histogram, Metric, MetricType};

/// One (method, route): its in-flight gauge (used only when in-flight is labelled by route),
/// and the request series its requests end in, per common status, found on first use:
/// ending a request then needs one lookup of the route and no label parsing. (HTTP series
/// are never removed, so a remembered series stays the right one.)
pub(super) struct RouteEntry {
    pub(super) gauge: Gauge,
    pub(super) ends: [OnceLock<Series<RequestSeries>>; STATUS_SLOTS],
}

impl Metric for RouteEntry {
    type Options = ();
    const TYPE: MetricType = MetricType::Gauge;

    fn build(_: &()) -> Self {
        Self {
            gauge: Gauge::default(),
            ends: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        self.gauge.encode(labels, enc);
    }
}

/// Per method label, found on first use so that the common path is an array index: the
/// in-flight gauge of the method, and the route entry of its unmatched requests.
#[derive(Default)]
pub(super) struct MethodSlot {
    pub(super) in_flight: OnceLock<Series<Gauge>>,
    pub(super) unmatched: OnceLock<Series<RouteEntry>>,
}

/// The storage behind one (method, route, status, derived…) series: the duration histogram
/// (whose count is also `http_requests_total`) and the optional size histograms.
pub(super) struct RequestSeries {
    pub(super) duration: Histogram,
    /// Request and response body sizes, when enabled.
    pub(super) sizes: Option<(Histogram, Histogram)>,
}

/// What every [`RequestSeries`] of one configuration is built with.
pub(super) struct RequestSeriesOptions {
    pub(super) duration: Buckets,
    pub(super) sizes: Option<Buckets>,
}

impl Metric for RequestSeries {
    type Options = Arc<RequestSeriesOptions>;
    const TYPE: MetricType = MetricType::Histogram;

    fn build(o: &Self::Options) -> Self {
        Self {
            duration: Histogram::new(o.duration.clone()),
            sizes: o
                .sizes
                .as_ref()
                .map(|b| (Histogram::new(b.clone()), Histogram::new(b.clone()))),
        }
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        self.duration.encode(labels, enc);
    }
}

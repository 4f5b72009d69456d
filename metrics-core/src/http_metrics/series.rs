//! The storage behind the HTTP series: one in-flight gauge per method (or per method and
//! route, when asked), one route entry per (method, route), one request series per (method,
//! route, status, derived labels). The collector decides how they are exposed (which
//! names, which label names); here they are only kept.

use std::sync::atomic::{AtomicU64, Ordering};
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
/// (whose count, plus the requests whose duration is not recorded, is also
/// `http_requests_total`) and the optional size histograms.
pub(super) struct RequestSeries {
    /// Built on the first recorded duration, with the buckets of the series' route (a
    /// route policy may give its own): a family builds series without their labels.
    pub(super) duration: OnceLock<Histogram>,
    /// Requests counted without a duration (`DurationEnd::NotRecorded`).
    pub(super) unobserved: AtomicU64,
    /// Request and response body sizes, when enabled.
    pub(super) sizes: Option<(Histogram, Histogram)>,
}

impl RequestSeries {
    /// The duration histogram, built with `buckets` if this is its first use.
    pub(super) fn duration_with(&self, buckets: &Buckets) -> &Histogram {
        self.duration
            .get_or_init(|| Histogram::new(buckets.clone()))
    }

    /// Every request of the series: timed ones and the others.
    pub(super) fn requests(&self) -> u64 {
        self.duration
            .get()
            .map_or(0, Histogram::snapshot_count)
            .saturating_add(self.unobserved.load(Ordering::Relaxed))
    }
}

/// What every [`RequestSeries`] of one configuration is built with.
pub(super) struct RequestSeriesOptions {
    pub(super) sizes: Option<Buckets>,
}

impl Metric for RequestSeries {
    type Options = Arc<RequestSeriesOptions>;
    const TYPE: MetricType = MetricType::Histogram;

    fn build(o: &Self::Options) -> Self {
        Self {
            duration: OnceLock::new(),
            unobserved: AtomicU64::new(0),
            sizes: o
                .sizes
                .as_ref()
                .map(|b| (Histogram::new(b.clone()), Histogram::new(b.clone()))),
        }
    }

    fn encode(&self, labels: &LabelSet<'_>, enc: &mut MetricEncoder<'_>) {
        if let Some(duration) = self.duration.get() {
            duration.encode(labels, enc);
        }
    }
}

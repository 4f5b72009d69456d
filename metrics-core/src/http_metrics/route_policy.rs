//! Per-route duration policy for long-lived routes (server-sent events, WebSocket upgrades,
//! long polling): where the duration ends and which buckets it goes into, by route
//! template, so that one streaming route does not fill the slowest buckets of the latency
//! histogram every other route shares.
//!
//! Storage: a route with its own buckets gets duration series with its own bucket layout,
//! in the same `http_request_duration_seconds` family. The exposition formats allow it: a
//! histogram's buckets belong to each series (each has its own `le` set; the text format
//! and OpenMetrics only require a series' own buckets to be cumulative and end in `+Inf`,
//! <https://prometheus.io/docs/instrumenting/exposition_formats/>), and PromQL's
//! `histogram_quantile` works per series, so `sum by (le)` across routes with different
//! layouts mixes bounds and should be taken per route (which is what such a route wants
//! anyway). The alternative, a second family (`http_stream_duration_seconds`), would make
//! dashboards and the OpenTelemetry view differ by route; one family keeps every request
//! of every route in `http_requests_total` and one histogram name.

use super::builder::DurationEnd;
use super::exclusion::check_route_template;
use crate::error::{Error, Result};
use crate::metric::Buckets;

/// How the requests of one route template are timed; see
/// [`HttpMetricsBuilder::route_policy`](super::HttpMetricsBuilder::route_policy).
/// Anything not set keeps the builder-wide setting.
///
/// ```
/// use promenade_core::http_metrics::{DurationEnd, HttpMetrics, RequestInfo, RoutePolicy};
/// use promenade_core::{Buckets, Format, Registry};
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry)
///     .route_policy("/events", RoutePolicy::new().duration_end(DurationEnd::Head))
///     .route_policy("/ws", RoutePolicy::new().duration_end(DurationEnd::NotRecorded))
///     .route_policy("/poll", RoutePolicy::new().buckets(Buckets::new(vec![1.0, 10.0, 30.0, 60.0])?))
///     .build()?;
/// let headers = http::HeaderMap::new();
/// let mut ws = metrics.start(&RequestInfo { method: "GET", route: Some("/ws"), path: "/ws", headers: &headers });
/// ws.response_head(101);
/// drop(ws); // the socket closed
/// let text = registry.encode_to_string(Format::Text)?;
/// // Counted, but no duration: an hour-long socket is not a slow request.
/// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/ws\",status=\"101\"} 1\n"));
/// assert!(!text.contains("http_request_duration_seconds_count{method=\"GET\",route=\"/ws\""));
/// # Ok::<(), promenade_core::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RoutePolicy {
    duration_end: Option<DurationEnd>,
    buckets: Option<Buckets>,
}

impl RoutePolicy {
    /// A policy that changes nothing yet.
    ///
    /// ```
    /// let policy = promenade_core::http_metrics::RoutePolicy::new();
    /// # drop(policy);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Where this route's duration ends (default: the builder's
    /// [`duration_end`](super::HttpMetricsBuilder::duration_end)). `Head` for server-sent
    /// events measures the time to the first byte; `NotRecorded` for WebSocket upgrades
    /// counts the request and leaves the histogram alone.
    ///
    /// ```
    /// use promenade_core::http_metrics::{DurationEnd, HttpMetrics, RequestInfo, RoutePolicy};
    /// use promenade_core::{Buckets, Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .buckets(Buckets::new(vec![0.1])?)
    ///     .route_policy("/events", RoutePolicy::new().duration_end(DurationEnd::Head))
    ///     .build()?;
    /// let headers = http::HeaderMap::new();
    /// let mut sse = metrics.start(&RequestInfo { method: "GET", route: Some("/events"), path: "/events", headers: &headers });
    /// sse.response_head(200); // the duration ends here ...
    /// std::thread::sleep(std::time::Duration::from_millis(150)); // ... not when the stream ends
    /// drop(sse);
    /// let text = registry.encode_to_string(Format::Text)?;
    /// assert!(text.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/events\",status=\"200\",le=\"0.1\"} 1\n"));
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    #[must_use]
    pub fn duration_end(mut self, end: DurationEnd) -> Self {
        self.duration_end = Some(end);
        self
    }

    /// This route's duration buckets (default: the builder's
    /// [`buckets`](super::HttpMetricsBuilder::buckets)). Its series in
    /// `http_request_duration_seconds` then have these `le` bounds, the other routes keep theirs.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo, RoutePolicy};
    /// use promenade_core::{Buckets, Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .buckets(Buckets::new(vec![0.05, 0.5])?)
    ///     .route_policy("/poll", RoutePolicy::new().buckets(Buckets::new(vec![10.0, 60.0])?))
    ///     .build()?;
    /// let headers = http::HeaderMap::new();
    /// for route in ["/poll", "/users"] {
    ///     let mut t = metrics.start(&RequestInfo { method: "GET", route: Some(route), path: route, headers: &headers });
    ///     t.response_head(200);
    /// }
    /// let text = registry.encode_to_string(Format::Text)?;
    /// assert!(text.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/poll\",status=\"200\",le=\"60\"} 1\n"));
    /// assert!(text.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/users\",status=\"200\",le=\"0.5\"} 1\n"));
    /// assert!(!text.contains("route=\"/poll\",status=\"200\",le=\"0.5\""));
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    #[must_use]
    pub fn buckets(mut self, buckets: Buckets) -> Self {
        self.buckets = Some(buckets);
        self
    }
}

/// The policies of every configured route, resolved against the builder-wide settings.
#[derive(Debug)]
pub(super) struct RoutePolicies {
    /// Route template, where its duration ends, its buckets.
    routes: Box<[(Box<str>, DurationEnd, Buckets)]>,
    /// Whether any request may need the time of its response head (so the tracker reads the
    /// clock there only when some route, or the default, uses it).
    head_timing: bool,
}

impl RoutePolicies {
    /// Validates the routes (templates, no route given twice) and resolves unset fields.
    pub(super) fn build(
        given: Vec<(String, RoutePolicy)>,
        default_end: DurationEnd,
        default_buckets: &Buckets,
    ) -> Result<Self> {
        let mut routes: Vec<(Box<str>, DurationEnd, Buckets)> = Vec::with_capacity(given.len());
        for (route, policy) in given {
            check_route_template("route_policy", &route)?;
            if routes.iter().any(|(r, _, _)| **r == *route) {
                return Err(Error::InvalidConfig(format!(
                    "route_policy(\"{route}\", ..) is given twice; put everything for one \
                     route in one RoutePolicy"
                )));
            }
            routes.push((
                route.into_boxed_str(),
                policy.duration_end.unwrap_or(default_end),
                policy.buckets.unwrap_or_else(|| default_buckets.clone()),
            ));
        }
        let head_timing = default_end == DurationEnd::Head
            || routes.iter().any(|(_, end, _)| *end == DurationEnd::Head);
        Ok(Self {
            routes: routes.into_boxed_slice(),
            head_timing,
        })
    }

    pub(super) fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    pub(super) fn head_timing(&self) -> bool {
        self.head_timing
    }

    /// The policy of `route` (its label value), if it has one.
    pub(super) fn get(&self, route: &str) -> Option<(DurationEnd, &Buckets)> {
        self.routes
            .iter()
            .find(|(r, _, _)| **r == *route)
            .map(|(_, end, buckets)| (*end, buckets))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_and_validates() {
        let default = Buckets::default();
        let p = RoutePolicies::build(
            vec![
                ("/a".into(), RoutePolicy::new()),
                (
                    "/b".into(),
                    RoutePolicy::new().duration_end(DurationEnd::Head),
                ),
            ],
            DurationEnd::Body,
            &default,
        )
        .unwrap();
        assert!(p.head_timing());
        assert_eq!(p.get("/a").map(|x| x.0), Some(DurationEnd::Body));
        assert_eq!(p.get("/b").map(|x| x.0), Some(DurationEnd::Head));
        assert!(p.get("/c").is_none());

        let twice = RoutePolicies::build(
            vec![
                ("/a".into(), RoutePolicy::new()),
                ("/a".into(), RoutePolicy::new()),
            ],
            DurationEnd::Body,
            &default,
        )
        .unwrap_err()
        .to_string();
        assert!(
            twice.contains("route_policy(\"/a\", ..) is given twice"),
            "{twice}"
        );
        let bad = RoutePolicies::build(
            vec![("events".into(), RoutePolicy::new())],
            DurationEnd::Body,
            &default,
        )
        .unwrap_err()
        .to_string();
        assert!(bad.contains("route_policy(\"events\")"), "{bad}");
        let none = RoutePolicies::build(vec![], DurationEnd::Body, &default).unwrap();
        assert!(none.is_empty() && !none.head_timing());
    }
}

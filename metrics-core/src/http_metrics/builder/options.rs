//! The builder's general options: names, buckets, methods, statuses, sizes, where a
//! duration ends, constant and derived labels, the series cap and in-flight by route.

use std::sync::Arc;

use super::HttpMetricsBuilder;
use crate::exponential_buckets;
use crate::http_metrics::RequestInfo;
use crate::metric::Buckets;

/// Which metric names and label names to expose.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, Naming, RequestInfo};
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry).naming(Naming::Both).build().unwrap();
/// let headers = http::HeaderMap::new();
/// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
/// tracker.response_head(200);
/// drop(tracker);
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// // During a migration both names are exposed, from the same storage.
/// assert!(text.contains("http_request_duration_seconds_count{method=\"GET\",route=\"/\",status=\"200\"} 1\n"));
/// assert!(text.contains("http_server_request_duration_seconds_count{http_request_method=\"GET\",http_route=\"/\",http_response_status_code=\"200\"} 1\n"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Naming {
    /// `http_requests_total`, `http_request_duration_seconds`, `http_requests_in_flight`
    /// with labels `method`, `route`, `status`.
    #[default]
    Prometheus,
    /// OpenTelemetry semantic conventions as Prometheus names:
    /// `http_server_request_duration_seconds`, `http_server_active_requests` with labels
    /// `http_request_method`, `http_route`, `http_response_status_code`.
    OpenTelemetry,
    /// Both sets at once, for a migration; the series share their storage.
    Both,
}

/// Where a request's duration ends.
///
/// ```
/// use promenade_core::http_metrics::{DurationEnd, HttpMetrics};
/// assert_eq!(DurationEnd::default(), DurationEnd::Body);
/// // Streaming endpoints often measure time to first byte instead.
/// let metrics = HttpMetrics::builder(&promenade_core::Registry::new())
///     .duration_end(DurationEnd::Head)
///     .build();
/// assert!(metrics.is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DurationEnd {
    /// When the response body has been sent completely or dropped (streaming included).
    #[default]
    Body,
    /// When the response head is ready.
    Head,
    /// Not at all: the request is counted in `http_requests_total` but adds no duration
    /// sample (for WebSocket upgrades, whose "duration" is the life of the socket). With
    /// [`Naming::OpenTelemetry`] alone, which has no request counter (its count is the
    /// histogram's), such requests are not visible.
    NotRecorded,
}

impl HttpMetricsBuilder {
    /// Duration buckets (default: the Prometheus defaults).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Buckets, Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .buckets(Buckets::new(vec![0.1, 1.0]).unwrap())
    ///     .build()
    ///     .unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// tracker.response_head(200);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/\",status=\"200\",le=\"1\"} 1\n"));
    /// assert!(!text.contains("le=\"0.005\"")); // the default buckets are gone
    /// ```
    #[must_use]
    pub fn buckets(mut self, buckets: Buckets) -> Self {
        // Builder order must not matter: native buckets set before are kept.
        self.buckets = match self.buckets.native() {
            Some(native) if buckets.native().is_none() => buckets.with_native(native.clone()),
            _ => buckets,
        };
        self
    }

    /// Adds native (sparse, exponential) buckets to the duration histogram, next to the
    /// classic ones: Prometheus scraping protobuf with native histograms enabled gets
    /// high-resolution latency at a fixed small cost; text scrapers still see the classic buckets.
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let m = promenade_core::http_metrics::HttpMetrics::builder(&registry)
    ///     .native_histograms(promenade_core::NativeBuckets::default())
    ///     .build()
    ///     .unwrap();
    /// ```
    #[must_use]
    pub fn native_histograms(mut self, native: crate::NativeBuckets) -> Self {
        self.buckets = self.buckets.with_native(native);
        self
    }

    /// Metric naming preset.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, Naming, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).naming(Naming::OpenTelemetry).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// tracker.response_head(200);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_server_request_duration_seconds_count{http_request_method=\"GET\",http_route=\"/\",http_response_status_code=\"200\"} 1\n"));
    /// assert!(!text.contains("http_requests_total"));
    /// ```
    #[must_use]
    pub fn naming(mut self, naming: Naming) -> Self {
        self.naming = naming;
        self
    }

    /// Methods kept by name in addition to
    /// [`KNOWN_METHODS`](crate::http_metrics::KNOWN_METHODS) (e.g. WebDAV's `PROPFIND`).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).extra_methods(&["PURGE"]).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// for method in ["PURGE", "BREW"] {
    ///     let mut tracker = metrics.start(&RequestInfo { method, route: Some("/cache"), path: "/cache", headers: &headers });
    ///     tracker.response_head(200);
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_total{method=\"PURGE\",route=\"/cache\",status=\"200\"} 1\n"));
    /// assert!(text.contains("http_requests_total{method=\"_OTHER\",route=\"/cache\",status=\"200\"} 1\n"));
    /// ```
    #[must_use]
    pub fn extra_methods<S: AsRef<str>>(mut self, methods: &[S]) -> Self {
        self.extra_methods
            .extend(methods.iter().map(|m| m.as_ref().to_owned()));
        self
    }

    /// Groups status codes into classes (`2xx`, `4xx`, …) instead of exact codes.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).status_classes(true).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// for status in [404, 410] {
    ///     let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    ///     tracker.response_head(status);
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/\",status=\"4xx\"} 2\n"));
    /// ```
    #[must_use]
    pub fn status_classes(mut self, on: bool) -> Self {
        self.status_classes = on;
        self
    }

    /// Adds `http_request_size_bytes` and `http_response_size_bytes` histograms (bytes;
    /// buckets 64 B … 16 MiB). The same in every adapter: the request size is the length the
    /// request declares (`Content-Length`; 0 without one, as for a chunked upload or no body),
    /// the response size is the bytes the response body actually produced (streamed bodies
    /// included; what was sent before a client went away). Off by default.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).body_sizes(true).build().unwrap();
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("content-length", "100".parse().unwrap());
    /// let mut tracker = metrics.start(&RequestInfo { method: "POST", route: Some("/upload"), path: "/upload", headers: &headers });
    /// tracker.response_head(201);
    /// tracker.add_response_bytes(5000);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_request_size_bytes_bucket{method=\"POST\",route=\"/upload\",status=\"201\",le=\"256\"} 1\n"));
    /// assert!(text.contains("http_response_size_bytes_sum{method=\"POST\",route=\"/upload\",status=\"201\"} 5000\n"));
    /// ```
    #[must_use]
    pub fn body_sizes(mut self, on: bool) -> Self {
        self.body_sizes = on.then(|| {
            exponential_buckets(64.0, 4.0, 10)
                .and_then(Buckets::new)
                .unwrap_or_default()
        });
        self
    }

    /// Where the duration ends (default: end of body).
    ///
    /// ```
    /// use promenade_core::http_metrics::{DurationEnd, HttpMetrics, RequestInfo};
    /// use promenade_core::{Buckets, Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .duration_end(DurationEnd::Head)
    ///     .buckets(Buckets::new(vec![0.1]).unwrap())
    ///     .build()
    ///     .unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/stream"), path: "/stream", headers: &headers });
    /// tracker.response_head(200); // the duration ends here ...
    /// std::thread::sleep(std::time::Duration::from_millis(150)); // ... not after the slow body
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_request_duration_seconds_bucket{method=\"GET\",route=\"/stream\",status=\"200\",le=\"0.1\"} 1\n"));
    /// ```
    #[must_use]
    pub fn duration_end(mut self, end: DurationEnd) -> Self {
        self.duration_end = end;
        self
    }

    /// A constant label on every HTTP series.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).const_label("service", "checkout").build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// tracker.response_head(200);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_total{service=\"checkout\",method=\"GET\",route=\"/\",status=\"200\"} 1\n"));
    /// assert!(text.contains("http_requests_in_flight{service=\"checkout\",method=\"GET\"} 0\n"));
    /// ```
    #[must_use]
    pub fn const_label(mut self, name: &str, value: &str) -> Self {
        self.const_labels.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A label computed from each request. Keep its values few: the series cap folds
    /// anything beyond [`HttpMetricsBuilder::max_series`] into an overflow series. For a
    /// header with known values, [`request_header_label`](Self::request_header_label) bounds
    /// it by a declared list, without a `String` per request.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .derived_label("tenant", |req| req.headers.header("x-tenant").unwrap_or("none").to_owned())
    ///     .build()
    ///     .unwrap();
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-tenant", "acme".parse().unwrap());
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// tracker.response_head(200);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/\",status=\"200\",tenant=\"acme\"} 1\n"));
    /// ```
    #[must_use]
    pub fn derived_label<F>(mut self, name: &str, f: F) -> Self
    where
        F: Fn(&RequestInfo<'_>) -> String + Send + Sync + 'static,
    {
        self.derived_labels.push((name.to_owned(), Arc::new(f)));
        self
    }

    /// Cap on request series (default [`DEFAULT_MAX_SERIES`](super::DEFAULT_MAX_SERIES)).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).max_series(1).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// for route in ["/a", "/b"] {
    ///     let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some(route), path: route, headers: &headers });
    ///     tracker.response_head(200);
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/a\",status=\"200\"} 1\n"));
    /// // Past the cap, requests are folded into one overflow series.
    /// assert!(text.contains("http_requests_total{method=\"__overflow__\",route=\"__overflow__\",status=\"__overflow__\"} 1\n"));
    /// ```
    #[must_use]
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max;
        self
    }

    /// Labels `http_requests_in_flight` by `method` and `route` instead of `method` only
    /// (default: `false`).
    ///
    /// By default in-flight is labelled by method only, as OpenTelemetry's
    /// `http.server.active_requests` (the route is unknown when a request starts) and Go's
    /// `InstrumentHandlerInFlight` (no labels) do. With this option the route must be known
    /// when the request starts, which costs per adapter:
    ///
    /// | adapter | cost of `in_flight_by_route(true)` |
    /// |---|---|
    /// | promenade-tower (axum) | none: `Router::layer` runs after routing, `MatchedPath` is already known |
    /// | promenade-actix | a second path match before routing (`HttpRequest::match_pattern`), about 0.6 µs per request on a small app, more with many routes |
    /// | your own adapter | whatever finding the route before calling the handler costs |
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).in_flight_by_route(true).build().unwrap();
    /// assert!(metrics.in_flight_by_route());
    /// let headers = http::HeaderMap::new();
    /// let tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/users/{id}"), path: "/users/7", headers: &headers });
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_in_flight{method=\"GET\",route=\"/users/{id}\"} 1\n"));
    /// # drop(tracker);
    /// ```
    #[must_use]
    pub fn in_flight_by_route(mut self, on: bool) -> Self {
        self.in_flight_by_route = on;
        self
    }
}

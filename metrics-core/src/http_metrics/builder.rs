//! Configuration of the HTTP instrumentation: [`HttpMetricsBuilder`] and its options, and
//! the [`HttpMetrics`] handle it builds (the families it registers, the collector that
//! exposes them). Recording lives in the tracker, exposition in the collector.

use std::fmt;
use std::sync::Arc;

use super::collector::{HttpCollector, OTEL_NAMES};
use super::exclusion::{ExclusionSpec, Exclusions};
use super::policy::{KNOWN_METHODS, method_label};
use super::request::{LabelFn, RequestInfo};
use super::route_policy::{RoutePolicies, RoutePolicy};
use super::series::{MethodSlot, RequestSeries, RequestSeriesOptions, RouteEntry};
use crate::app_labels::{AppLabelDecl, AppLabels, LabelValues, Side, Source, extension_fn};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::labels::render_labels;
use crate::metric::{Buckets, Gauge};
use crate::name::check_label_names;
use crate::{Registry, exponential_buckets};

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

/// Configures [`HttpMetrics`]; see [`HttpMetrics::builder`].
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, Naming};
/// use promenade_core::Registry;
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry)
///     .naming(Naming::Prometheus)
///     .status_classes(true)
///     .exclude_path("/healthz")
///     .const_label("service", "checkout")
///     .build()
///     .unwrap();
/// assert!(metrics.is_excluded("/healthz"));
/// ```
pub struct HttpMetricsBuilder {
    registry: Registry,
    buckets: Buckets,
    naming: Naming,
    extra_methods: Vec<String>,
    status_classes: bool,
    body_sizes: Option<Buckets>,
    duration_end: DurationEnd,
    excluded_paths: Vec<String>,
    const_labels: Vec<(String, String)>,
    derived_labels: Vec<(String, LabelFn)>,
    max_series: usize,
    in_flight_by_route: bool,
    // Exclusions beyond exact paths, and per-route policies (exclusion.rs, route_policy.rs).
    exclusions: ExclusionSpec,
    route_policies: Vec<(String, RoutePolicy)>,
    /// Labels from the application (`app_labels`), in declaration order.
    app_labels: Vec<AppLabelDecl>,
}

impl fmt::Debug for HttpMetricsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMetricsBuilder")
            .field("naming", &self.naming)
            .field("buckets", &self.buckets)
            .finish_non_exhaustive()
    }
}

/// Default cap on request series, a last line of defence when derived labels misbehave.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, DEFAULT_MAX_SERIES};
/// assert_eq!(DEFAULT_MAX_SERIES, 10_000);
/// // A service with few routes can afford a tighter cap.
/// let metrics = HttpMetrics::builder(&promenade_core::Registry::new())
///     .max_series(DEFAULT_MAX_SERIES / 10)
///     .build();
/// assert!(metrics.is_ok());
/// ```
pub const DEFAULT_MAX_SERIES: usize = 10_000;

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

    /// Methods kept by name in addition to [`KNOWN_METHODS`](super::KNOWN_METHODS) (e.g.
    /// WebDAV's `PROPFIND`).
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

    /// Paths that are not instrumented at all (exact match on the raw path). An empty path,
    /// or one not starting with `/`, is an error at [`build`](Self::build). See also
    /// [`exclude_path_prefix`](Self::exclude_path_prefix) and
    /// [`exclude_route`](Self::exclude_route).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).exclude_path("/healthz").build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// // Adapters check the path before they start tracking.
    /// for path in ["/healthz", "/orders"] {
    ///     if metrics.is_excluded(path) {
    ///         continue;
    ///     }
    ///     let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some(path), path, headers: &headers });
    ///     tracker.response_head(200);
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/orders\",status=\"200\"} 1\n"));
    /// assert!(!text.contains("/healthz"));
    /// ```
    #[must_use]
    pub fn exclude_path(mut self, path: &str) -> Self {
        self.excluded_paths.push(path.to_owned());
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

    /// Cap on request series (default [`DEFAULT_MAX_SERIES`]).
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

    /// Requests whose raw path starts with `prefix` are not recorded (`/static/`, `/assets/`).
    /// Checked before anything else, like [`exclude_path`](Self::exclude_path). The prefix
    /// is matched as given: `"/static/"` leaves `/static` and `/staticky` recorded. An empty
    /// prefix, or one not starting with `/`, is an error at [`build`](Self::build).
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// use promenade_core::Registry;
    /// let metrics = HttpMetrics::builder(&Registry::new()).exclude_path_prefix("/static/").build()?;
    /// assert!(metrics.is_excluded("/static/css/app.css"));
    /// assert!(!metrics.is_excluded("/static"));
    /// // A prefix is a path: it starts with '/'.
    /// let err = HttpMetrics::builder(&Registry::new()).exclude_path_prefix("static/").build().unwrap_err();
    /// assert!(err.to_string().contains("exclude_path_prefix(\"static/\")"));
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    #[must_use]
    pub fn exclude_path_prefix(mut self, prefix: &str) -> Self {
        self.exclusions.prefixes.push(prefix.to_owned());
        self
    }

    /// Requests whose matched route template is `template` (`/health/{probe}`, as the
    /// router wrote it; [`UNMATCHED_ROUTE`](super::UNMATCHED_ROUTE) for requests that matched
    /// no route) are not recorded. Adapters decide before the request starts, so an
    /// excluded request leaves no trace, in-flight included (the actix middleware then
    /// matches the path against the app's routes first, for every request, see
    /// [`HttpMetrics::excludes_by_route`]; where a path or prefix says enough,
    /// [`exclude_path_prefix`](Self::exclude_path_prefix) is cheaper there). A template
    /// that is empty, does not start with
    /// `/` or has unpaired braces is an error at [`build`](Self::build).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).exclude_route("/health/{probe}").build()?;
    /// let headers = http::HeaderMap::new();
    /// for (route, path) in [("/health/{probe}", "/health/live"), ("/orders", "/orders")] {
    ///     // Adapters ask once the route is known, before they start tracking.
    ///     if metrics.is_route_excluded(Some(route)) {
    ///         continue;
    ///     }
    ///     let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some(route), path, headers: &headers });
    ///     tracker.response_head(200);
    /// }
    /// let text = registry.encode_to_string(Format::Text)?;
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/orders\",status=\"200\"} 1\n"));
    /// assert!(!text.contains("/health"));
    /// assert!(HttpMetrics::builder(&Registry::new()).exclude_route("/health/{probe").build().is_err());
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    #[must_use]
    pub fn exclude_route(mut self, template: &str) -> Self {
        self.exclusions.routes.push(template.to_owned());
        self
    }

    /// Allow-list mode: only requests whose matched route template is one given to
    /// `allow_route` are recorded; every other route, and requests that matched no route,
    /// are not (unless [`UNMATCHED_ROUTE`](super::UNMATCHED_ROUTE) is allowed too). Call it
    /// once per route. Decided as early as [`exclude_route`](Self::exclude_route), which
    /// still applies (a route both allowed and excluded is an error at
    /// [`build`](Self::build)); path exclusions apply before either.
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// let metrics = HttpMetrics::builder(&promenade_core::Registry::new())
    ///     .allow_route("/checkout")
    ///     .allow_route("/orders/{id}")
    ///     .build()?;
    /// assert!(!metrics.is_route_excluded(Some("/orders/{id}")));
    /// assert!(metrics.is_route_excluded(Some("/debug/pprof")));
    /// assert!(metrics.is_route_excluded(None));
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    #[must_use]
    pub fn allow_route(mut self, template: &str) -> Self {
        self.exclusions.allowed.push(template.to_owned());
        self
    }

    /// Requests answered with `status` are not recorded: not counted, no duration, no sizes
    /// (for example `499`, clients that went away, or a status a health checker causes).
    /// The status is known only at the response head, so until then the request was in
    /// flight like any other (in-flight goes up and back down; nothing else remains). A
    /// status outside 100..=999 is an error at [`build`](Self::build).
    ///
    /// To drop scanner noise without losing a route's own 404s, see
    /// [`exclude_unmatched_status`](Self::exclude_unmatched_status).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).exclude_status(499).build()?;
    /// let headers = http::HeaderMap::new();
    /// let gone = metrics.start(&RequestInfo { method: "GET", route: Some("/slow"), path: "/slow", headers: &headers });
    /// drop(gone); // no response head: 499
    /// let text = registry.encode_to_string(Format::Text)?;
    /// assert!(!text.contains("http_requests_total{"));
    /// assert!(text.contains("http_requests_in_flight{method=\"GET\"} 0\n"));
    /// assert!(HttpMetrics::builder(&Registry::new()).exclude_status(42).build().is_err());
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    #[must_use]
    pub fn exclude_status(mut self, status: u16) -> Self {
        self.exclusions.statuses.push(status);
        self
    }

    /// Requests that matched no route and were answered with `status` are not recorded:
    /// `exclude_unmatched_status(404)` drops the 404s of scanners probing random paths, and
    /// keeps `GET /users/{id}` → 404 (a real answer of a real route). Same cost and same
    /// in-flight behaviour as [`exclude_status`](Self::exclude_status).
    ///
    /// There is no separate "fold" option: requests that matched no route are already
    /// folded into one `route="unmatched"` series per method and status (never the raw
    /// path), so scanner traffic is bounded with or without this option.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).exclude_unmatched_status(404).build()?;
    /// let headers = http::HeaderMap::new();
    /// for (route, path) in [(None, "/wp-login.php"), (Some("/users/{id}"), "/users/0")] {
    ///     let mut tracker = metrics.start(&RequestInfo { method: "GET", route, path, headers: &headers });
    ///     tracker.response_head(404);
    /// }
    /// let text = registry.encode_to_string(Format::Text)?;
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/users/{id}\",status=\"404\"} 1\n"));
    /// assert!(!text.contains("route=\"unmatched\""));
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    #[must_use]
    pub fn exclude_unmatched_status(mut self, status: u16) -> Self {
        self.exclusions.unmatched_statuses.push(status);
        self
    }

    /// How the requests of one route template are timed: where their duration ends and
    /// which buckets they go into (see [`RoutePolicy`](super::RoutePolicy)). For long-lived
    /// routes (server-sent events, WebSocket upgrades, long polling), so that one streaming
    /// route does not fill the slowest buckets of everyone's latency histogram. The
    /// route's duration series then have their own `le` bounds in the same family. A
    /// template given twice, or not a template, is an error at [`build`](Self::build).
    ///
    /// ```
    /// use promenade_core::http_metrics::{DurationEnd, HttpMetrics, RoutePolicy};
    /// use promenade_core::{Buckets, Registry};
    /// let metrics = HttpMetrics::builder(&Registry::new())
    ///     .route_policy("/events", RoutePolicy::new().duration_end(DurationEnd::Head))
    ///     .route_policy("/ws", RoutePolicy::new().duration_end(DurationEnd::NotRecorded))
    ///     .route_policy("/poll", RoutePolicy::new().buckets(Buckets::new(vec![1.0, 30.0, 60.0])?))
    ///     .build();
    /// assert!(metrics.is_ok());
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    #[must_use]
    pub fn route_policy(mut self, template: &str, policy: RoutePolicy) -> Self {
        self.route_policies.push((template.to_owned(), policy));
        self
    }

    /// A label read from a request header, bounded by `values` (see [`LabelValues`]). No
    /// allocation per request with [`LabelValues::one_of`]; the header is read when the
    /// request reaches the metrics layer.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .request_header_label("client", "x-client", LabelValues::one_of(&["ios", "android", "web"], "other"))
    ///     .build()
    ///     .unwrap();
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-client", "ios".parse().unwrap());
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// tracker.response_head(200);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"http_requests_total{method="GET",route="/",status="200",client="ios"} 1"#));
    /// ```
    #[must_use]
    pub fn request_header_label(self, name: &str, header: &str, values: LabelValues) -> Self {
        self.app_label(
            "request_header_label",
            name,
            Side::Request,
            Source::Header(header.to_ascii_lowercase().into()),
            values,
        )
    }

    /// A label read from the request's extensions: `f` maps the value of type `T` that an
    /// earlier layer inserted (an auth layer's tenant) to the label value, bounded by `values`.
    ///
    /// The extensions are read when the request reaches the metrics layer, in every adapter,
    /// so the layer that inserts `T` must run before it (wrapped outside it: in axum and
    /// actix-web, added after it). A `T` inserted further inside is not seen; copy it into
    /// the response's extensions and use
    /// [`response_extension_label`](Self::response_extension_label) instead. Requests
    /// without a `T` get the absent value. Works with `http::Extensions` (tower, axum,
    /// hyper, tonic) and actix-web's extensions alike (see
    /// [`ExtensionsRef`](super::ExtensionsRef)).
    ///
    /// ```
    /// use promenade_core::http_metrics::{ExtensionsRef, HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    ///
    /// #[derive(Clone)]
    /// struct Tenant { tier: String }
    ///
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .request_extension_label("tier", LabelValues::one_of(&["free", "pro"], "other"), |t: &Tenant| t.tier.as_str())
    ///     .build()
    ///     .unwrap();
    /// let mut request = http::Request::new(());
    /// request.extensions_mut().insert(Tenant { tier: "pro".into() }); // what the auth layer did
    /// // What an adapter does:
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: request.headers() });
    /// tracker.request_extensions(ExtensionsRef::from(request.extensions()));
    /// tracker.response_head(200);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"http_requests_total{method="GET",route="/",status="200",tier="pro"} 1"#));
    /// ```
    #[must_use]
    pub fn request_extension_label<T, F>(self, name: &str, values: LabelValues, f: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> &str + Send + Sync + 'static,
    {
        let source = Source::Extension(extension_fn::<T, F>(f));
        self.app_label(
            "request_extension_label",
            name,
            Side::Request,
            source,
            values,
        )
    }

    /// A label read from a response header (one the handler set, such as a business
    /// outcome), bounded by `values`. Read when the response head is known, so it labels
    /// the request series but not in-flight; a request that ends without a response gets
    /// the absent value.
    ///
    /// ```
    /// use promenade_core::http_metrics::{ExtensionsRef, HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .response_header_label("outcome", "x-outcome", LabelValues::one_of(&["paid", "declined"], "other"))
    ///     .build()
    ///     .unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "POST", route: Some("/pay"), path: "/pay", headers: &headers });
    /// let mut response = http::Response::new(());
    /// response.headers_mut().insert("x-outcome", "declined".parse().unwrap());
    /// tracker.response_head(402);
    /// tracker.response_labels(response.headers(), ExtensionsRef::from(response.extensions()));
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"http_requests_total{method="POST",route="/pay",status="402",outcome="declined"} 1"#));
    /// assert!(text.contains(r#"http_requests_in_flight{method="POST"} 0"#));
    /// ```
    #[must_use]
    pub fn response_header_label(self, name: &str, header: &str, values: LabelValues) -> Self {
        self.app_label(
            "response_header_label",
            name,
            Side::Response,
            Source::Header(header.to_ascii_lowercase().into()),
            values,
        )
    }

    /// A label read from the response's extensions: `f` maps the value of type `T` that the
    /// handler (or a layer inside the metrics layer) inserted to the label value, bounded by
    /// `values`. Read when the response head is known, so it labels the request series but
    /// not in-flight; a response without a `T`, or no response at all, gets the absent value.
    ///
    /// ```
    /// use promenade_core::http_metrics::{ExtensionsRef, HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    ///
    /// #[derive(Clone, Copy)]
    /// enum Outcome { Paid, Declined }
    /// impl Outcome {
    ///     fn as_str(&self) -> &'static str {
    ///         match self { Outcome::Paid => "paid", Outcome::Declined => "declined" }
    ///     }
    /// }
    ///
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .response_extension_label("outcome", LabelValues::one_of(&["paid", "declined"], "other").when_absent("none"), |o: &Outcome| o.as_str())
    ///     .build()
    ///     .unwrap();
    /// let headers = http::HeaderMap::new();
    /// for outcome in [Some(Outcome::Paid), Some(Outcome::Declined), None] {
    ///     let mut tracker = metrics.start(&RequestInfo { method: "POST", route: Some("/pay"), path: "/pay", headers: &headers });
    ///     let mut response = http::Response::new(());
    ///     if let Some(o) = outcome {
    ///         response.extensions_mut().insert(o); // what the handler did
    ///     }
    ///     tracker.response_head(200);
    ///     tracker.response_labels(response.headers(), ExtensionsRef::from(response.extensions()));
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// for outcome in ["paid", "declined", "none"] {
    ///     assert!(text.contains(&format!("status=\"200\",outcome=\"{outcome}\"}} 1")));
    /// }
    /// ```
    #[must_use]
    pub fn response_extension_label<T, F>(self, name: &str, values: LabelValues, f: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> &str + Send + Sync + 'static,
    {
        let source = Source::Extension(extension_fn::<T, F>(f));
        self.app_label(
            "response_extension_label",
            name,
            Side::Response,
            source,
            values,
        )
    }

    /// Records one application label declaration; [`build`](Self::build) checks it.
    fn app_label(
        mut self,
        setter: &'static str,
        name: &str,
        side: Side,
        source: Source,
        values: LabelValues,
    ) -> Self {
        self.app_labels.push(AppLabelDecl {
            name: name.to_owned(),
            side,
            source,
            values,
            setter,
        });
        self
    }

    /// Validates the configuration and registers the metrics in the registry.
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// use promenade_core::{Error, Registry};
    /// let registry = Registry::new();
    /// assert!(HttpMetrics::builder(&registry).const_label("bad-name", "x").build().is_err());
    /// assert!(matches!(HttpMetrics::builder(&registry).max_series(0).build(), Err(Error::InvalidConfig(_))));
    /// let metrics = HttpMetrics::builder(&registry).build().unwrap();
    /// // The names are now taken in this registry.
    /// assert!(matches!(HttpMetrics::builder(&registry).build(), Err(Error::AlreadyRegistered { .. })));
    /// assert!(registry.encode_to_string(promenade_core::Format::Text).unwrap().contains("# TYPE http_requests_total counter"));
    /// # drop(metrics);
    /// ```
    pub fn build(self) -> Result<HttpMetrics> {
        let derived_names: Vec<&str> = self
            .derived_labels
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        let const_names: Vec<&str> = self.const_labels.iter().map(|(n, _)| n.as_str()).collect();
        let mut all: Vec<&str> = vec!["method", "route", "status"];
        all.extend(&derived_names);
        all.extend(&const_names);
        all.extend(OTEL_NAMES);
        check_label_names(&all)?;
        let taken: Vec<(&str, &str)> = ["method", "route", "status"]
            .iter()
            .map(|n| (*n, "a built-in HTTP label"))
            .chain(
                OTEL_NAMES
                    .iter()
                    .map(|n| (*n, "a built-in OpenTelemetry label")),
            )
            .chain(derived_names.iter().map(|n| (*n, "derived_label")))
            .chain(const_names.iter().map(|n| (*n, "const_label")))
            .collect();
        let app = AppLabels::compile(self.app_labels, &taken)?;
        if self.max_series == 0 {
            return Err(Error::InvalidConfig("max_series must be at least 1".into()));
        }
        let exclusions = self.exclusions.build(&self.excluded_paths)?;
        let route_policies =
            RoutePolicies::build(self.route_policies, self.duration_end, &self.buckets)?;
        let mut request_labels = vec!["method", "route", "status"];
        request_labels.extend(&derived_names);
        request_labels.extend(app.names());
        let options = Arc::new(RequestSeriesOptions {
            sizes: self.body_sizes.clone(),
        });
        let requests = Family::<RequestSeries>::builder_with_options("http_requests", "", options)
            .labels(&request_labels)
            .max_series(self.max_series)
            .build()?;
        let routes = Family::<RouteEntry>::builder("http_requests_in_flight", "")
            .labels(&["method", "route"])
            .max_series(self.max_series)
            .build()?;
        // Bounded by the method labels: no cap needed.
        let in_flight = Family::<Gauge>::builder("http_requests_in_flight", "")
            .labels(&["method"])
            .build()?;
        let methods = (0..=KNOWN_METHODS.len() + self.extra_methods.len())
            .map(|_| MethodSlot::default())
            .collect();
        let mut const_rendered = String::new();
        let const_values: Vec<&str> = self.const_labels.iter().map(|(_, v)| v.as_str()).collect();
        render_labels(&mut const_rendered, &const_names, &const_values);
        let inner = Arc::new(Inner {
            naming: self.naming,
            extra_methods: self
                .extra_methods
                .into_iter()
                .map(String::into_boxed_str)
                .collect(),
            status_classes: self.status_classes,
            sizes: self.body_sizes.is_some(),
            duration_end: self.duration_end,
            buckets: self.buckets,
            exclusions,
            route_policies,
            derived_labels: self.derived_labels,
            const_rendered,
            requests,
            routes,
            in_flight,
            methods,
            in_flight_by_route: self.in_flight_by_route,
            app,
        });
        let metrics = HttpMetrics { inner };
        self.registry
            .register(HttpCollector(Arc::clone(&metrics.inner)))?;
        Ok(metrics)
    }
}

/// The built configuration and storage, shared by the handle, every tracker and the
/// collector.
pub(super) struct Inner {
    pub(super) naming: Naming,
    pub(super) extra_methods: Box<[Box<str>]>,
    pub(super) status_classes: bool,
    pub(super) sizes: bool,
    pub(super) duration_end: DurationEnd,
    /// The duration buckets of routes without their own.
    pub(super) buckets: Buckets,
    pub(super) exclusions: Exclusions,
    pub(super) route_policies: RoutePolicies,
    pub(super) derived_labels: Vec<(String, LabelFn)>,
    /// The labels of [`HttpMetricsBuilder::const_label`], rendered once.
    pub(super) const_rendered: String,
    pub(super) requests: Family<RequestSeries>,
    /// Per (method, route): the route's request series, and its in-flight gauge when
    /// in-flight is labelled by route.
    pub(super) routes: Family<RouteEntry>,
    /// Per method: in-flight when it is not labelled by route.
    pub(super) in_flight: Family<Gauge>,
    /// Per method index (see `policy::method_index`).
    pub(super) methods: Box<[MethodSlot]>,
    pub(super) in_flight_by_route: bool,
    /// Labels from the application (`app_labels`), after the derived labels.
    pub(super) app: AppLabels,
}

/// Request counts, durations and (optionally) sizes of HTTP servers, ready for any adapter.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
/// use promenade_core::{Format, Registry};
///
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry).build().unwrap();
/// let headers = http::HeaderMap::new();
/// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/users/{id}"), path: "/users/7", headers: &headers });
/// tracker.response_head(200);
/// drop(tracker); // end of body
///
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains(r#"http_requests_total{method="GET",route="/users/{id}",status="200"} 1"#));
/// assert!(text.contains(r#"http_requests_in_flight{method="GET"} 0"#));
/// ```
#[derive(Clone)]
pub struct HttpMetrics {
    pub(super) inner: Arc<Inner>,
}

impl fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpMetrics")
            .field("naming", &self.inner.naming)
            .finish_non_exhaustive()
    }
}

impl HttpMetrics {
    /// Starts configuring HTTP metrics that will be registered in `registry`.
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).build().unwrap();
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("# HELP http_request_duration_seconds Duration of HTTP requests in seconds.\n"));
    /// # drop(metrics);
    /// ```
    pub fn builder(registry: &Registry) -> HttpMetricsBuilder {
        HttpMetricsBuilder {
            registry: registry.clone(),
            buckets: Buckets::default(),
            naming: Naming::default(),
            extra_methods: Vec::new(),
            status_classes: false,
            body_sizes: None,
            duration_end: DurationEnd::default(),
            excluded_paths: Vec::new(),
            const_labels: Vec::new(),
            derived_labels: Vec::new(),
            max_series: DEFAULT_MAX_SERIES,
            in_flight_by_route: false,
            exclusions: ExclusionSpec::default(),
            route_policies: Vec::new(),
            app_labels: Vec::new(),
        }
    }

    /// The method label for a method as sent: known methods keep their (uppercase) name,
    /// anything else is `_OTHER`.
    ///
    /// ```
    /// let m = promenade_core::http_metrics::HttpMetrics::builder(&promenade_core::Registry::new())
    ///     .extra_methods(&["PROPFIND"]).build().unwrap();
    /// assert_eq!(m.method_label("GET"), "GET");
    /// assert_eq!(m.method_label("PROPFIND"), "PROPFIND");
    /// assert_eq!(m.method_label("get"), "_OTHER");
    /// assert_eq!(m.method_label("BREW"), "_OTHER");
    /// ```
    pub fn method_label<'a>(&'a self, method: &str) -> &'a str {
        method_label(method, &self.inner.extra_methods)
    }

    /// Whether `http_requests_in_flight` is labelled by route (see
    /// [`HttpMetricsBuilder::in_flight_by_route`]): an adapter that learns the route only
    /// after routing must then find it before, and otherwise need not.
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// let metrics = HttpMetrics::builder(&promenade_core::Registry::new()).build().unwrap();
    /// assert!(!metrics.in_flight_by_route());
    /// ```
    pub fn in_flight_by_route(&self) -> bool {
        self.inner.in_flight_by_route
    }

    /// Whether a label is read from the request's extensions
    /// ([`HttpMetricsBuilder::request_extension_label`]): an adapter whose map is costly to
    /// reach passes it to [`RequestTracker::request_extensions`](super::RequestTracker::request_extensions)
    /// only then.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, LabelValues};
    /// let registry = promenade_core::Registry::new();
    /// let plain = HttpMetrics::builder(&registry).build().unwrap();
    /// assert!(!plain.reads_request_extensions());
    /// let registry = promenade_core::Registry::new();
    /// let labelled = HttpMetrics::builder(&registry)
    ///     .request_extension_label("tier", LabelValues::any("none"), |t: &String| t.as_str())
    ///     .build()
    ///     .unwrap();
    /// assert!(labelled.reads_request_extensions());
    /// assert!(!labelled.reads_response());
    /// ```
    pub fn reads_request_extensions(&self) -> bool {
        self.inner.app.reads_request_extensions()
    }

    /// Whether a label is read from the response head
    /// ([`HttpMetricsBuilder::response_header_label`],
    /// [`HttpMetricsBuilder::response_extension_label`]): an adapter whose response headers
    /// or extensions are costly to reach passes them to
    /// [`RequestTracker::response_labels`](super::RequestTracker::response_labels) only then.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, LabelValues};
    /// let registry = promenade_core::Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .response_header_label("cache", "x-cache", LabelValues::one_of(&["hit", "miss"], "other"))
    ///     .build()
    ///     .unwrap();
    /// assert!(metrics.reads_response());
    /// ```
    pub fn reads_response(&self) -> bool {
        self.inner.app.reads_response()
    }
}

//! The HTTP server instrumentation shared by the tower and actix-web adapters: metric names,
//! label policy, method/route/status normalisation and the in-flight drop guard live here
//! once, so every adapter exposes the same series (one dashboard serves them all).

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::encoding::{FamilyHeader, LabelSet, MetricEncoder};
use crate::error::{Error, Result};
use crate::family::{Family, Series};
use crate::labels::{rename_rendered_labels, render_labels};
use crate::metric::{Buckets, Gauge, Histogram, Metric, MetricType};
use crate::name::check_label_names;
use crate::registry::{Collector, Descriptor};
use crate::trace::{TraceId, observe_with_trace};
use crate::{Registry, exponential_buckets};

/// Route label value for requests that matched no route.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, RequestInfo, UNMATCHED_ROUTE};
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry).build().unwrap();
/// let headers = http::HeaderMap::new();
/// // A scanner probing random paths: no route matched, so the raw path is not used.
/// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: None, path: "/wp-login.php", headers: &headers });
/// tracker.response_head(404);
/// drop(tracker);
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains(&format!("http_requests_total{{method=\"GET\",route=\"{UNMATCHED_ROUTE}\",status=\"404\"}} 1")));
/// assert!(!text.contains("wp-login"));
/// ```
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// Method label value for methods outside the known list.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, OTHER_METHOD};
/// let metrics = HttpMetrics::builder(&promenade_core::Registry::new()).build().unwrap();
/// assert_eq!(metrics.method_label("BREW"), OTHER_METHOD);
/// assert_eq!(OTHER_METHOD, "_OTHER");
/// ```
pub const OTHER_METHOD: &str = "_OTHER";
/// Status label value for requests dropped before a response existed (client went away,
/// future cancelled), as nginx logs it.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, RequestInfo, CLIENT_CLOSED_STATUS};
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry).build().unwrap();
/// let headers = http::HeaderMap::new();
/// let tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/slow"), path: "/slow", headers: &headers });
/// drop(tracker); // the client went away before a response head existed
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains(&format!("http_requests_total{{method=\"GET\",route=\"/slow\",status=\"{CLIENT_CLOSED_STATUS}\"}} 1")));
/// ```
pub const CLIENT_CLOSED_STATUS: u16 = 499;

/// The HTTP methods kept by name (OpenTelemetry's list); anything else becomes `_OTHER`.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, KNOWN_METHODS};
/// let metrics = HttpMetrics::builder(&promenade_core::Registry::new()).build().unwrap();
/// for method in KNOWN_METHODS {
///     assert_eq!(metrics.method_label(method), method);
/// }
/// assert!(!KNOWN_METHODS.contains(&"PROPFIND"));
/// ```
pub const KNOWN_METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

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
}

/// Case-sensitive header lookup, so the core does not depend on one framework's header map.
///
/// ```
/// use promenade_core::http_metrics::{HeaderLookup, HttpMetrics, RequestInfo};
/// use promenade_core::{Format, Registry};
///
/// /// Headers as some other framework hands them over.
/// struct PairHeaders(Vec<(String, String)>);
/// impl HeaderLookup for PairHeaders {
///     fn header(&self, name: &str) -> Option<&str> {
///         self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
///     }
/// }
///
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry).build().unwrap();
/// let headers = PairHeaders(vec![(
///     "traceparent".into(),
///     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
/// )]);
/// assert_eq!(headers.header("traceparent").map(str::len), Some(55));
/// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
/// tracker.response_head(200);
/// drop(tracker);
/// // A sampled trace becomes an exemplar on the duration histogram (OpenMetrics).
/// let om = registry.encode_to_string(Format::OpenMetrics).unwrap();
/// assert!(om.contains("# {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"}"));
/// ```
pub trait HeaderLookup {
    /// The first value of header `name` (lowercase), if present and valid UTF-8.
    fn header(&self, name: &str) -> Option<&str>;
}

impl HeaderLookup for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What an adapter knows about a request when it starts.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry).build().unwrap();
/// let headers = http::HeaderMap::new();
/// let info = RequestInfo { method: "DELETE", route: Some("/users/{id}"), path: "/users/42", headers: &headers };
/// let mut tracker = metrics.start(&info);
/// tracker.response_head(204);
/// drop(tracker);
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// // The route template is the label, never the raw path.
/// assert!(text.contains("http_requests_total{method=\"DELETE\",route=\"/users/{id}\",status=\"204\"} 1\n"));
/// assert!(!text.contains("/users/42"));
/// ```
pub struct RequestInfo<'a> {
    /// The method as sent.
    pub method: &'a str,
    /// The matched route template (`/users/{id}`), or `None` when nothing matched.
    pub route: Option<&'a str>,
    /// The raw path, used only for exclusions and derived labels, never as a label itself.
    pub path: &'a str,
    /// Request headers.
    pub headers: &'a dyn HeaderLookup,
}

impl fmt::Debug for RequestInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestInfo")
            .field("method", &self.method)
            .field("route", &self.route)
            .field("path", &self.path)
            .finish()
    }
}

type LabelFn = Arc<dyn Fn(&RequestInfo<'_>) -> String + Send + Sync>;

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
    pub fn buckets(mut self, buckets: Buckets) -> Self {
        self.buckets = buckets;
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
    pub fn naming(mut self, naming: Naming) -> Self {
        self.naming = naming;
        self
    }

    /// Methods kept by name in addition to [`KNOWN_METHODS`] (e.g. WebDAV's `PROPFIND`).
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
    pub fn status_classes(mut self, on: bool) -> Self {
        self.status_classes = on;
        self
    }

    /// Adds request and response body size histograms (bytes; default buckets 64 B … 16 MiB).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).body_sizes(true).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "POST", route: Some("/upload"), path: "/upload", headers: &headers });
    /// tracker.add_request_bytes(100);
    /// tracker.response_head(201);
    /// tracker.add_response_bytes(5000);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_request_size_bytes_bucket{method=\"POST\",route=\"/upload\",status=\"201\",le=\"256\"} 1\n"));
    /// assert!(text.contains("http_response_size_bytes_sum{method=\"POST\",route=\"/upload\",status=\"201\"} 5000\n"));
    /// ```
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
    pub fn duration_end(mut self, end: DurationEnd) -> Self {
        self.duration_end = end;
        self
    }

    /// Paths that are not instrumented at all (exact match on the raw path).
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
    /// assert!(text.contains("http_requests_in_flight{service=\"checkout\",method=\"GET\",route=\"/\"} 0\n"));
    /// ```
    pub fn const_label(mut self, name: &str, value: &str) -> Self {
        self.const_labels.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A label computed from each request. Keep its values few: the series cap folds
    /// anything beyond [`HttpMetricsBuilder::max_series`] into an overflow series.
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
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max;
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
        all.extend([
            "http_request_method",
            "http_route",
            "http_response_status_code",
        ]);
        check_label_names(&all)?;
        if self.max_series == 0 {
            return Err(Error::InvalidConfig("max_series must be at least 1".into()));
        }
        let mut request_labels = vec!["method", "route", "status"];
        request_labels.extend(&derived_names);
        let options = Arc::new(RequestSeriesOptions {
            duration: self.buckets.clone(),
            sizes: self.body_sizes.clone(),
        });
        let requests = Family::<RequestSeries>::builder_with_options("http_requests", "", options)
            .labels(&request_labels)
            .max_series(self.max_series)
            .build()?;
        let in_flight = Family::<InFlight>::builder("http_requests_in_flight", "")
            .labels(&["method", "route"])
            .max_series(self.max_series)
            .build()?;
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
            excluded_paths: self.excluded_paths,
            derived_labels: self.derived_labels,
            const_rendered,
            requests,
            in_flight,
        });
        let metrics = HttpMetrics { inner };
        self.registry
            .register(HttpCollector(Arc::clone(&metrics.inner)))?;
        Ok(metrics)
    }
}

struct Inner {
    naming: Naming,
    extra_methods: Box<[Box<str>]>,
    status_classes: bool,
    sizes: bool,
    duration_end: DurationEnd,
    excluded_paths: Vec<String>,
    derived_labels: Vec<(String, LabelFn)>,
    const_rendered: String,
    requests: Family<RequestSeries>,
    in_flight: Family<InFlight>,
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
/// assert!(text.contains(r#"http_requests_in_flight{method="GET",route="/users/{id}"} 0"#));
/// ```
#[derive(Clone)]
pub struct HttpMetrics {
    inner: Arc<Inner>,
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
        }
    }

    /// Whether requests to `path` are left uninstrumented.
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// let metrics = HttpMetrics::builder(&promenade_core::Registry::new())
    ///     .exclude_path("/metrics")
    ///     .build()
    ///     .unwrap();
    /// assert!(metrics.is_excluded("/metrics"));
    /// assert!(!metrics.is_excluded("/metrics/")); // exact match only
    /// ```
    pub fn is_excluded(&self, path: &str) -> bool {
        self.inner.excluded_paths.iter().any(|p| p == path)
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
        if let Some(m) = KNOWN_METHODS.iter().find(|m| **m == method) {
            return m;
        }
        self.inner
            .extra_methods
            .iter()
            .find(|m| &***m == method)
            .map_or(OTHER_METHOD, |m| m)
    }

    /// Starts tracking a request: increments in-flight now; everything else is recorded when
    /// the tracker is dropped (after [`RequestTracker::response_head`], or as `499` without it).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_in_flight{method=\"GET\",route=\"/\"} 1\n"));
    /// assert!(!text.contains("http_requests_total{")); // not counted until it ends
    /// tracker.response_head(200);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_in_flight{method=\"GET\",route=\"/\"} 0\n"));
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 1\n"));
    /// ```
    pub fn start(&self, info: &RequestInfo<'_>) -> RequestTracker {
        let method = self.method_label(info.method);
        let route = info.route.unwrap_or(UNMATCHED_ROUTE);
        // A wrong label count is impossible here (fixed by construction); fall back to a
        // detached gauge rather than panic.
        let in_flight = self.inner.in_flight.series(&[method, route]).ok();
        if let Some(g) = &in_flight {
            g.gauge.inc();
        }
        let derived = self
            .inner
            .derived_labels
            .iter()
            .map(|(_, f)| f(info))
            .collect();
        RequestTracker {
            inner: Arc::clone(&self.inner),
            in_flight,
            derived,
            trace_id: TraceId::for_exemplar(info.headers.header("traceparent")),
            start: Instant::now(),
            status: None,
            head_seconds: None,
            request_bytes: 0,
            response_bytes: 0,
        }
    }
}

/// One request in progress. Dropping it records the request exactly once and decrements
/// in-flight, on every path: normal end, error, panic unwinding, cancellation.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry).build().unwrap();
/// let headers = http::HeaderMap::new();
/// let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
///     let _tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/boom"), path: "/boom", headers: &headers });
///     panic!("handler failed");
/// }));
/// assert!(result.is_err());
/// // The unwinding drop recorded the request (as 499: no response head) and left in-flight at 0.
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/boom\",status=\"499\"} 1\n"));
/// assert!(text.contains("http_requests_in_flight{method=\"GET\",route=\"/boom\"} 0\n"));
/// ```
pub struct RequestTracker {
    inner: Arc<Inner>,
    in_flight: Option<Series<InFlight>>,
    derived: Vec<String>,
    trace_id: Option<TraceId>,
    start: Instant,
    status: Option<u16>,
    head_seconds: Option<f64>,
    request_bytes: u64,
    response_bytes: u64,
}

impl fmt::Debug for RequestTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestTracker")
            .field("status", &self.status)
            .field("start", &self.start)
            .finish_non_exhaustive()
    }
}

impl RequestTracker {
    /// The response head is ready with `status`.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// tracker.response_head(503);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/\",status=\"503\"} 1\n"));
    /// ```
    pub fn response_head(&mut self, status: u16) {
        self.status = Some(status);
        if self.inner.duration_end == DurationEnd::Head {
            self.head_seconds = Some(self.start.elapsed().as_secs_f64());
        }
    }

    /// Counts request body bytes read.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).body_sizes(true).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "PUT", route: Some("/f"), path: "/f", headers: &headers });
    /// for chunk in [512, 512, 1000] {
    ///     tracker.add_request_bytes(chunk); // as each body chunk is read
    /// }
    /// tracker.response_head(204);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_request_size_bytes_sum{method=\"PUT\",route=\"/f\",status=\"204\"} 2024\n"));
    /// ```
    pub fn add_request_bytes(&mut self, n: u64) {
        self.request_bytes = self.request_bytes.saturating_add(n);
    }

    /// Counts response body bytes sent.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).body_sizes(true).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/f"), path: "/f", headers: &headers });
    /// tracker.response_head(200);
    /// tracker.add_response_bytes(300);
    /// tracker.add_response_bytes(700);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_response_size_bytes_sum{method=\"GET\",route=\"/f\",status=\"200\"} 1000\n"));
    /// assert!(text.contains("http_response_size_bytes_bucket{method=\"GET\",route=\"/f\",status=\"200\",le=\"1024\"} 1\n"));
    /// ```
    pub fn add_response_bytes(&mut self, n: u64) {
        self.response_bytes = self.response_bytes.saturating_add(n);
    }

    /// The status recorded so far.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// let metrics = HttpMetrics::builder(&promenade_core::Registry::new()).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// assert_eq!(tracker.status(), None);
    /// tracker.response_head(200);
    /// assert_eq!(tracker.status(), Some(200));
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Records the request now (the same as dropping the tracker).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// tracker.response_head(200);
    /// tracker.finish();
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 1\n"));
    /// ```
    pub fn finish(self) {}
}

impl RequestTracker {
    /// Calls `f` with the request series' label values: method, route, status, derived.
    fn with_values<R>(
        &self,
        in_flight: &Series<InFlight>,
        code: u16,
        f: impl FnOnce(&[&str]) -> R,
    ) -> R {
        let method = in_flight.label_value(0);
        let route = in_flight.label_value(1);
        let mut code_buf = [0u8; 5];
        let status = status_label(code, self.inner.status_classes, &mut code_buf);
        if self.derived.is_empty() {
            f(&[&method, &route, status])
        } else {
            let mut values: Vec<&str> = vec![&method, &route, status];
            values.extend(self.derived.iter().map(String::as_str));
            f(&values)
        }
    }
}

impl Drop for RequestTracker {
    fn drop(&mut self) {
        let seconds = self
            .head_seconds
            .unwrap_or_else(|| self.start.elapsed().as_secs_f64());
        let Some(in_flight) = self.in_flight.take() else {
            return;
        };
        in_flight.gauge.dec();
        let code = self.status.unwrap_or(CLIENT_CLOSED_STATUS);
        let classes = self.inner.status_classes;
        // Without derived labels the series depends on (method, route, status) only: the
        // in-flight entry remembers it per common status.
        let slot = if self.derived.is_empty() {
            status_slot(code, classes).and_then(|i| in_flight.ends.get(i))
        } else {
            None
        };
        let cached = slot.and_then(|slot| {
            if slot.get().is_none()
                && let Ok(found) =
                    self.with_values(&in_flight, code, |v| self.inner.requests.series(v))
            {
                // Another request may have filled the slot meanwhile: with the same series.
                let _ = slot.set(found);
            }
            slot.get()
        });
        let looked_up;
        let series = match cached {
            Some(series) => Some(&**series),
            None => {
                looked_up = self
                    .with_values(&in_flight, code, |v| self.inner.requests.get(v))
                    .ok();
                looked_up.as_deref()
            }
        };
        if let Some(series) = series {
            observe_with_trace(&series.duration, seconds, self.trace_id.as_ref());
            if let Some((req, resp)) = &series.sizes {
                req.observe(self.request_bytes as f64);
                resp.observe(self.response_bytes as f64);
            }
        }
    }
}

/// `"200"`, or `"2xx"` with classes; no allocation.
fn status_label(code: u16, classes: bool, buf: &mut [u8; 5]) -> &str {
    if classes {
        return match code / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            5 => "5xx",
            _ => "other",
        };
    }
    let mut n = code;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

/// Statuses whose request series an in-flight entry remembers (one slot each); status
/// classes use the first five slots. Other statuses are looked up every time.
const STATUS_SLOTS: usize = 24;

/// The slot of `code` among [`STATUS_SLOTS`], if it has one.
fn status_slot(code: u16, classes: bool) -> Option<usize> {
    if classes {
        return match code / 100 {
            c @ 1..=5 => Some(usize::from(c - 1)),
            _ => None,
        };
    }
    Some(match code {
        200 => 0,
        201 => 1,
        202 => 2,
        204 => 3,
        206 => 4,
        301 => 5,
        302 => 6,
        303 => 7,
        304 => 8,
        307 => 9,
        308 => 10,
        400 => 11,
        401 => 12,
        403 => 13,
        404 => 14,
        405 => 15,
        409 => 16,
        422 => 17,
        429 => 18,
        499 => 19,
        500 => 20,
        502 => 21,
        503 => 22,
        504 => 23,
        _ => return None,
    })
}

/// The in-flight gauge of one (method, route), and the request series its requests end in,
/// per common status, found on first use: ending a request then needs neither hashing nor
/// label parsing. (HTTP series are never removed, so a remembered series stays the right one.)
struct InFlight {
    gauge: Gauge,
    ends: [OnceLock<Series<RequestSeries>>; STATUS_SLOTS],
}

impl Metric for InFlight {
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

/// The storage behind one (method, route, status, derived…) series: the duration histogram
/// (whose count is also `http_requests_total`) and the optional size histograms.
struct RequestSeries {
    duration: Histogram,
    sizes: Option<(Histogram, Histogram)>,
}

struct RequestSeriesOptions {
    duration: Buckets,
    sizes: Option<Buckets>,
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

struct HttpCollector(Arc<Inner>);

#[derive(Clone, Copy)]
enum View {
    Prometheus,
    OpenTelemetry,
}

const OTEL_NAMES: [&str; 3] = [
    "http_request_method",
    "http_route",
    "http_response_status_code",
];

impl HttpCollector {
    fn views(&self) -> &'static [View] {
        match self.0.naming {
            Naming::Prometheus => &[View::Prometheus],
            Naming::OpenTelemetry => &[View::OpenTelemetry],
            Naming::Both => &[View::Prometheus, View::OpenTelemetry],
        }
    }

    fn families(
        &self,
        view: View,
    ) -> Vec<(
        &'static str,
        &'static str,
        MetricType,
        Option<&'static str>,
        Part,
    )> {
        let mut v = match view {
            View::Prometheus => vec![
                (
                    "http_requests",
                    "Total number of HTTP requests completed.",
                    MetricType::Counter,
                    None,
                    Part::Count,
                ),
                (
                    "http_request_duration_seconds",
                    "Duration of HTTP requests in seconds.",
                    MetricType::Histogram,
                    Some("seconds"),
                    Part::Duration,
                ),
                (
                    "http_requests_in_flight",
                    "Number of HTTP requests currently being served.",
                    MetricType::Gauge,
                    None,
                    Part::InFlight,
                ),
            ],
            View::OpenTelemetry => vec![
                (
                    "http_server_request_duration_seconds",
                    "Duration of HTTP server requests.",
                    MetricType::Histogram,
                    Some("seconds"),
                    Part::Duration,
                ),
                (
                    "http_server_active_requests",
                    "Number of active HTTP server requests.",
                    MetricType::Gauge,
                    None,
                    Part::InFlight,
                ),
            ],
        };
        if self.0.sizes {
            match view {
                View::Prometheus => {
                    v.push((
                        "http_request_size_bytes",
                        "Size of HTTP request bodies in bytes.",
                        MetricType::Histogram,
                        Some("bytes"),
                        Part::RequestSize,
                    ));
                    v.push((
                        "http_response_size_bytes",
                        "Size of HTTP response bodies in bytes.",
                        MetricType::Histogram,
                        Some("bytes"),
                        Part::ResponseSize,
                    ));
                }
                View::OpenTelemetry => {
                    v.push((
                        "http_server_request_body_size_bytes",
                        "Size of HTTP server request bodies.",
                        MetricType::Histogram,
                        Some("bytes"),
                        Part::RequestSize,
                    ));
                    v.push((
                        "http_server_response_body_size_bytes",
                        "Size of HTTP server response bodies.",
                        MetricType::Histogram,
                        Some("bytes"),
                        Part::ResponseSize,
                    ));
                }
            }
        }
        v
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Count,
    Duration,
    InFlight,
    RequestSize,
    ResponseSize,
}

/// Writes `const,labels` into `out`, renaming the first label names for the OpenTelemetry view.
fn view_labels(out: &mut String, const_rendered: &str, rendered: &str, view: View) {
    out.clear();
    out.push_str(const_rendered);
    if !const_rendered.is_empty() && !rendered.is_empty() {
        out.push(',');
    }
    match view {
        View::Prometheus => out.push_str(rendered),
        View::OpenTelemetry => rename_rendered_labels(out, rendered, &OTEL_NAMES),
    }
}

impl Collector for HttpCollector {
    fn series_unique_by_construction(&self) -> bool {
        true
    }

    fn descriptors(&self) -> Vec<Descriptor> {
        let derived: Vec<&str> = self
            .0
            .derived_labels
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        let mut out = Vec::new();
        for view in self.views() {
            let base: &[&str] = match view {
                View::Prometheus => &["method", "route", "status"],
                View::OpenTelemetry => &OTEL_NAMES,
            };
            for (name, help, ty, unit, part) in self.families(*view) {
                let mut labels: Vec<&str> = if part == Part::InFlight {
                    base[..2].to_vec()
                } else {
                    base.to_vec()
                };
                if part != Part::InFlight {
                    labels.extend(&derived);
                }
                let mut d = Descriptor::new(name, help, ty, &labels);
                d.unit = unit.map(str::to_owned);
                out.push(d);
            }
        }
        out
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        let inner = &self.0;
        let mut scratch = String::new();
        for view in self.views() {
            for (name, help, ty, unit, part) in self.families(*view) {
                enc.family(&FamilyHeader {
                    name,
                    help,
                    unit,
                    metric_type: ty,
                });
                if part == Part::InFlight {
                    inner.in_flight.for_each_series(|rendered, in_flight| {
                        view_labels(&mut scratch, &inner.const_rendered, rendered, *view);
                        in_flight.encode(&LabelSet::pre_rendered(&scratch), enc);
                    });
                    continue;
                }
                inner.requests.for_each_series(|rendered, series| {
                    view_labels(&mut scratch, &inner.const_rendered, rendered, *view);
                    let labels = LabelSet::pre_rendered(&scratch);
                    match part {
                        Part::Count => {
                            let s = series.duration.snapshot_count();
                            enc.counter(&labels, s as f64, None);
                        }
                        Part::Duration => series.duration.encode(&labels, enc),
                        Part::RequestSize => {
                            if let Some((req, _)) = &series.sizes {
                                req.encode(&labels, enc);
                            }
                        }
                        Part::ResponseSize => {
                            if let Some((_, resp)) = &series.sizes {
                                resp.encode(&labels, enc);
                            }
                        }
                        Part::InFlight => {}
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finish(metrics: &HttpMetrics, method: &str, route: &str, status: u16) {
        let headers = http::HeaderMap::new();
        let mut tracker = metrics.start(&RequestInfo {
            method,
            route: Some(route),
            path: route,
            headers: &headers,
        });
        tracker.response_head(status);
    }

    /// The per-(method, route) memory of request series must never put a request in the
    /// wrong series: every status, cached or not, from several threads at once.
    #[test]
    fn remembered_request_series_count_exactly() {
        let registry = Registry::new();
        let metrics = HttpMetrics::builder(&registry).build().unwrap();
        let statuses = [200u16, 404, 500, 418, 200, 599, 499, 204];
        std::thread::scope(|s| {
            for t in 0..4 {
                let metrics = &metrics;
                s.spawn(move || {
                    for i in 0..500 {
                        let route = if (i + t) % 2 == 0 { "/a" } else { "/b/{id}" };
                        finish(metrics, "GET", route, statuses[i % statuses.len()]);
                    }
                });
            }
        });
        let mut expected = std::collections::BTreeMap::new();
        for t in 0..4 {
            for i in 0..500 {
                let route = if (i + t) % 2 == 0 { "/a" } else { "/b/{id}" };
                *expected
                    .entry((route, statuses[i % statuses.len()]))
                    .or_insert(0) += 1;
            }
        }
        let text = registry.encode_to_string(crate::Format::Text).unwrap();
        for ((route, status), n) in expected {
            let line = format!(
                "http_requests_total{{method=\"GET\",route=\"{route}\",status=\"{status}\"}} {n}\n"
            );
            assert!(text.contains(&line), "{line}{text}");
        }
        assert!(text.contains("http_requests_in_flight{method=\"GET\",route=\"/a\"} 0\n"));
    }

    #[test]
    fn remembered_series_respect_status_classes_and_derived_labels() {
        let registry = Registry::new();
        let classes = HttpMetrics::builder(&registry)
            .status_classes(true)
            .build()
            .unwrap();
        for status in [200, 201, 404, 503, 200] {
            finish(&classes, "GET", "/", status);
        }
        let text = registry.encode_to_string(crate::Format::Text).unwrap();
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="/",status="2xx"} 3"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_requests_total{method="GET",route="/",status="4xx"} 1"#),
            "{text}"
        );

        let registry = Registry::new();
        let derived = HttpMetrics::builder(&registry)
            .derived_label("tenant", |req| req.path.trim_start_matches('/').to_owned())
            .build()
            .unwrap();
        let headers = http::HeaderMap::new();
        for path in ["/x", "/y", "/x"] {
            let mut t = derived.start(&RequestInfo {
                method: "GET",
                route: Some("/{t}"),
                path,
                headers: &headers,
            });
            t.response_head(200);
        }
        let text = registry.encode_to_string(crate::Format::Text).unwrap();
        assert!(text.contains(r#"status="200",tenant="x"} 2"#), "{text}");
        assert!(text.contains(r#"status="200",tenant="y"} 1"#), "{text}");
    }

    #[test]
    fn status_labels() {
        let mut b = [0u8; 5];
        assert_eq!(status_label(200, false, &mut b), "200");
        assert_eq!(status_label(7, false, &mut b), "7");
        assert_eq!(status_label(65535, false, &mut b), "65535");
        assert_eq!(status_label(404, true, &mut b), "4xx");
    }

    #[test]
    fn otel_view_renames() {
        let mut out = String::new();
        view_labels(
            &mut out,
            "env=\"p\"",
            r#"method="GET",route="/a\"b",status="200",tenant="t""#,
            View::OpenTelemetry,
        );
        assert_eq!(
            out,
            r#"env="p",http_request_method="GET",http_route="/a\"b",http_response_status_code="200",tenant="t""#
        );
    }
}

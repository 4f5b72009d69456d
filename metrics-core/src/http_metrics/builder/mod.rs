//! Configuration of the HTTP instrumentation: [`HttpMetricsBuilder`] and its options, and
//! the [`HttpMetrics`] handle it builds (the families it registers, the collector that
//! exposes them). Recording lives in the tracker, exposition in the collector.
//!
//! The builder's methods are spread over one `impl` block per concern, so each file reads
//! on its own:
//!
//! - `options`: naming, buckets, methods, statuses, sizes, duration end, constant and
//!   derived labels, the series cap, in-flight by route;
//! - `exclusions`: which requests are not recorded, and per-route timing (the options are
//!   checked in `exclusion.rs` and `route_policy.rs`, next to the code that applies them);
//! - `app_labels`: labels from the application (declared in the shared
//!   [`crate::app_labels`] list, which gRPC uses too);
//! - `build`: checking the options together and registering the families.

use std::fmt;
use std::sync::Arc;

use super::exclusion::{ExclusionSpec, Exclusions};
use super::policy::method_label;
use super::request::LabelFn;
use super::route_policy::{RoutePolicies, RoutePolicy};
use super::series::{MethodSlot, RequestSeries, RouteEntry};
use crate::Registry;
use crate::app_labels::{AppLabelDecls, AppLabels};
use crate::family::Family;
use crate::metric::{Buckets, Gauge};

mod app_labels;
mod build;
mod exclusions;
mod options;

pub use options::{DurationEnd, Naming};

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
    const_labels: Vec<(String, String)>,
    derived_labels: Vec<(String, LabelFn)>,
    max_series: usize,
    in_flight_by_route: bool,
    // Exclusions and per-route policies, checked at build by exclusion.rs and
    // route_policy.rs.
    exclusions: ExclusionSpec,
    route_policies: Vec<(String, RoutePolicy)>,
    /// Labels from the application (`app_labels`), in declaration order.
    app_labels: AppLabelDecls,
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
            const_labels: Vec::new(),
            derived_labels: Vec::new(),
            max_series: DEFAULT_MAX_SERIES,
            in_flight_by_route: false,
            exclusions: ExclusionSpec::default(),
            route_policies: Vec::new(),
            app_labels: AppLabelDecls::default(),
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
    #[inline]
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
    #[inline]
    pub fn reads_response(&self) -> bool {
        self.inner.app.reads_response()
    }
}

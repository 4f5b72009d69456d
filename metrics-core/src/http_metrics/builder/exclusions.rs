//! Which requests are recorded, and how a route is timed: the exclusion setters and
//! [`route_policy`](HttpMetricsBuilder::route_policy). They only record what they are
//! given; `exclusion.rs` and `route_policy.rs` check it at build, next to the code that
//! applies it.

use super::HttpMetricsBuilder;
use crate::http_metrics::RoutePolicy;

impl HttpMetricsBuilder {
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
        self.exclusions.paths.push(path.to_owned());
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
    /// router wrote it; [`UNMATCHED_ROUTE`](crate::http_metrics::UNMATCHED_ROUTE) for
    /// requests that matched no route) are not recorded. Adapters decide before the request
    /// starts, so an excluded request leaves no trace, in-flight included (the actix
    /// middleware then matches the path against the app's routes first, for every request,
    /// see [`HttpMetrics::excludes_by_route`](super::HttpMetrics::excludes_by_route); where a
    /// path or prefix says enough, [`exclude_path_prefix`](Self::exclude_path_prefix) is
    /// cheaper there). A template that is empty, does not start with `/` or has unpaired
    /// braces is an error at [`build`](Self::build).
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
    /// are not (unless [`UNMATCHED_ROUTE`](crate::http_metrics::UNMATCHED_ROUTE) is allowed
    /// too). Call it once per route. Decided as early as
    /// [`exclude_route`](Self::exclude_route), which still applies (a route both allowed and
    /// excluded is an error at [`build`](Self::build)); path exclusions apply before either.
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
    /// which buckets they go into (see [`RoutePolicy`](crate::http_metrics::RoutePolicy)).
    /// For long-lived routes (server-sent events, WebSocket upgrades, long polling), so that one streaming
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
}

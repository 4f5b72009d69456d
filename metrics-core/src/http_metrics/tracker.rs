//! Recording one request: [`HttpMetrics::start`] raises in-flight and hands out a
//! [`RequestTracker`]; the tracker's drop lowers in-flight and records the request once, on
//! every path (normal end, error, panic unwinding, cancellation).
//!
//! The hot path is allocation-free once a route has been seen: in-flight per method is an
//! array slot, the request series are remembered per route and status.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::builder::{DurationEnd, HttpMetrics, Inner};
use super::policy::{
    CLIENT_CLOSED_STATUS, UNMATCHED_ROUTE, method_index, method_name, status_label, status_slot,
};
use super::request::RequestInfo;
use super::route_cache;
use super::series::{RequestSeries, RouteEntry};
use crate::app_labels::HeaderLookup;
use crate::app_labels::{AppValues, ExtensionsRef, with_request_values};
use crate::clock::Instant;
use crate::family::Series;
use crate::metric::{Buckets, Gauge};
use crate::trace::{TraceId, observe_with_trace};
use std::sync::atomic::Ordering;

impl HttpMetrics {
    /// Starts tracking a request: increments in-flight now; everything else is recorded when
    /// the tracker is dropped (after [`RequestTracker::response_head`], or as `499` without it).
    ///
    /// `info.route` is the route the request is recorded under (`None`: unmatched); an
    /// adapter that learns it only after routing passes `None` here and the route later to
    /// [`RequestTracker::set_route`] (unless [`HttpMetrics::in_flight_by_route`], which needs
    /// it now).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_in_flight{method=\"GET\"} 1\n"));
    /// assert!(!text.contains("http_requests_total{")); // not counted until it ends
    /// tracker.response_head(200);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_in_flight{method=\"GET\"} 0\n"));
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/\",status=\"200\"} 1\n"));
    /// ```
    pub fn start(&self, info: &RequestInfo<'_>) -> RequestTracker {
        let inner = &*self.inner;
        let method_idx = method_index(info.method, &inner.extra_methods);
        let method = method_name(method_idx, &inner.extra_methods);
        // Label counts are fixed by construction, so lookups cannot fail; on the impossible
        // error the request is left uncounted rather than panic.
        let route = info.route.and_then(|route| {
            route_cache::route_entry(&self.inner, method_idx, route, || {
                inner.routes.series(&[method, route]).ok()
            })
        });
        // The rare paths (in-flight by route, first use of a method, derived and application
        // labels) are out of line: the common path stays a few cache lines of code, which
        // matters under a framework whose own per-request code fills the instruction cache.
        let derived = if inner.derived_labels.is_empty() {
            Box::default()
        } else {
            derive_labels(inner, info)
        };
        // In-flight is raised last, once the tracker that lowers it exists: the application's
        // code above (derived-label closures, its header lookup) may panic.
        let mut tracker = RequestTracker {
            inner: Arc::clone(&self.inner),
            method: method_idx,
            in_flight_route: None,
            in_flight_method: false,
            route,
            derived,
            app: if inner.app.is_empty() {
                AppValues::None
            } else {
                start_app_labels(inner, info.headers)
            },
            trace_id: TraceId::for_exemplar(info.headers.header("traceparent")),
            start: Instant::now(),
            status: None,
            head_seconds: None,
            // One meaning in every adapter: the size the request declares. Counting the
            // bytes the handler reads would differ by framework (a handler may not read its
            // body at all, or read it after the response head) and cost a body wrapper.
            request_bytes: if self.inner.sizes {
                declared_length(info.headers)
            } else {
                0
            },
            response_bytes: 0,
            // Adapters decide route rules before starting a request; asked here once more
            // (a string comparison per rule, none without rules) so that a route given to
            // `start`, or an unmatched request never routed, needs no check at the end.
            excluded: inner.exclusions.route(info.route),
        };
        if inner.in_flight_by_route {
            tracker.in_flight_route = raise_route_in_flight(inner, tracker.route.as_ref(), method);
        } else {
            let gauge = match inner.methods.get(method_idx) {
                Some(slot) => match slot.in_flight.get() {
                    Some(gauge) => Some(gauge),
                    None => first_in_flight(inner, slot, method),
                },
                None => None,
            };
            tracker.in_flight_method = gauge.inspect(|g| g.inc()).is_some();
        }
        tracker
    }
}

/// In-flight by route: raises the gauge of the request's route entry (of its method's
/// unmatched entry while the route is unknown) and returns the entry to lower at the end.
#[inline(never)]
fn raise_route_in_flight(
    inner: &Inner,
    route: Option<&Series<RouteEntry>>,
    method: &str,
) -> Option<Series<RouteEntry>> {
    let entry = route
        .cloned()
        .or_else(|| inner.routes.series(&[method, UNMATCHED_ROUTE]).ok());
    if let Some(e) = &entry {
        e.gauge.inc();
    }
    entry
}

/// The first request of a method: finds its in-flight gauge and remembers it in the slot.
#[cold]
#[inline(never)]
fn first_in_flight<'a>(
    inner: &Inner,
    slot: &'a super::series::MethodSlot,
    method: &str,
) -> Option<&'a Series<Gauge>> {
    if let Ok(found) = inner.in_flight.series(&[method]) {
        // Another request may have filled the slot meanwhile: with the same series.
        let _ = slot.in_flight.set(found);
    }
    slot.in_flight.get()
}

#[inline(never)]
fn derive_labels(inner: &Inner, info: &RequestInfo<'_>) -> Box<[String]> {
    inner.derived_labels.iter().map(|(_, f)| f(info)).collect()
}

#[inline(never)]
fn start_app_labels(inner: &Inner, headers: &dyn HeaderLookup) -> AppValues {
    inner.app.start(headers)
}

/// The request's `Content-Length`, or 0 when it has none (a chunked upload, or no body).
fn declared_length(headers: &dyn HeaderLookup) -> u64 {
    headers
        .header("content-length")
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
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
/// assert!(text.contains("http_requests_in_flight{method=\"GET\"} 0\n"));
/// ```
pub struct RequestTracker {
    inner: Arc<Inner>,
    /// The method's index (see `policy::method_index`).
    method: usize,
    /// The route entry whose gauge start raised (in-flight by route), lowered at drop.
    in_flight_route: Option<Series<RouteEntry>>,
    /// Whether start raised the method's in-flight gauge (in its method slot, never unset
    /// once set), lowered at drop.
    in_flight_method: bool,
    /// The request's route; `None` while unmatched (looked up at the end, when needed).
    route: Option<Series<RouteEntry>>,
    derived: Box<[String]>,
    /// Values of the labels from the application (none unless configured).
    app: AppValues,
    trace_id: Option<TraceId>,
    start: Instant,
    status: Option<u16>,
    head_seconds: Option<f64>,
    request_bytes: u64,
    response_bytes: u64,
    /// The request's route is excluded (as given to start or to
    /// [`RequestTracker::set_route`]): nothing is recorded.
    excluded: bool,
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
        if self.inner.route_policies.head_timing() {
            self.head_seconds = Some(self.start.elapsed_seconds());
        }
    }

    /// Adds to the request size. [`HttpMetrics::start`] already took the request's
    /// `Content-Length`; an adapter that learns more (a chunked upload it counted) adds it here.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).body_sizes(true).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "PUT", route: Some("/f"), path: "/f", headers: &headers });
    /// for chunk in [512, 512, 1000] {
    ///     tracker.add_request_bytes(chunk); // a chunked upload counted by the adapter
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

    /// The route the request is recorded under, learned after it started (an adapter that
    /// knows the route only once routing is done, as actix-web does); `None` is unmatched.
    /// Replaces the route given to [`HttpMetrics::start`]. In-flight stays where start
    /// counted it (by method, or by the start's route with
    /// [`in_flight_by_route`](super::HttpMetricsBuilder::in_flight_by_route)).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// // Before routing: the route is not known yet.
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: None, path: "/users/7", headers: &headers });
    /// // After routing, from the response side.
    /// tracker.set_route(Some("/users/{id}"));
    /// tracker.response_head(200);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains("http_requests_total{method=\"GET\",route=\"/users/{id}\",status=\"200\"} 1\n"));
    /// assert!(text.contains("http_requests_in_flight{method=\"GET\"} 0\n"));
    /// ```
    pub fn set_route(&mut self, route: Option<&str>) {
        let inner = &*self.inner;
        // An excluded route is not looked up: its entry would be a trace of it.
        self.excluded = inner.exclusions.route(route);
        if self.excluded {
            self.route = None;
            return;
        }
        let method = method_name(self.method, &inner.extra_methods);
        self.route = route.and_then(|route| {
            route_cache::route_entry(&self.inner, self.method, route, || {
                inner.routes.series(&[method, route]).ok()
            })
        });
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

    /// Reads the labels declared with
    /// [`request_extension_label`](super::HttpMetricsBuilder::request_extension_label) from
    /// the request's extensions; adapters call it right after [`HttpMetrics::start`]. Does
    /// nothing when none is declared (see [`HttpMetrics::reads_request_extensions`]).
    ///
    /// ```
    /// use promenade_core::http_metrics::{ExtensionsRef, HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// #[derive(Clone)]
    /// struct Tenant(&'static str);
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .request_extension_label("tenant", LabelValues::one_of(&["acme"], "other"), |t: &Tenant| t.0)
    ///     .build()
    ///     .unwrap();
    /// let mut extensions = http::Extensions::new();
    /// extensions.insert(Tenant("initech"));
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// tracker.request_extensions(ExtensionsRef::from(&extensions));
    /// tracker.response_head(200);
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"status="200",tenant="other"} 1"#)); // not declared: folded
    /// ```
    pub fn request_extensions(&mut self, extensions: ExtensionsRef<'_>) {
        self.inner.app.request_extensions(&mut self.app, extensions);
    }

    /// Reads the labels declared with
    /// [`response_header_label`](super::HttpMetricsBuilder::response_header_label) and
    /// [`response_extension_label`](super::HttpMetricsBuilder::response_extension_label)
    /// from the response head; adapters call it with [`RequestTracker::response_head`]. Does
    /// nothing when none is declared (see [`HttpMetrics::reads_response`]).
    ///
    /// ```
    /// use promenade_core::http_metrics::{ExtensionsRef, HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .response_header_label("cache", "x-cache", LabelValues::one_of(&["hit", "miss"], "other"))
    ///     .build()
    ///     .unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// let mut response = http::Response::new(());
    /// response.headers_mut().insert("x-cache", "hit".parse().unwrap());
    /// tracker.response_head(200);
    /// tracker.response_labels(response.headers(), ExtensionsRef::from(response.extensions()));
    /// drop(tracker);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"status="200",cache="hit"} 1"#));
    /// ```
    pub fn response_labels(&mut self, headers: &dyn HeaderLookup, extensions: ExtensionsRef<'_>) {
        self.inner
            .app
            .response(&mut self.app, headers, Some(extensions));
    }
}

impl RequestTracker {
    /// [`HttpMetrics::reads_response`] of the configuration this request is recorded by:
    /// whether an adapter needs to hand over the response head at all.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
    /// let metrics = HttpMetrics::builder(&promenade_core::Registry::new()).build().unwrap();
    /// let headers = http::HeaderMap::new();
    /// let tracker = metrics.start(&RequestInfo { method: "GET", route: None, path: "/", headers: &headers });
    /// assert!(!tracker.reads_response());
    /// ```
    #[inline]
    pub fn reads_response(&self) -> bool {
        self.inner.app.reads_response()
    }

    /// Calls `f` with the request series' label values: method, route, status, derived.
    fn with_values<R>(
        &self,
        entry: &Series<RouteEntry>,
        code: u16,
        f: impl FnOnce(&[&str]) -> R,
    ) -> R {
        let method = entry.label_value(0);
        let route = entry.label_value(1);
        let mut code_buf = [0u8; 5];
        let status = status_label(code, self.inner.status_classes, &mut code_buf);
        if self.derived.is_empty() && self.inner.app.is_empty() {
            f(&[&method, &route, status])
        } else {
            let base = [&*method, &*route, status];
            with_request_values(base, &self.derived, &self.inner.app, &self.app, f)
        }
    }

    /// Records the request in `series`: its duration (or only its count) and sizes.
    #[inline]
    fn record(&self, series: &RequestSeries, entry: &Series<RouteEntry>, end: f64) {
        match self.duration(entry, end) {
            Some((seconds, buckets)) => {
                let duration = series.duration_with(buckets);
                observe_with_trace(duration, seconds, self.trace_id.as_ref());
            }
            None => {
                series.unobserved.fetch_add(1, Ordering::Relaxed);
            }
        }
        if series.sizes.is_some() {
            self.observe_sizes(series);
        }
    }

    /// Records the request in a series its route entry does not remember: the first of its
    /// status (remembered now, in `slot`), an uncommon status, or derived or application
    /// labels.
    #[inline(never)]
    fn record_uncached(
        &self,
        entry: &Series<RouteEntry>,
        code: u16,
        slot: Option<&OnceLock<Series<RequestSeries>>>,
        end: f64,
    ) {
        if let Some(slot) = slot {
            if slot.get().is_none()
                && let Ok(found) = self.with_values(entry, code, |v| self.inner.requests.series(v))
            {
                // Another request may have filled the slot meanwhile: with the same series.
                let _ = slot.set(found);
            }
            if let Some(series) = slot.get() {
                return self.record(series, entry, end);
            }
        }
        if let Ok(series) = self.with_values(entry, code, |v| self.inner.requests.get(v)) {
            self.record(&series, entry, end);
        }
    }

    /// The duration to record and its buckets (the route's policy, else the builder's), or
    /// `None` when the route's duration is not recorded; `end` is the time at drop.
    fn duration<'a>(&'a self, entry: &Series<RouteEntry>, end: f64) -> Option<(f64, &'a Buckets)> {
        let inner = &*self.inner;
        let (when, buckets) = if inner.route_policies.is_empty() {
            (inner.duration_end, &inner.buckets)
        } else {
            self.route_policy(entry)
        };
        match when {
            DurationEnd::Body => Some((end, buckets)),
            // Without a head (dropped, failed) the request ended at drop.
            DurationEnd::Head => Some((self.head_seconds.unwrap_or(end), buckets)),
            DurationEnd::NotRecorded => None,
        }
    }

    /// The route's own duration policy, if it has one.
    #[inline(never)]
    fn route_policy(&self, entry: &Series<RouteEntry>) -> (DurationEnd, &Buckets) {
        let inner = &*self.inner;
        inner
            .route_policies
            .get(&entry.label_value(1))
            .unwrap_or((inner.duration_end, &inner.buckets))
    }

    #[inline(never)]
    fn observe_sizes(&self, series: &RequestSeries) {
        if let Some((req, resp)) = &series.sizes {
            req.observe(self.request_bytes as f64);
            resp.observe(self.response_bytes as f64);
        }
    }

    /// The route entry of an unmatched request of this method, remembered per method.
    #[inline(never)]
    fn unmatched_entry(&self) -> Option<Series<RouteEntry>> {
        let inner = &*self.inner;
        let slot = inner.methods.get(self.method)?;
        if slot.unmatched.get().is_none() {
            let method = method_name(self.method, &inner.extra_methods);
            if let Ok(found) = inner.routes.series(&[method, UNMATCHED_ROUTE]) {
                let _ = slot.unmatched.set(found);
            }
        }
        slot.unmatched.get().cloned()
    }
}

impl Drop for RequestTracker {
    fn drop(&mut self) {
        let end = self.start.elapsed_seconds();
        if let Some(entry) = self.in_flight_route.take() {
            entry.gauge.dec();
        }
        if std::mem::take(&mut self.in_flight_method)
            && let Some(gauge) = self
                .inner
                .methods
                .get(self.method)
                .and_then(|slot| slot.in_flight.get())
        {
            gauge.dec();
        }
        let code = self.status.unwrap_or(CLIENT_CLOSED_STATUS);
        let exclusions = &self.inner.exclusions;
        if self.excluded || exclusions.status(code, self.route.is_none()) {
            return;
        }
        let Some(entry) = self.route.take().or_else(|| self.unmatched_entry()) else {
            return;
        };
        let classes = self.inner.status_classes;
        // Without derived or application labels the series depends on (method, route,
        // status) only: the route entry remembers it per common status.
        let slot = if self.derived.is_empty() && self.inner.app.is_empty() {
            status_slot(code, classes).and_then(|i| entry.ends.get(i))
        } else {
            None
        };
        match slot.and_then(OnceLock::get) {
            Some(series) => self.record(series, &entry, end),
            None => self.record_uncached(&entry, code, slot, end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Registry;

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
        assert!(text.contains("http_requests_in_flight{method=\"GET\"} 0\n"));
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

    /// In-flight is lowered where it was raised, whatever route the request ends under; by
    /// method by default, by the start's route when asked.
    #[test]
    fn in_flight_stays_where_start_counted_it() {
        let headers = http::HeaderMap::new();
        for by_route in [false, true] {
            let registry = Registry::new();
            let metrics = HttpMetrics::builder(&registry)
                .in_flight_by_route(by_route)
                .extra_methods(&["PURGE"])
                .build()
                .unwrap();
            let start = |method, route| {
                metrics.start(&RequestInfo {
                    method,
                    route,
                    path: "/x",
                    headers: &headers,
                })
            };
            let mut late = start("GET", None);
            let purge = start("PURGE", Some("/c"));
            let other = start("BREW", None);
            let text = registry.encode_to_string(crate::Format::Text).unwrap();
            let expected: &[&str] = if by_route {
                &[
                    "http_requests_in_flight{method=\"GET\",route=\"unmatched\"} 1\n",
                    "http_requests_in_flight{method=\"PURGE\",route=\"/c\"} 1\n",
                    "http_requests_in_flight{method=\"_OTHER\",route=\"unmatched\"} 1\n",
                ]
            } else {
                &[
                    "http_requests_in_flight{method=\"GET\"} 1\n",
                    "http_requests_in_flight{method=\"PURGE\"} 1\n",
                    "http_requests_in_flight{method=\"_OTHER\"} 1\n",
                ]
            };
            for line in expected {
                assert!(text.contains(line), "{line}{text}");
            }
            late.set_route(Some("/users/{id}"));
            late.response_head(200);
            drop((late, purge, other));
            let text = registry.encode_to_string(crate::Format::Text).unwrap();
            for line in expected {
                let zero = line.replace("} 1\n", "} 0\n");
                assert!(text.contains(&zero), "{zero}{text}");
            }
            for line in [
                "http_requests_total{method=\"GET\",route=\"/users/{id}\",status=\"200\"} 1\n",
                "http_requests_total{method=\"PURGE\",route=\"/c\",status=\"499\"} 1\n",
                "http_requests_total{method=\"_OTHER\",route=\"unmatched\",status=\"499\"} 1\n",
            ] {
                assert!(text.contains(line), "{line}{text}");
            }
        }
    }

    /// Adapters that hold the tracker by value move it with every move of the response
    /// future and body: it must stay small (it was 240 bytes).
    #[test]
    fn tracker_stays_small() {
        let size = std::mem::size_of::<RequestTracker>();
        eprintln!("RequestTracker: {size} bytes");
        assert!(size <= 144, "RequestTracker is {size} bytes");
    }

    /// Without a `traceparent` header, the current OpenTelemetry span's trace is the exemplar.
    #[test]
    #[cfg(feature = "opentelemetry")]
    fn takes_the_span_context_trace_id() {
        use crate::trace::test_context::remote_span;
        use opentelemetry::trace::TraceFlags;
        let registry = Registry::new();
        let metrics = HttpMetrics::builder(&registry).build().unwrap();
        let headers = http::HeaderMap::new();
        {
            let _guard = remote_span(TraceFlags::SAMPLED).attach();
            let mut tracker = metrics.start(&RequestInfo {
                method: "GET",
                route: Some("/"),
                path: "/",
                headers: &headers,
            });
            tracker.response_head(200);
        }
        let om = registry
            .encode_to_string(crate::Format::OpenMetrics)
            .unwrap();
        assert!(
            om.contains(r#"# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}"#),
            "{om}"
        );
    }
}

//! Recording one request: [`HttpMetrics::start`] raises in-flight and hands out a
//! [`RequestTracker`]; the tracker's drop lowers in-flight and records the request once, on
//! every path (normal end, error, panic unwinding, cancellation).

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use super::builder::{DurationEnd, HttpMetrics, Inner};
use super::policy::{CLIENT_CLOSED_STATUS, UNMATCHED_ROUTE, status_label, status_slot};
use super::request::RequestInfo;
use super::series::InFlight;
use crate::family::Series;
use crate::trace::{TraceId, observe_with_trace};

impl HttpMetrics {
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
            // One meaning in every adapter: the size the request declares. Counting the
            // bytes the handler reads would differ by framework (a handler may not read its
            // body at all, or read it after the response head) and cost a body wrapper.
            request_bytes: if self.inner.sizes {
                declared_length(info.headers)
            } else {
                0
            },
            response_bytes: 0,
        }
    }
}

/// The request's `Content-Length`, or 0 when it has none (a chunked upload, or no body).
fn declared_length(headers: &dyn super::request::HeaderLookup) -> u64 {
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

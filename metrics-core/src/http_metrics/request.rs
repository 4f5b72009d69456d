//! What an adapter hands over about a request: its method, matched route, raw path and a
//! framework-neutral view of its headers.

use std::fmt;
use std::sync::Arc;

use crate::app_labels::HeaderLookup;

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

/// Computes one derived label value from a request (see
/// [`HttpMetricsBuilder::derived_label`](super::HttpMetricsBuilder::derived_label)).
pub(super) type LabelFn = Arc<dyn Fn(&RequestInfo<'_>) -> String + Send + Sync>;

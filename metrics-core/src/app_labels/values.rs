//! The bound on a label's values ([`LabelValues`]): what keeps one misbehaving client or
//! tenant from creating unbounded series.

use std::fmt;

/// The values a label taken from the application may have: the bound that keeps one
/// misbehaving client or tenant from creating unbounded series.
///
/// - [`LabelValues::one_of`]: a declared list; anything else becomes one fixed value. A
///   request costs no allocation: the value is an index into the list.
/// - [`LabelValues::any`]: any value, bounded by the family's series cap
///   (`max_series` ([HTTP](crate::http_metrics::HttpMetricsBuilder::max_series), [gRPC](crate::grpc_metrics::GrpcMetricsBuilder::max_series))); past it, requests go to the
///   overflow series. Each request copies its value (small allocations: the copy, and the
///   request's values then live on the heap).
///
/// A label whose header or extension is absent takes the `absent` value: for `one_of` the
/// fallback unless [`LabelValues::when_absent`] says otherwise.
///
/// ```
/// use promenade_core::http_metrics::LabelValues;
/// let tiers = LabelValues::one_of(&["free", "pro", "enterprise"], "other").when_absent("anonymous");
/// let outcome = LabelValues::any("none");
/// # drop((tiers, outcome));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct LabelValues {
    // Read by `declare` (checks) and `resolve` (value tables), siblings in `app_labels`.
    /// `Some`: the declared list; `None`: any value.
    pub(super) allowed: Option<Vec<Box<str>>>,
    /// What a value outside the list becomes.
    pub(super) other: Box<str>,
    /// What an absent header or extension becomes.
    pub(super) absent: Option<Box<str>>,
}

impl fmt::Debug for LabelValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LabelValues")
            .field("allowed", &self.allowed)
            .field("other", &self.other)
            .field("absent", &self.absent)
            .finish()
    }
}

impl LabelValues {
    /// Only `values`; anything else becomes `other` (and so does an absent value, unless
    /// [`when_absent`](Self::when_absent) is given). An empty list is refused when the
    /// metrics are built.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .request_header_label("region", "x-region", LabelValues::one_of(&["eu", "us"], "other"))
    ///     .build()
    ///     .unwrap();
    /// for region in ["eu", "mars", "us", "venus"] {
    ///     let mut headers = http::HeaderMap::new();
    ///     headers.insert("x-region", region.parse().unwrap());
    ///     let mut t = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    ///     t.response_head(200);
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"http_requests_total{method="GET",route="/",status="200",region="eu"} 1"#));
    /// assert!(text.contains(r#"http_requests_total{method="GET",route="/",status="200",region="other"} 2"#));
    /// ```
    pub fn one_of<S: AsRef<str>>(values: &[S], other: &str) -> Self {
        Self {
            allowed: Some(values.iter().map(|v| v.as_ref().into()).collect()),
            other: other.into(),
            absent: None,
        }
    }

    /// Any value, bounded only by the series cap
    /// (`max_series` ([HTTP](crate::http_metrics::HttpMetricsBuilder::max_series), [gRPC](crate::grpc_metrics::GrpcMetricsBuilder::max_series)), whose overflow series takes
    /// the rest); an absent header or extension becomes `absent`. Prefer
    /// [`one_of`](Self::one_of) when the values are known: the cap is shared by every route
    /// and status, so a label that fills it pushes ordinary requests into the overflow series.
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .request_header_label("client", "x-client", LabelValues::any("unknown"))
    ///     .max_series(2)
    ///     .build()
    ///     .unwrap();
    /// for client in ["app", "web", "cli", "bot"] {
    ///     let mut headers = http::HeaderMap::new();
    ///     headers.insert("x-client", client.parse().unwrap());
    ///     let mut t = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    ///     t.response_head(200);
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"client="app"} 1"#));
    /// assert!(text.contains(r#"client="web"} 1"#));
    /// assert!(text.contains(r#"client="__overflow__"} 2"#)); // the cap held
    /// ```
    pub fn any(absent: &str) -> Self {
        Self {
            allowed: None,
            other: absent.into(),
            absent: Some(absent.into()),
        }
    }

    /// The value when the header or extension is absent (default: the `other` value of
    /// [`one_of`](Self::one_of)).
    ///
    /// ```
    /// use promenade_core::http_metrics::{HttpMetrics, LabelValues, RequestInfo};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = HttpMetrics::builder(&registry)
    ///     .request_header_label("plan", "x-plan", LabelValues::one_of(&["free"], "other").when_absent("none"))
    ///     .build()
    ///     .unwrap();
    /// let headers = http::HeaderMap::new();
    /// let mut t = metrics.start(&RequestInfo { method: "GET", route: Some("/"), path: "/", headers: &headers });
    /// t.response_head(200);
    /// drop(t);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"status="200",plan="none"} 1"#));
    /// ```
    #[must_use]
    pub fn when_absent(mut self, value: &str) -> Self {
        self.absent = Some(value.into());
        self
    }
}

//! Labels from the application on HTTP series: the builder's public setters, each
//! recording its declaration in the list shared with gRPC ([`crate::app_labels`]), which
//! checks them all at build.

use super::HttpMetricsBuilder;
use crate::app_labels::{LabelValues, Side};

impl HttpMetricsBuilder {
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
    pub fn request_header_label(mut self, name: &str, header: &str, values: LabelValues) -> Self {
        let setter = "request_header_label";
        self.app_labels
            .header(Side::Request, setter, name, header, values);
        self
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
    /// [`ExtensionsRef`](crate::http_metrics::ExtensionsRef)).
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
    pub fn request_extension_label<T, F>(mut self, name: &str, values: LabelValues, f: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> &str + Send + Sync + 'static,
    {
        self.app_labels.extension(Side::Request, name, values, f);
        self
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
    pub fn response_header_label(mut self, name: &str, header: &str, values: LabelValues) -> Self {
        let setter = "response_header_label";
        self.app_labels
            .header(Side::Response, setter, name, header, values);
        self
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
    pub fn response_extension_label<T, F>(mut self, name: &str, values: LabelValues, f: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> &str + Send + Sync + 'static,
    {
        self.app_labels.extension(Side::Response, name, values, f);
        self
    }
}

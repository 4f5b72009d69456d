//! Labels from the application on gRPC series: the builder's public setters, each
//! recording its declaration in the list shared with HTTP ([`crate::app_labels`]), and the
//! series cap that bounds what they can create.

use super::{BUILT_IN, GrpcMetricsBuilder};
use crate::app_labels::{AppLabels, LabelValues, Side as Part};
use crate::error::Result;

impl GrpcMetricsBuilder {
    /// A label read from the call's request metadata (a header of the HTTP/2 request, such
    /// as `x-tenant`), bounded by `values` (see [`LabelValues`]). It labels
    /// `started_total`, `handled_total` and `handling_seconds` (not the message counters).
    /// No allocation per call with [`LabelValues::one_of`]. Binary (`-bin`) metadata is
    /// read as its base64 text, so bound it with `one_of`.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, GrpcType, LabelValues, Side};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = GrpcMetrics::builder(&registry, Side::Server)
    ///     .method("/kv.Store/Get", GrpcType::Unary)
    ///     .request_metadata_label("tenant", "x-tenant", LabelValues::one_of(&["acme", "globex"], "other"))
    ///     .build()
    ///     .unwrap();
    /// for tenant in ["acme", "acme", "initech"] {
    ///     let mut request = http::Request::new(());
    ///     request.headers_mut().insert("x-tenant", tenant.parse().unwrap());
    ///     // What an adapter does with the request it sees:
    ///     metrics.start_request("/kv.Store/Get", request.headers(), request.extensions().into()).finish(GrpcCode::Ok);
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"grpc_server_started_total{grpc_type="unary",grpc_service="kv.Store",grpc_method="Get",tenant="acme"} 2"#));
    /// assert!(text.contains(r#"grpc_server_handled_total{grpc_type="unary",grpc_service="kv.Store",grpc_method="Get",grpc_code="OK",tenant="other"} 1"#));
    /// ```
    #[must_use]
    pub fn request_metadata_label(mut self, name: &str, key: &str, values: LabelValues) -> Self {
        let setter = "request_metadata_label";
        self.app_labels
            .header(Part::Request, setter, name, key, values);
        self
    }

    /// A label read from the request's extensions (`http::Extensions`): `f` maps the value
    /// of type `T` that an earlier layer or interceptor inserted (an auth layer's tenant) to
    /// the label value, bounded by `values`. Labels `started_total`, `handled_total` and
    /// `handling_seconds`.
    ///
    /// Read when the call reaches the metrics layer, so what inserts `T` must run before
    /// it: on a server, a tower layer added before the metrics layer
    /// (`Server::builder().layer(auth).layer(metrics)`); on a client, the `tonic::Request`'s
    /// own extensions (`request.extensions_mut().insert(..)`, by the caller or an
    /// interceptor of the generated client), which tonic moves into the HTTP request the
    /// client layer sees. A tonic interceptor on a *server* runs inside the layers, after the
    /// call has started: a `T` it inserts is not seen. Calls without a `T` get the absent
    /// value.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, LabelValues, Side};
    /// use promenade_core::{Format, Registry};
    ///
    /// #[derive(Clone)]
    /// struct Tenant { plan: &'static str }
    ///
    /// let registry = Registry::new();
    /// let metrics = GrpcMetrics::builder(&registry, Side::Client)
    ///     .request_extension_label("plan", LabelValues::one_of(&["free", "pro"], "other").when_absent("none"), |t: &Tenant| t.plan)
    ///     .build()
    ///     .unwrap();
    /// let mut request = http::Request::new(());
    /// request.extensions_mut().insert(Tenant { plan: "pro" });
    /// metrics.start_request("/kv.Store/Get", request.headers(), request.extensions().into()).finish(GrpcCode::Ok);
    /// metrics.start("/kv.Store/Get").finish(GrpcCode::Ok); // no extensions: absent
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"grpc_client_started_total{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Get",plan="pro"} 1"#));
    /// assert!(text.contains(r#"grpc_client_started_total{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Get",plan="none"} 1"#));
    /// ```
    #[must_use]
    pub fn request_extension_label<T, F>(mut self, name: &str, values: LabelValues, f: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> &str + Send + Sync + 'static,
    {
        self.app_labels.extension(Part::Request, name, values, f);
        self
    }

    /// A label read from the response's initial metadata (a header of the response head,
    /// which a handler sets with `Response::metadata_mut`, or the metadata of a `Status`
    /// returned without a message), bounded by `values`. Known only when the response head
    /// arrives, so it labels `handled_total` and `handling_seconds` but not `started_total`;
    /// a call that ends without a head (cancelled, transport error) gets the absent value.
    /// Trailing metadata is not read.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, LabelValues, Side};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = GrpcMetrics::builder(&registry, Side::Server)
    ///     .response_metadata_label("cache", "x-cache", LabelValues::one_of(&["hit", "miss"], "other"))
    ///     .build()
    ///     .unwrap();
    /// let mut call = metrics.start("/kv.Store/Get");
    /// call.resolve_route(true);
    /// let mut response = http::Response::new(());
    /// response.headers_mut().insert("x-cache", "hit".parse().unwrap());
    /// call.response_labels(response.headers(), response.extensions().into());
    /// call.finish(GrpcCode::Ok);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"grpc_server_handled_total{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Get",grpc_code="OK",cache="hit"} 1"#));
    /// assert!(text.contains(r#"grpc_server_started_total{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Get"} 1"#));
    /// ```
    #[must_use]
    pub fn response_metadata_label(mut self, name: &str, key: &str, values: LabelValues) -> Self {
        let setter = "response_metadata_label";
        self.app_labels
            .header(Part::Response, setter, name, key, values);
        self
    }

    /// A label read from the response's extensions: `f` maps the value of type `T` that the
    /// handler (or a layer inside the metrics layer) inserted into the response's
    /// extensions to the label value, bounded by `values`. Like
    /// [`response_metadata_label`](Self::response_metadata_label), it labels `handled_total`
    /// and `handling_seconds` only.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, LabelValues, Side};
    /// use promenade_core::{Format, Registry};
    ///
    /// #[derive(Clone)]
    /// struct Outcome(&'static str);
    ///
    /// let registry = Registry::new();
    /// let metrics = GrpcMetrics::builder(&registry, Side::Server)
    ///     .response_extension_label("outcome", LabelValues::one_of(&["paid", "declined"], "other").when_absent("none"), |o: &Outcome| o.0)
    ///     .build()
    ///     .unwrap();
    /// let mut call = metrics.start("/shop.Pay/Charge");
    /// call.resolve_route(true);
    /// let mut response = http::Response::new(());
    /// response.extensions_mut().insert(Outcome("declined"));
    /// call.response_labels(response.headers(), response.extensions().into());
    /// call.finish(GrpcCode::Ok);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"grpc_code="OK",outcome="declined"} 1"#));
    /// ```
    #[must_use]
    pub fn response_extension_label<T, F>(mut self, name: &str, values: LabelValues, f: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> &str + Send + Sync + 'static,
    {
        self.app_labels.extension(Part::Response, name, values, f);
        self
    }

    /// Cap on the series of each of `started_total`, `handled_total` and
    /// `handling_seconds`; past it, calls are counted on the family's overflow series (every
    /// label `__overflow__`). Default: no cap without labels from the application (registered
    /// or at most [`MAX_DISCOVERED_METHODS`](super::MAX_DISCOVERED_METHODS) methods, times
    /// the 17 codes, bound them), and
    /// [`DEFAULT_APP_LABEL_MAX_SERIES`](super::DEFAULT_APP_LABEL_MAX_SERIES) with them. The
    /// message counters are not capped: they carry no labels from the application.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, LabelValues, Side};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = GrpcMetrics::builder(&registry, Side::Client)
    ///     .request_metadata_label("client", "x-client", LabelValues::any("unknown"))
    ///     .max_series(2)
    ///     .build()
    ///     .unwrap();
    /// for client in ["app", "web", "cli", "bot"] {
    ///     let mut headers = http::HeaderMap::new();
    ///     headers.insert("x-client", client.parse().unwrap());
    ///     metrics.start_request("/kv.Store/Get", &headers, (&http::Extensions::new()).into()).finish(GrpcCode::Ok);
    /// }
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert_eq!(text.matches("grpc_client_started_total{").count(), 3); // two, and the overflow series
    /// assert!(text.contains(r#"grpc_client_started_total{grpc_type="__overflow__",grpc_service="__overflow__",grpc_method="__overflow__",client="__overflow__"} 2"#));
    /// ```
    #[must_use]
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = Some(max);
        self
    }

    /// Checks the labels from the application (names, clashes with the built-in labels and
    /// with each other, value lists), request labels first.
    pub(super) fn compile_app_labels(&mut self) -> Result<AppLabels> {
        let mut decls = std::mem::take(&mut self.app_labels);
        decls.requests_first();
        let taken: Vec<(&str, &str)> = BUILT_IN
            .iter()
            .map(|n| (*n, "a built-in gRPC label"))
            .collect();
        decls.compile(&taken)
    }
}

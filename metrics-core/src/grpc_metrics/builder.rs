//! Configuration: [`GrpcMetricsBuilder`] and the options it takes — the [`Side`] (server or
//! client families), the registered methods with their [`GrpcType`], the handling-seconds
//! histogram (buckets, native buckets, on/off) and up-front initialization. `build` validates
//! the methods, registers the families (all or none) and hands the method table to
//! [`GrpcMetrics`].

use std::fmt;
use std::sync::Arc;

use super::code::GrpcCode;
use super::series::{Discovery, Families, MethodMap, MethodSeries, MethodTable};
use super::tracker::GrpcMetrics;
use super::wire::{UNKNOWN, split_method};
use crate::app_labels::{AppLabelDecl, AppLabels, LabelValues, Side as Part, Source, extension_fn};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::metric::{Buckets, Counter, Histogram};
use crate::registry::Registry;

/// The streaming kind of a method: the `grpc_type` label.
///
/// ```
/// use promenade_core::grpc_metrics::GrpcType;
/// assert_eq!(GrpcType::default(), GrpcType::Unary);
/// assert_eq!(GrpcType::ServerStream.to_string(), "server_stream");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GrpcType {
    /// One request, one response: `unary`.
    #[default]
    Unary,
    /// A request stream, one response: `client_stream`.
    ClientStream,
    /// One request, a response stream: `server_stream`.
    ServerStream,
    /// Both directions streamed: `bidi_stream`.
    BidiStream,
}

impl GrpcType {
    /// All four kinds.
    ///
    /// ```
    /// assert_eq!(promenade_core::grpc_metrics::GrpcType::ALL.len(), 4);
    /// ```
    pub const ALL: [GrpcType; 4] = [
        GrpcType::Unary,
        GrpcType::ClientStream,
        GrpcType::ServerStream,
        GrpcType::BidiStream,
    ];

    /// The label value.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::GrpcType;
    /// assert_eq!(GrpcType::BidiStream.as_str(), "bidi_stream");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            GrpcType::Unary => "unary",
            GrpcType::ClientStream => "client_stream",
            GrpcType::ServerStream => "server_stream",
            GrpcType::BidiStream => "bidi_stream",
        }
    }

    /// The kind from a method descriptor's `client_streaming` / `server_streaming` flags.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::GrpcType;
    /// assert_eq!(GrpcType::from_streaming(true, false), GrpcType::ClientStream);
    /// assert_eq!(GrpcType::from_streaming(false, false), GrpcType::Unary);
    /// ```
    pub fn from_streaming(client_streaming: bool, server_streaming: bool) -> Self {
        match (client_streaming, server_streaming) {
            (false, false) => GrpcType::Unary,
            (true, false) => GrpcType::ClientStream,
            (false, true) => GrpcType::ServerStream,
            (true, true) => GrpcType::BidiStream,
        }
    }
}

impl fmt::Display for GrpcType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most methods one [`GrpcMetrics`] discovers from traffic (see
/// [`GrpcMetricsBuilder::discover_methods`]); calls to further paths are recorded on the
/// `unknown` labels. Bounds the series a client or a server can be made to create.
///
/// ```
/// assert_eq!(promenade_core::grpc_metrics::MAX_DISCOVERED_METHODS, 1_000);
/// ```
pub const MAX_DISCOVERED_METHODS: usize = 1_000;

/// Which end of the call is instrumented: `grpc_server_*` or `grpc_client_*` families.
///
/// ```
/// use promenade_core::{Format, Registry, grpc_metrics::{GrpcMetrics, Side}};
/// let r = Registry::new();
/// GrpcMetrics::builder(&r, Side::Client).build().unwrap();
/// assert!(r.encode_to_string(Format::Text).unwrap().contains("# TYPE grpc_client_started_total counter"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// `grpc_server_*`.
    Server,
    /// `grpc_client_*`.
    Client,
}

/// Configures [`GrpcMetrics`]; see [`GrpcMetrics::builder`].
///
/// # Labels of calls
///
/// - **Registered methods** ([`method`](Self::method), [`methods`](Self::methods),
///   [`service`](Self::service), or a descriptor set through the tonic adapter) get their
///   own labels with their exact `grpc_type`; any other path is recorded as
///   `grpc_type="unknown", grpc_service="unknown", grpc_method="unknown"`.
/// - **Nothing registered**: methods are discovered from traffic (unless
///   [`discover_methods(false)`](Self::discover_methods)): a well-formed path
///   (`/pkg.Service/Method`, see [`split_method`]) gets its real `grpc_service` and
///   `grpc_method`, with `grpc_type="unknown"`: the streaming kind is not on the wire (a
///   unary call and a stream look alike), so the label says so rather than guess. A client
///   discovers a path when a call starts (its own code chose it). A server first waits for
///   the response head to show that it routes the path (see
///   [`CallTracker::resolve_route`](super::CallTracker::resolve_route)), so paths it does
///   not serve stay `unknown`. At most [`MAX_DISCOVERED_METHODS`] are discovered; beyond
///   that, `unknown`.
///
/// The `unknown` set's `grpc_type` is `unknown` too: calls landing there can be of any kind,
/// and labelling them `unary` would hide streams in unary dashboards.
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
/// let builder = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).initialize(true);
/// assert!(builder.method("/a.B/C", GrpcType::Unary).build().is_ok());
/// ```
pub struct GrpcMetricsBuilder {
    registry: Registry,
    side: Side,
    methods: Vec<(String, GrpcType)>,
    handling_seconds: Option<Buckets>,
    handling_by_code: bool,
    initialize: bool,
    discover: bool,
    /// Labels from the application, in declaration order.
    app_labels: Vec<AppLabelDecl>,
    max_series: Option<usize>,
    client_msg_histograms: bool,
}

impl fmt::Debug for GrpcMetricsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcMetricsBuilder")
            .field("side", &self.side)
            .field("methods", &self.methods)
            .field("handling_seconds", &self.handling_seconds)
            .field("handling_by_code", &self.handling_by_code)
            .field("initialize", &self.initialize)
            .field("discover", &self.discover)
            .field(
                "app_labels",
                &self.app_labels.iter().map(|d| &d.name).collect::<Vec<_>>(),
            )
            .field("max_series", &self.max_series)
            .field("client_msg_histograms", &self.client_msg_histograms)
            .finish_non_exhaustive()
    }
}

/// The series cap of `started_total`, `handled_total` and `handling_seconds` once labels
/// from the application are declared and [`GrpcMetricsBuilder::max_series`] is not given.
///
/// ```
/// assert_eq!(promenade_core::grpc_metrics::DEFAULT_APP_LABEL_MAX_SERIES, 10_000);
/// ```
pub const DEFAULT_APP_LABEL_MAX_SERIES: usize = 10_000;

/// The labels every gRPC series has, and that labels from the application may not take.
const BUILT_IN: [&str; 4] = ["grpc_type", "grpc_service", "grpc_method", "grpc_code"];

impl GrpcMetricsBuilder {
    /// The defaults (see [`GrpcMetrics::builder`]): no methods, the histogram on with the
    /// default buckets, series created on first use.
    pub(super) fn new(registry: &Registry, side: Side) -> Self {
        Self {
            registry: registry.clone(),
            side,
            methods: Vec::new(),
            handling_seconds: Some(Buckets::default()),
            handling_by_code: false,
            initialize: false,
            discover: true,
            app_labels: Vec::new(),
            max_series: None,
            client_msg_histograms: false,
        }
    }

    /// Registers a method by its full path (`/pkg.Service/Method`) and streaming kind.
    /// Once any method is registered, calls to methods not registered are recorded with
    /// `unknown` labels (no discovery).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .method("/chat.Room/Talk", GrpcType::BidiStream)
    ///     .build().unwrap();
    /// assert_eq!(m.grpc_type("/chat.Room/Talk"), Some(GrpcType::BidiStream));
    /// ```
    #[must_use]
    pub fn method(mut self, path: &str, grpc_type: GrpcType) -> Self {
        self.methods.push((path.to_owned(), grpc_type));
        self
    }

    /// Registers many methods at once (for example from a descriptor set; see the tonic
    /// adapter's `methods_from_file_descriptor_set`).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client)
    ///     .methods([("/a.B/C".to_string(), GrpcType::Unary), ("/a.B/D".to_string(), GrpcType::ClientStream)])
    ///     .build().unwrap();
    /// assert_eq!(m.method_count(), 2);
    /// ```
    #[must_use]
    pub fn methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = (S, GrpcType)>,
        S: Into<String>,
    {
        self.methods
            .extend(methods.into_iter().map(|(p, t)| (p.into(), t)));
        self
    }

    /// Registers every method of a service: `service` is `pkg.Service`, `methods` are
    /// (method name, kind) pairs.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .service("grpc.health.v1.Health", &[("Check", GrpcType::Unary), ("Watch", GrpcType::ServerStream)])
    ///     .build().unwrap();
    /// assert_eq!(m.grpc_type("/grpc.health.v1.Health/Watch"), Some(GrpcType::ServerStream));
    /// ```
    #[must_use]
    pub fn service(mut self, service: &str, methods: &[(&str, GrpcType)]) -> Self {
        self.methods
            .extend(methods.iter().map(|(m, t)| (format!("/{service}/{m}"), *t)));
        self
    }

    /// The handling-seconds histogram's buckets (default: the Prometheus defaults).
    ///
    /// ```
    /// use promenade_core::{Buckets, grpc_metrics::{GrpcMetrics, Side}};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .handling_seconds_buckets(Buckets::new(vec![0.01, 0.1, 1.0]).unwrap())
    ///     .build();
    /// assert!(m.is_ok());
    /// ```
    #[must_use]
    pub fn handling_seconds_buckets(mut self, buckets: Buckets) -> Self {
        // Builder order must not matter: native buckets set before are kept.
        let native = self
            .handling_seconds
            .as_ref()
            .and_then(|b| b.native().cloned());
        self.handling_seconds = Some(match native {
            Some(native) if buckets.native().is_none() => buckets.with_native(native),
            _ => buckets,
        });
        self
    }

    /// Turns the handling-seconds histogram on (the default) or off.
    ///
    /// ```
    /// use promenade_core::{Format, Registry, grpc_metrics::{GrpcMetrics, Side}};
    /// let r = Registry::new();
    /// GrpcMetrics::builder(&r, Side::Server).handling_seconds(false).build().unwrap();
    /// assert!(!r.encode_to_string(Format::Text).unwrap().contains("handling_seconds"));
    /// ```
    #[must_use]
    pub fn handling_seconds(mut self, on: bool) -> Self {
        self.handling_seconds = on.then(|| self.handling_seconds.take().unwrap_or_default());
        self
    }

    /// Adds a `grpc_code` label to the handling-seconds histogram, so that the latency of
    /// failing calls can be seen apart from that of successful ones (a fast `Unavailable` no
    /// longer hides a slow `OK`). Off by default: the Go middleware's histogram has no code,
    /// and dashboards written for it sum over the base labels only (they still work with it
    /// on, as `sum by (le)` folds the codes). Costs one histogram per method and code seen.
    ///
    /// ```
    /// use promenade_core::{Format, Registry, grpc_metrics::{GrpcCode, GrpcMetrics, GrpcType, Side}};
    /// let r = Registry::new();
    /// let m = GrpcMetrics::builder(&r, Side::Server)
    ///     .method("/kv.Store/Get", GrpcType::Unary)
    ///     .handling_seconds_by_code(true)
    ///     .build()
    ///     .unwrap();
    /// m.start("/kv.Store/Get").finish(GrpcCode::Ok);
    /// m.start("/kv.Store/Get").finish(GrpcCode::NotFound);
    /// let text = r.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"grpc_server_handling_seconds_count{grpc_type="unary",grpc_service="kv.Store",grpc_method="Get",grpc_code="OK"} 1"#));
    /// assert!(text.contains(r#"grpc_server_handling_seconds_count{grpc_type="unary",grpc_service="kv.Store",grpc_method="Get",grpc_code="NotFound"} 1"#));
    /// ```
    #[must_use]
    pub fn handling_seconds_by_code(mut self, on: bool) -> Self {
        self.handling_by_code = on;
        self
    }

    /// Adds native (sparse, exponential) buckets to the handling-seconds histogram, next to
    /// the classic ones (turning the histogram on if it was off): Prometheus scraping
    /// protobuf with native histograms enabled gets them.
    ///
    /// ```
    /// use promenade_core::{NativeBuckets, grpc_metrics::{GrpcMetrics, Side}};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .native_histograms(NativeBuckets::default())
    ///     .build();
    /// assert!(m.is_ok());
    /// ```
    #[must_use]
    pub fn native_histograms(mut self, native: crate::NativeBuckets) -> Self {
        self.handling_seconds = Some(
            self.handling_seconds
                .take()
                .unwrap_or_default()
                .with_native(native),
        );
        self
    }

    /// Creates every series of every registered method at zero now, as Go's
    /// `InitializeMetrics`: started, messages and the histogram per method, and handled per
    /// method × all 17 codes. Off by default.
    ///
    /// ```
    /// use promenade_core::{Format, Registry, grpc_metrics::{GrpcMetrics, GrpcType, Side}};
    /// let r = Registry::new();
    /// GrpcMetrics::builder(&r, Side::Server).method("/a.B/C", GrpcType::Unary).initialize(true).build().unwrap();
    /// let text = r.encode_to_string(Format::Text).unwrap();
    /// assert_eq!(text.matches("grpc_server_handled_total{").count(), 17);
    /// assert!(text.contains(r#"grpc_server_started_total{grpc_type="unary",grpc_service="a.B",grpc_method="C"} 0"#));
    /// ```
    #[must_use]
    pub fn initialize(mut self, on: bool) -> Self {
        self.initialize = on;
        self
    }

    /// Whether to discover methods from traffic when none is registered (default on; see
    /// [Labels of calls](Self#labels-of-calls)). Off, every call of a builder without
    /// registered methods is recorded on the `unknown` labels. Has no effect once a method is
    /// registered.
    ///
    /// ```
    /// use promenade_core::{Format, Registry, grpc_metrics::{GrpcCode, GrpcMetrics, Side}};
    /// let r = Registry::new();
    /// let m = GrpcMetrics::builder(&r, Side::Client).discover_methods(false).build().unwrap();
    /// m.start("/kv.Store/Get").finish(GrpcCode::Ok);
    /// assert_eq!(m.discovered_method_count(), 0);
    /// assert!(r.encode_to_string(Format::Text).unwrap().contains(r#"grpc_client_started_total{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown"} 1"#));
    /// ```
    #[must_use]
    pub fn discover_methods(mut self, on: bool) -> Self {
        self.discover = on;
        self
    }

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
    pub fn request_metadata_label(self, name: &str, key: &str, values: LabelValues) -> Self {
        self.app_label(
            "request_metadata_label",
            name,
            Part::Request,
            Source::Header(key.to_ascii_lowercase().into()),
            values,
        )
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
    pub fn request_extension_label<T, F>(self, name: &str, values: LabelValues, f: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> &str + Send + Sync + 'static,
    {
        let source = Source::Extension(extension_fn::<T, F>(f));
        self.app_label(
            "request_extension_label",
            name,
            Part::Request,
            source,
            values,
        )
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
    pub fn response_metadata_label(self, name: &str, key: &str, values: LabelValues) -> Self {
        self.app_label(
            "response_metadata_label",
            name,
            Part::Response,
            Source::Header(key.to_ascii_lowercase().into()),
            values,
        )
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
    pub fn response_extension_label<T, F>(self, name: &str, values: LabelValues, f: F) -> Self
    where
        T: Send + Sync + 'static,
        F: Fn(&T) -> &str + Send + Sync + 'static,
    {
        let source = Source::Extension(extension_fn::<T, F>(f));
        self.app_label(
            "response_extension_label",
            name,
            Part::Response,
            source,
            values,
        )
    }

    /// Records one application label declaration; [`build`](Self::build) checks it.
    fn app_label(
        mut self,
        setter: &'static str,
        name: &str,
        side: Part,
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

    /// Cap on the series of each of `started_total`, `handled_total` and
    /// `handling_seconds`; past it, calls are counted on the family's overflow series (every
    /// label `__overflow__`). Default: no cap without labels from the application (registered
    /// or at most [`MAX_DISCOVERED_METHODS`] methods, times the 17 codes, bound them), and
    /// [`DEFAULT_APP_LABEL_MAX_SERIES`] with them. The message counters are not capped: they
    /// carry no labels from the application.
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

    /// Turns on the client's per-message latency histograms of the Go middleware's
    /// `WithClientStreamRecvHistogram` / `WithClientStreamSendHistogram`:
    /// `grpc_client_msg_recv_handling_seconds` and `grpc_client_msg_send_handling_seconds`
    /// (labels `grpc_type`, `grpc_service`, `grpc_method`; the default buckets). Off by
    /// default, as in Go: a histogram per method and direction is costly to keep.
    /// Client builders only; a server builder refuses it at [`build`](Self::build).
    ///
    /// What is measured differs from Go, which times its `RecvMsg`/`SendMsg` calls: a tower
    /// layer sees the wire frames, so each message observes the time since the previous
    /// message in the same direction was complete (the first: since the body was first
    /// polled), and further messages completed by the same chunk observe 0. Received, that
    /// is the wait for the next message, as Go's; sent, it is the time the application and
    /// the transport took to hand over the next message. Recorded for streaming methods and
    /// for those whose kind is not known (discovered ones), not for registered unary ones,
    /// which Go's stream interceptor does not see either.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, GrpcType, Side};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = GrpcMetrics::builder(&registry, Side::Client)
    ///     .method("/chat.Room/Talk", GrpcType::BidiStream)
    ///     .client_msg_histograms(true)
    ///     .build()
    ///     .unwrap();
    /// let call = metrics.start("/chat.Room/Talk");
    /// let received = call.received_counter(); // what the response body wrapper holds
    /// received.observe_msg_seconds(0.25);
    /// call.finish(GrpcCode::Ok);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"grpc_client_msg_recv_handling_seconds_count{grpc_type="bidi_stream",grpc_service="chat.Room",grpc_method="Talk"} 1"#));
    /// assert!(text.contains("# TYPE grpc_client_msg_send_handling_seconds histogram"));
    /// assert!(GrpcMetrics::builder(&Registry::new(), Side::Server).client_msg_histograms(true).build().is_err());
    /// ```
    #[must_use]
    pub fn client_msg_histograms(mut self, on: bool) -> Self {
        self.client_msg_histograms = on;
        self
    }

    /// Validates the methods and registers the families in the registry.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let r = promenade_core::Registry::new();
    /// assert!(GrpcMetrics::builder(&r, Side::Server).method("not a path", GrpcType::Unary).build().is_err());
    /// assert!(GrpcMetrics::builder(&r, Side::Server).build().is_ok());
    /// assert!(GrpcMetrics::builder(&r, Side::Server).build().is_err()); // already registered
    /// ```
    pub fn build(mut self) -> Result<GrpcMetrics> {
        let (prefix, help) = match self.side {
            Side::Server => ("grpc_server", &SERVER_HELP),
            Side::Client => ("grpc_client", &CLIENT_HELP),
        };
        let base = ["grpc_type", "grpc_service", "grpc_method"];
        let with_code = BUILT_IN;
        if self.client_msg_histograms && self.side == Side::Server {
            return Err(Error::InvalidConfig(
                "client_msg_histograms(true) on a Side::Server builder: the per-message \
                 latency histograms are the client's (grpc_client_msg_*_handling_seconds); \
                 build the client's metrics with Side::Client"
                    .into(),
            ));
        }
        let app = self.compile_app_labels()?;
        let cap = match self.max_series {
            Some(0) => {
                return Err(Error::InvalidConfig(
                    "max_series(0): the cap must be at least 1 series".into(),
                ));
            }
            Some(n) => Some(n),
            None => (!app.is_empty()).then_some(DEFAULT_APP_LABEL_MAX_SERIES),
        };
        // Request labels come first: `started_total` takes them, the end-of-call series all.
        let app_request = app.request_len();
        let app_names: Vec<&str> = app.names().collect();
        let labels_with = |base: &[&'static str], n_app: usize| -> Vec<String> {
            base.iter()
                .map(|n| (*n).to_owned())
                .chain(app_names.iter().take(n_app).map(|n| (*n).to_owned()))
                .collect()
        };
        let started_labels = labels_with(&base, app_request);
        let handled_labels = labels_with(&with_code, app_names.len());
        let handling_labels = if self.handling_by_code {
            labels_with(&with_code, app_names.len())
        } else {
            labels_with(&base, app_names.len())
        };
        let counter = |name: &str, help: &str, labels: &[String], capped: bool| {
            let b = Family::<Counter>::builder(&format!("{prefix}_{name}"), help).labels(labels);
            match cap.filter(|_| capped) {
                Some(n) => b.max_series(n).build(),
                None => b.build(),
            }
        };
        let base_owned = labels_with(&base, 0);
        let families = Arc::new(Families {
            started: counter("started_total", help[0], &started_labels, true)?,
            handled: counter("handled_total", help[1], &handled_labels, true)?,
            received: counter("msg_received_total", help[2], &base_owned, false)?,
            sent: counter("msg_sent_total", help[3], &base_owned, false)?,
            handling: match self.handling_seconds {
                Some(buckets) => {
                    let b = Family::<Histogram>::builder_with_options(
                        &format!("{prefix}_handling_seconds"),
                        help[4],
                        buckets,
                    )
                    .labels(&handling_labels);
                    Some(match cap {
                        Some(n) => b.max_series(n).build()?,
                        None => b.build()?,
                    })
                }
                None => None,
            },
            handling_by_code: self.handling_by_code,
            msg_recv: msg_histogram(
                self.client_msg_histograms,
                "grpc_client_msg_recv_handling_seconds",
                CLIENT_MSG_HELP[0],
            )?,
            msg_send: msg_histogram(
                self.client_msg_histograms,
                "grpc_client_msg_send_handling_seconds",
                CLIENT_MSG_HELP[1],
            )?,
            app_request,
            app,
        });
        let mut methods = MethodMap::default();
        for (path, grpc_type) in &self.methods {
            let Some((service, method)) = split_method(path) else {
                return Err(Error::InvalidConfig(format!(
                    "invalid gRPC method path {path:?} (expected /pkg.Service/Method)"
                )));
            };
            if let Some(existing) = methods.get(path.as_str())
                && let Some(existing) = existing.grpc_type
                && existing != *grpc_type
            {
                return Err(Error::InvalidConfig(format!(
                    "gRPC method {path} registered as both {existing} and {grpc_type}"
                )));
            }
            methods.insert(
                path.as_str().into(),
                Arc::new(MethodSeries::new(
                    &families,
                    Some(*grpc_type),
                    service,
                    method,
                )),
            );
        }
        let mut ids = Vec::new();
        let mut register = |r: Result<crate::CollectorId>| -> Result<()> {
            match r {
                Ok(id) => {
                    ids.push(id);
                    Ok(())
                }
                Err(e) => {
                    // Leave the registry as it was.
                    for id in ids.drain(..) {
                        let _ = self.registry.unregister(id);
                    }
                    Err(e)
                }
            }
        };
        register(self.registry.register(families.started.clone()))?;
        register(self.registry.register(families.handled.clone()))?;
        register(self.registry.register(families.received.clone()))?;
        register(self.registry.register(families.sent.clone()))?;
        if let Some(h) = &families.handling {
            register(self.registry.register(h.clone()))?;
        }
        for h in [&families.msg_recv, &families.msg_send]
            .into_iter()
            .flatten()
        {
            register(self.registry.register(h.clone()))?;
        }
        let table = MethodTable {
            side: self.side,
            unknown: Arc::new(MethodSeries::new(&families, None, UNKNOWN, UNKNOWN)),
            discovery: (self.discover && methods.is_empty())
                .then(|| Discovery::new(MAX_DISCOVERED_METHODS)),
            methods,
        };
        if self.initialize {
            for m in table.methods.values() {
                m.counter(&m.received, &families.received);
                m.counter(&m.sent, &families.sent);
                // With labels from the application, the values of a call are not known
                // before it starts: those series are created by the calls.
                if !families.app.is_empty() {
                    continue;
                }
                m.started();
                // With codes on the histogram, only the OK one: 17 histograms per method
                // would be mostly empty buckets.
                m.handling(GrpcCode::Ok);
                for c in GrpcCode::ALL {
                    m.handled(c);
                }
            }
        }
        Ok(GrpcMetrics::from_table(table))
    }
}

impl GrpcMetricsBuilder {
    /// Checks the labels from the application (names, clashes with the built-in labels and
    /// with each other, value lists), request labels first.
    fn compile_app_labels(&mut self) -> Result<AppLabels> {
        let mut decls = std::mem::take(&mut self.app_labels);
        // Stable: declaration order is kept within each part.
        decls.sort_by_key(|d| d.side == Part::Response);
        let taken: Vec<(&str, &str)> = BUILT_IN
            .iter()
            .map(|n| (*n, "a built-in gRPC label"))
            .collect();
        AppLabels::compile(decls, &taken)
    }
}

/// One per-message histogram family of the client, when turned on.
fn msg_histogram(on: bool, name: &str, help: &str) -> Result<Option<Family<Histogram>>> {
    if !on {
        return Ok(None);
    }
    Family::<Histogram>::builder_with_options(name, help, Buckets::default())
        .labels(&["grpc_type", "grpc_service", "grpc_method"])
        .build()
        .map(Some)
}

/// Help texts of the Go middleware's client per-message histograms (receive, send).
const CLIENT_MSG_HELP: [&str; 2] = [
    "Histogram of response latency (seconds) of the gRPC single message receive.",
    "Histogram of response latency (seconds) of the gRPC single message send.",
];

/// Help texts of the Go middleware (server side).
const SERVER_HELP: [&str; 5] = [
    "Total number of RPCs started on the server.",
    "Total number of RPCs completed on the server, regardless of success or failure.",
    "Total number of RPC stream messages received on the server.",
    "Total number of gRPC stream messages sent by the server.",
    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
];

/// Help texts of the Go middleware (client side).
const CLIENT_HELP: [&str; 5] = [
    "Total number of RPCs started on the client.",
    "Total number of RPCs completed by the client, regardless of success or failure.",
    "Total number of RPC stream messages received by the client.",
    "Total number of gRPC stream messages sent by the client.",
    "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Format;

    #[test]
    fn unknown_methods_share_fixed_labels() {
        let r = Registry::new();
        let m = GrpcMetrics::builder(&r, Side::Server)
            .method("/a.B/C", GrpcType::BidiStream)
            .build()
            .unwrap();
        for i in 0..100 {
            m.start(&format!("/random.Svc{i}/M{i}"))
                .finish(GrpcCode::Unimplemented);
        }
        let text = r.encode_to_string(Format::Text).unwrap();
        assert!(text.contains(r#"grpc_server_started_total{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown"} 100"#));
        assert_eq!(text.matches("grpc_server_started_total{").count(), 1);
    }

    #[test]
    fn conflicting_registration_is_refused() {
        let r = Registry::new();
        let e = GrpcMetrics::builder(&r, Side::Server)
            .method("/a.B/C", GrpcType::Unary)
            .method("/a.B/C", GrpcType::BidiStream)
            .build();
        assert!(e.is_err());
        // Nothing was left registered by the failed build.
        assert!(GrpcMetrics::builder(&r, Side::Server).build().is_ok());
        // Server and client families coexist in one registry.
        assert!(GrpcMetrics::builder(&r, Side::Client).build().is_ok());
    }
}

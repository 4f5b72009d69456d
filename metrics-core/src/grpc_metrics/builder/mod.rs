//! Configuration: [`GrpcMetricsBuilder`] and the options it takes — the [`Side`] (server or
//! client families), the registered methods with their [`GrpcType`], the handling-seconds
//! histogram (buckets, native buckets, on/off) and up-front initialization. `build` validates
//! the methods, registers the families (all or none) and hands the method table to
//! [`GrpcMetrics`](super::GrpcMetrics).
//!
//! The builder's methods are spread over one `impl` block per concern:
//!
//! - here: the kinds, the sides, the builder and its options for methods, histograms,
//!   initialization and discovery;
//! - `app_labels`: labels from the application and the series cap that bounds them
//!   (declared in the shared [`crate::app_labels`] list, which HTTP uses too);
//! - `build`: checking the options and registering the families.

use std::fmt;

use crate::app_labels::AppLabelDecls;
use crate::metric::Buckets;
use crate::registry::Registry;

mod app_labels;
mod build;

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

/// The most methods one [`GrpcMetrics`](super::GrpcMetrics) discovers from traffic (see
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

/// Configures [`GrpcMetrics`](super::GrpcMetrics); see
/// [`GrpcMetrics::builder`](super::GrpcMetrics::builder).
///
/// # Labels of calls
///
/// - **Registered methods** ([`method`](Self::method), [`methods`](Self::methods),
///   [`service`](Self::service), or a descriptor set through the tonic adapter) get their
///   own labels with their exact `grpc_type`; any other path is recorded as
///   `grpc_type="unknown", grpc_service="unknown", grpc_method="unknown"`.
/// - **Nothing registered**: methods are discovered from traffic (unless
///   [`discover_methods(false)`](Self::discover_methods)): a well-formed path
///   (`/pkg.Service/Method`, see [`split_method`](super::split_method)) gets its real
///   `grpc_service` and `grpc_method`, with `grpc_type="unknown"`: the streaming kind is not on the wire (a
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
    app_labels: AppLabelDecls,
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
            .field("app_labels", &self.app_labels)
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
    /// The defaults (see [`GrpcMetrics::builder`](super::GrpcMetrics::builder)): no methods,
    /// the histogram on with the default buckets, series created on first use.
    pub(super) fn new(registry: &Registry, side: Side) -> Self {
        Self {
            registry: registry.clone(),
            side,
            methods: Vec::new(),
            handling_seconds: Some(Buckets::default()),
            handling_by_code: false,
            initialize: false,
            discover: true,
            app_labels: AppLabelDecls::default(),
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
}

//! Recording calls: [`GrpcMetrics`], the cheap shared handle that finds a path's series and
//! starts a call; [`CallTracker`], which ends it exactly once (finish, or drop as `Canceled`
//! unless a code was set), with the trace-id exemplar. Where a call's counts go, deferred
//! for a server path not discovered yet, is `route.rs`; the per-direction message handles
//! body wrappers keep are `messages.rs`.

use crate::trace::TraceId;
use std::fmt;
use std::sync::Arc;

use super::builder::{GrpcMetricsBuilder, GrpcType, Side};
use super::code::GrpcCode;
use super::messages::MsgCounter;
use super::route::Target;
use super::series::{Families, MethodTable};
use super::wire::UNKNOWN;
use crate::app_labels::{AppValues, ExtensionsRef, HeaderLookup, NoHeaders};
use crate::clock::Instant;
use crate::registry::Registry;

/// gRPC call metrics for one side (server or client), with the Go middleware's names and
/// labels. Cheap to clone; share one per server (or per client channel set).
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, GrpcType, Side};
/// use promenade_core::{Format, Registry};
///
/// let registry = Registry::new();
/// let metrics = GrpcMetrics::builder(&registry, Side::Client)
///     .method("/kv.Store/Get", GrpcType::Unary)
///     .build()
///     .unwrap();
/// let mut call = metrics.start("/kv.Store/Get");
/// call.msg_sent();
/// call.finish(GrpcCode::NotFound);
/// metrics.start("/evil/../path").finish(GrpcCode::Unimplemented);
///
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains(r#"grpc_client_handled_total{grpc_type="unary",grpc_service="kv.Store",grpc_method="Get",grpc_code="NotFound"} 1"#));
/// assert!(text.contains(r#"grpc_client_handled_total{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown",grpc_code="Unimplemented"} 1"#));
/// ```
#[derive(Clone)]
pub struct GrpcMetrics {
    inner: Arc<MethodTable>,
}

impl fmt::Debug for GrpcMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcMetrics")
            .field("side", &self.inner.side)
            .field("methods", &self.inner.methods.len())
            .field("discovered", &self.discovered_method_count())
            .finish_non_exhaustive()
    }
}

impl GrpcMetrics {
    /// Starts configuring the metrics of one side, to be registered in `registry`.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// assert_eq!(m.side(), Side::Server);
    /// ```
    pub fn builder(registry: &Registry, side: Side) -> GrpcMetricsBuilder {
        GrpcMetricsBuilder::new(registry, side)
    }

    /// The handle over a built method table (called by [`GrpcMetricsBuilder::build`]).
    pub(super) fn from_table(table: MethodTable) -> Self {
        Self {
            inner: Arc::new(table),
        }
    }

    /// Server or client.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client).build().unwrap();
    /// assert_eq!(m.side(), Side::Client);
    /// ```
    pub fn side(&self) -> Side {
        self.inner.side
    }

    /// Number of registered methods.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client).build().unwrap();
    /// assert_eq!(m.method_count(), 0);
    /// ```
    pub fn method_count(&self) -> usize {
        self.inner.methods.len()
    }

    /// Number of methods discovered from traffic so far (always 0 when methods are
    /// registered or discovery is off; at most
    /// [`MAX_DISCOVERED_METHODS`](super::MAX_DISCOVERED_METHODS)).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client).build().unwrap();
    /// m.start("/kv.Store/Get");
    /// assert_eq!(m.discovered_method_count(), 1);
    /// ```
    pub fn discovered_method_count(&self) -> usize {
        self.inner.discovery.as_ref().map_or(0, |d| d.len())
    }

    /// The registered kind of a method path, if registered.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .method("/a.B/C", GrpcType::ClientStream).build().unwrap();
    /// assert_eq!(m.grpc_type("/a.B/C"), Some(GrpcType::ClientStream));
    /// assert_eq!(m.grpc_type("/a.B/D"), None);
    /// ```
    pub fn grpc_type(&self, path: &str) -> Option<GrpcType> {
        self.inner.methods.get(path).and_then(|m| m.grpc_type)
    }

    /// Starts tracking a call to `path` (`/pkg.Service/Method`); the returned tracker
    /// records `handled` and the histogram exactly once when it is finished or dropped (as
    /// `Canceled` when no code was set).
    ///
    /// `started` is counted now, except for a server call that must wait for its route
    /// (no method registered, `path` well formed and not discovered yet): that call counts
    /// `started` and its messages when [`CallTracker::resolve_route`] is called, or when it
    /// ends, on the `unknown` labels, if that never happens.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// use promenade_core::{Format, Registry};
    /// let r = Registry::new();
    /// let m = GrpcMetrics::builder(&r, Side::Server).build().unwrap();
    /// drop(m.start("/x.Y/Z")); // dropped before any status: Canceled
    /// assert!(r.encode_to_string(Format::Text).unwrap().contains(r#"grpc_code="Canceled"} 1"#));
    /// ```
    pub fn start(&self, path: &str) -> CallTracker {
        self.start_inner(path, &NoHeaders, None)
    }

    /// Starts tracking a call as [`start`](Self::start) does, reading the labels from the
    /// application declared on the request (see
    /// [`request_metadata_label`](GrpcMetricsBuilder::request_metadata_label) and
    /// [`request_extension_label`](GrpcMetricsBuilder::request_extension_label)) from its
    /// metadata (the HTTP/2 request headers) and extensions. What the tonic layers call;
    /// without such labels it is `start`, and reads nothing.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, LabelValues, Side};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = GrpcMetrics::builder(&registry, Side::Client)
    ///     .request_metadata_label("region", "x-region", LabelValues::one_of(&["eu", "us"], "other"))
    ///     .build()
    ///     .unwrap();
    /// let mut request = http::Request::new(());
    /// request.headers_mut().insert("x-region", "eu".parse().unwrap());
    /// let call = metrics.start_request("/kv.Store/Get", request.headers(), request.extensions().into());
    /// call.finish(GrpcCode::Ok);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"grpc_client_started_total{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Get",region="eu"} 1"#));
    /// ```
    pub fn start_request(
        &self,
        path: &str,
        metadata: &dyn HeaderLookup,
        extensions: ExtensionsRef<'_>,
    ) -> CallTracker {
        self.start_inner(path, metadata, Some(extensions))
    }

    fn families(&self) -> &Families {
        &self.inner.unknown.families
    }

    /// The request values of a call's labels from the application; `None` (nothing read,
    /// nothing allocated) when none is declared.
    #[inline]
    fn app_values(
        &self,
        metadata: &dyn HeaderLookup,
        extensions: Option<ExtensionsRef<'_>>,
    ) -> Option<AppValues> {
        let app = &self.families().app;
        if app.is_empty() {
            return None;
        }
        let mut values = app.start(metadata);
        if let Some(map) = extensions {
            app.request_extensions(&mut values, map);
        }
        Some(values)
    }

    #[inline]
    fn start_inner(
        &self,
        path: &str,
        metadata: &dyn HeaderLookup,
        extensions: Option<ExtensionsRef<'_>>,
    ) -> CallTracker {
        let target = Target::for_path(&self.inner, path);
        let app = self.app_values(metadata, extensions);
        if let Target::Known(method) = &target {
            method.count_started(app.as_ref());
        }
        CallTracker {
            target,
            app,
            start: Instant::now(),
            code: None,
            done: false,
            // Feature `opentelemetry`: the current span's trace; a traceparent may replace it.
            trace_id: TraceId::from_current_span(),
        }
    }

    /// Counts a started call without tracking its end: for interceptors, which see a call
    /// begin but never its status or messages. A server cannot see the route of such a call,
    /// so only registered or already discovered paths get their own labels there; a client
    /// discovers `path` as [`start`](Self::start) does.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// use promenade_core::{Format, Registry};
    /// let r = Registry::new();
    /// let m = GrpcMetrics::builder(&r, Side::Client).method("/a.B/C", GrpcType::Unary).build().unwrap();
    /// m.record_started("/a.B/C");
    /// assert!(r.encode_to_string(Format::Text).unwrap().contains(r#"grpc_client_started_total{grpc_type="unary",grpc_service="a.B",grpc_method="C"} 1"#));
    /// ```
    pub fn record_started(&self, path: &str) {
        let table = &self.inner;
        let method = match table.side {
            Side::Client => table.discover(path),
            Side::Server => table
                .known(path)
                .unwrap_or_else(|| Arc::clone(&table.unknown)),
        };
        // An interceptor hands over no request: labels from the application are absent.
        let app = self.app_values(&NoHeaders, None);
        method.count_started(app.as_ref());
    }
}

/// One call in progress. Records `handled{grpc_code}` and the handling-seconds histogram
/// exactly once: on [`CallTracker::finish`], or on drop with the code set by
/// [`CallTracker::set_code`], or `Canceled` if none was set (stream dropped early, client
/// went away, future cancelled).
///
/// The drop alone cannot tell a cancelled call from one whose handler panicked (an executor
/// drops a panicked task during the unwind or after catching it), so an adapter that sees
/// the handler panic sets [`GrpcCode::Internal`] first — what go-grpc-middleware's recovery
/// interceptor answers — as the tonic server layer does.
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, Side};
/// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
/// let mut call = m.start("/a.B/C");
/// call.set_code(GrpcCode::Internal); // e.g. the handler panicked
/// drop(call); // recorded as Internal
/// ```
pub struct CallTracker {
    target: Target,
    /// The values of the labels from the application; `None` when none is declared.
    app: Option<AppValues>,
    start: Instant,
    code: Option<GrpcCode>,
    done: bool,
    /// Lower-case hex trace id of a sampled W3C trace: the handling-seconds exemplar.
    trace_id: Option<TraceId>,
}

impl fmt::Debug for CallTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallTracker")
            .field("labels", &self.labels())
            .field("route_pending", &self.is_route_pending())
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

impl CallTracker {
    /// The streaming kind of this call's method: `Some` for a registered method, `None`
    /// (label `grpc_type="unknown"`) for a discovered one or the `unknown` labels, whose
    /// kind the wire does not tell.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .method("/a.B/C", GrpcType::ServerStream).build().unwrap();
    /// assert_eq!(m.start("/a.B/C").grpc_type(), Some(GrpcType::ServerStream));
    /// assert_eq!(m.start("/not.Registered/X").grpc_type(), None);
    /// ```
    pub fn grpc_type(&self) -> Option<GrpcType> {
        self.target.series().and_then(|m| m.grpc_type)
    }

    /// The `grpc_service` and `grpc_method` labels of this call; `unknown` ones while
    /// [the route is pending](Self::is_route_pending).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .method("/a.B/C", GrpcType::Unary).build().unwrap();
    /// assert_eq!(m.start("/a.B/C").labels(), ("a.B", "C"));
    /// assert_eq!(m.start("/not.Registered/X").labels(), ("unknown", "unknown"));
    /// ```
    pub fn labels(&self) -> (&str, &str) {
        self.target
            .series()
            .map_or((UNKNOWN, UNKNOWN), |m| (&m.service, &m.method))
    }

    /// Whether this server call waits for its response head to decide its labels (see
    /// [`resolve_route`](Self::resolve_route)).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let server = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// let mut call = server.start("/kv.Store/Get");
    /// assert!(call.is_route_pending());
    /// call.resolve_route(true);
    /// assert!(!call.is_route_pending());
    /// assert!(!server.start("/kv.Store/Get").is_route_pending()); // discovered now
    /// assert!(!server.start("/not a path").is_route_pending()); // never gets labels
    /// ```
    pub fn is_route_pending(&self) -> bool {
        self.target.is_pending()
    }

    /// Decides the labels of a server call whose [route is pending](Self::is_route_pending),
    /// once the response head has arrived: `routed` when the server answered the path (then
    /// the path is discovered, while fewer than
    /// [`MAX_DISCOVERED_METHODS`](super::MAX_DISCOVERED_METHODS) are), `false` for the
    /// server's "no such method" answer (the call stays on the `unknown` labels). Counts
    /// `started` and the messages seen so far on the chosen labels. The first decision
    /// holds; on a call that is not pending this does nothing. A pending call that ends
    /// undecided (cancelled, failed, panicked before its head) is recorded on `unknown`.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, Side};
    /// use promenade_core::{Format, Registry};
    /// let r = Registry::new();
    /// let server = GrpcMetrics::builder(&r, Side::Server).build().unwrap();
    /// let mut call = server.start("/kv.Store/Get");
    /// call.msg_received();
    /// call.resolve_route(true); // e.g. the handler answered
    /// call.finish(GrpcCode::Ok);
    /// let mut miss = server.start("/kv.Store/Nope");
    /// miss.resolve_route(false); // e.g. a trailers-only Unimplemented without message
    /// miss.finish(GrpcCode::Unimplemented);
    /// let text = r.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"grpc_server_msg_received_total{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Get"} 1"#));
    /// assert!(text.contains(r#"grpc_server_started_total{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown"} 1"#));
    /// assert_eq!(server.discovered_method_count(), 1);
    /// ```
    pub fn resolve_route(&mut self, routed: bool) {
        if let Target::Deferred(d) = &self.target {
            let (series, decided_now) = d.resolve(routed);
            if decided_now {
                series.count_started(self.app.as_ref());
            }
        }
    }

    /// Reads the response labels from the application (see
    /// [`response_metadata_label`](GrpcMetricsBuilder::response_metadata_label) and
    /// [`response_extension_label`](GrpcMetricsBuilder::response_extension_label)) from the
    /// response head's metadata (headers) and extensions; they label `handled_total` and
    /// `handling_seconds` when the call ends. The tonic layers call it when the head
    /// arrives. Does nothing when no response label is declared; a later call replaces the
    /// values.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, LabelValues, Side};
    /// use promenade_core::{Format, Registry};
    /// let registry = Registry::new();
    /// let metrics = GrpcMetrics::builder(&registry, Side::Client)
    ///     .response_metadata_label("shard", "x-shard", LabelValues::one_of(&["a", "b"], "other"))
    ///     .build()
    ///     .unwrap();
    /// let mut call = metrics.start("/kv.Store/Get");
    /// let mut head = http::Response::new(());
    /// head.headers_mut().insert("x-shard", "b".parse().unwrap());
    /// call.response_labels(head.headers(), head.extensions().into());
    /// call.finish(GrpcCode::Ok);
    /// let text = registry.encode_to_string(Format::Text).unwrap();
    /// assert!(text.contains(r#"grpc_client_handled_total{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Get",grpc_code="OK",shard="b"} 1"#));
    /// ```
    pub fn response_labels(&mut self, metadata: &dyn HeaderLookup, extensions: ExtensionsRef<'_>) {
        if let Some(values) = &mut self.app {
            let families = self.target.families();
            families.app.response(values, metadata, Some(extensions));
        }
    }

    /// Counts one received message.
    ///
    /// ```
    /// # let m = promenade_core::grpc_metrics::GrpcMetrics::builder(&promenade_core::Registry::new(), promenade_core::grpc_metrics::Side::Server).build().unwrap();
    /// m.start("/a.B/C").msg_received();
    /// ```
    #[inline]
    pub fn msg_received(&self) {
        self.target.add_msgs(true, 1);
    }

    /// Counts one sent message.
    ///
    /// ```
    /// # let m = promenade_core::grpc_metrics::GrpcMetrics::builder(&promenade_core::Registry::new(), promenade_core::grpc_metrics::Side::Server).build().unwrap();
    /// m.start("/a.B/C").msg_sent();
    /// ```
    #[inline]
    pub fn msg_sent(&self) {
        self.target.add_msgs(false, 1);
    }

    /// Counts `n` received (`received == true`) or sent messages.
    ///
    /// ```
    /// # let m = promenade_core::grpc_metrics::GrpcMetrics::builder(&promenade_core::Registry::new(), promenade_core::grpc_metrics::Side::Server).build().unwrap();
    /// m.start("/a.B/C").add_msgs(false, 3);
    /// ```
    #[doc(hidden)] // promenade-tonic's body wrappers only
    #[inline]
    pub fn add_msgs(&self, received: bool, n: u64) {
        self.target.add_msgs(received, n);
    }

    /// Whether received (`received == true`) or sent messages of this call are timed (the
    /// client's per-message histograms), as [`MsgCounter::times_msgs`] tells for a handle.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client)
    ///     .method("/a.B/C", GrpcType::ServerStream).client_msg_histograms(true).build().unwrap();
    /// assert!(m.start("/a.B/C").times_msgs(true));
    /// ```
    #[doc(hidden)] // promenade-tonic's body wrappers only
    #[inline]
    pub fn times_msgs(&self, received: bool) -> bool {
        self.target.times_msgs(received)
    }

    /// Observes one received or sent message's latency; nothing when not timed (see
    /// [`CallTracker::times_msgs`]).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client)
    ///     .method("/a.B/C", GrpcType::ServerStream).client_msg_histograms(true).build().unwrap();
    /// m.start("/a.B/C").observe_msg_seconds(true, 0.01);
    /// ```
    #[doc(hidden)] // promenade-tonic's body wrappers only
    pub fn observe_msg_seconds(&self, received: bool, seconds: f64) {
        self.target.observe_msg_seconds(received, seconds);
    }

    /// A handle counting received messages of this call.
    ///
    /// ```
    /// # let m = promenade_core::grpc_metrics::GrpcMetrics::builder(&promenade_core::Registry::new(), promenade_core::grpc_metrics::Side::Server).build().unwrap();
    /// let call = m.start("/a.B/C");
    /// call.received_counter().add(2);
    /// ```
    #[doc(hidden)] // promenade-tonic's body wrappers only
    pub fn received_counter(&self) -> MsgCounter {
        MsgCounter::new(self.target.clone(), true)
    }

    /// A handle counting sent messages of this call.
    ///
    /// ```
    /// # let m = promenade_core::grpc_metrics::GrpcMetrics::builder(&promenade_core::Registry::new(), promenade_core::grpc_metrics::Side::Server).build().unwrap();
    /// let call = m.start("/a.B/C");
    /// call.sent_counter().add(1);
    /// ```
    #[doc(hidden)] // promenade-tonic's body wrappers only
    pub fn sent_counter(&self) -> MsgCounter {
        MsgCounter::new(self.target.clone(), false)
    }

    /// Sets the status code to record when the call ends (the last one set wins).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, Side};
    /// # let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// let mut call = m.start("/a.B/C");
    /// call.set_code(GrpcCode::Aborted);
    /// assert_eq!(call.code(), Some(GrpcCode::Aborted));
    /// ```
    pub fn set_code(&mut self, code: GrpcCode) {
        self.code = Some(code);
    }

    /// The code set so far.
    ///
    /// ```
    /// # let m = promenade_core::grpc_metrics::GrpcMetrics::builder(&promenade_core::Registry::new(), promenade_core::grpc_metrics::Side::Server).build().unwrap();
    /// assert_eq!(m.start("/a.B/C").code(), None);
    /// ```
    pub fn code(&self) -> Option<GrpcCode> {
        self.code
    }

    /// Seconds since the call started.
    ///
    /// ```
    /// # let m = promenade_core::grpc_metrics::GrpcMetrics::builder(&promenade_core::Registry::new(), promenade_core::grpc_metrics::Side::Server).build().unwrap();
    /// assert!(m.start("/a.B/C").elapsed_seconds() >= 0.0);
    /// ```
    pub fn elapsed_seconds(&self) -> f64 {
        self.start.elapsed_seconds()
    }

    /// Takes the trace id of a W3C `traceparent` header (request metadata) as the exemplar
    /// of the handling-seconds observation, when the trace is sampled; returns whether it
    /// did. Malformed or unsampled headers are ignored.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, Side};
    /// use promenade_core::{Format, Registry};
    /// let r = Registry::new();
    /// let m = GrpcMetrics::builder(&r, Side::Server).build().unwrap();
    /// let mut call = m.start("/a.B/C");
    /// assert!(call.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    /// assert!(!call.set_traceparent("junk"));
    /// call.finish(GrpcCode::Ok);
    /// let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    /// assert!(om.contains(r#"# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}"#));
    /// ```
    pub fn set_traceparent(&mut self, header: &str) -> bool {
        match TraceId::from_traceparent(header) {
            Some(id) => {
                self.trace_id = Some(id);
                true
            }
            None => false,
        }
    }

    /// Ends the call with `code` now.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, Side};
    /// # let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// m.start("/a.B/C").finish(GrpcCode::Ok);
    /// ```
    pub fn finish(mut self, code: GrpcCode) {
        self.code = Some(code);
        self.record();
    }

    fn record(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let code = self.code.unwrap_or(GrpcCode::Canceled);
        // A call still waiting for its route never showed that the server routes it.
        let method = match &self.target {
            Target::Known(m) => m,
            Target::Deferred(d) => {
                let (series, decided_now) = d.resolve(false);
                if decided_now {
                    series.count_started(self.app.as_ref());
                }
                series
            }
        };
        method.count_end(code, self.app.as_ref(), self.start, self.trace_id.as_ref());
    }
}

impl Drop for CallTracker {
    fn drop(&mut self) {
        self.record();
    }
}

#[cfg(test)]
mod tests;

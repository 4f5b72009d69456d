//! Recording calls: [`GrpcMetrics`], the cheap shared handle that finds a path's series and
//! starts a call; [`CallTracker`], which ends it exactly once (finish, or drop as `Canceled`
//! unless a code was set), with the trace-id exemplar; [`MsgCounter`], a handle a body
//! wrapper keeps to count one direction's messages.

use crate::trace::{TraceId, observe_with_trace};
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use super::builder::{GrpcMetricsBuilder, GrpcType, Side};
use super::code::GrpcCode;
use super::series::{MethodSeries, MethodTable};
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
/// assert!(text.contains(r#"grpc_client_handled_total{grpc_type="unary",grpc_service="unknown",grpc_method="unknown",grpc_code="Unimplemented"} 1"#));
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
        self.inner.methods.get(path).map(|m| m.grpc_type)
    }

    fn lookup(&self, path: &str) -> &Arc<MethodSeries> {
        self.inner.methods.get(path).unwrap_or(&self.inner.unknown)
    }

    /// Starts tracking a call to `path` (`/pkg.Service/Method`): increments `started` now;
    /// the returned tracker records `handled` and the histogram exactly once when it is
    /// finished or dropped (as `Canceled` when no code was set).
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
        let method = Arc::clone(self.lookup(path));
        if let Some(c) = method.started() {
            c.inc();
        }
        CallTracker {
            method,
            start: Instant::now(),
            code: None,
            done: false,
            // Feature `opentelemetry`: the current span's trace; a traceparent may replace it.
            trace_id: TraceId::from_current_span(),
        }
    }

    /// Counts a started call without tracking its end: for interceptors, which see a call
    /// begin but never its status or messages.
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
        if let Some(c) = self.lookup(path).started() {
            c.inc();
        }
    }
}

/// Counts messages of one call in one direction; can be moved into a body wrapper
/// independently of the [`CallTracker`].
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
/// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
///     .method("/a.B/C", GrpcType::ClientStream).build().unwrap();
/// let call = m.start("/a.B/C");
/// let received = call.received_counter();
/// received.add(3);
/// ```
// Hidden: only promenade-tonic's body wrappers use it (see the re-export in mod.rs).
#[doc(hidden)]
#[derive(Clone)]
pub struct MsgCounter {
    method: Arc<MethodSeries>,
    received: bool,
}

impl fmt::Debug for MsgCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgCounter")
            .field("method", &self.method.method)
            .field("received", &self.received)
            .finish()
    }
}

impl MsgCounter {
    /// Adds `n` messages.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .method("/a.B/C", GrpcType::BidiStream).build().unwrap();
    /// m.start("/a.B/C").sent_counter().add(2);
    /// ```
    #[inline]
    pub fn add(&self, n: u64) {
        self.method.add_msgs(self.received, n);
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
    method: Arc<MethodSeries>,
    start: Instant,
    code: Option<GrpcCode>,
    done: bool,
    /// Lower-case hex trace id of a sampled W3C trace: the handling-seconds exemplar.
    trace_id: Option<TraceId>,
}

impl fmt::Debug for CallTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallTracker")
            .field("service", &self.method.service)
            .field("method", &self.method.method)
            .field("code", &self.code)
            .finish_non_exhaustive()
    }
}

impl CallTracker {
    /// The `grpc_type` label of this call.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// assert_eq!(m.start("/not.Registered/X").grpc_type(), GrpcType::Unary);
    /// ```
    pub fn grpc_type(&self) -> GrpcType {
        self.method.grpc_type
    }

    /// The `grpc_service` and `grpc_method` labels of this call.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// assert_eq!(m.start("/not.Registered/X").labels(), ("unknown", "unknown"));
    /// ```
    pub fn labels(&self) -> (&str, &str) {
        (&self.method.service, &self.method.method)
    }

    /// Counts one received message.
    ///
    /// ```
    /// # let m = promenade_core::grpc_metrics::GrpcMetrics::builder(&promenade_core::Registry::new(), promenade_core::grpc_metrics::Side::Server).build().unwrap();
    /// m.start("/a.B/C").msg_received();
    /// ```
    #[inline]
    pub fn msg_received(&self) {
        self.method.add_msgs(true, 1);
    }

    /// Counts one sent message.
    ///
    /// ```
    /// # let m = promenade_core::grpc_metrics::GrpcMetrics::builder(&promenade_core::Registry::new(), promenade_core::grpc_metrics::Side::Server).build().unwrap();
    /// m.start("/a.B/C").msg_sent();
    /// ```
    #[inline]
    pub fn msg_sent(&self) {
        self.method.add_msgs(false, 1);
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
        self.method.add_msgs(received, n);
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
        MsgCounter {
            method: Arc::clone(&self.method),
            received: true,
        }
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
        MsgCounter {
            method: Arc::clone(&self.method),
            received: false,
        }
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
        self.start.elapsed().as_secs_f64()
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
        if let Some(c) = self.method.handled(code) {
            c.inc();
        }
        if let Some(h) = self.method.handling() {
            let seconds = self.start.elapsed().as_secs_f64();
            observe_with_trace(h, seconds, self.trace_id.as_ref());
        }
    }
}

impl Drop for CallTracker {
    fn drop(&mut self) {
        self.record();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Format;
    use crate::grpc_metrics::{GrpcCode, GrpcType};

    #[test]
    fn tracker_records_once_and_cancels_by_default() {
        let r = Registry::new();
        let m = GrpcMetrics::builder(&r, Side::Server)
            .method("/a.B/C", GrpcType::ServerStream)
            .build()
            .unwrap();
        let mut t = m.start("/a.B/C");
        t.set_code(GrpcCode::Ok);
        t.finish(GrpcCode::DataLoss);
        drop(m.start("/a.B/C"));
        let text = r.encode_to_string(Format::Text).unwrap();
        assert!(text.contains(r#"grpc_code="DataLoss"} 1"#));
        assert!(text.contains(r#"grpc_code="Canceled"} 1"#));
        assert!(!text.contains(r#"grpc_code="OK""#));
        assert!(text.contains(r#"grpc_server_handling_seconds_count{grpc_type="server_stream",grpc_service="a.B",grpc_method="C"} 2"#));
        assert!(!text.contains("grpc_server_handling_seconds_bucket{grpc_type=\"server_stream\",grpc_service=\"a.B\",grpc_method=\"C\",grpc_code"));
    }
}

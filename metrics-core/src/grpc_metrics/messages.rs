//! A call's messages as the request body wrapper sees them: [`MsgCounter`], the handle that
//! counts one direction's messages apart from the [`CallTracker`](super::CallTracker) (the
//! request body is polled in another task than the one that ends the call; the response
//! body carries the tracker and counts through it), and that times them for the client's
//! per-message latency histograms, whose families are defined here too.

use std::fmt;

use super::route::Target;
use crate::error::Result;
use crate::family::Family;
use crate::metric::{Buckets, Histogram};

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
    target: Target,
    received: bool,
}

impl fmt::Debug for MsgCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MsgCounter")
            .field("method", &self.target.series().map(|m| &m.method))
            .field("received", &self.received)
            .finish()
    }
}

impl MsgCounter {
    /// The handle of one direction (`received`, else sent) of a call's `target`.
    pub(super) fn new(target: Target, received: bool) -> Self {
        Self { target, received }
    }

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
        self.target.add_msgs(self.received, n);
    }

    /// Whether this direction's messages are timed (the client's per-message histograms
    /// are on and apply to the method), so a body wrapper reads the clock only then.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client)
    ///     .method("/a.B/C", GrpcType::ServerStream).build().unwrap();
    /// assert!(!m.start("/a.B/C").received_counter().times_msgs());
    /// ```
    #[inline]
    pub fn times_msgs(&self) -> bool {
        self.target.times_msgs(self.received)
    }

    /// Observes one message's latency in this direction (see
    /// [`GrpcMetricsBuilder::client_msg_histograms`](super::GrpcMetricsBuilder::client_msg_histograms)); nothing when not timed.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Client)
    ///     .method("/a.B/C", GrpcType::ClientStream).client_msg_histograms(true).build().unwrap();
    /// let sent = m.start("/a.B/C").sent_counter();
    /// assert!(sent.times_msgs());
    /// sent.observe_msg_seconds(0.01);
    /// ```
    #[inline]
    pub fn observe_msg_seconds(&self, seconds: f64) {
        self.target.observe_msg_seconds(self.received, seconds);
    }
}

/// One per-message histogram family of the client, when turned on.
pub(super) fn msg_histogram(on: bool, name: &str, help: &str) -> Result<Option<Family<Histogram>>> {
    if !on {
        return Ok(None);
    }
    Family::<Histogram>::builder_with_options(name, help, Buckets::default())
        .labels(&["grpc_type", "grpc_service", "grpc_method"])
        .build()
        .map(Some)
}

/// Help texts of the Go middleware's client per-message histograms (receive, send).
pub(super) const CLIENT_MSG_HELP: [&str; 2] = [
    "Histogram of response latency (seconds) of the gRPC single message receive.",
    "Histogram of response latency (seconds) of the gRPC single message send.",
];

//! The gRPC instrumentation shared by the gRPC adapters (tonic today): metric names, labels
//! and code strings exactly as the Go ecosystem's gRPC Prometheus middleware
//! (`go-grpc-middleware/providers/prometheus`), method-path parsing, the `grpc_type`
//! registry, the gRPC message-frame counter and the call tracker with its drop guard.
//!
//! Families (`grpc_server_*`, or `grpc_client_*` for [`Side::Client`]), labels
//! `grpc_type`, `grpc_service`, `grpc_method`:
//!
//! | family | type | extra label |
//! |---|---|---|
//! | `grpc_server_started_total` | counter | |
//! | `grpc_server_handled_total` | counter | `grpc_code` |
//! | `grpc_server_msg_received_total` | counter | |
//! | `grpc_server_msg_sent_total` | counter | |
//! | `grpc_server_handling_seconds` | histogram (on by default, default buckets) | |
//!
//! Only registered methods get their own labels; any other path is recorded as
//! `grpc_type="unary", grpc_service="unknown", grpc_method="unknown"`, so random paths cannot
//! grow the number of series. (Unary because a server cannot know the streaming kind of a
//! method it does not implement; such calls are normally `Unimplemented`.)
//!
//! ```
//! use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side, code};
//! use promenade_core::{Format, Registry};
//!
//! let registry = Registry::new();
//! let metrics = GrpcMetrics::builder(&registry, Side::Server)
//!     .method("/shop.Cart/Watch", GrpcType::ServerStream)
//!     .build()
//!     .unwrap();
//! let mut call = metrics.start("/shop.Cart/Watch");
//! call.msg_received();
//! call.msg_sent();
//! call.msg_sent();
//! call.set_code(code::OK);
//! drop(call); // end of stream
//!
//! let text = registry.encode_to_string(Format::Text).unwrap();
//! assert!(text.contains(r#"grpc_server_handled_total{grpc_type="server_stream",grpc_service="shop.Cart",grpc_method="Watch",grpc_code="OK"} 1"#));
//! assert!(text.contains(r#"grpc_server_msg_sent_total{grpc_type="server_stream",grpc_service="shop.Cart",grpc_method="Watch"} 2"#));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::family::{Family, Series};
use crate::metric::{Buckets, Counter, Histogram};
use crate::registry::Registry;

/// The label value of `grpc_service` and `grpc_method` for unregistered or unparsable methods.
///
/// ```
/// assert_eq!(promenade_core::grpc_metrics::UNKNOWN, "unknown");
/// ```
pub const UNKNOWN: &str = "unknown";

/// Longest service or method name accepted by [`split_method`] (bytes).
///
/// ```
/// use promenade_core::grpc_metrics::{MAX_NAME_LEN, split_method};
/// assert!(split_method(&format!("/{}/M", "s".repeat(MAX_NAME_LEN + 1))).is_none());
/// ```
pub const MAX_NAME_LEN: usize = 256;

/// gRPC status codes as numbers, with the grpc-go names used in the `grpc_code` label.
pub mod code {
    /// `OK`
    pub const OK: u8 = 0;
    /// `Canceled`
    pub const CANCELED: u8 = 1;
    /// `Unknown`
    pub const UNKNOWN: u8 = 2;
    /// `InvalidArgument`
    pub const INVALID_ARGUMENT: u8 = 3;
    /// `DeadlineExceeded`
    pub const DEADLINE_EXCEEDED: u8 = 4;
    /// `NotFound`
    pub const NOT_FOUND: u8 = 5;
    /// `AlreadyExists`
    pub const ALREADY_EXISTS: u8 = 6;
    /// `PermissionDenied`
    pub const PERMISSION_DENIED: u8 = 7;
    /// `ResourceExhausted`
    pub const RESOURCE_EXHAUSTED: u8 = 8;
    /// `FailedPrecondition`
    pub const FAILED_PRECONDITION: u8 = 9;
    /// `Aborted`
    pub const ABORTED: u8 = 10;
    /// `OutOfRange`
    pub const OUT_OF_RANGE: u8 = 11;
    /// `Unimplemented`
    pub const UNIMPLEMENTED: u8 = 12;
    /// `Internal`
    pub const INTERNAL: u8 = 13;
    /// `Unavailable`
    pub const UNAVAILABLE: u8 = 14;
    /// `DataLoss`
    pub const DATA_LOSS: u8 = 15;
    /// `Unauthenticated`
    pub const UNAUTHENTICATED: u8 = 16;

    /// The grpc-go `Code.String()` names, indexed by code number.
    pub const NAMES: [&str; 17] = [
        "OK",
        "Canceled",
        "Unknown",
        "InvalidArgument",
        "DeadlineExceeded",
        "NotFound",
        "AlreadyExists",
        "PermissionDenied",
        "ResourceExhausted",
        "FailedPrecondition",
        "Aborted",
        "OutOfRange",
        "Unimplemented",
        "Internal",
        "Unavailable",
        "DataLoss",
        "Unauthenticated",
    ];

    /// The `grpc_code` label of a code number. Numbers outside 0–16 are `Unknown` (as tonic
    /// and grpc-go treat them on the wire), which keeps the label's values bounded.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::code;
    /// assert_eq!(code::name(0), "OK");
    /// assert_eq!(code::name(1), "Canceled");
    /// assert_eq!(code::name(16), "Unauthenticated");
    /// assert_eq!(code::name(99), "Unknown");
    /// ```
    pub fn name(code: u8) -> &'static str {
        NAMES.get(usize::from(code)).copied().unwrap_or("Unknown")
    }

    /// Parses a `grpc-status` header value (ASCII decimal). A present but invalid value, or a
    /// number outside 0–16, is `Unknown`.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::code;
    /// assert_eq!(code::parse(b"0"), code::OK);
    /// assert_eq!(code::parse(b"14"), code::UNAVAILABLE);
    /// assert_eq!(code::parse(b"17"), code::UNKNOWN);
    /// assert_eq!(code::parse(b" 5"), code::UNKNOWN);
    /// assert_eq!(code::parse(b""), code::UNKNOWN);
    /// ```
    pub fn parse(value: &[u8]) -> u8 {
        match value {
            [d @ b'0'..=b'9'] => d - b'0',
            [b'1', d @ b'0'..=b'6'] => 10 + (d - b'0'),
            _ => UNKNOWN,
        }
    }

    /// The code a client infers from an HTTP status when a response carries no `grpc-status`
    /// (the gRPC "HTTP to gRPC status code mapping").
    ///
    /// ```
    /// use promenade_core::grpc_metrics::code;
    /// assert_eq!(code::from_http_status(404), code::UNIMPLEMENTED);
    /// assert_eq!(code::from_http_status(503), code::UNAVAILABLE);
    /// assert_eq!(code::from_http_status(418), code::UNKNOWN);
    /// ```
    pub fn from_http_status(status: u16) -> u8 {
        match status {
            400 => INTERNAL,
            401 => UNAUTHENTICATED,
            403 => PERMISSION_DENIED,
            404 => UNIMPLEMENTED,
            429 | 502 | 503 | 504 => UNAVAILABLE,
            _ => UNKNOWN,
        }
    }
}

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

/// Splits a full method path `/pkg.Service/Method` into `("pkg.Service", "Method")`.
///
/// Stricter than Go's split (which cuts at the first `/` and keeps the rest): the path must
/// be exactly `/<service>/<method>`, the service made of ASCII letters, digits, `_` and `.`,
/// the method of ASCII letters, digits and `_`, each non-empty and at most
/// [`MAX_NAME_LEN`] bytes. Anything else is `None` (recorded as `unknown`/`unknown`).
///
/// ```
/// use promenade_core::grpc_metrics::split_method;
/// assert_eq!(split_method("/pkg.Service/Method"), Some(("pkg.Service", "Method")));
/// assert_eq!(split_method("/grpc.health.v1.Health/Check"), Some(("grpc.health.v1.Health", "Check")));
/// assert_eq!(split_method("/a/b/c"), None);
/// assert_eq!(split_method("pkg.Service/Method"), None);
/// assert_eq!(split_method("/metrics"), None);
/// ```
pub fn split_method(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (service, method) = rest.split_once('/')?;
    let ok_len = |s: &str| !s.is_empty() && s.len() <= MAX_NAME_LEN;
    let service_ok = ok_len(service)
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && !service.starts_with('.')
        && !service.ends_with('.')
        && !service.contains("..");
    let method_ok = ok_len(method)
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (service_ok && method_ok).then_some((service, method))
}

/// Counts gRPC messages in a byte stream of length-prefixed frames (1-byte compressed flag,
/// 4-byte big-endian length, payload), across arbitrary chunk boundaries. A message counts
/// once its last payload byte has been seen; compressed messages count like any other.
///
/// ```
/// use promenade_core::grpc_metrics::FrameCounter;
/// let mut c = FrameCounter::default();
/// let frame = [0u8, 0, 0, 0, 3, b'a', b'b', b'c'];
/// assert_eq!(c.push(&frame[..4]), 0); // split inside the header
/// assert_eq!(c.push(&frame[4..6]), 0);
/// assert_eq!(c.push(&frame[6..]), 1);
/// assert_eq!(c.push(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 2); // two empty (one compressed) messages
/// assert!(c.at_boundary());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameCounter {
    header: [u8; 5],
    header_len: u8,
    remaining: u64,
}

impl FrameCounter {
    /// Feeds the next chunk; returns how many messages it completed.
    ///
    /// ```
    /// let mut c = promenade_core::grpc_metrics::FrameCounter::default();
    /// assert_eq!(c.push(&[0, 0, 0, 0, 1, 42, 0, 0]), 1); // one message, then a partial header
    /// ```
    pub fn push(&mut self, mut chunk: &[u8]) -> u64 {
        let mut completed = 0;
        // Every iteration consumes at least one byte, so the loop ends after chunk.len() steps.
        while !chunk.is_empty() {
            if self.remaining > 0 {
                let take = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(chunk.len());
                chunk = &chunk[take..];
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    completed += 1;
                }
                continue;
            }
            let need = 5 - usize::from(self.header_len);
            let take = need.min(chunk.len());
            let start = usize::from(self.header_len);
            self.header[start..start + take].copy_from_slice(&chunk[..take]);
            self.header_len += take as u8;
            chunk = &chunk[take..];
            if self.header_len == 5 {
                self.header_len = 0;
                let len = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]);
                if len == 0 {
                    completed += 1;
                } else {
                    self.remaining = u64::from(len);
                }
            }
        }
        completed
    }

    /// Whether the stream so far ended exactly at a message boundary.
    ///
    /// ```
    /// let mut c = promenade_core::grpc_metrics::FrameCounter::default();
    /// c.push(&[0, 0, 0]);
    /// assert!(!c.at_boundary());
    /// ```
    pub fn at_boundary(&self) -> bool {
        self.header_len == 0 && self.remaining == 0
    }
}

type Lazy<M> = OnceLock<Option<Series<M>>>;

/// The series of one method, created on first use (or up front with
/// [`GrpcMetricsBuilder::initialize`]) and kept, so a call never looks a label set up.
struct MethodSeries {
    families: Arc<Families>,
    grpc_type: GrpcType,
    service: Box<str>,
    method: Box<str>,
    started: Lazy<Counter>,
    received: Lazy<Counter>,
    sent: Lazy<Counter>,
    handling: Lazy<Histogram>,
    handled: [Lazy<Counter>; 17],
}

impl MethodSeries {
    fn new(families: &Arc<Families>, grpc_type: GrpcType, service: &str, method: &str) -> Self {
        Self {
            families: Arc::clone(families),
            grpc_type,
            service: service.into(),
            method: method.into(),
            started: OnceLock::new(),
            received: OnceLock::new(),
            sent: OnceLock::new(),
            handling: OnceLock::new(),
            handled: std::array::from_fn(|_| OnceLock::new()),
        }
    }

    fn labels(&self) -> [&str; 3] {
        [self.grpc_type.as_str(), &self.service, &self.method]
    }

    #[inline]
    fn counter<'a>(
        &self,
        cell: &'a Lazy<Counter>,
        family: &Family<Counter>,
    ) -> Option<&'a Counter> {
        cell.get_or_init(|| family.series(&self.labels()).ok())
            .as_deref()
    }

    #[inline]
    fn started(&self) -> Option<&Counter> {
        self.counter(&self.started, &self.families.started)
    }

    #[inline]
    fn add_msgs(&self, received: bool, n: u64) {
        if n == 0 {
            return;
        }
        let c = if received {
            self.counter(&self.received, &self.families.received)
        } else {
            self.counter(&self.sent, &self.families.sent)
        };
        if let Some(c) = c {
            c.inc_by_u64(n);
        }
    }

    #[inline]
    fn handling(&self) -> Option<&Histogram> {
        let h = self.families.handling.as_ref()?;
        self.handling
            .get_or_init(|| h.series(&self.labels()).ok())
            .as_deref()
    }

    #[inline]
    fn handled(&self, code: u8) -> Option<&Counter> {
        let cell = self.handled.get(usize::from(code))?;
        cell.get_or_init(|| {
            let [t, s, m] = self.labels();
            self.families
                .handled
                .series(&[t, s, m, self::code::name(code)])
                .ok()
        })
        .as_deref()
    }
}

struct Families {
    started: Family<Counter>,
    handled: Family<Counter>,
    received: Family<Counter>,
    sent: Family<Counter>,
    handling: Option<Family<Histogram>>,
}

struct Inner {
    side: Side,
    methods: HashMap<Box<str>, Arc<MethodSeries>, foldhash::fast::RandomState>,
    unknown: Arc<MethodSeries>,
}

/// Configures [`GrpcMetrics`]; see [`GrpcMetrics::builder`].
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
/// let builder = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).initialize(true);
/// assert!(builder.method("/a.B/C", GrpcType::Unary).build().is_ok());
/// ```
#[derive(Debug)]
pub struct GrpcMetricsBuilder {
    registry: Registry,
    side: Side,
    methods: Vec<(String, GrpcType)>,
    handling_seconds: Option<Buckets>,
    initialize: bool,
}

impl GrpcMetricsBuilder {
    /// Registers a method by its full path (`/pkg.Service/Method`) and streaming kind.
    /// Calls to methods not registered are recorded with `unknown` labels.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
    ///     .method("/chat.Room/Talk", GrpcType::BidiStream)
    ///     .build().unwrap();
    /// assert_eq!(m.grpc_type("/chat.Room/Talk"), Some(GrpcType::BidiStream));
    /// ```
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
    pub fn handling_seconds_buckets(mut self, buckets: Buckets) -> Self {
        self.handling_seconds = Some(buckets);
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
    pub fn handling_seconds(mut self, on: bool) -> Self {
        self.handling_seconds = on.then(|| self.handling_seconds.take().unwrap_or_default());
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
    pub fn initialize(mut self, on: bool) -> Self {
        self.initialize = on;
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
    pub fn build(self) -> Result<GrpcMetrics> {
        let (prefix, help) = match self.side {
            Side::Server => ("grpc_server", &SERVER_HELP),
            Side::Client => ("grpc_client", &CLIENT_HELP),
        };
        let base = ["grpc_type", "grpc_service", "grpc_method"];
        let counter = |name: &str, help: &str, labels: &[&str]| {
            Family::<Counter>::builder(&format!("{prefix}_{name}"), help)
                .labels(labels)
                .build()
        };
        let families = Arc::new(Families {
            started: counter("started_total", help[0], &base)?,
            handled: counter(
                "handled_total",
                help[1],
                &["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
            )?,
            received: counter("msg_received_total", help[2], &base)?,
            sent: counter("msg_sent_total", help[3], &base)?,
            handling: match self.handling_seconds {
                Some(buckets) => Some(
                    Family::<Histogram>::builder_with_options(
                        &format!("{prefix}_handling_seconds"),
                        help[4],
                        buckets,
                    )
                    .labels(&base)
                    .build()?,
                ),
                None => None,
            },
        });
        let mut methods: HashMap<Box<str>, Arc<MethodSeries>, foldhash::fast::RandomState> =
            HashMap::default();
        for (path, grpc_type) in &self.methods {
            let Some((service, method)) = split_method(path) else {
                return Err(Error::InvalidConfig(format!(
                    "invalid gRPC method path {path:?} (expected /pkg.Service/Method)"
                )));
            };
            if let Some(existing) = methods.get(path.as_str())
                && existing.grpc_type != *grpc_type
            {
                return Err(Error::InvalidConfig(format!(
                    "gRPC method {path} registered as both {} and {grpc_type}",
                    existing.grpc_type
                )));
            }
            methods.insert(
                path.as_str().into(),
                Arc::new(MethodSeries::new(&families, *grpc_type, service, method)),
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
        let inner = Inner {
            side: self.side,
            unknown: Arc::new(MethodSeries::new(
                &families,
                GrpcType::Unary,
                UNKNOWN,
                UNKNOWN,
            )),
            methods,
        };
        if self.initialize {
            for m in inner.methods.values() {
                m.started();
                m.counter(&m.received, &families.received);
                m.counter(&m.sent, &families.sent);
                m.handling();
                for c in 0..17 {
                    m.handled(c);
                }
            }
        }
        Ok(GrpcMetrics {
            inner: Arc::new(inner),
        })
    }
}

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

/// gRPC call metrics for one side (server or client), with the Go middleware's names and
/// labels. Cheap to clone; share one per server (or per client channel set).
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side, code};
/// use promenade_core::{Format, Registry};
///
/// let registry = Registry::new();
/// let metrics = GrpcMetrics::builder(&registry, Side::Client)
///     .method("/kv.Store/Get", GrpcType::Unary)
///     .build()
///     .unwrap();
/// let mut call = metrics.start("/kv.Store/Get");
/// call.msg_sent();
/// call.finish(code::NOT_FOUND);
/// metrics.start("/evil/../path").finish(code::UNIMPLEMENTED);
///
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains(r#"grpc_client_handled_total{grpc_type="unary",grpc_service="kv.Store",grpc_method="Get",grpc_code="NotFound"} 1"#));
/// assert!(text.contains(r#"grpc_client_handled_total{grpc_type="unary",grpc_service="unknown",grpc_method="unknown",grpc_code="Unimplemented"} 1"#));
/// ```
#[derive(Clone)]
pub struct GrpcMetrics {
    inner: Arc<Inner>,
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
        GrpcMetricsBuilder {
            registry: registry.clone(),
            side,
            methods: Vec::new(),
            handling_seconds: Some(Buckets::default()),
            initialize: false,
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
            trace_id: crate::trace::current_span_trace_id(),
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
/// the handler panic sets [`code::INTERNAL`] first — what go-grpc-middleware's recovery
/// interceptor answers — as the tonic server layer does.
///
/// ```
/// use promenade_core::grpc_metrics::{GrpcMetrics, Side, code};
/// let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
/// let mut call = m.start("/a.B/C");
/// call.set_code(code::INTERNAL); // e.g. the handler panicked
/// drop(call); // recorded as Internal
/// ```
pub struct CallTracker {
    method: Arc<MethodSeries>,
    start: Instant,
    code: Option<u8>,
    done: bool,
    /// Lower-case hex trace id of a sampled W3C trace: the handling-seconds exemplar.
    trace_id: Option<[u8; 32]>,
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
    pub fn sent_counter(&self) -> MsgCounter {
        MsgCounter {
            method: Arc::clone(&self.method),
            received: false,
        }
    }

    /// Sets the status code to record when the call ends (the last one set wins).
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side, code};
    /// # let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// let mut call = m.start("/a.B/C");
    /// call.set_code(code::ABORTED);
    /// assert_eq!(call.code(), Some(code::ABORTED));
    /// ```
    pub fn set_code(&mut self, code: u8) {
        self.code = Some(code);
    }

    /// The code set so far.
    ///
    /// ```
    /// # let m = promenade_core::grpc_metrics::GrpcMetrics::builder(&promenade_core::Registry::new(), promenade_core::grpc_metrics::Side::Server).build().unwrap();
    /// assert_eq!(m.start("/a.B/C").code(), None);
    /// ```
    pub fn code(&self) -> Option<u8> {
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
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side, code};
    /// use promenade_core::{Format, Registry};
    /// let r = Registry::new();
    /// let m = GrpcMetrics::builder(&r, Side::Server).build().unwrap();
    /// let mut call = m.start("/a.B/C");
    /// assert!(call.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    /// assert!(!call.set_traceparent("junk"));
    /// call.finish(code::OK);
    /// let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    /// assert!(om.contains(r#"# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}"#));
    /// ```
    pub fn set_traceparent(&mut self, header: &str) -> bool {
        match crate::trace::sampled_trace_id(header) {
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
    /// use promenade_core::grpc_metrics::{GrpcMetrics, Side, code};
    /// # let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server).build().unwrap();
    /// m.start("/a.B/C").finish(code::OK);
    /// ```
    pub fn finish(mut self, code: u8) {
        self.code = Some(code);
        self.record();
    }

    fn record(&mut self) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let code = self.code.unwrap_or(code::CANCELED);
        let code = if usize::from(code) < code::NAMES.len() {
            code
        } else {
            code::UNKNOWN
        };
        if let Some(c) = self.method.handled(code) {
            c.inc();
        }
        if let Some(h) = self.method.handling() {
            let seconds = self.start.elapsed().as_secs_f64();
            match self
                .trace_id
                .as_ref()
                .and_then(|id| std::str::from_utf8(id).ok())
            {
                // The id was validated as hex, so the exemplar is always accepted.
                Some(id) => {
                    if h.observe_with_exemplar(seconds, &[("trace_id", id)])
                        .is_err()
                    {
                        h.observe(seconds);
                    }
                }
                None => h.observe(seconds),
            }
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

    #[test]
    fn all_17_code_names_match_grpc_go() {
        let expected = [
            (0, "OK"),
            (1, "Canceled"),
            (2, "Unknown"),
            (3, "InvalidArgument"),
            (4, "DeadlineExceeded"),
            (5, "NotFound"),
            (6, "AlreadyExists"),
            (7, "PermissionDenied"),
            (8, "ResourceExhausted"),
            (9, "FailedPrecondition"),
            (10, "Aborted"),
            (11, "OutOfRange"),
            (12, "Unimplemented"),
            (13, "Internal"),
            (14, "Unavailable"),
            (15, "DataLoss"),
            (16, "Unauthenticated"),
        ];
        for (n, name) in expected {
            assert_eq!(code::name(n), name);
            assert_eq!(code::parse(n.to_string().as_bytes()), n);
        }
        assert_eq!(code::name(17), "Unknown");
        assert_eq!(code::name(255), "Unknown");
    }

    #[test]
    fn status_parsing_is_strict() {
        for bad in [
            &b"-1"[..],
            b"017",
            b"1 ",
            b"x",
            b"20",
            b"99999999999",
            b"\xff",
        ] {
            assert_eq!(code::parse(bad), code::UNKNOWN, "{bad:?}");
        }
        assert_eq!(code::parse(b"10"), code::ABORTED);
    }

    #[test]
    fn method_paths() {
        assert_eq!(
            split_method("/pkg.Service/Method"),
            Some(("pkg.Service", "Method"))
        );
        assert_eq!(split_method("/Service/M_1"), Some(("Service", "M_1")));
        let long = format!("/{}/M", "a".repeat(MAX_NAME_LEN + 1));
        let hostile = [
            "",
            "/",
            "//",
            "///",
            "/a",
            "/a/",
            "//b",
            "a/b",
            "/a/b/",
            "/a/b/c",
            "/../etc/passwd",
            "/a/../b",
            "/.a/b",
            "/a./b",
            "/a..b/c",
            "/a b/c",
            "/a/b?x=1",
            "/a/b#f",
            "/a/b\n",
            "/a\0/b",
            "/ünï/cödé",
            "/a/b.c",
            "/a/%2F",
            long.as_str(),
        ];
        for p in hostile {
            assert_eq!(split_method(p), None, "{p:?}");
        }
    }

    #[test]
    fn frames_across_chunks() {
        let mut stream = Vec::new();
        for len in [0u32, 1, 300, 70_000] {
            stream.push(u8::from(len % 2 == 1));
            stream.extend_from_slice(&len.to_be_bytes());
            stream.extend(std::iter::repeat_n(7u8, len as usize));
        }
        for chunk in [1, 2, 3, 5, 7, 4096, stream.len()] {
            let mut c = FrameCounter::default();
            let n: u64 = stream.chunks(chunk).map(|ch| c.push(ch)).sum();
            assert_eq!(n, 4, "chunk size {chunk}");
            assert!(c.at_boundary());
        }
        let mut c = FrameCounter::default();
        assert_eq!(c.push(&stream[..stream.len() - 1]), 3);
        assert!(!c.at_boundary());
    }

    #[test]
    fn unknown_methods_share_fixed_labels() {
        let r = Registry::new();
        let m = GrpcMetrics::builder(&r, Side::Server)
            .method("/a.B/C", GrpcType::BidiStream)
            .build()
            .unwrap();
        for i in 0..100 {
            m.start(&format!("/random.Svc{i}/M{i}"))
                .finish(code::UNIMPLEMENTED);
        }
        let text = r.encode_to_string(Format::Text).unwrap();
        assert!(text.contains(r#"grpc_server_started_total{grpc_type="unary",grpc_service="unknown",grpc_method="unknown"} 100"#));
        assert_eq!(text.matches("grpc_server_started_total{").count(), 1);
    }

    #[test]
    fn tracker_records_once_and_cancels_by_default() {
        let r = Registry::new();
        let m = GrpcMetrics::builder(&r, Side::Server)
            .method("/a.B/C", GrpcType::ServerStream)
            .build()
            .unwrap();
        let mut t = m.start("/a.B/C");
        t.set_code(code::OK);
        t.finish(code::DATA_LOSS);
        drop(m.start("/a.B/C"));
        let text = r.encode_to_string(Format::Text).unwrap();
        assert!(text.contains(r#"grpc_code="DataLoss"} 1"#));
        assert!(text.contains(r#"grpc_code="Canceled"} 1"#));
        assert!(!text.contains(r#"grpc_code="OK""#));
        assert!(text.contains(r#"grpc_server_handling_seconds_count{grpc_type="server_stream",grpc_service="a.B",grpc_method="C"} 2"#));
        assert!(!text.contains("grpc_server_handling_seconds_bucket{grpc_type=\"server_stream\",grpc_service=\"a.B\",grpc_method=\"C\",grpc_code"));
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

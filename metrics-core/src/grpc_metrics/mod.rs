//! The gRPC instrumentation shared by the gRPC adapters (tonic today): metric names, labels
//! and code strings exactly as the Go ecosystem's gRPC Prometheus middleware
//! (`go-grpc-middleware/providers/prometheus`), method-path parsing, the `grpc_type`
//! registry and the call tracker with its drop guard.
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
//! | `grpc_client_msg_recv_handling_seconds`, `grpc_client_msg_send_handling_seconds` | histograms, client only, opt-in ([`GrpcMetricsBuilder::client_msg_histograms`]) | |
//!
//! Registered methods get their own labels with their exact `grpc_type`. Without any
//! registered method, methods are discovered from traffic (the server only once it has
//! routed a path, at most [`MAX_DISCOVERED_METHODS`]) and labelled with
//! `grpc_type="unknown"`, as the streaming kind is not on the wire. Any other path is
//! recorded as `grpc_type="unknown", grpc_service="unknown", grpc_method="unknown"`, so
//! random paths cannot grow the number of series. See
//! [Labels of calls](GrpcMetricsBuilder#labels-of-calls).
//!
//! Labels from the application (tenant, region, outcome) are declared on the builder with
//! the HTTP vocabulary — [`request_metadata_label`](GrpcMetricsBuilder::request_metadata_label),
//! [`request_extension_label`](GrpcMetricsBuilder::request_extension_label),
//! [`response_metadata_label`](GrpcMetricsBuilder::response_metadata_label),
//! [`response_extension_label`](GrpcMetricsBuilder::response_extension_label) — bounded by
//! [`LabelValues`]; request labels follow the base labels on `started_total`, and request
//! then response labels follow `grpc_code` on `handled_total` and on `handling_seconds`.
//!
//! The module is split by concern; everything is re-exported here, so the paths stay
//! `promenade_core::grpc_metrics::*`:
//!
//! | file | what it holds |
//! |---|---|
//! | `code.rs` | the status codes and their `grpc_code` label values (the only copy of the names) |
//! | `wire.rs` | what is read off the wire: method-path parsing, the message-frame counter |
//! | `builder/` | [`GrpcMetricsBuilder`] and its options ([`Side`], [`GrpcType`], buckets, initialization; labels from the application in `app_labels.rs`; checks and registration in `build.rs`) |
//! | `series.rs` | the per-method series cells, created on first use and then kept |
//! | `tracker.rs` | [`GrpcMetrics`], which starts calls, and the [`CallTracker`] that ends each once |
//! | `route.rs` | where a call's counts go: known series, or deferred until a server shows it routes the path |
//! | `messages.rs` | the per-direction message handle of body wrappers, and the client's per-message histograms |
//!
//! Like every instrumentation module, this one sits above the metric types, families and the
//! registry and only imports from them; nothing below imports from here.
//!
//! ```
//! use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, GrpcType, Side};
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
//! call.set_code(GrpcCode::Ok);
//! drop(call); // end of stream
//!
//! let text = registry.encode_to_string(Format::Text).unwrap();
//! assert!(text.contains(r#"grpc_server_handled_total{grpc_type="server_stream",grpc_service="shop.Cart",grpc_method="Watch",grpc_code="OK"} 1"#));
//! assert!(text.contains(r#"grpc_server_msg_sent_total{grpc_type="server_stream",grpc_service="shop.Cart",grpc_method="Watch"} 2"#));
//! ```

pub mod code;

mod builder;
mod messages;
mod route;
mod series;
mod tracker;
mod wire;

pub use builder::{
    DEFAULT_APP_LABEL_MAX_SERIES, GrpcMetricsBuilder, GrpcType, MAX_DISCOVERED_METHODS, Side,
};
// Labels from the application, shared with HTTP one layer down (`crate::app_labels`).
pub use crate::app_labels::{ExtensionsRef, HeaderLookup, LabelValues};
pub use code::GrpcCode;
pub use tracker::{CallTracker, GrpcMetrics};
pub use wire::{MAX_NAME_LEN, UNKNOWN, split_method};

// Plumbing of promenade-tonic's body wrappers (counting message frames in body chunks and
// crediting them to a call): `pub` only because that adapter is another crate, so hidden
// from the docs and not part of the documented API.
#[doc(hidden)]
pub use messages::MsgCounter;
#[doc(hidden)]
pub use wire::FrameCounter;

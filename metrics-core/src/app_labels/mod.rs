//! Labels from the application: values an adapter reads from a request's or a response's
//! headers (HTTP headers, gRPC metadata) and extensions (an auth layer's tenant, a
//! handler's business outcome), each bounded by a declared list of values or by the series
//! cap. Shared by [`http_metrics`](crate::http_metrics) and
//! [`grpc_metrics`](crate::grpc_metrics), which sit above this module and re-export its
//! public items: [`HeaderLookup`], [`ExtensionsRef`], [`LabelValues`].
//!
//! Why the core names actix-web's type map is told on [`ExtensionsRef`].
//!
//! # When values are read
//!
//! Request labels are read when the request reaches the metrics layer (the same moment in
//! every adapter); response labels when the response head is known (status, headers,
//! extensions), so they label the series recorded at the end (HTTP: `http_requests_total`,
//! the duration and size histograms; gRPC: `handled_total` and `handling_seconds`) but
//! never those counted before any response exists (HTTP in-flight, gRPC `started_total`).
//!
//! One concern per file:
//!
//! - `source`: where a raw value is read ([`HeaderLookup`], [`ExtensionsRef`]) and from which
//!   side of the exchange;
//! - `values`: the bound on a label's values ([`LabelValues`]);
//! - `declare`: the labels a builder declares, and their checks (shared by the HTTP and gRPC
//!   builders, so both refuse the same mistakes with the same messages);
//! - `resolve`: the checked labels' value tables, a request's values, and handing them to
//!   the series lookup.

mod declare;
mod resolve;
mod source;
mod values;

pub(crate) use declare::AppLabelDecls;
pub(crate) use resolve::{AppLabels, AppValues, with_request_values, with_values};
pub use source::{ExtensionsRef, HeaderLookup};
pub(crate) use source::{NoHeaders, Side};
pub use values::LabelValues;

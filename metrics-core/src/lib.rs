//! # promenade-core
//!
//! The shared metrics core of Promenade: Prometheus metric types, families with labels, a
//! registry, the Prometheus text 0.0.4 and OpenMetrics 1.0 exposition formats with content
//! negotiation, a framework-neutral `/metrics` response builder and the HTTP and gRPC
//! instrumentation logic that the tower, actix-web and tonic adapters share.
//!
//! ```
//! use promenade_core::{Buckets, Format, Registry};
//!
//! let registry = Registry::new();
//! let requests = registry.counter_family("http_requests_total", "HTTP requests.", &["method", "status"]).unwrap();
//! let latency = registry.histogram("work_seconds", "Work duration.", Buckets::default()).unwrap();
//!
//! requests.get(&["GET", "200"]).unwrap().inc();
//! latency.observe(0.12);
//!
//! let text = registry.encode_to_string(Format::Text).unwrap();
//! assert!(text.contains(r#"http_requests_total{method="GET",status="200"} 1"#));
//! assert!(text.contains(r#"work_seconds_bucket{le="0.25"} 1"#));
//! ```
//!
//! Design notes:
//! - Counters take one `fetch_add` for whole-number increments; histograms spread writers over
//!   per-core stripes with the Go client's hot/cold scheme, so a scrape always sees
//!   `+Inf == _count` and never a decreasing bucket.
//! - Family lookup of an existing series takes no lock and allocates nothing.
//! - Series can be removed and re-created while other threads observe and scrape: removal
//!   frees memory, a re-created label set is a fresh series, and no scrape waits without
//!   bound ([`Family::remove`]).
//! - Collectors run outside the registry's lock; their output is checked at scrape time and a
//!   fault (or a panic) fails the scrape with an error naming the collector, or leaves the
//!   family out ([`CollectorErrors`]) — never a page that Prometheus would reject whole.
//! - Every invalid input is an [`Error`] value; nothing a caller passes in panics, and no
//!   value a caller observes makes an invalid exposition.
//! - Request, call and [`Timer`] durations are read from the CPU's time-stamp counter where
//!   it is invariant ([`clock`], through `quanta`), the OS clock elsewhere: a third cheaper
//!   than `std::time::Instant` per request on a VM.
//!
//! ## Bridges
//!
//! Metrics recorded through other APIs, on the same `/metrics` (one feature each):
//!
//! - `bridge-metrics`: `bridge::metrics::PrometheusRecorder`, a recorder for the
//!   [`metrics`](https://docs.rs/metrics) facade (`metrics::counter!`, `gauge!`, `histogram!`).
//! - `bridge-prometheus`: an existing tikv `prometheus` crate [`prometheus::Registry`](https://docs.rs/prometheus/0.14/prometheus/struct.Registry.html),
//!   read at every scrape (`bridge::prometheus::PrometheusBridge`).
//! - `bridge-opentelemetry`: the OpenTelemetry metrics SDK (`opentelemetry_sdk`): give
//!   `bridge::opentelemetry::OtelBridge`'s reader to an `SdkMeterProvider` and register its
//!   collector; every scrape reads the provider's instruments (cumulative) and exposes them
//!   under the OpenTelemetry specification's Prometheus rules: `_total` and unit suffixes,
//!   `target_info`, `otel_scope_name`/`otel_scope_version` labels, exponential histograms
//!   as native histograms.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(clippy::unwrap_used)]

// The crates.io page (README.md) compiles and runs as a doctest, so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod app_labels;
#[cfg(any(
    feature = "bridge-metrics",
    feature = "bridge-prometheus",
    feature = "bridge-opentelemetry"
))]
pub mod bridge;
mod callback;
pub mod clock;
mod collector;
pub mod collectors;
pub mod encoding;
mod error;
mod family;
pub mod grpc_metrics;
pub mod http_metrics;
mod labels;
mod metric;
pub mod name;
#[cfg(feature = "push")]
#[cfg_attr(docsrs, doc(cfg(feature = "push")))]
pub mod push;
mod registry;
pub mod scrape;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
#[cfg(feature = "testutil")]
pub mod testutil;
mod trace;
mod validate;

pub use collector::{Collector, CollectorErrors, CollectorId, Descriptor};
pub use encoding::Format;
pub use error::{Error, Result};
pub use family::{Family, FamilyBuilder, OVERFLOW_LABEL_VALUE, Series, SeriesRef};
pub use metric::{
    Buckets, Counter, DEFAULT_BUCKETS, EXEMPLAR_MAX_RUNES, Exemplar, Gauge, GaugeHistogram,
    GaugeHistogramSnapshot, Histogram, HistogramSnapshot, InflightGuard, Info, Metric, MetricType,
    NativeBuckets, NativeSnapshot, Observe, StateSet, States, Summary, SummarySnapshot, Timer,
    Unknown, exponential_buckets, linear_buckets, native_bucket_index, schema_for_factor,
};
pub use quantile::{QuantileOptions, QuantileSummary};
pub use registry::{Registry, RegistryBuilder, default_registry};

// Quantile summaries live with the other metric types; `promenade_core::quantile` stays
// their public path, with the module's own documentation.
pub use metric::quantile;

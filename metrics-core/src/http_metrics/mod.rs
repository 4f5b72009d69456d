//! The HTTP server instrumentation shared by the tower and actix-web adapters: metric names,
//! label policy, method/route/status normalisation and the in-flight drop guard live here
//! once, so every adapter exposes the same series (one dashboard serves them all).
//!
//! One concern per file, all public items re-exported here:
//!
//! - `policy`: the label values (known methods, `_OTHER`, `unmatched`, `499`) and status
//!   formatting;
//! - `request`: what an adapter knows about a request ([`RequestInfo`]);
//! - labels from the application ([`HeaderLookup`], [`ExtensionsRef`], [`LabelValues`]) live
//!   in [`crate::app_labels`], shared with gRPC, and are re-exported here;
//! - `builder/`: [`HttpMetricsBuilder`], its options (one file per concern: general options,
//!   exclusions, labels from the application, `build`) and the [`HttpMetrics`] handle;
//! - `exclusion`: which requests are not recorded (paths, prefixes, routes, allow-list,
//!   statuses) and where each adapter decides;
//! - `route_policy`: [`RoutePolicy`], per-route duration end and buckets for long-lived routes;
//! - `tracker`: [`HttpMetrics::start`] and the [`RequestTracker`] drop guard;
//! - `series`: the storage of in-flight gauges and request series;
//! - `collector`: the Prometheus and OpenTelemetry exposition views.
//!
//! ```
//! use promenade_core::http_metrics::{HttpMetrics, RequestInfo};
//! use promenade_core::{Format, Registry};
//!
//! let registry = Registry::new();
//! let metrics = HttpMetrics::builder(&registry).build().unwrap();
//! let headers = http::HeaderMap::new();
//! let mut tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/users/{id}"), path: "/users/7", headers: &headers });
//! tracker.response_head(200);
//! drop(tracker); // end of body: the request is recorded now
//! let text = registry.encode_to_string(Format::Text).unwrap();
//! assert!(text.contains(r#"http_requests_total{method="GET",route="/users/{id}",status="200"} 1"#));
//! ```

mod builder;
mod collector;
mod exclusion;
mod policy;
mod request;
mod route_cache;
mod route_policy;
mod series;
mod tracker;

// Shared with gRPC, one layer down; re-exported so these paths keep working.
pub use crate::app_labels::{ExtensionsRef, HeaderLookup, LabelValues};
pub use builder::{DEFAULT_MAX_SERIES, DurationEnd, HttpMetrics, HttpMetricsBuilder, Naming};
pub use policy::{CLIENT_CLOSED_STATUS, KNOWN_METHODS, OTHER_METHOD, UNMATCHED_ROUTE};
pub use request::RequestInfo;
pub use route_policy::RoutePolicy;
pub use tracker::RequestTracker;

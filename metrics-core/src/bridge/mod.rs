//! Bridges: metrics recorded through other instrumentation APIs, written into (or read by) an
//! ordinary [`Registry`](crate::Registry), so negotiation, native histograms and scrape-time
//! validation apply to them too. One feature each, each pulling only its own dependency.
//!
//! Layer: top of the core; a bridge imports from the layers below and nothing imports it.

#[cfg(feature = "bridge-metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "bridge-metrics")))]
pub mod metrics;

#[cfg(feature = "bridge-opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "bridge-opentelemetry")))]
pub mod opentelemetry;

#[cfg(feature = "bridge-prometheus")]
#[cfg_attr(docsrs, doc(cfg(feature = "bridge-prometheus")))]
pub mod prometheus;

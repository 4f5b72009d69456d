//! An axum app whose handlers call a "library" that records with the `metrics` facade; the
//! Promenade recorder puts those metrics on the same `/metrics` as the HTTP metrics.

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use promenade_core::Registry;
use promenade_core::bridge::metrics::PrometheusRecorder;
use promenade_tower::{Prometheus, PrometheusRouterExt};

/// A stand-in for a third-party library: it knows only the `metrics` facade.
pub mod library {
    use std::time::Instant;

    /// Describes the library's metrics (help text and units), as libraries do at start-up.
    ///
    /// ```
    /// promenade_examples::facade_demo::library::describe(); // no recorder: does nothing
    /// ```
    pub fn describe() {
        metrics::describe_counter!("cache_lookups_total", "Cache lookups by result.");
        metrics::describe_histogram!(
            "cache_lookup",
            metrics::Unit::Seconds,
            "Time to look a key up."
        );
    }

    /// Looks a key up in a pretend cache, recording what happened.
    ///
    /// ```
    /// assert_eq!(promenade_examples::facade_demo::library::lookup(4), "hit");
    /// ```
    pub fn lookup(key: u64) -> &'static str {
        let start = Instant::now();
        let result = if key.is_multiple_of(2) { "hit" } else { "miss" };
        metrics::counter!("cache_lookups_total", "result" => result).increment(1);
        metrics::histogram!("cache_lookup").record(start.elapsed().as_secs_f64());
        result
    }
}

/// Builds the recorder on `registry` and installs it as the global `metrics` recorder.
///
/// Fails if a global recorder is already installed or `registry` already has one.
///
/// ```no_run
/// let registry = promenade_core::Registry::new();
/// promenade_examples::facade_demo::install_recorder(&registry).unwrap();
/// ```
pub fn install_recorder(registry: &Registry) -> Result<PrometheusRecorder, promenade_core::Error> {
    let recorder = PrometheusRecorder::builder(registry).install()?;
    library::describe();
    Ok(recorder)
}

/// The app: `GET /cache/{key}` calls the library; HTTP metrics and `GET /metrics` from
/// Promenade.
///
/// ```
/// let registry = promenade_core::Registry::new();
/// assert!(promenade_examples::facade_demo::app(&registry).is_ok());
/// ```
pub fn app(registry: &Registry) -> Result<Router, promenade_core::Error> {
    let app = Router::new().route(
        "/cache/{key}",
        get(|Path(key): Path<u64>| async move { format!("{}\n", library::lookup(key)) }),
    );
    let prometheus = Prometheus::builder(registry).build()?;
    app.with_prometheus(prometheus)
}

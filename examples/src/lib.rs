//! Runnable Promenade examples. Each demo's application is a library function so tests can
//! run it in-process; the binaries in `src/bin/` only parse arguments and serve it.

pub mod actix_demo;
pub mod axum_demo;
pub mod facade_demo;
pub mod hyper_demo;
pub mod otel_demo;

use std::sync::Arc;

use promenade_core::http_metrics::HttpMetricsBuilder;

/// More HTTP metrics options for a demo, applied after its own (see [`DemoOptions::metrics`]).
pub type MetricsHook = Arc<dyn Fn(HttpMetricsBuilder) -> HttpMetricsBuilder + Send + Sync>;

/// Options shared by the axum and actix demos (`--native` on their command lines).
///
/// ```
/// let options = promenade_examples::DemoOptions { native: true, ..Default::default() };
/// let app = promenade_examples::axum_demo::axum_app_with(&promenade_core::Registry::new(), &options);
/// assert!(app.is_ok());
/// ```
#[derive(Clone, Default)]
pub struct DemoOptions {
    /// Native (sparse) buckets next to the classic ones in the request-duration histogram.
    pub native: bool,
    /// HTTP metrics options applied to the demo's builder, the same for both demos (the tests
    /// use it to compare the adapters under non-default options).
    pub metrics: Option<MetricsHook>,
}

impl DemoOptions {
    /// Applies these options to an HTTP metrics builder: what both demos pass to their
    /// adapter's `.metrics(..)` hook.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use promenade_core::http_metrics::HttpMetrics;
    /// let options = promenade_examples::DemoOptions {
    ///     metrics: Some(Arc::new(|m| m.status_classes(true))),
    ///     ..Default::default()
    /// };
    /// let registry = promenade_core::Registry::new();
    /// let m = options.apply(HttpMetrics::builder(&registry)).build().unwrap();
    /// # drop(m);
    /// ```
    pub fn apply(&self, mut builder: HttpMetricsBuilder) -> HttpMetricsBuilder {
        if self.native {
            builder = builder.native_histograms(promenade_core::NativeBuckets::default());
        }
        match &self.metrics {
            Some(hook) => hook(builder),
            None => builder,
        }
    }
}

impl std::fmt::Debug for DemoOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoOptions")
            .field("native", &self.native)
            .field(
                "metrics",
                &self.metrics.as_ref().map(|_| "Fn(HttpMetricsBuilder)"),
            )
            .finish()
    }
}

//! [`PrometheusMetricsBuilder`]: the core's HTTP metrics and scrape builders through the same
//! two hooks as the tower adapter (`metrics`, `scrape`), plus what only actix needs: panic
//! handling and whether the middleware answers scrapes itself.

use promenade_core::Registry;
use promenade_core::http_metrics::{HttpMetrics, HttpMetricsBuilder};
use promenade_core::scrape::{ScrapeHandler, ScrapeHandlerBuilder};

use crate::middleware::{PrometheusMetrics, Shared};

/// Configures [`PrometheusMetrics`]: the HTTP metrics ([`metrics`](Self::metrics), the core's
/// [`HttpMetricsBuilder`]), the scrape route ([`scrape`](Self::scrape), the core's
/// [`ScrapeHandlerBuilder`]), and actix's own [`catch_panics`](Self::catch_panics) and
/// [`without_metrics_route`](Self::without_metrics_route). The option names are those of the
/// axum and tonic adapters.
///
/// ```
/// use promenade_actix::{Buckets, DurationEnd, Naming, PrometheusMetrics, ScrapeAuth};
///
/// let registry = promenade_actix::Registry::new();
/// let metrics = PrometheusMetrics::builder(&registry)
///     .metrics(|m| {
///         m.buckets(Buckets::new(vec![0.01, 0.1, 1.0]).unwrap())
///             .naming(Naming::Prometheus)
///             .extra_methods(&["PROPFIND"])
///             .body_sizes(true)
///             .duration_end(DurationEnd::Body)
///             .exclude_path("/health")
///             .const_label("service", "shop")
///             .derived_label("tenant", |info| info.headers.header("x-tenant").unwrap_or("none").to_owned())
///             .max_series(5_000)
///     })
///     .scrape(|s| s.path("/internal/metrics").auth(ScrapeAuth::Bearer("s3cret".into())))
///     .catch_panics(true)
///     .build()?;
/// # drop(metrics);
/// # Ok::<(), promenade_actix::Error>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct PrometheusMetricsBuilder {
    http: HttpMetricsBuilder,
    scrape: ScrapeHandlerBuilder,
    serve_scrapes: bool,
    catch_panics: bool,
}

impl std::fmt::Debug for PrometheusMetricsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusMetricsBuilder")
            .field("http", &self.http)
            .field("scrape", &self.scrape)
            .field("serve_scrapes", &self.serve_scrapes)
            .field("catch_panics", &self.catch_panics)
            .finish()
    }
}

impl PrometheusMetricsBuilder {
    /// The defaults [`PrometheusMetrics::builder`] starts from.
    pub(crate) fn new(registry: &Registry) -> Self {
        Self {
            http: HttpMetrics::builder(registry),
            scrape: ScrapeHandler::builder(registry),
            serve_scrapes: true,
            catch_panics: false,
        }
    }

    /// Configures the HTTP metrics: the core's [`HttpMetricsBuilder`] (buckets, naming,
    /// status classes, body sizes, labels, exclusions, native histograms, series cap, …).
    ///
    /// ```
    /// let registry = promenade_actix::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry)
    ///     .metrics(|m| m.status_classes(true).exclude_path("/health"))
    ///     .build()?;
    /// assert!(mw.http_metrics().is_excluded("/health"));
    /// # Ok::<(), promenade_actix::Error>(())
    /// ```
    pub fn metrics(mut self, f: impl FnOnce(HttpMetricsBuilder) -> HttpMetricsBuilder) -> Self {
        self.http = f(self.http);
        self
    }

    /// Configures the scrape route: the core's [`ScrapeHandlerBuilder`] (path, auth, gzip,
    /// whether scrapes are counted, the process collector, limits).
    ///
    /// ```
    /// let registry = promenade_actix::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry)
    ///     .scrape(|s| s.path("/internal/metrics").count_scrapes(true))
    ///     .build()?;
    /// assert_eq!(mw.path(), Some("/internal/metrics"));
    /// # Ok::<(), promenade_actix::Error>(())
    /// ```
    pub fn scrape(mut self, f: impl FnOnce(ScrapeHandlerBuilder) -> ScrapeHandlerBuilder) -> Self {
        self.scrape = f(self.scrape);
        self
    }

    /// The middleware does not answer scrapes; mount [`metrics_route`](crate::metrics_route)
    /// yourself (for example on another port). The process collector is still registered
    /// unless turned off with `.scrape(|s| s.process_collector(false))`.
    ///
    /// ```
    /// let registry = promenade_actix::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry).without_metrics_route().build()?;
    /// assert_eq!(mw.path(), None);
    /// # Ok::<(), promenade_actix::Error>(())
    /// ```
    pub fn without_metrics_route(mut self) -> Self {
        self.serve_scrapes = false;
        self
    }

    /// Turns a handler panic into a `500 Internal Server Error` response instead of letting
    /// it unwind into actix (which drops the connection). Either way it is recorded as `500`.
    /// Off by default, as actix leaves panics alone.
    ///
    /// ```
    /// let registry = promenade_actix::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry).catch_panics(true).build()?;
    /// # Ok::<(), promenade_actix::Error>(())
    /// ```
    pub fn catch_panics(mut self, on: bool) -> Self {
        self.catch_panics = on;
        self
    }

    /// Registers the metrics (and the process collector, unless turned off).
    ///
    /// # Errors
    ///
    /// A name clash in the registry (a second middleware built on the same registry), an
    /// invalid option, or a scrape path that is not a plain absolute path.
    ///
    /// ```
    /// let registry = promenade_actix::Registry::new();
    /// assert!(promenade_actix::PrometheusMetrics::builder(&registry).metrics(|m| m.max_series(0)).build().is_err());
    /// ```
    pub fn build(self) -> promenade_core::Result<PrometheusMetrics> {
        // The handler first: its path check must not leave HTTP metrics registered behind.
        let handler = self.scrape.build()?;
        let metrics = self.http.build()?;
        Ok(PrometheusMetrics::from_shared(Shared {
            metrics,
            scrape: self.serve_scrapes.then_some(handler),
            catch_panics: self.catch_panics,
        }))
    }
}

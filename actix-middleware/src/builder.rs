//! [`PrometheusMetricsBuilder`]: the options of the core's HTTP metrics builder, forwarded
//! unchanged, plus the scrape route, panic handling and the process collector.

use promenade_core::http_metrics::{
    DurationEnd, HttpMetrics, HttpMetricsBuilder, Naming, RequestInfo,
};
use promenade_core::scrape::{ScrapeAuth, ScrapeHandler};
use promenade_core::{Buckets, Registry};

use crate::middleware::{PrometheusMetrics, Shared};
use crate::scrape::ScrapeRoute;

/// Default path of the scrape route the middleware answers.
///
/// ```
/// let mw = promenade_actix::PrometheusMetrics::builder(&promenade_core::Registry::new()).build().unwrap();
/// assert_eq!(mw.metrics_path(), Some(promenade_actix::DEFAULT_METRICS_PATH));
/// ```
pub const DEFAULT_METRICS_PATH: &str = "/metrics";

/// Configures [`PrometheusMetrics`]: the options of the core's
/// [`HttpMetricsBuilder`] (forwarded unchanged) plus the scrape route and panic handling.
///
/// ```
/// use promenade_actix::{Buckets, DurationEnd, Naming, PrometheusMetrics, ScrapeAuth};
///
/// let registry = promenade_core::Registry::new();
/// let metrics = PrometheusMetrics::builder(&registry)
///     .buckets(Buckets::new(vec![0.01, 0.1, 1.0]).unwrap())
///     .naming(Naming::Prometheus)
///     .extra_methods(&["PROPFIND"])
///     .status_classes(false)
///     .body_sizes(true)
///     .duration_end(DurationEnd::Body)
///     .exclude_path("/health")
///     .const_label("service", "shop")
///     .derived_label("tenant", |info| info.headers.header("x-tenant").unwrap_or("none").to_owned())
///     .max_series(5_000)
///     .metrics_path("/internal/metrics")
///     .scrape_auth(ScrapeAuth::Bearer("s3cret".into()))
///     .catch_panics(true)
///     .build()
///     .unwrap();
/// # drop(metrics);
/// ```
pub struct PrometheusMetricsBuilder {
    http: HttpMetricsBuilder,
    registry: Registry,
    metrics_path: Option<String>,
    auth: Option<ScrapeAuth>,
    gzip: bool,
    instrument_scrape: bool,
    catch_panics: bool,
    body_sizes: bool,
    process_collector: bool,
}

impl std::fmt::Debug for PrometheusMetricsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusMetricsBuilder")
            .field("http", &self.http)
            .field("metrics_path", &self.metrics_path)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl PrometheusMetricsBuilder {
    /// The defaults [`PrometheusMetrics::builder`] starts from.
    pub(crate) fn new(registry: &Registry) -> Self {
        Self {
            http: HttpMetrics::builder(registry),
            registry: registry.clone(),
            metrics_path: Some(DEFAULT_METRICS_PATH.to_owned()),
            auth: None,
            gzip: true,
            instrument_scrape: false,
            catch_panics: false,
            body_sizes: false,
            process_collector: true,
        }
    }

    fn map_http(mut self, f: impl FnOnce(HttpMetricsBuilder) -> HttpMetricsBuilder) -> Self {
        self.http = f(self.http);
        self
    }

    /// Duration buckets (default: the Prometheus defaults).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r)
    ///     .buckets(promenade_actix::Buckets::new(vec![0.1, 1.0]).unwrap());
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn buckets(self, buckets: Buckets) -> Self {
        self.map_http(|h| h.buckets(buckets))
    }

    /// Metric naming preset (Prometheus names by default, or OpenTelemetry, or both).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).naming(promenade_actix::Naming::OpenTelemetry);
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn naming(self, naming: Naming) -> Self {
        self.map_http(|h| h.naming(naming))
    }

    /// Methods kept by name in addition to the standard ones; others are `_OTHER`.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).extra_methods(&["PROPFIND"]);
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn extra_methods<S: AsRef<str>>(self, methods: &[S]) -> Self {
        self.map_http(|h| h.extra_methods(methods))
    }

    /// Groups status codes into classes (`2xx`, …) instead of exact codes.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).status_classes(true);
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn status_classes(self, on: bool) -> Self {
        self.map_http(|h| h.status_classes(on))
    }

    /// Adds request and response body size histograms. Request bytes are those the handler
    /// read before the response head; response bytes are those the body produced.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).body_sizes(true);
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn body_sizes(mut self, on: bool) -> Self {
        self.body_sizes = on;
        self.map_http(|h| h.body_sizes(on))
    }

    /// Where the duration ends: end of body (default) or response head.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).duration_end(promenade_actix::DurationEnd::Head);
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn duration_end(self, end: DurationEnd) -> Self {
        self.map_http(|h| h.duration_end(end))
    }

    /// A raw path that is not instrumented at all (exact match).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).exclude_path("/health");
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn exclude_path(self, path: &str) -> Self {
        self.map_http(|h| h.exclude_path(path))
    }

    /// A constant label on every HTTP series.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).const_label("service", "shop");
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn const_label(self, name: &str, value: &str) -> Self {
        self.map_http(|h| h.const_label(name, value))
    }

    /// A label computed from each request (keep its values few).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r)
    ///     .derived_label("api", |info| if info.path.starts_with("/api/") { "yes" } else { "no" }.to_owned());
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn derived_label<F>(self, name: &str, f: F) -> Self
    where
        F: Fn(&RequestInfo<'_>) -> String + Send + Sync + 'static,
    {
        self.map_http(|h| h.derived_label(name, f))
    }

    /// Cap on request series.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).max_series(1000);
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn max_series(self, max: usize) -> Self {
        self.map_http(|h| h.max_series(max))
    }

    /// The path the middleware answers scrapes on (default `/metrics`).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&r).metrics_path("/internal/metrics").build().unwrap();
    /// assert_eq!(mw.metrics_path(), Some("/internal/metrics"));
    /// ```
    #[must_use]
    pub fn metrics_path(mut self, path: &str) -> Self {
        self.metrics_path = Some(path.to_owned());
        self
    }

    /// The middleware does not answer scrapes; mount [`metrics_route`](crate::metrics_route) yourself.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&r).without_metrics_route().build().unwrap();
    /// assert_eq!(mw.metrics_path(), None);
    /// ```
    #[must_use]
    pub fn without_metrics_route(mut self) -> Self {
        self.metrics_path = None;
        self
    }

    /// Requires credentials on the scrape route (401 otherwise).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r)
    ///     .scrape_auth(promenade_actix::ScrapeAuth::Bearer("token".into()));
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn scrape_auth(mut self, auth: ScrapeAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Whether the scrape route may gzip its answer when the scraper accepts it (default on).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).scrape_gzip(false);
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn scrape_gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Whether scrapes are themselves counted in the HTTP metrics (default off).
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).instrument_scrape(true);
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn instrument_scrape(mut self, on: bool) -> Self {
        self.instrument_scrape = on;
        self
    }

    /// Turns a handler panic into a `500 Internal Server Error` response instead of letting
    /// it unwind into actix (which drops the connection). Either way it is recorded as `500`.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// let b = promenade_actix::PrometheusMetrics::builder(&r).catch_panics(true);
    /// # b.build().unwrap();
    /// ```
    #[must_use]
    pub fn catch_panics(mut self, on: bool) -> Self {
        self.catch_panics = on;
        self
    }

    /// Whether to register the process collector (`process_cpu_seconds_total`,
    /// `process_resident_memory_bytes`, … on Linux) along with the HTTP metrics; on by default,
    /// as in the tower adapter. Already registered process metrics are left as they are.
    ///
    /// ```
    /// use promenade_core::{Format, Registry};
    /// let with = Registry::new();
    /// promenade_actix::PrometheusMetrics::builder(&with).build().unwrap();
    /// let without = Registry::new();
    /// promenade_actix::PrometheusMetrics::builder(&without).process_collector(false).build().unwrap();
    /// assert!(!without.encode_to_string(Format::Text).unwrap().contains("process_"));
    /// # #[cfg(target_os = "linux")]
    /// assert!(with.encode_to_string(Format::Text).unwrap().contains("process_resident_memory_bytes"));
    /// ```
    #[must_use]
    pub fn process_collector(mut self, on: bool) -> Self {
        self.process_collector = on;
        self
    }

    /// Adds native (sparse) buckets to the request-duration histogram, next to the classic
    /// ones; Prometheus gets them when it scrapes protobuf with native histograms enabled.
    ///
    /// ```
    /// let b = promenade_actix::PrometheusMetrics::builder(&promenade_core::Registry::new())
    ///     .native_histograms(promenade_core::NativeBuckets::default());
    /// assert!(b.build().is_ok());
    /// ```
    #[must_use]
    pub fn native_histograms(self, native: promenade_core::NativeBuckets) -> Self {
        self.map_http(|h| h.native_histograms(native))
    }

    /// Validates the configuration and registers the metrics.
    ///
    /// ```
    /// # let r = promenade_core::Registry::new();
    /// assert!(promenade_actix::PrometheusMetrics::builder(&r).max_series(0).build().is_err());
    /// ```
    pub fn build(self) -> promenade_core::Result<PrometheusMetrics> {
        let metrics = self.http.build()?;
        #[cfg(not(feature = "process"))]
        let _ = self.process_collector;
        #[cfg(feature = "process")]
        if self.process_collector {
            promenade_core::collectors::ensure_process_collector(&self.registry)?;
        }
        let scrape = self.metrics_path.map(|path| {
            let mut handler = ScrapeHandler::new(self.registry.clone()).with_gzip(self.gzip);
            if let Some(auth) = self.auth {
                handler = handler.with_auth(auth);
            }
            ScrapeRoute { path, handler }
        });
        Ok(PrometheusMetrics::from_shared(Shared {
            metrics,
            scrape,
            instrument_scrape: self.instrument_scrape,
            catch_panics: self.catch_panics,
            body_sizes: self.body_sizes,
        }))
    }
}

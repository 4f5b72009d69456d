//! One call to add the metrics layer and the `/metrics` route to an axum `Router`.

use axum::Router;
use promenade_core::Registry;
use promenade_core::Result;
use promenade_core::scrape::{ScrapeAuth, ScrapeHandler};

use crate::layer::{HttpMetricsLayer, HttpMetricsLayerBuilder};
use crate::scrape::MetricsService;

/// The metrics layer and the scrape route for an axum [`Router`], ready to apply with
/// [`PrometheusRouterExt::with_prometheus`] (or [`Prometheus::apply`]).
///
/// ```
/// use axum::{Router, routing::get};
/// use promenade_tower::{Prometheus, PrometheusRouterExt, ScrapeAuth};
///
/// let registry = promenade_core::Registry::new();
/// let prometheus = Prometheus::builder(&registry)
///     .path("/internal/metrics")
///     .auth(ScrapeAuth::Bearer("s3cret".into()))
///     .metrics(|m| m.status_classes(true))
///     .build()
///     .unwrap();
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hi" }))
///     .with_prometheus(prometheus);
/// ```
#[derive(Debug, Clone)]
pub struct Prometheus {
    layer: HttpMetricsLayer,
    scrape: MetricsService,
    path: String,
    count_scrapes: bool,
}

impl Prometheus {
    /// Default metrics registered in `registry`, scraped at `GET /metrics`.
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::new(&promenade_core::Registry::new()).unwrap();
    /// assert_eq!(p.path(), "/metrics");
    /// ```
    pub fn new(registry: &Registry) -> Result<Self> {
        Self::builder(registry).build()
    }

    /// Configures the metrics and the scrape route.
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::builder(&promenade_core::Registry::new()).count_scrapes(true).build().unwrap();
    /// ```
    pub fn builder(registry: &Registry) -> PrometheusBuilder {
        PrometheusBuilder {
            registry: registry.clone(),
            layer: HttpMetricsLayer::builder(registry),
            path: "/metrics".to_owned(),
            auth: None,
            gzip: true,
            count_scrapes: false,
            process_collector: true,
        }
    }

    /// The metrics layer (to add to other routers too).
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::new(&promenade_core::Registry::new()).unwrap();
    /// let layer = p.layer().clone();
    /// ```
    pub fn layer(&self) -> &HttpMetricsLayer {
        &self.layer
    }

    /// The scrape service (to mount elsewhere, e.g. on an admin port).
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::new(&promenade_core::Registry::new()).unwrap();
    /// let admin: axum::Router = axum::Router::new().route_service("/metrics", p.scrape_service().clone());
    /// ```
    pub fn scrape_service(&self) -> &MetricsService {
        &self.scrape
    }

    /// The scrape route's path.
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::builder(&promenade_core::Registry::new()).path("/m").build().unwrap();
    /// assert_eq!(p.path(), "/m");
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Instruments every route and fallback already in `router` and adds the scrape route
    /// (counted only with [`PrometheusBuilder::count_scrapes`]). Routes and fallbacks added
    /// to the router afterwards are not instrumented, so call this last.
    ///
    /// # Panics
    ///
    /// As `Router::route_service` does, when `router` already has a route at the scrape path.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// let p = promenade_tower::Prometheus::new(&promenade_core::Registry::new()).unwrap();
    /// let app: Router = p.apply(Router::new().route("/", get(|| async { "hi" })));
    /// ```
    pub fn apply<S>(self, router: Router<S>) -> Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        if self.count_scrapes {
            router
                .route_service(&self.path, self.scrape)
                .layer(self.layer)
        } else {
            router
                .layer(self.layer)
                .route_service(&self.path, self.scrape)
        }
    }
}

/// Configures [`Prometheus`].
///
/// ```
/// let p = promenade_tower::Prometheus::builder(&promenade_core::Registry::new())
///     .path("/metrics")
///     .gzip(false)
///     .build()
///     .unwrap();
/// ```
#[derive(Debug)]
pub struct PrometheusBuilder {
    registry: Registry,
    layer: HttpMetricsLayerBuilder,
    path: String,
    auth: Option<ScrapeAuth>,
    gzip: bool,
    count_scrapes: bool,
    process_collector: bool,
}

impl PrometheusBuilder {
    /// Whether to register the process collector (`process_cpu_seconds_total`,
    /// `process_resident_memory_bytes`, … on Linux) along with the HTTP metrics; on by default.
    /// Already registered process metrics are left as they are.
    ///
    /// ```
    /// use promenade_core::{Format, Registry};
    /// let with = Registry::new();
    /// promenade_tower::Prometheus::builder(&with).build().unwrap();
    /// let without = Registry::new();
    /// promenade_tower::Prometheus::builder(&without).process_collector(false).build().unwrap();
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
    /// let p = promenade_tower::Prometheus::builder(&promenade_core::Registry::new())
    ///     .native_histograms(promenade_core::NativeBuckets::default())
    ///     .build();
    /// assert!(p.is_ok());
    /// ```
    #[must_use]
    pub fn native_histograms(mut self, native: promenade_core::NativeBuckets) -> Self {
        self.layer = self.layer.configure(|b| b.native_histograms(native));
        self
    }

    /// The scrape route's path (default `/metrics`).
    ///
    /// ```
    /// let b = promenade_tower::Prometheus::builder(&promenade_core::Registry::new()).path("/internal/metrics");
    /// ```
    #[must_use]
    pub fn path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.path);
        self
    }

    /// Requires a bearer token or basic credentials on the scrape route.
    ///
    /// ```
    /// use promenade_tower::{Prometheus, ScrapeAuth};
    /// let b = Prometheus::builder(&promenade_core::Registry::new())
    ///     .auth(ScrapeAuth::Basic { username: "prom".into(), password: "pw".into() });
    /// ```
    #[must_use]
    pub fn auth(mut self, auth: ScrapeAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Allows gzip scrape responses when the scraper accepts them (default true).
    ///
    /// ```
    /// let b = promenade_tower::Prometheus::builder(&promenade_core::Registry::new()).gzip(false);
    /// ```
    #[must_use]
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Counts the scrape route in the HTTP metrics too (default false).
    ///
    /// ```
    /// let b = promenade_tower::Prometheus::builder(&promenade_core::Registry::new()).count_scrapes(true);
    /// ```
    #[must_use]
    pub fn count_scrapes(mut self, on: bool) -> Self {
        self.count_scrapes = on;
        self
    }

    /// Configures the HTTP metrics (buckets, naming, labels, exclusions, …).
    ///
    /// ```
    /// use promenade_tower::Naming;
    /// let b = promenade_tower::Prometheus::builder(&promenade_core::Registry::new())
    ///     .metrics(|m| m.naming(Naming::Both).exclude_path("/healthz"));
    /// ```
    #[must_use]
    pub fn metrics(
        mut self,
        f: impl FnOnce(HttpMetricsLayerBuilder) -> HttpMetricsLayerBuilder,
    ) -> Self {
        self.layer = f(self.layer);
        self
    }

    /// Registers the metrics; fails on a name clash in the registry or invalid options
    /// (including a scrape path that does not start with `/` or has a `{` or `*` in it).
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::builder(&promenade_core::Registry::new()).build().unwrap();
    /// let bad = promenade_tower::Prometheus::builder(&promenade_core::Registry::new()).path("metrics").build();
    /// assert!(bad.is_err());
    /// ```
    pub fn build(self) -> Result<Prometheus> {
        if !self.path.starts_with('/') || self.path.contains(['{', '}', '*']) {
            return Err(promenade_core::Error::InvalidConfig(format!(
                "scrape path {:?} must start with '/' and be a plain path",
                self.path
            )));
        }
        let layer = self.layer.build()?;
        #[cfg(not(feature = "process"))]
        let _ = self.process_collector;
        #[cfg(feature = "process")]
        if self.process_collector {
            promenade_core::collectors::ensure_process_collector(&self.registry)?;
        }
        let mut handler = ScrapeHandler::new(self.registry).with_gzip(self.gzip);
        if let Some(auth) = self.auth {
            handler = handler.with_auth(auth);
        }
        Ok(Prometheus {
            layer,
            scrape: MetricsService::from_handler(handler),
            path: self.path,
            count_scrapes: self.count_scrapes,
        })
    }
}

/// Adds [`Prometheus`] to an axum [`Router`] in one call.
///
/// ```
/// use axum::{Router, routing::get};
/// use promenade_tower::{Prometheus, PrometheusRouterExt};
///
/// let registry = promenade_core::Registry::new();
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hi" }))
///     .with_prometheus(Prometheus::new(&registry).unwrap());
/// ```
pub trait PrometheusRouterExt<S> {
    /// See [`Prometheus::apply`].
    fn with_prometheus(self, prometheus: Prometheus) -> Router<S>;
}

impl<S> PrometheusRouterExt<S> for Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn with_prometheus(self, prometheus: Prometheus) -> Router<S> {
        prometheus.apply(self)
    }
}

//! One call to add the metrics layer and the `/metrics` route to an axum `Router`.

use axum::Router;
use promenade_core::http_metrics::HttpMetricsBuilder;
use promenade_core::scrape::{ScrapeHandler, ScrapeHandlerBuilder};
use promenade_core::{Error, Registry, Result};

use crate::layer::{HttpMetricsLayer, HttpMetricsLayerBuilder};
use crate::scrape::MetricsService;

/// The metrics layer and the scrape route for an axum [`Router`], ready to apply with
/// [`PrometheusRouterExt::with_prometheus`] (or [`Prometheus::apply`]).
///
/// ```
/// use axum::{Router, routing::get};
/// use promenade_tower::{Prometheus, PrometheusRouterExt, ScrapeAuth};
///
/// let registry = promenade_tower::Registry::new();
/// let prometheus = Prometheus::builder(&registry)
///     .metrics(|m| m.status_classes(true))
///     .scrape(|s| s.path("/internal/metrics").auth(ScrapeAuth::Bearer("s3cret".into())))
///     .build()?;
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hi" }))
///     .with_prometheus(prometheus)?;
/// # Ok::<(), promenade_tower::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Prometheus {
    layer: HttpMetricsLayer,
    scrape: MetricsService,
}

impl Prometheus {
    /// The default HTTP metrics registered in `registry`, and the scrape route at
    /// `GET /metrics` (the process collector registered too).
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::new(&promenade_tower::Registry::new())?;
    /// assert_eq!(p.path(), "/metrics");
    /// # Ok::<(), promenade_tower::Error>(())
    /// ```
    pub fn new(registry: &Registry) -> Result<Self> {
        Self::builder(registry).build()
    }

    /// Configures the HTTP metrics ([`metrics`](PrometheusBuilder::metrics)) and the scrape
    /// route ([`scrape`](PrometheusBuilder::scrape)).
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::builder(&promenade_tower::Registry::new())
    ///     .scrape(|s| s.count_scrapes(true))
    ///     .build()?;
    /// # Ok::<(), promenade_tower::Error>(())
    /// ```
    pub fn builder(registry: &Registry) -> PrometheusBuilder {
        PrometheusBuilder {
            layer: HttpMetricsLayer::builder(registry),
            scrape: ScrapeHandler::builder(registry),
        }
    }

    /// The metrics layer (to add to other routers too).
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::new(&promenade_tower::Registry::new())?;
    /// let layer = p.layer().clone();
    /// # Ok::<(), promenade_tower::Error>(())
    /// ```
    pub fn layer(&self) -> &HttpMetricsLayer {
        &self.layer
    }

    /// The scrape service (to mount elsewhere, e.g. on an admin port).
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::new(&promenade_tower::Registry::new())?;
    /// let admin: axum::Router = axum::Router::new().route_service(p.path(), p.scrape_service().clone());
    /// # Ok::<(), promenade_tower::Error>(())
    /// ```
    pub fn scrape_service(&self) -> &MetricsService {
        &self.scrape
    }

    /// The scrape route's path.
    ///
    /// ```
    /// let p = promenade_tower::Prometheus::builder(&promenade_tower::Registry::new()).scrape(|s| s.path("/m")).build()?;
    /// assert_eq!(p.path(), "/m");
    /// # Ok::<(), promenade_tower::Error>(())
    /// ```
    pub fn path(&self) -> &str {
        self.scrape.handler().path()
    }

    /// Instruments every route and fallback already in `router` and adds the scrape route
    /// (counted only with [`count_scrapes`](ScrapeHandlerBuilder::count_scrapes)). axum
    /// layers wrap only the routes that exist, so routes added (or merged) afterwards are not
    /// instrumented: call this last.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] when `router` has no routes yet, the usual sign of this call
    /// made too early (it would instrument nothing but 404s). A fallback-only app adds
    /// [`layer`](Self::layer) itself after its fallback.
    ///
    /// # Panics
    ///
    /// As `Router::route_service` does, when `router` already has a route at the scrape path.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// let p = promenade_tower::Prometheus::new(&promenade_tower::Registry::new())?;
    /// let app: Router = p.clone().apply(Router::new().route("/", get(|| async { "hi" })))?;
    /// let too_early = p.apply(Router::<()>::new()).unwrap_err();
    /// assert!(too_early.to_string().contains("no routes"), "{too_early}");
    /// # Ok::<(), promenade_tower::Error>(())
    /// ```
    pub fn apply<S>(self, router: Router<S>) -> Result<Router<S>>
    where
        S: Clone + Send + Sync + 'static,
    {
        if !router.has_routes() {
            return Err(Error::InvalidConfig(
                "with_prometheus was called on a router with no routes yet, so it would \
                 instrument nothing: add your routes first and call it last (axum layers only \
                 wrap routes that already exist); for a fallback-only app, add \
                 `.layer(prometheus.layer().clone())` after the fallback"
                    .into(),
            ));
        }
        let path = self.path().to_owned();
        Ok(if self.scrape.handler().counts_scrapes() {
            router.route_service(&path, self.scrape).layer(self.layer)
        } else {
            router.layer(self.layer).route_service(&path, self.scrape)
        })
    }
}

/// Configures [`Prometheus`]: the same two hooks as the actix adapter's builder.
///
/// ```
/// use promenade_tower::{Naming, NativeBuckets};
/// let p = promenade_tower::Prometheus::builder(&promenade_tower::Registry::new())
///     .metrics(|m| m.naming(Naming::Both).native_histograms(NativeBuckets::default()))
///     .scrape(|s| s.gzip(false).process_collector(false))
///     .build()?;
/// # Ok::<(), promenade_tower::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct PrometheusBuilder {
    layer: HttpMetricsLayerBuilder,
    scrape: ScrapeHandlerBuilder,
}

impl PrometheusBuilder {
    /// Configures the HTTP metrics: the core's [`HttpMetricsBuilder`] (buckets, naming,
    /// status classes, body sizes, labels, exclusions, native histograms, series cap, …).
    ///
    /// ```
    /// use promenade_tower::Naming;
    /// let b = promenade_tower::Prometheus::builder(&promenade_tower::Registry::new())
    ///     .metrics(|m| m.naming(Naming::Both).exclude_path("/healthz"));
    /// ```
    pub fn metrics(mut self, f: impl FnOnce(HttpMetricsBuilder) -> HttpMetricsBuilder) -> Self {
        self.layer = self.layer.metrics(f);
        self
    }

    /// Configures the scrape route: the core's [`ScrapeHandlerBuilder`] (path, auth, gzip,
    /// whether scrapes are counted, the process collector, limits).
    ///
    /// ```
    /// use promenade_tower::ScrapeAuth;
    /// let b = promenade_tower::Prometheus::builder(&promenade_tower::Registry::new())
    ///     .scrape(|s| s.path("/internal/metrics").auth(ScrapeAuth::Bearer("s3cret".into())));
    /// ```
    pub fn scrape(mut self, f: impl FnOnce(ScrapeHandlerBuilder) -> ScrapeHandlerBuilder) -> Self {
        self.scrape = f(self.scrape);
        self
    }

    /// Registers the metrics (and the process collector, unless turned off).
    ///
    /// # Errors
    ///
    /// A name clash in the registry (a second `Prometheus` on the same registry), an invalid
    /// option, or a scrape path that is not a plain absolute path.
    ///
    /// ```
    /// let registry = promenade_tower::Registry::new();
    /// let bad = promenade_tower::Prometheus::builder(&registry).scrape(|s| s.path("metrics")).build();
    /// assert!(bad.is_err());
    /// # Ok::<(), promenade_tower::Error>(())
    /// ```
    pub fn build(self) -> Result<Prometheus> {
        // The handler first: its path check must not leave HTTP metrics registered behind.
        let handler = self.scrape.build()?;
        Ok(Prometheus {
            layer: self.layer.build()?,
            scrape: MetricsService::new(handler),
        })
    }
}

/// Adds [`Prometheus`] to an axum [`Router`] in one call.
///
/// ```
/// use axum::{Router, routing::get};
/// use promenade_tower::{Prometheus, PrometheusRouterExt};
///
/// let registry = promenade_tower::Registry::new();
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hi" }))
///     .with_prometheus(Prometheus::new(&registry)?)?;
/// # Ok::<(), promenade_tower::Error>(())
/// ```
pub trait PrometheusRouterExt<S> {
    /// See [`Prometheus::apply`].
    ///
    /// # Errors
    ///
    /// When the router has no routes yet (see [`Prometheus::apply`]).
    fn with_prometheus(self, prometheus: Prometheus) -> Result<Router<S>>;
}

impl<S> PrometheusRouterExt<S> for Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    fn with_prometheus(self, prometheus: Prometheus) -> Result<Router<S>> {
        prometheus.apply(self)
    }
}

//! The tower layer and service.

use std::task::{Context, Poll};

use http::{Request, Response};
use http_body::Body;
use promenade_core::http_metrics::{
    DurationEnd, HttpMetrics, HttpMetricsBuilder, Naming, RequestInfo,
};
use promenade_core::{Buckets, Registry, Result};
use tower_layer::Layer;
use tower_service::Service;

use crate::body::{ResponseBody, Tracked};
use crate::future::ResponseFuture;
use crate::route::{DefaultRoute, RouteExtractor, RouteRequest};

/// A tower [`Layer`] that records HTTP request metrics through the core's [`HttpMetrics`].
///
/// Cheap to clone (one `Arc`); axum clones it for every route.
///
/// ```
/// use axum::{Router, routing::get};
/// use promenade_tower::HttpMetricsLayer;
///
/// let registry = promenade_core::Registry::new();
/// let layer = HttpMetricsLayer::builder(&registry).build().unwrap();
/// // `Router::layer` runs the layer after routing, so it sees the matched route.
/// let app: Router = Router::new().route("/", get(|| async { "hi" })).layer(layer);
/// ```
#[derive(Debug, Clone)]
pub struct HttpMetricsLayer<R = DefaultRoute> {
    metrics: HttpMetrics,
    route: R,
}

impl HttpMetricsLayer {
    /// Configures a layer whose metrics are registered in `registry`.
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&registry).build().unwrap();
    /// ```
    pub fn builder(registry: &Registry) -> HttpMetricsLayerBuilder {
        HttpMetricsLayerBuilder {
            metrics: HttpMetrics::builder(registry),
            route: DefaultRoute,
        }
    }

    /// A layer around metrics built and registered elsewhere (for example shared with
    /// another adapter).
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// let registry = promenade_core::Registry::new();
    /// let metrics = HttpMetrics::builder(&registry).build().unwrap();
    /// let layer = promenade_tower::HttpMetricsLayer::new(metrics);
    /// ```
    pub fn new(metrics: HttpMetrics) -> Self {
        Self {
            metrics,
            route: DefaultRoute,
        }
    }
}

impl<R> HttpMetricsLayer<R> {
    /// The metrics this layer records into.
    ///
    /// ```
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new()).build().unwrap();
    /// assert_eq!(layer.metrics().method_label("BREW"), "_OTHER");
    /// ```
    pub fn metrics(&self) -> &HttpMetrics {
        &self.metrics
    }

    /// The same layer with another route extractor.
    ///
    /// ```
    /// use promenade_tower::{HttpMetricsLayer, NoRoute};
    /// let layer = HttpMetricsLayer::builder(&promenade_core::Registry::new()).build().unwrap();
    /// let layer: HttpMetricsLayer<NoRoute> = layer.with_route_extractor(NoRoute);
    /// ```
    pub fn with_route_extractor<R2: RouteExtractor>(self, route: R2) -> HttpMetricsLayer<R2> {
        HttpMetricsLayer {
            metrics: self.metrics,
            route,
        }
    }
}

impl<S, R: Clone> Layer<S> for HttpMetricsLayer<R> {
    type Service = HttpMetricsService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetricsService {
            inner,
            metrics: self.metrics.clone(),
            route: self.route.clone(),
        }
    }
}

/// Configures an [`HttpMetricsLayer`]; most options are the core's
/// [`HttpMetricsBuilder`] options.
///
/// ```
/// use promenade_tower::{DurationEnd, HttpMetricsLayer, Naming};
/// let registry = promenade_core::Registry::new();
/// let layer = HttpMetricsLayer::builder(&registry)
///     .naming(Naming::Both)
///     .status_classes(true)
///     .const_label("service", "users")
///     .exclude_path("/healthz")
///     .body_sizes(true)
///     .duration_end(DurationEnd::Head)
///     .build()
///     .unwrap();
/// ```
#[derive(Debug)]
pub struct HttpMetricsLayerBuilder<R = DefaultRoute> {
    metrics: HttpMetricsBuilder,
    route: R,
}

impl<R: RouteExtractor> HttpMetricsLayerBuilder<R> {
    /// Duration histogram buckets (default: Prometheus's defaults, 5 ms … 10 s).
    ///
    /// ```
    /// use promenade_core::{Buckets, exponential_buckets};
    /// let b = Buckets::new(exponential_buckets(0.001, 2.0, 12).unwrap()).unwrap();
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new()).buckets(b).build().unwrap();
    /// ```
    #[must_use]
    pub fn buckets(mut self, buckets: Buckets) -> Self {
        self.metrics = self.metrics.buckets(buckets);
        self
    }

    /// Metric names: Prometheus style (default), OpenTelemetry semantic conventions, or both.
    ///
    /// ```
    /// use promenade_tower::{HttpMetricsLayer, Naming};
    /// let layer = HttpMetricsLayer::builder(&promenade_core::Registry::new()).naming(Naming::OpenTelemetry).build().unwrap();
    /// ```
    #[must_use]
    pub fn naming(mut self, naming: Naming) -> Self {
        self.metrics = self.metrics.naming(naming);
        self
    }

    /// A constant label on every HTTP series.
    ///
    /// ```
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new()).const_label("env", "prod").build().unwrap();
    /// ```
    #[must_use]
    pub fn const_label(mut self, name: &str, value: &str) -> Self {
        self.metrics = self.metrics.const_label(name, value);
        self
    }

    /// A label computed from each request (keep its values few: each is a new series).
    ///
    /// ```
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new())
    ///     .derived_label("tenant", |req| req.headers.header("x-tenant").unwrap_or("none").to_owned())
    ///     .build()
    ///     .unwrap();
    /// ```
    #[must_use]
    pub fn derived_label<F>(mut self, name: &str, f: F) -> Self
    where
        F: Fn(&RequestInfo<'_>) -> String + Send + Sync + 'static,
    {
        self.metrics = self.metrics.derived_label(name, f);
        self
    }

    /// A path (exact match on the raw path) that is not instrumented at all.
    ///
    /// ```
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new()).exclude_path("/healthz").build().unwrap();
    /// assert!(layer.metrics().is_excluded("/healthz"));
    /// ```
    #[must_use]
    pub fn exclude_path(mut self, path: &str) -> Self {
        self.metrics = self.metrics.exclude_path(path);
        self
    }

    /// Groups status codes into classes (`2xx`, `4xx`, …).
    ///
    /// ```
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new()).status_classes(true).build().unwrap();
    /// ```
    #[must_use]
    pub fn status_classes(mut self, on: bool) -> Self {
        self.metrics = self.metrics.status_classes(on);
        self
    }

    /// Methods kept by name besides the standard ones (others are `_OTHER`).
    ///
    /// ```
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new()).extra_methods(&["PROPFIND"]).build().unwrap();
    /// assert_eq!(layer.metrics().method_label("PROPFIND"), "PROPFIND");
    /// ```
    #[must_use]
    pub fn extra_methods<S: AsRef<str>>(mut self, methods: &[S]) -> Self {
        self.metrics = self.metrics.extra_methods(methods);
        self
    }

    /// Adds `http_request_size_bytes` and `http_response_size_bytes` histograms. Response
    /// sizes count the body bytes sent; request sizes come from the body's exact size hint
    /// (hyper sets it from `Content-Length`), so chunked uploads count as 0.
    ///
    /// ```
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new()).body_sizes(true).build().unwrap();
    /// ```
    #[must_use]
    pub fn body_sizes(mut self, on: bool) -> Self {
        self.metrics = self.metrics.body_sizes(on);
        self
    }

    /// Ends the duration at the response head instead of the end of the body.
    ///
    /// ```
    /// use promenade_tower::{DurationEnd, HttpMetricsLayer};
    /// let layer = HttpMetricsLayer::builder(&promenade_core::Registry::new()).duration_end(DurationEnd::Head).build().unwrap();
    /// ```
    #[must_use]
    pub fn duration_end(mut self, end: DurationEnd) -> Self {
        self.metrics = self.metrics.duration_end(end);
        self
    }

    /// Cap on request series; excess label sets fold into an overflow series.
    ///
    /// ```
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new()).max_series(500).build().unwrap();
    /// ```
    #[must_use]
    pub fn max_series(mut self, max: usize) -> Self {
        self.metrics = self.metrics.max_series(max);
        self
    }

    /// Any other option of the core's [`HttpMetricsBuilder`].
    ///
    /// ```
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new())
    ///     .configure(|b| b.status_classes(true))
    ///     .build()
    ///     .unwrap();
    /// ```
    #[must_use]
    pub fn configure(mut self, f: impl FnOnce(HttpMetricsBuilder) -> HttpMetricsBuilder) -> Self {
        self.metrics = f(self.metrics);
        self
    }

    /// Where the `route` label comes from (default: [`DefaultRoute`], axum's `MatchedPath`).
    ///
    /// ```
    /// use std::borrow::Cow;
    /// use promenade_tower::{HttpMetricsLayer, route_fn};
    /// let layer = HttpMetricsLayer::builder(&promenade_core::Registry::new())
    ///     .route_extractor(route_fn(|req| (req.uri.path() == "/").then(|| Cow::Borrowed("/"))))
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn route_extractor<R2: RouteExtractor>(self, route: R2) -> HttpMetricsLayerBuilder<R2> {
        HttpMetricsLayerBuilder {
            metrics: self.metrics,
            route,
        }
    }

    /// Validates the options and registers the metrics; fails if the registry already
    /// holds metrics with these names or a label name is invalid.
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// assert!(promenade_tower::HttpMetricsLayer::builder(&registry).build().is_ok());
    /// // The same names twice in one registry are refused.
    /// assert!(promenade_tower::HttpMetricsLayer::builder(&registry).build().is_err());
    /// ```
    pub fn build(self) -> Result<HttpMetricsLayer<R>> {
        Ok(HttpMetricsLayer {
            metrics: self.metrics.build()?,
            route: self.route,
        })
    }
}

/// The service made by [`HttpMetricsLayer`]: measures each request around the inner service.
///
/// ```
/// use promenade_tower::HttpMetricsLayer;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
/// use http_body_util::{BodyExt, Full};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let registry = promenade_core::Registry::new();
/// let svc = ServiceBuilder::new()
///     .layer(HttpMetricsLayer::builder(&registry).build().unwrap())
///     .service(service_fn(|_req: http::Request<Full<bytes::Bytes>>| async {
///         Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(bytes::Bytes::from("hi"))))
///     }));
/// let resp = svc.oneshot(http::Request::new(Full::default())).await.unwrap();
/// resp.into_body().collect().await.unwrap();
/// let text = registry.encode_to_string(promenade_core::Format::Text).unwrap();
/// assert!(text.contains(r#"http_requests_total{method="GET",route="unmatched",status="200"} 1"#));
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct HttpMetricsService<S, R = DefaultRoute> {
    inner: S,
    metrics: HttpMetrics,
    route: R,
}

impl<S, R> HttpMetricsService<S, R> {
    /// The wrapped service.
    ///
    /// ```
    /// use tower::Layer;
    /// let layer = promenade_tower::HttpMetricsLayer::builder(&promenade_core::Registry::new()).build().unwrap();
    /// let svc = layer.layer(7u8);
    /// assert_eq!(*svc.get_ref(), 7);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, R, ReqB, ResB> Service<Request<ReqB>> for HttpMetricsService<S, R>
where
    S: Service<Request<ReqB>, Response = Response<ResB>>,
    R: RouteExtractor,
    ReqB: Body,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        let tracker = if self.metrics.is_excluded(req.uri().path()) {
            None
        } else {
            let head = RouteRequest::new(&req);
            let route = self.route.route(&head);
            let mut tracker = self.metrics.start(&RequestInfo {
                method: req.method().as_str(),
                route: route.as_deref(),
                path: req.uri().path(),
                headers: req.headers(),
            });
            if let Some(n) = req.body().size_hint().exact() {
                tracker.add_request_bytes(n);
            }
            Some(Tracked::new(tracker))
        };
        ResponseFuture::new(self.inner.call(req), tracker)
    }
}

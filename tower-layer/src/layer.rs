//! The tower layer and service.

use std::task::{Context, Poll};

use http::{Request, Response};

use promenade_core::http_metrics::{ExtensionsRef, HttpMetrics, HttpMetricsBuilder, RequestInfo};
use promenade_core::{Registry, Result};
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

/// Configures an [`HttpMetricsLayer`]: the HTTP metrics' options through
/// [`metrics`](Self::metrics) (the core's [`HttpMetricsBuilder`]), and where the route
/// label comes from.
///
/// ```
/// use promenade_tower::{DurationEnd, HttpMetricsLayer, Naming};
/// let registry = promenade_core::Registry::new();
/// let layer = HttpMetricsLayer::builder(&registry)
///     .metrics(|m| {
///         m.naming(Naming::Both)
///             .status_classes(true)
///             .const_label("service", "users")
///             .exclude_path("/healthz")
///             .body_sizes(true)
///             .duration_end(DurationEnd::Head)
///     })
///     .build()?;
/// # Ok::<(), promenade_core::Error>(())
/// ```
#[derive(Debug)]
pub struct HttpMetricsLayerBuilder<R = DefaultRoute> {
    metrics: HttpMetricsBuilder,
    route: R,
}

impl<R: RouteExtractor> HttpMetricsLayerBuilder<R> {
    /// Configures the HTTP metrics: the core's [`HttpMetricsBuilder`] (buckets, naming,
    /// status classes, body sizes, labels, exclusions, series cap, …), the same builder
    /// `Prometheus::builder(..).metrics(..)` and the actix adapter hand you.
    ///
    /// ```
    /// use promenade_tower::{HttpMetricsLayer, Naming};
    /// let layer = HttpMetricsLayer::builder(&promenade_core::Registry::new())
    ///     .metrics(|m| m.naming(Naming::Both).status_classes(true).exclude_path("/healthz"))
    ///     .build()?;
    /// assert!(layer.metrics().is_excluded("/healthz"));
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    #[must_use]
    pub fn metrics(mut self, f: impl FnOnce(HttpMetricsBuilder) -> HttpMetricsBuilder) -> Self {
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
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        // Exclusions first: an excluded request gets no tracker, so it leaves no trace
        // (not even in-flight) and costs the checks only.
        let tracker = if self.metrics.is_excluded(req.uri().path()) {
            None
        } else {
            let head = RouteRequest::new(&req);
            let route = self.route.route(&head);
            (!self.metrics.is_route_excluded(route.as_deref())).then(|| {
                let mut tracker = self.metrics.start(&RequestInfo {
                    method: req.method().as_str(),
                    route: route.as_deref(),
                    path: req.uri().path(),
                    headers: req.headers(),
                });
                // Labels from the request's extensions are read here, before the request
                // moves on.
                if self.metrics.reads_request_extensions() {
                    tracker.request_extensions(ExtensionsRef::from(req.extensions()));
                }
                Tracked::new(tracker)
            })
        };
        ResponseFuture::new(self.inner.call(req), tracker)
    }
}

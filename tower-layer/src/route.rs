//! Where the `route` label comes from.

use std::borrow::Cow;
use std::fmt;

use http::{Extensions, HeaderMap, Method, Uri};

/// The parts of a request a [`RouteExtractor`] can look at.
///
/// ```
/// use promenade_tower::RouteRequest;
/// let req = http::Request::get("/users/7").body(()).unwrap();
/// let head = RouteRequest::new(&req);
/// assert_eq!(head.uri.path(), "/users/7");
/// assert_eq!(head.method, http::Method::GET);
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RouteRequest<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request URI.
    pub uri: &'a Uri,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The request extensions (where routers leave what they matched).
    pub extensions: &'a Extensions,
}

impl<'a> RouteRequest<'a> {
    /// Borrows the head of `request`.
    ///
    /// ```
    /// let req = http::Request::post("/echo").body(()).unwrap();
    /// assert_eq!(promenade_tower::RouteRequest::new(&req).method, http::Method::POST);
    /// ```
    pub fn new<B>(request: &'a http::Request<B>) -> Self {
        Self {
            method: request.method(),
            uri: request.uri(),
            headers: request.headers(),
            extensions: request.extensions(),
        }
    }
}

/// Finds the route template of a request (`/users/{id}`), or `None` when the request
/// matched no route (it is then labelled `unmatched`).
///
/// Never return the raw path: every distinct value becomes a new time series.
///
/// ```
/// use std::borrow::Cow;
/// use promenade_tower::{RouteExtractor, RouteRequest};
///
/// /// Routes for a hand-written hyper service.
/// #[derive(Clone)]
/// struct MyRoutes;
///
/// impl RouteExtractor for MyRoutes {
///     fn route<'a>(&'a self, req: &RouteRequest<'a>) -> Option<Cow<'a, str>> {
///         match req.uri.path() {
///             "/" => Some(Cow::Borrowed("/")),
///             p if p.starts_with("/users/") => Some(Cow::Borrowed("/users/{id}")),
///             _ => None,
///         }
///     }
/// }
///
/// let req = http::Request::get("/users/42").body(()).unwrap();
/// assert_eq!(MyRoutes.route(&RouteRequest::new(&req)).as_deref(), Some("/users/{id}"));
/// ```
pub trait RouteExtractor: Clone + Send + Sync + 'static {
    /// The route template of `request`, if it matched one.
    fn route<'a>(&'a self, request: &RouteRequest<'a>) -> Option<Cow<'a, str>>;
}

/// The default route extractor: axum's [`MatchedPath`](axum::extract::MatchedPath) when the
/// `axum` feature is on and the router left one in the request extensions; otherwise no
/// route (`unmatched`).
///
/// With axum, apply the layer with `Router::layer` / `Router::route_layer` (it then runs
/// after routing and sees `MatchedPath`); a layer wrapped around the whole router runs
/// before routing and labels everything `unmatched`.
///
/// ```
/// use promenade_tower::{DefaultRoute, RouteExtractor, RouteRequest};
/// let req = http::Request::get("/anything").body(()).unwrap();
/// assert_eq!(DefaultRoute.route(&RouteRequest::new(&req)), None);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRoute;

impl RouteExtractor for DefaultRoute {
    #[inline]
    fn route<'a>(&'a self, request: &RouteRequest<'a>) -> Option<Cow<'a, str>> {
        #[cfg(feature = "axum")]
        {
            request
                .extensions
                .get::<axum::extract::MatchedPath>()
                .map(|m| Cow::Borrowed(m.as_str()))
        }
        #[cfg(not(feature = "axum"))]
        {
            let _ = request;
            None
        }
    }
}

/// A route extractor that never finds a route: every request is `unmatched`. Useful for a
/// service with a single endpoint, together with a derived label if needed.
///
/// ```
/// use promenade_tower::{NoRoute, RouteExtractor, RouteRequest};
/// let req = http::Request::get("/x").body(()).unwrap();
/// assert_eq!(NoRoute.route(&RouteRequest::new(&req)), None);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoRoute;

impl RouteExtractor for NoRoute {
    #[inline]
    fn route<'a>(&'a self, _request: &RouteRequest<'a>) -> Option<Cow<'a, str>> {
        None
    }
}

/// A [`RouteExtractor`] made from a closure; see [`route_fn`].
///
/// ```
/// use std::borrow::Cow;
/// let extractor: promenade_tower::RouteFn<_> = promenade_tower::route_fn(|_req| Some(Cow::Borrowed("/all")));
/// # drop(extractor);
/// ```
#[derive(Clone, Copy)]
pub struct RouteFn<F>(F);

impl<F> fmt::Debug for RouteFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RouteFn")
    }
}

/// Wraps a closure as a [`RouteExtractor`].
///
/// ```
/// use std::borrow::Cow;
/// use promenade_tower::{RouteExtractor, RouteRequest, route_fn};
///
/// let routes = route_fn(|req| match req.uri.path() {
///     "/health" => Some(Cow::Borrowed("/health")),
///     _ => None,
/// });
/// let req = http::Request::get("/health").body(()).unwrap();
/// assert_eq!(routes.route(&RouteRequest::new(&req)).as_deref(), Some("/health"));
/// ```
pub fn route_fn<F>(f: F) -> RouteFn<F>
where
    F: for<'a> Fn(&RouteRequest<'a>) -> Option<Cow<'a, str>> + Clone + Send + Sync + 'static,
{
    RouteFn(f)
}

impl<F> RouteExtractor for RouteFn<F>
where
    F: for<'a> Fn(&RouteRequest<'a>) -> Option<Cow<'a, str>> + Clone + Send + Sync + 'static,
{
    #[inline]
    fn route<'a>(&'a self, request: &RouteRequest<'a>) -> Option<Cow<'a, str>> {
        (self.0)(request)
    }
}

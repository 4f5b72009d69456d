//! The response future of the middleware service: it ends the measurement at the response
//! head, hands it on to the [`ResponseBody`], and records panics and errors.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ResourceMap, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{Error, HttpRequest, HttpResponse};
use pin_project_lite::pin_project;
use promenade_core::http_metrics::RequestTracker;

use crate::body::ResponseBody;
use crate::parts::read_response_labels;

pin_project! {
    /// The response future of [`PrometheusMetricsMiddleware`](crate::PrometheusMetricsMiddleware).
    ///
    /// ```
    /// # actix_rt::System::new().block_on(async {
    /// use actix_web::dev::Service as _;
    /// let registry = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
    /// let app = actix_web::test::init_service(actix_web::App::new().wrap(mw)).await;
    /// let future = app.call(actix_web::test::TestRequest::get().uri("/x").to_request());
    /// assert_eq!(future.await.unwrap().status(), 404);
    /// # });
    /// ```
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
    }
}

/// The name [`ResponseFuture`] had before it took the tower adapter's name; kept so that code
/// naming `promenade_actix::MetricsFuture` still compiles.
///
/// ```
/// fn same<F>(future: promenade_actix::ResponseFuture<F>) -> promenade_actix::MetricsFuture<F> {
///     future
/// }
/// # let _ = same::<std::future::Ready<()>>;
/// ```
#[doc(hidden)]
pub type MetricsFuture<F> = ResponseFuture<F>;

pin_project! {
    #[project = StateProj]
    enum State<F> {
        // A request passed on to the wrapped service (tracked unless excluded).
        Tracked {
            #[pin]
            fut: F,
            tracker: Option<Box<Routed>>,
            catch_panics: bool,
        },
        // A scrape answered by the middleware itself (collectors on the blocking pool).
        Scrape {
            response: Pin<Box<dyn Future<Output = HttpResponse>>>,
            request: Option<HttpRequest>,
            // Boxed, as a tracked request's: the future's size is its largest state's.
            tracker: Option<Box<RequestTracker>>,
        },
        // The wrapped service panicked in `call` (and panics are caught).
        Failed {
            err: Option<Error>,
        },
    }
}

impl<F> ResponseFuture<F> {
    /// An excluded request: the wrapped service's future, passed through unrecorded (its
    /// panics still caught when asked: that is the middleware's behaviour, not a metric).
    pub(crate) fn untracked(fut: F, catch_panics: bool) -> Self {
        Self::tracked(fut, None, catch_panics)
    }

    /// A request passed on to the wrapped service and measured by `tracker`.
    pub(crate) fn tracked(fut: F, tracker: Option<Box<Routed>>, catch_panics: bool) -> Self {
        Self {
            state: State::Tracked {
                fut,
                tracker,
                catch_panics,
            },
        }
    }

    /// A scrape the middleware answers itself; `tracker` is set when scrapes are instrumented.
    pub(crate) fn scrape(
        response: Pin<Box<dyn Future<Output = HttpResponse>>>,
        request: HttpRequest,
        tracker: Option<RequestTracker>,
    ) -> Self {
        Self {
            state: State::Scrape {
                response,
                request: Some(request),
                tracker: tracker.map(Box::new),
            },
        }
    }

    /// The wrapped service panicked in `call` and panics are caught: answer `500`.
    pub(crate) fn panicked() -> Self {
        Self {
            state: State::Failed {
                err: Some(panic_error()),
            },
        }
    }
}

/// What finds a request's route when it ends without a response (cancelled, failed,
/// panicked): the path matched against the app's routes, the second path match the normal
/// end avoids by asking the routed request.
pub(crate) struct RouteLater {
    pub(crate) resource_map: Rc<ResourceMap>,
    pub(crate) path: PathCopy,
}

/// Longest path kept inline by [`PathCopy`].
const INLINE_PATH: usize = 64;

/// A copy of the request path: inline when short (the common case costs a `memcpy`;
/// cloning the `Uri` would allocate, its bytes being promoted to shared on first clone),
/// on the heap otherwise.
pub(crate) enum PathCopy {
    Inline { buf: [u8; INLINE_PATH], len: u8 },
    Heap(Box<str>),
}

impl PathCopy {
    pub(crate) fn new(path: &str) -> Self {
        match u8::try_from(path.len()) {
            Ok(len) if path.len() <= INLINE_PATH => {
                let mut buf = [0u8; INLINE_PATH];
                buf[..path.len()].copy_from_slice(path.as_bytes());
                Self::Inline { buf, len }
            }
            _ => Self::Heap(path.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            // Copied from a `&str` whole, so always valid UTF-8; "" is only a fallback.
            Self::Inline { buf, len } => {
                std::str::from_utf8(buf.get(..usize::from(*len)).unwrap_or_default())
                    .unwrap_or_default()
            }
            Self::Heap(path) => path,
        }
    }
}

/// A tracker whose route is learned after routing: from the response when there is one,
/// else (on drop) through [`RouteLater`]. Dropping it records the request.
///
/// It travels boxed, from the response future into the response body: actix moves a
/// response several times between the middleware and the connection, and a tracker held
/// by value made every move copy it — more instructions in `memcpy` than
/// the allocation of the box costs.
///
/// A panic in the wrapped service is recorded as `500`, not as a request that ended without
/// a response (`499`): with [`catch_panics`](crate::PrometheusMetricsBuilder::catch_panics)
/// the middleware catches it; without, either the tracker is dropped while the thread
/// unwinds, or (when something outside caught the panic and drops the future later) the
/// inner poll never returned, which `in_poll` remembers. No `catch_unwind` on the default
/// path: its result travels through a union, one more copy of the response per request.
pub(crate) struct Routed {
    tracker: RequestTracker,
    later: Option<RouteLater>,
    in_poll: bool,
}

impl Routed {
    /// `later` is `None` when the tracker already has its route.
    pub(crate) fn new(tracker: RequestTracker, later: Option<RouteLater>) -> Box<Self> {
        Box::new(Self {
            tracker,
            later,
            in_poll: false,
        })
    }

    /// The response head is ready: takes the route from the routed request; the caller then
    /// hands the tracker on to the response body.
    fn respond<B>(&mut self, response: &ServiceResponse<B>) {
        if self.later.take().is_some() {
            self.tracker
                .set_route(response.request().match_pattern().as_deref());
        }
        self.tracker.response_head(response.status().as_u16());
        if self.tracker.reads_response() {
            read_response_labels(&mut self.tracker, response);
        }
    }

    /// The request ends without a response, as `status`; recorded when `self` is dropped.
    pub(crate) fn fail(&mut self, status: u16) {
        self.tracker.response_head(status);
    }

    /// Counts response body bytes sent.
    pub(crate) fn add_response_bytes(&mut self, n: u64) {
        self.tracker.add_response_bytes(n);
    }
}

impl Drop for Routed {
    fn drop(&mut self) {
        if self.tracker.status().is_none() && (self.in_poll || std::thread::panicking()) {
            self.tracker
                .response_head(StatusCode::INTERNAL_SERVER_ERROR.as_u16());
        }
        if let Some(later) = self.later.take() {
            let route = later.resource_map.match_pattern(later.path.as_str());
            self.tracker.set_route(route.as_deref());
        }
        // The tracker, dropped after this, records the request.
    }
}

/// The error a caught panic turns into (a `500 Internal Server Error` response).
fn panic_error() -> Error {
    actix_web::error::ErrorInternalServerError("request handler panicked")
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B> Future for ResponseFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    type Output = Result<ServiceResponse<EitherBody<ResponseBody<B>>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The common case (a tracked request, panics not caught) is written out here; the
        // others are out of line so that this stays a few cache lines of code.
        match self.project().state.project() {
            StateProj::Tracked {
                fut,
                tracker,
                catch_panics,
            } => match tracker.as_mut() {
                Some(t) if !*catch_panics => {
                    // A panic leaves `in_poll` set (see `Routed`).
                    t.in_poll = true;
                    let polled = fut.poll(cx);
                    t.in_poll = false;
                    Poll::Ready(match std::task::ready!(polled) {
                        Ok(res) => Ok(respond(res, tracker.take())),
                        Err(err) => Err(failed(err, tracker.take())),
                    })
                }
                _ => poll_other(fut, tracker, *catch_panics, cx),
            },
            StateProj::Scrape {
                response,
                request,
                tracker,
            } => poll_scrape(response, request, tracker, cx),
            StateProj::Failed { err } => Poll::Ready(Err(err.take().unwrap_or_else(panic_error))),
        }
    }
}

/// The response head is here: the tracker takes the route and status and travels on with
/// the body.
#[inline]
fn respond<B>(
    res: ServiceResponse<B>,
    tracker: Option<Box<Routed>>,
) -> ServiceResponse<EitherBody<ResponseBody<B>>> {
    let tracker = tracker.map(|mut t| {
        t.respond(&res);
        t
    });
    res.map_body(|_, body| EitherBody::left(ResponseBody::new(body, tracker)))
}

/// The wrapped service answered with an error: recorded with the error's status.
#[inline(never)]
fn failed(err: Error, tracker: Option<Box<Routed>>) -> Error {
    if let Some(mut t) = tracker {
        t.fail(err.as_response_error().status_code().as_u16());
    }
    err
}

/// An excluded request (passed through unrecorded), or any request with `catch_panics`.
#[inline(never)]
fn poll_other<F, B>(
    fut: Pin<&mut F>,
    tracker: &mut Option<Box<Routed>>,
    catch_panics: bool,
    cx: &mut Context<'_>,
) -> Poll<Result<ServiceResponse<EitherBody<ResponseBody<B>>>, Error>>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
    B: MessageBody,
{
    let polled = if catch_panics {
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(polled) => polled,
            Err(_) => {
                if let Some(mut t) = tracker.take() {
                    t.fail(StatusCode::INTERNAL_SERVER_ERROR.as_u16());
                }
                return Poll::Ready(Err(panic_error()));
            }
        }
    } else {
        fut.poll(cx)
    };
    Poll::Ready(match std::task::ready!(polled) {
        Ok(res) => Ok(respond(res, tracker.take())),
        Err(err) => Err(failed(err, tracker.take())),
    })
}

/// A scrape the middleware answers itself.
#[inline(never)]
fn poll_scrape<B>(
    response: &mut Pin<Box<dyn Future<Output = HttpResponse>>>,
    request: &mut Option<HttpRequest>,
    tracker: &mut Option<Box<RequestTracker>>,
    cx: &mut Context<'_>,
) -> Poll<Result<ServiceResponse<EitherBody<ResponseBody<B>>>, Error>> {
    let response = std::task::ready!(response.as_mut().poll(cx));
    if let Some(mut tracker) = tracker.take() {
        tracker.response_head(response.status().as_u16());
    }
    Poll::Ready(match request.take() {
        Some(request) => Ok(ServiceResponse::new(request, response).map_into_right_body()),
        None => Err(actix_web::error::ErrorInternalServerError(
            "metrics future polled after completion",
        )),
    })
}

#[cfg(test)]
mod tests {
    /// What actix moves with every response: the future and the body stay small whatever
    /// the tracker's size (it travels boxed).
    #[test]
    fn future_and_body_stay_small() {
        type Boxed = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;
        let future = std::mem::size_of::<super::ResponseFuture<Boxed>>();
        let body = std::mem::size_of::<crate::body::ResponseBody<actix_web::body::BoxBody>>();
        assert!(future <= 64, "ResponseFuture is {future} bytes");
        assert!(body <= 64, "ResponseBody is {body} bytes");
    }
}

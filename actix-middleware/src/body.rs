//! The response body wrapper that ends a request's measurement.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{BodySize, MessageBody};
use bytes::Bytes;
use pin_project_lite::pin_project;

use crate::future::Routed;

pin_project! {
    /// A response body that records its request when the body has been sent completely, fails
    /// or is dropped (client gone), counting the bytes it produced.
    ///
    /// ```
    /// # actix_rt::System::new().block_on(async {
    /// let registry = promenade_core::Registry::new();
    /// let mw = promenade_actix::PrometheusMetrics::builder(&registry).build().unwrap();
    /// let app = actix_web::test::init_service(
    ///     actix_web::App::new().wrap(mw).route("/", actix_web::web::get().to(|| async { "abc" })),
    /// ).await;
    /// let res = actix_web::test::call_service(&app, actix_web::test::TestRequest::get().uri("/").to_request()).await;
    /// // The request is recorded once the body is read to the end.
    /// let body = actix_web::test::read_body(res).await;
    /// assert_eq!(&body[..], b"abc");
    /// # });
    /// ```
    pub struct ResponseBody<B> {
        #[pin]
        body: B,
        tracker: Option<Box<Routed>>,
    }
}

/// The name [`ResponseBody`] had before it took the tower adapter's name; kept so that code
/// naming `promenade_actix::MetricsBody` still compiles.
///
/// ```
/// fn same<B>(body: promenade_actix::ResponseBody<B>) -> promenade_actix::MetricsBody<B> {
///     body
/// }
/// # let _ = same::<String>;
/// ```
#[doc(hidden)]
pub type MetricsBody<B> = ResponseBody<B>;

impl<B> ResponseBody<B> {
    /// Wraps `body`; without a tracker (excluded paths) it only passes the body through.
    pub(crate) fn new(body: B, tracker: Option<Box<Routed>>) -> Self {
        Self { body, tracker }
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("tracked", &self.tracker.is_some())
            .finish_non_exhaustive()
    }
}

impl<B: MessageBody> MessageBody for ResponseBody<B> {
    type Error = B::Error;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.project();
        let polled = this.body.poll_next(cx);
        match &polled {
            Poll::Ready(Some(Ok(chunk))) => {
                if let Some(t) = this.tracker.as_mut() {
                    t.add_response_bytes(chunk.len() as u64);
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => drop(this.tracker.take()),
            Poll::Pending => {}
        }
        polled
    }
}

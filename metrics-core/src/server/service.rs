//! What the server answers: the scrape handler at its path, the health path, 404 elsewhere.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::{Frame, Incoming, SizeHint};

use crate::scrape::{Prepared, ScrapeHandler};

/// The routes of one server, cloned into every connection.
#[derive(Clone)]
pub(super) struct Routes {
    pub(super) handler: ScrapeHandler,
    pub(super) health_path: Option<Arc<str>>,
}

impl Routes {
    pub(super) async fn respond(
        &self,
        method: &Method,
        path: &str,
        headers: &http::HeaderMap,
    ) -> Response<Bytes> {
        if path == self.handler.path() {
            return match self.handler.prepare(method, headers) {
                Prepared::Answer(response) => response,
                // Collectors run user code that may block: on the blocking pool, as the
                // framework adapters do.
                Prepared::Encode(job) => {
                    job.spawn_with(|work| tokio::task::spawn_blocking(work))
                        .await
                }
            };
        }
        if self.health_path.as_deref() == Some(path) {
            return if method == Method::GET || method == Method::HEAD {
                plain(StatusCode::OK, "ok")
            } else {
                let mut response = plain(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed; use GET or HEAD\n",
                );
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                response
            };
        }
        plain(StatusCode::NOT_FOUND, "not found\n")
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from_static(text.as_bytes()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

impl hyper::service::Service<Request<Incoming>> for Routes {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let routes = self.clone();
        Box::pin(async move {
            let head = request.method() == Method::HEAD;
            let response = routes
                .respond(request.method(), request.uri().path(), request.headers())
                .await;
            Ok(if head {
                // The GET's headers without a length: hyper would announce
                // `Content-Length: 0` for an exactly empty body (RFC 9110 §9.3.2 lets a HEAD
                // answer leave the length out: https://www.rfc-editor.org/rfc/rfc9110#section-9.3.2).
                response.map(|_| Body::NoLength)
            } else {
                response.map(|bytes| Body::Full(Some(bytes)))
            })
        })
    }
}

/// A response body: the whole answer at once, or (for `HEAD`) empty without an exact size.
#[derive(Debug)]
pub(super) enum Body {
    Full(Option<Bytes>),
    NoLength,
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Body::NoLength => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Body::Full(None) => SizeHint::with_exact(0),
            Body::NoLength => SizeHint::default(),
        }
    }
}

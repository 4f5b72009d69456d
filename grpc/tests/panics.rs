//! A handler that panics is recorded as `Internal` by the server layer (what
//! go-grpc-middleware's recovery interceptor returns), never as `Canceled`, which error-rate
//! dashboards leave out; a call the client cancels stays `Canceled`; the client layer keeps
//! its own codes.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use common::{Harness, SVC};
use http_body::{Body, Frame};
use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
use promenade_core::{Format, Registry};
use promenade_tonic::{GrpcClientService, GrpcServerService};
use promenade_tonic_demo::{Demo, DemoServer, DemoService, Ping, Pong, PongStream};
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};
use tower_service::Service;

/// Every panic these tests provoke carries this text; the hook below keeps them quiet.
const MARK: &str = "deliberate test panic";

fn quiet_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            if msg != Some(MARK) {
                default(info);
            }
        }));
    });
}

fn ping(text: &str) -> Ping {
    Ping {
        text: text.into(),
        ..Default::default()
    }
}

/// The demo service, except that `Unary` and `ServerStream` panic when the text is `panic`
/// (the stream after sending one message).
#[derive(Clone, Copy)]
struct Panicky;

/// One reply, a pause (so the reply reaches the client), then a panic.
struct OneThenPanic {
    sent: bool,
    pause: Pin<Box<tokio::time::Sleep>>,
}

impl Stream for OneThenPanic {
    type Item = Result<Pong, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.sent {
            self.sent = true;
            return Poll::Ready(Some(Ok(Pong {
                text: "one".into(),
                seq: 1,
            })));
        }
        std::task::ready!(self.pause.as_mut().poll(cx));
        panic!("{}", MARK);
    }
}

#[tonic::async_trait]
impl Demo for Panicky {
    async fn unary(&self, request: Request<Ping>) -> Result<Response<Pong>, Status> {
        if request.get_ref().text == "panic" {
            tokio::task::yield_now().await;
            panic!("{}", MARK);
        }
        DemoService.unary(request).await
    }

    async fn client_stream(
        &self,
        request: Request<Streaming<Ping>>,
    ) -> Result<Response<Pong>, Status> {
        DemoService.client_stream(request).await
    }

    type ServerStreamStream = PongStream;

    async fn server_stream(
        &self,
        request: Request<Ping>,
    ) -> Result<Response<Self::ServerStreamStream>, Status> {
        if request.get_ref().text == "panic" {
            return Ok(Response::new(Box::pin(OneThenPanic {
                sent: false,
                pause: Box::pin(tokio::time::sleep(Duration::from_millis(100))),
            })));
        }
        DemoService.server_stream(request).await
    }

    type BidiStream = PongStream;

    async fn bidi(
        &self,
        request: Request<Streaming<Ping>>,
    ) -> Result<Response<Self::BidiStream>, Status> {
        DemoService.bidi(request).await
    }

    type FailMidStreamStream = PongStream;

    async fn fail_mid_stream(
        &self,
        request: Request<Ping>,
    ) -> Result<Response<Self::FailMidStreamStream>, Status> {
        DemoService.fail_mid_stream(request).await
    }
}

async fn start() -> Harness {
    quiet_deliberate_panics();
    Harness::start_with(DemoServer::new(Panicky)).await
}

/// The server's `handled` for one method: (value for `code`, sum over all codes).
fn server_handled(h: &Harness, ty: &str, method: &str, code: &str) -> (f64, f64) {
    (
        h.value("grpc_server_handled_total", ty, SVC, method, Some(code)),
        h.sum(
            "grpc_server_handled_total",
            &[&format!("grpc_method=\"{method}\"")],
        ),
    )
}

fn server_hist_count(h: &Harness, ty: &str, method: &str) -> f64 {
    h.value("grpc_server_handling_seconds_count", ty, SVC, method, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_unary_handler_is_internal_not_canceled() {
    let h = start().await;
    let mut c = h.client();
    let err = c.unary(ping("panic")).await.unwrap_err();
    // The client sees the stream reset; whatever it makes of that is not the server's code.
    assert_ne!(err.code(), tonic::Code::Ok);
    let recorded = h
        .wait_until(Duration::from_secs(5), |h| {
            server_handled(h, "unary", "Unary", "Internal").1 >= 1.0
        })
        .await;
    assert!(
        recorded,
        "the panicked call was never recorded\n{}",
        h.text()
    );
    assert_eq!(
        server_handled(&h, "unary", "Unary", "Internal"),
        (1.0, 1.0),
        "{}",
        h.text()
    );
    assert_eq!(
        server_handled(&h, "unary", "Unary", "Canceled").0,
        0.0,
        "{}",
        h.text()
    );
    assert_eq!(server_hist_count(&h, "unary", "Unary"), 1.0, "{}", h.text());
    // The server keeps serving, and ordinary calls keep their codes.
    assert_eq!(
        c.unary(ping("fine")).await.unwrap().into_inner().text,
        "fine"
    );
    assert_eq!(
        server_handled(&h, "unary", "Unary", "OK"),
        (1.0, 2.0),
        "{}",
        h.text()
    );
    assert_eq!(server_hist_count(&h, "unary", "Unary"), 2.0);
    // The client layer records what the client saw, never the server's Internal.
    assert_eq!(
        h.sum("grpc_client_handled_total", &["grpc_method=\"Unary\""]),
        2.0
    );
    assert_eq!(
        h.sum("grpc_client_handled_total", &["grpc_code=\"Internal\""]),
        0.0,
        "{}",
        h.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stream_panicking_after_one_message_is_internal() {
    let h = start().await;
    let mut c = h.client();
    let mut s = c.server_stream(ping("panic")).await.unwrap().into_inner();
    assert_eq!(s.message().await.unwrap().unwrap().seq, 1);
    assert!(s.message().await.is_err(), "the stream should end in error");
    drop(s);
    let ty = "server_stream";
    let recorded = h
        .wait_until(Duration::from_secs(5), |h| {
            server_handled(h, ty, "ServerStream", "Internal").1 >= 1.0
        })
        .await;
    assert!(
        recorded,
        "the panicked call was never recorded\n{}",
        h.text()
    );
    assert_eq!(
        server_handled(&h, ty, "ServerStream", "Internal"),
        (1.0, 1.0),
        "{}",
        h.text()
    );
    assert_eq!(
        server_handled(&h, ty, "ServerStream", "Canceled").0,
        0.0,
        "{}",
        h.text()
    );
    assert_eq!(server_hist_count(&h, ty, "ServerStream"), 1.0);
    assert_eq!(
        h.value("grpc_server_msg_sent_total", ty, SVC, "ServerStream", None),
        1.0
    );
    assert_eq!(
        h.sum("grpc_client_handled_total", &["grpc_code=\"Internal\""]),
        0.0,
        "{}",
        h.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_cancellation_is_still_canceled() {
    let h = start().await;
    let mut c = h.client();
    // A unary call the client gives up on while the handler waits.
    let slow = Ping {
        delay_ms: 5_000,
        ..ping("slow")
    };
    let gave_up = tokio::time::timeout(Duration::from_millis(200), c.unary(slow)).await;
    assert!(gave_up.is_err(), "the slow call should still be running");
    // A server stream the client drops after one message.
    let mut s = c
        .server_stream(Ping {
            count: 5_000,
            delay_ms: 5,
            ..ping("s")
        })
        .await
        .unwrap()
        .into_inner();
    s.message().await.unwrap().unwrap();
    drop(s);
    let done = h
        .wait_until(Duration::from_secs(5), |h| {
            server_handled(h, "unary", "Unary", "Canceled").0 == 1.0
                && server_handled(h, "server_stream", "ServerStream", "Canceled").0 == 1.0
        })
        .await;
    assert!(done, "the server never recorded Canceled\n{}", h.text());
    assert_eq!(server_handled(&h, "unary", "Unary", "Canceled").1, 1.0);
    assert_eq!(
        server_handled(&h, "server_stream", "ServerStream", "Canceled").1,
        1.0
    );
    for side in ["server", "client"] {
        assert_eq!(
            h.sum(
                &format!("grpc_{side}_handled_total"),
                &["grpc_code=\"Internal\""]
            ),
            0.0,
            "{side}\n{}",
            h.text()
        );
        assert_eq!(
            h.sum(
                &format!("grpc_{side}_handled_total"),
                &["grpc_code=\"Canceled\""]
            ),
            2.0,
            "{side}\n{}",
            h.text()
        );
    }
}

// The same, without tonic or tokio: the layers polled by hand, the panic caught with
// `catch_unwind` and the call dropped only afterwards (as an executor that catches panics
// and drops the task later would), so nothing but the layer itself can see the panic.

const PATH: &str = "/t.S/M";

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

/// A response body sending one gRPC message, then panicking (or, with `panic == false`,
/// waiting forever).
struct OneMessageBody {
    sent: bool,
    panic: bool,
}

impl Body for OneMessageBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if !self.sent {
            self.sent = true;
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 0])))));
        }
        if self.panic {
            panic!("{}", MARK);
        }
        Poll::Pending
    }
}

/// The inner service: `Panic` panics in its future, `Stream` answers with a
/// [`OneMessageBody`].
#[derive(Clone, Copy)]
enum Inner {
    Panic,
    Stream { panic: bool },
}

impl<B: Send + 'static> Service<http::Request<B>> for Inner {
    type Response = http::Response<OneMessageBody>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<B>) -> Self::Future {
        let this = *self;
        Box::pin(async move {
            match this {
                Inner::Panic => panic!("{}", MARK),
                Inner::Stream { panic } => {
                    Ok(http::Response::new(OneMessageBody { sent: false, panic }))
                }
            }
        })
    }
}

fn grpc_request() -> http::Request<http_body_util::Empty<Bytes>> {
    http::Request::builder()
        .uri(PATH)
        .header("content-type", "application/grpc")
        .body(http_body_util::Empty::new())
        .unwrap()
}

fn metrics(side: Side) -> (Registry, GrpcMetrics) {
    quiet_deliberate_panics();
    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, side)
        .method(PATH, GrpcType::ServerStream)
        .build()
        .unwrap();
    (r, m)
}

/// `handled` of the test method by code, as `(code, value)` pairs.
fn handled(r: &Registry, side: &str) -> Vec<(String, f64)> {
    let text = r.encode_to_string(Format::Text).unwrap();
    let prefix = format!(
        "grpc_{side}_handled_total{{grpc_type=\"server_stream\",grpc_service=\"t.S\",grpc_method=\"M\",grpc_code=\""
    );
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|rest| {
            let (code, value) = rest.split_once("\"} ").unwrap();
            (code.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn hist_count(r: &Registry, side: &str) -> f64 {
    let text = r.encode_to_string(Format::Text).unwrap();
    let key = format!(
        "grpc_{side}_handling_seconds_count{{grpc_type=\"server_stream\",grpc_service=\"t.S\",grpc_method=\"M\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .map_or(0.0, |v| v.parse().unwrap())
}

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

#[test]
fn server_future_panic_is_internal_even_when_dropped_after_the_unwind() {
    let (r, m) = metrics(Side::Server);
    let mut svc = GrpcServerService::new(Inner::Panic, m);
    let mut fut = Box::pin(svc.call(grpc_request()));
    let caught = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx())));
    assert!(caught.is_err(), "the handler should have panicked");
    assert!(
        handled(&r, "server").is_empty(),
        "nothing recorded before the drop"
    );
    drop(fut);
    assert_eq!(handled(&r, "server"), [("Internal".to_owned(), 1.0)]);
    assert_eq!(hist_count(&r, "server"), 1.0);
}

#[test]
fn server_body_panic_mid_stream_is_internal() {
    let (r, m) = metrics(Side::Server);
    let mut svc = GrpcServerService::new(Inner::Stream { panic: true }, m);
    let mut fut = Box::pin(svc.call(grpc_request()));
    let Poll::Ready(Ok(resp)) = fut.as_mut().poll(&mut cx()) else {
        panic!("the response should be ready");
    };
    let mut body = Box::pin(resp.into_body());
    assert!(matches!(
        body.as_mut().poll_frame(&mut cx()),
        Poll::Ready(Some(Ok(_)))
    ));
    let caught = catch_unwind(AssertUnwindSafe(|| body.as_mut().poll_frame(&mut cx())));
    assert!(caught.is_err(), "the stream should have panicked");
    drop(body);
    assert_eq!(handled(&r, "server"), [("Internal".to_owned(), 1.0)]);
    assert_eq!(hist_count(&r, "server"), 1.0);
    let text = r.encode_to_string(Format::Text).unwrap();
    assert!(
        text.contains(r#"grpc_server_msg_sent_total{grpc_type="server_stream",grpc_service="t.S",grpc_method="M"} 1"#),
        "{text}"
    );
}

#[test]
fn server_call_dropped_early_without_a_panic_is_canceled() {
    let (r, m) = metrics(Side::Server);
    let mut svc = GrpcServerService::new(Inner::Stream { panic: false }, m);
    // Dropped before the response.
    drop(svc.call(grpc_request()));
    // Dropped mid-stream.
    let mut fut = Box::pin(svc.call(grpc_request()));
    let Poll::Ready(Ok(resp)) = fut.as_mut().poll(&mut cx()) else {
        panic!("the response should be ready");
    };
    let mut body = Box::pin(resp.into_body());
    assert!(body.as_mut().poll_frame(&mut cx()).is_ready());
    assert!(body.as_mut().poll_frame(&mut cx()).is_pending());
    drop(body);
    assert_eq!(handled(&r, "server"), [("Canceled".to_owned(), 2.0)]);
}

#[test]
fn server_call_dropped_during_an_unrelated_unwind_is_canceled() {
    let (r, m) = metrics(Side::Server);
    let mut svc = GrpcServerService::new(Inner::Stream { panic: false }, m);
    let mut fut = Box::pin(svc.call(grpc_request()));
    let Poll::Ready(Ok(resp)) = fut.as_mut().poll(&mut cx()) else {
        panic!("the response should be ready");
    };
    let body = resp.into_body();
    // Something else panics while the call is open: the handler did not.
    let caught = catch_unwind(AssertUnwindSafe(move || {
        let _held = body;
        panic!("{}", MARK);
    }));
    assert!(caught.is_err());
    assert_eq!(handled(&r, "server"), [("Canceled".to_owned(), 1.0)]);
}

#[test]
fn client_layer_keeps_canceled_for_panics_on_the_caller_side() {
    let (r, m) = metrics(Side::Client);
    // The stack below the client layer panics: the panic reaches the caller, and the call,
    // abandoned without a status, is Canceled as any other the caller drops.
    let mut svc = GrpcClientService::new(Inner::Panic, m.clone());
    let mut fut = Box::pin(svc.call(grpc_request()));
    let caught = catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(&mut cx())));
    assert!(caught.is_err());
    drop(fut);
    // The caller panics while reading a response stream.
    let mut svc = GrpcClientService::new(Inner::Stream { panic: false }, m);
    let mut fut = Box::pin(svc.call(grpc_request()));
    let Poll::Ready(Ok(resp)) = fut.as_mut().poll(&mut cx()) else {
        panic!("the response should be ready");
    };
    let mut body = Box::pin(resp.into_body());
    assert!(body.as_mut().poll_frame(&mut cx()).is_ready());
    let caught = catch_unwind(AssertUnwindSafe(move || {
        let _held = body;
        panic!("{}", MARK);
    }));
    assert!(caught.is_err());
    assert_eq!(handled(&r, "client"), [("Canceled".to_owned(), 2.0)]);
    assert_eq!(hist_count(&r, "client"), 2.0);
}

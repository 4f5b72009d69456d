//! The messages of a response counted through the call's own tracker, on both sides: the
//! layers polled by hand over scripted response bodies, so every frame boundary, the order
//! of frames and the moments of the polls are exact (frames split and joined, trailers-only
//! answers, errors, cancellation, panics, deferred routes, nothing counted after the end).

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
use promenade_core::{Format, Registry};
use promenade_tonic::{GrpcClientService, GrpcServerService};
use tower_service::Service;

const PATH: &str = "/t.S/M";

#[derive(Clone, Debug)]
enum Step {
    Data(Vec<u8>),
    Trailers(&'static str),
    Err,
    Pending,
    Panic,
}

/// A response body playing its steps in order, then ending.
struct Script(VecDeque<Step>);

impl Body for Script {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.0.pop_front() {
            None => Poll::Ready(None),
            Some(Step::Data(d)) => Poll::Ready(Some(Ok(Frame::data(Bytes::from(d))))),
            Some(Step::Trailers(code)) => {
                let mut t = http::HeaderMap::new();
                t.insert("grpc-status", code.parse().unwrap());
                Poll::Ready(Some(Ok(Frame::trailers(t))))
            }
            Some(Step::Err) => Poll::Ready(Some(Err(std::io::Error::other("boom")))),
            Some(Step::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Some(Step::Panic) => panic!("deliberate review panic"),
        }
    }
}

/// Answers with `headers` and a [`Script`] of `steps`, after reading the request body to its
/// end (so request messages are counted before the head).
#[derive(Clone)]
struct Inner {
    headers: Vec<(&'static str, &'static str)>,
    steps: Vec<Step>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Infallible>> + Send>>;

impl<B> Service<http::Request<B>> for Inner
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Debug,
{
    type Response = http::Response<Script>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            let _ = req.into_body().collect().await.unwrap();
            let mut r = http::Response::builder();
            for (k, v) in &this.headers {
                r = r.header(*k, *v);
            }
            Ok(r.body(Script(this.steps.into())).unwrap())
        })
    }
}

fn msg(len: usize) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(&u32::try_from(len).unwrap().to_be_bytes());
    v.extend(std::iter::repeat_n(7u8, len));
    v
}

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn request(content_type: &str, body: Vec<u8>) -> http::Request<http_body_util::Full<Bytes>> {
    http::Request::builder()
        .uri(PATH)
        .header("content-type", content_type)
        .body(http_body_util::Full::new(Bytes::from(body)))
        .unwrap()
}

fn line(r: &Registry, prefix: &str) -> f64 {
    let text = r.encode_to_string(Format::Text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(prefix).and_then(|l| l.strip_prefix(' ')))
        .map_or(0.0, |v| v.parse().unwrap())
}

fn labels(ty: &str, svc: &str, m: &str) -> String {
    format!("{{grpc_type=\"{ty}\",grpc_service=\"{svc}\",grpc_method=\"{m}\"}}")
}

fn handled(r: &Registry, side: &str, ty: &str, svc: &str, m: &str, code: &str) -> f64 {
    line(
        r,
        &format!(
            "grpc_{side}_handled_total{{grpc_type=\"{ty}\",grpc_service=\"{svc}\",grpc_method=\"{m}\",grpc_code=\"{code}\"}}"
        ),
    )
}

/// Runs one call through `svc` with the given request body, polling the response body
/// `polls` times (or to its end when `None`), then drops it.
fn run<S>(svc: &mut S, req: http::Request<http_body_util::Full<Bytes>>, polls: Option<usize>)
where
    S: Service<http::Request<http_body_util::Full<Bytes>>>,
    S::Response: IntoBody,
    S::Error: std::fmt::Debug,
{
    let mut fut = Box::pin(svc.call(req));
    let Poll::Ready(Ok(resp)) = fut.as_mut().poll(&mut cx()) else {
        panic!("the response should be ready");
    };
    resp.drive(polls);
}

trait IntoBody {
    fn drive(self, polls: Option<usize>);
}

impl<B: Body> IntoBody for http::Response<B> {
    fn drive(self, polls: Option<usize>) {
        let mut body = Box::pin(self.into_body());
        let mut n = 0;
        loop {
            if polls.is_some_and(|p| n >= p) {
                break;
            }
            n += 1;
            if let Poll::Ready(None) = body.as_mut().poll_frame(&mut cx())
                && polls.is_none()
            {
                break;
            }
        }
    }
}

fn server(
    steps: Vec<Step>,
    headers: Vec<(&'static str, &'static str)>,
) -> (
    Registry,
    impl Service<
        http::Request<http_body_util::Full<Bytes>>,
        Response = http::Response<promenade_tonic::CallBody<Script>>,
        Error = Infallible,
    >,
) {
    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, Side::Server)
        .method(PATH, GrpcType::ServerStream)
        .build()
        .unwrap();
    (r, GrpcServerService::new(Inner { headers, steps }, m))
}

const G: &str = "application/grpc";

fn sent(r: &Registry) -> f64 {
    line(
        r,
        &format!(
            "grpc_server_msg_sent_total{}",
            labels("server_stream", "t.S", "M")
        ),
    )
}

#[test]
fn server_split_and_packed_messages() {
    // One message split over three frames, then three in one frame, then one and a half.
    let m = msg(10);
    let mut three = msg(0);
    three.extend(msg(3));
    three.extend(msg(70_000));
    let tail = msg(4);
    let mut one_and_half = msg(2);
    one_and_half.extend_from_slice(&tail[..3]);
    let steps = vec![
        Step::Data(m[..2].to_vec()),
        Step::Pending,
        Step::Data(m[2..7].to_vec()),
        Step::Data(m[7..].to_vec()),
        Step::Data(three),
        Step::Data(one_and_half),
        Step::Data(tail[3..].to_vec()),
        Step::Trailers("0"),
    ];
    let (r, mut svc) = server(steps, vec![]);
    run(&mut svc, request(G, msg(1)), None);
    assert_eq!(sent(&r), 6.0);
    assert_eq!(
        handled(&r, "server", "server_stream", "t.S", "M", "OK"),
        1.0
    );
}

#[test]
fn server_trailers_only_and_error_statuses() {
    let (r, mut svc) = server(vec![], vec![("grpc-status", "5")]);
    run(&mut svc, request(G, msg(1)), None);
    assert_eq!(sent(&r), 0.0);
    assert_eq!(
        handled(&r, "server", "server_stream", "t.S", "M", "NotFound"),
        1.0
    );

    let (r, mut svc) = server(
        vec![Step::Data(msg(1)), Step::Data(msg(1)), Step::Trailers("13")],
        vec![],
    );
    run(&mut svc, request(G, msg(1)), None);
    assert_eq!(sent(&r), 2.0);
    assert_eq!(
        handled(&r, "server", "server_stream", "t.S", "M", "Internal"),
        1.0
    );
}

#[test]
fn server_nothing_after_the_end() {
    // Data after the trailers, after an error, and after a second end: never counted.
    let (r, mut svc) = server(
        vec![
            Step::Data(msg(1)),
            Step::Trailers("0"),
            Step::Data(msg(1)),
            Step::Data(msg(1)),
        ],
        vec![],
    );
    run(&mut svc, request(G, msg(1)), Some(6));
    assert_eq!(sent(&r), 1.0);
    assert_eq!(
        handled(&r, "server", "server_stream", "t.S", "M", "OK"),
        1.0
    );

    let (r, mut svc) = server(
        vec![Step::Data(msg(1)), Step::Err, Step::Data(msg(1))],
        vec![],
    );
    run(&mut svc, request(G, msg(1)), Some(5));
    assert_eq!(sent(&r), 1.0);
    assert_eq!(
        handled(&r, "server", "server_stream", "t.S", "M", "Unknown"),
        1.0
    );
}

#[test]
fn server_dropped_mid_stream_and_mid_message() {
    let m = msg(8);
    let mut first = msg(1);
    first.extend_from_slice(&m[..6]);
    let (r, mut svc) = server(vec![Step::Data(first), Step::Pending], vec![]);
    run(&mut svc, request(G, msg(1)), Some(2));
    assert_eq!(sent(&r), 1.0);
    assert_eq!(
        handled(&r, "server", "server_stream", "t.S", "M", "Canceled"),
        1.0
    );
}

#[test]
fn server_panic_mid_message_counts_completed_ones() {
    let m = msg(8);
    let mut first = msg(1);
    first.extend_from_slice(&m[..6]);
    let (r, mut svc) = server(vec![Step::Data(first), Step::Panic], vec![]);
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let caught = catch_unwind(AssertUnwindSafe(|| run(&mut svc, request(G, msg(1)), None)));
    std::panic::set_hook(prev);
    assert!(caught.is_err());
    assert_eq!(sent(&r), 1.0);
    assert_eq!(
        handled(&r, "server", "server_stream", "t.S", "M", "Internal"),
        1.0
    );
}

#[test]
fn untracked_requests_count_nothing() {
    let (r, mut svc) = server(vec![Step::Data(msg(1)), Step::Trailers("0")], vec![]);
    run(&mut svc, request("application/json", msg(1)), None);
    run(&mut svc, request("application/grpc-web", msg(1)), None);
    let text = r.encode_to_string(Format::Text).unwrap();
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        assert!(l.ends_with(" 0"), "{l}");
    }
}

#[test]
fn server_deferred_route_counts_each_message_once() {
    // No method registered: the path is deferred, the request messages are counted before the
    // head resolves it, the response messages after.
    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, Side::Server).build().unwrap();
    let mut req = msg(1);
    req.extend(msg(2));
    let steps = vec![
        Step::Data(msg(1)),
        Step::Data(msg(1)),
        Step::Data(msg(1)),
        Step::Trailers("0"),
    ];
    let mut svc = GrpcServerService::new(
        Inner {
            headers: vec![],
            steps,
        },
        m.clone(),
    );
    run(&mut svc, request(G, req.clone()), None);
    // And a second call, the path now discovered (Known from the start).
    run(&mut svc, request(G, req), None);
    let l = labels("unknown", "t.S", "M");
    assert_eq!(line(&r, &format!("grpc_server_msg_received_total{l}")), 4.0);
    assert_eq!(line(&r, &format!("grpc_server_msg_sent_total{l}")), 6.0);
    assert_eq!(line(&r, &format!("grpc_server_started_total{l}")), 2.0);
    let u = labels("unknown", "unknown", "unknown");
    assert_eq!(line(&r, &format!("grpc_server_msg_sent_total{u}")), 0.0);
    assert_eq!(line(&r, &format!("grpc_server_msg_received_total{u}")), 0.0);

    // A route miss (trailers-only Unimplemented) whose request carried messages: on unknown.
    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, Side::Server).build().unwrap();
    let mut svc = GrpcServerService::new(
        Inner {
            headers: vec![("grpc-status", "12")],
            steps: vec![],
        },
        m,
    );
    run(&mut svc, request(G, msg(3)), None);
    assert_eq!(line(&r, &format!("grpc_server_msg_received_total{u}")), 1.0);
    assert_eq!(line(&r, &format!("grpc_server_msg_sent_total{u}")), 0.0);
}

fn client(steps: Vec<Step>) -> (Registry, GrpcClientService<Inner>) {
    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, Side::Client)
        .method(PATH, GrpcType::ServerStream)
        .client_msg_histograms(true)
        .build()
        .unwrap();
    (
        r,
        GrpcClientService::new(
            Inner {
                headers: vec![],
                steps,
            },
            m,
        ),
    )
}

#[test]
fn client_counts_and_times_from_the_first_poll() {
    let m = msg(5);
    let mut three = msg(1);
    three.extend(msg(0));
    three.extend(msg(2));
    let (r, mut svc) = client(vec![
        Step::Pending,
        Step::Data(three),
        Step::Data(m[..3].to_vec()),
        Step::Data(m[3..].to_vec()),
        Step::Trailers("0"),
        Step::Data(msg(1)),
    ]);
    let mut fut = Box::pin(svc.call(request(G, msg(1))));
    let Poll::Ready(Ok(resp)) = fut.as_mut().poll(&mut cx()) else {
        panic!("ready");
    };
    let mut body = Box::pin(resp.into_body());
    // Created long before the first poll: the first wait starts at the poll. (The bounds
    // below hold on any machine: sleeps only lengthen, and a clock started at creation
    // would add the whole second.)
    std::thread::sleep(Duration::from_millis(1000));
    assert!(body.as_mut().poll_frame(&mut cx()).is_pending());
    std::thread::sleep(Duration::from_millis(40));
    assert!(body.as_mut().poll_frame(&mut cx()).is_ready()); // three messages
    assert!(body.as_mut().poll_frame(&mut cx()).is_ready()); // half of one
    std::thread::sleep(Duration::from_millis(20));
    assert!(body.as_mut().poll_frame(&mut cx()).is_ready()); // the rest
    assert!(body.as_mut().poll_frame(&mut cx()).is_ready()); // trailers
    assert!(body.as_mut().poll_frame(&mut cx()).is_ready()); // after the end
    drop(body);
    let l = labels("server_stream", "t.S", "M");
    assert_eq!(line(&r, &format!("grpc_client_msg_received_total{l}")), 4.0);
    assert_eq!(line(&r, &format!("grpc_client_msg_sent_total{l}")), 1.0);
    let h = "grpc_client_msg_recv_handling_seconds";
    assert_eq!(line(&r, &format!("{h}_count{l}")), 4.0);
    let sum = line(&r, &format!("{h}_sum{l}"));
    assert!((0.059..1.0).contains(&sum), "sum {sum}");
    let zeros = line(
        &r,
        &format!(
            "{h}_bucket{{grpc_type=\"server_stream\",grpc_service=\"t.S\",grpc_method=\"M\",le=\"0.005\"}}"
        ),
    );
    assert_eq!(zeros, 2.0, "{}", r.encode_to_string(Format::Text).unwrap());
    assert_eq!(
        handled(&r, "client", "server_stream", "t.S", "M", "OK"),
        1.0
    );
}

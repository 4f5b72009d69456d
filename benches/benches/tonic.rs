//! Per-call overhead of promenade-tonic's server layer against a bare tonic server, in the
//! same run:
//!
//! - `tonic_inprocess/*`: the demo service called directly with a small unary request (a
//!   framed `Ping`), the response body collected to its trailers — the layer's whole cost
//!   (start, frame counting both ways, trailer parsing, handled + histogram) with no I/O;
//! - `tonic_loopback/*`: real tonic client and server over 127.0.0.1, unary calls and a
//!   100-message server stream;
//! - `grpc_metrics/start_finish`: the core's call tracker alone;
//! - the interleaved A/B run (`TONIC_AB_ROUNDS`) adds the request-body wrapper alone and a
//!   minimal hand-written prometheus-client layer (calls by method and code, a duration
//!   histogram; see `mod hand`), the least any layer that reads a call's status pays.
//!
//! `cargo bench -p promenade-benches --bench tonic -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use bytes::{BufMut as _, Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group};
use http_body_util::BodyExt as _;
use promenade_core::Registry;
use promenade_core::grpc_metrics::{GrpcMetrics, Side, code};
use promenade_tonic::{GrpcMetricsBuilderExt as _, GrpcServerLayer, GrpcServerService};
use promenade_tonic_demo::{DemoClient, FILE_DESCRIPTOR_SET, Ping};
use prost::Message as _;
use tokio_stream::wrappers::TcpListenerStream;
use tower::{Service, ServiceExt as _};

const UNARY: &str = "/promenade.demo.v1.Demo/Unary";

fn metrics(side: Side) -> GrpcMetrics {
    GrpcMetrics::builder(&Registry::new(), side)
        .file_descriptor_set(FILE_DESCRIPTOR_SET)
        .unwrap()
        .build()
        .unwrap()
}

fn framed_ping() -> Bytes {
    let msg = Ping {
        text: "hello".into(),
        ..Default::default()
    }
    .encode_to_vec();
    let mut b = BytesMut::with_capacity(5 + msg.len());
    b.put_u8(0);
    b.put_u32(msg.len() as u32);
    b.put_slice(&msg);
    b.freeze()
}

fn request(body: &Bytes) -> http::Request<tonic::body::Body> {
    http::Request::builder()
        .method("POST")
        .uri(UNARY)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::new(http_body_util::Full::new(
            body.clone(),
        )))
        .unwrap()
}

async fn call<S, B>(svc: &S, body: &Bytes) -> usize
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    let resp = svc.clone().oneshot(request(body)).await.unwrap();
    let collected = resp.into_body().collect().await.unwrap();
    let trailers = collected.trailers().map_or(0, |t| t.len());
    collected.to_bytes().len() + trailers
}

fn inprocess(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = framed_ping();
    let bare = promenade_tonic_demo::server();
    let layered = GrpcServerService::new(promenade_tonic_demo::server(), metrics(Side::Server));
    // Same answer with and without the layer.
    assert_eq!(
        rt.block_on(call(&bare, &body)),
        rt.block_on(call(&layered, &body))
    );

    let mut g = c.benchmark_group("tonic_inprocess");
    g.throughput(Throughput::Elements(1));
    for round in 0..2 {
        // Interleave the two to spread machine noise over both.
        g.bench_function(format!("unary_bare/{round}"), |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(call(&bare, &body).await) })
        });
        g.bench_function(format!("unary_layer/{round}"), |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(call(&layered, &body).await) })
        });
    }
    g.finish();
}

async fn serve(layer: bool) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = TcpListenerStream::new(listener);
    if layer {
        tokio::spawn(
            tonic::transport::Server::builder()
                .layer(GrpcServerLayer::new(metrics(Side::Server)))
                .add_service(promenade_tonic_demo::server())
                .serve_with_incoming(incoming),
        );
    } else {
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(promenade_tonic_demo::server())
                .serve_with_incoming(incoming),
        );
    }
    addr
}

async fn client(addr: std::net::SocketAddr) -> DemoClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    DemoClient::new(channel)
}

fn loopback(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (bare, layered) = rt.block_on(async {
        let b = serve(false).await;
        let l = serve(true).await;
        (client(b).await, client(l).await)
    });
    let ping = Ping {
        text: "hello".into(),
        ..Default::default()
    };
    let mut g = c.benchmark_group("tonic_loopback");
    g.throughput(Throughput::Elements(1));
    for (name, client) in [("unary_bare", &bare), ("unary_layer", &layered)] {
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let mut c = client.clone();
                black_box(c.unary(ping.clone()).await.unwrap())
            })
        });
    }
    g.throughput(Throughput::Elements(100));
    for (name, client) in [("stream100_bare", &bare), ("stream100_layer", &layered)] {
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let mut c = client.clone();
                let mut s = c
                    .server_stream(Ping {
                        count: 100,
                        ..ping.clone()
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let mut n = 0;
                while s.message().await.unwrap().is_some() {
                    n += 1;
                }
                black_box(n)
            })
        });
    }
    g.finish();
}

fn tracker(c: &mut Criterion) {
    let m = metrics(Side::Server);
    c.bench_function("grpc_metrics/start_finish", |b| {
        b.iter(|| {
            let t = m.start(black_box(UNARY));
            t.msg_received();
            t.msg_sent();
            t.finish(code::OK);
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = inprocess, tracker, loopback
}
/// Interleaved A/B batches reporting the minimum and median per-call time of each variant:
/// robust against the noise of a shared machine, where criterion's means drift between
/// two runs of the same code. Set `TONIC_AB_ROUNDS=0` to skip.
fn ab() {
    let rounds: usize = std::env::var("TONIC_AB_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    if rounds == 0 || std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = framed_ping();
    let bare = promenade_tonic_demo::server();
    let layered = GrpcServerService::new(promenade_tonic_demo::server(), metrics(Side::Server));
    let passthrough = PassthroughBody(promenade_tonic_demo::server());
    let hand_metrics = hand::metrics();
    let hand_written = hand::Layer {
        inner: promenade_tonic_demo::server(),
        metrics: std::sync::Arc::clone(&hand_metrics),
    };
    // Same answer through every variant, and the hand-written layer records what it saw.
    let expected = rt.block_on(call(&bare, &body));
    assert_eq!(rt.block_on(call(&hand_written, &body)), expected);
    assert_eq!(rt.block_on(call(&passthrough, &body)), expected);
    assert_eq!(hand_metrics.handled(UNARY, 0), 1);
    const BATCH: u32 = 2_000;
    let mut times: [Vec<f64>; 4] = Default::default();
    for _ in 0..rounds {
        rt.block_on(async {
            for (i, t) in times.iter_mut().enumerate() {
                let start = std::time::Instant::now();
                for _ in 0..BATCH {
                    let n = match i {
                        0 => call(&bare, &body).await,
                        1 => call(&layered, &body).await,
                        2 => call(&passthrough, &body).await,
                        _ => call(&hand_written, &body).await,
                    };
                    black_box(n);
                }
                t.push(start.elapsed().as_nanos() as f64 / f64::from(BATCH));
            }
        });
    }
    let stat = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[0], v[v.len() / 2])
    };
    let (bare_min, bare_med) = stat(&mut times[0]);
    let (layer_min, layer_med) = stat(&mut times[1]);
    let (pass_min, pass_med) = stat(&mut times[2]);
    let (hand_min, hand_med) = stat(&mut times[3]);
    eprintln!(
        "tonic_ab (ns/call, {rounds} interleaved rounds of {BATCH}): bare min {bare_min:.0} median {bare_med:.0}; \
         layer min {layer_min:.0} median {layer_med:.0}; request-body wrapper only min {pass_min:.0} median {pass_med:.0}; \
         hand-written min {hand_min:.0} median {hand_med:.0}; \
         layer overhead min {:.0} ns ({:+.1}%), median {:.0} ns ({:+.1}%); \
         hand-written overhead min {:.0} ns, median {:.0} ns; layer / hand-written (medians) {:.2}x",
        layer_min - bare_min,
        (layer_min / bare_min - 1.0) * 100.0,
        layer_med - bare_med,
        (layer_med / bare_med - 1.0) * 100.0,
        hand_min - bare_min,
        hand_med - bare_med,
        (layer_med - bare_med) / (hand_med - bare_med),
    );
}

/// The least a user could write by hand for gRPC server metrics with prometheus-client: calls
/// by method and status code and a duration histogram by method, recorded when the response
/// body ends (the status of a unary call travels in the trailers) or is dropped. No started
/// counter, no message counters, no in-flight, no exemplars: the floor any layer that reads a
/// call's status pays (two clock reads, a response body wrapper, two labelled updates).
mod hand {
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::Instant;

    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Handled {
        method: String,
        code: u16,
    }

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct Method {
        method: String,
    }

    pub(super) struct Metrics {
        handled: Family<Handled, Counter>,
        seconds: Family<Method, Histogram, fn() -> Histogram>,
    }

    pub(super) fn metrics() -> Arc<Metrics> {
        let m = Metrics {
            handled: Family::default(),
            seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 12))
            }),
        };
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register("grpc_server_handled", "Calls.", m.handled.clone());
        registry.register(
            "grpc_server_handling_seconds",
            "Duration.",
            m.seconds.clone(),
        );
        Arc::new(m)
    }

    impl Metrics {
        /// Calls recorded for `method` with `code` (the bench checks that it counted).
        pub(super) fn handled(&self, method: &str, code: u16) -> u64 {
            self.handled
                .get_or_create(&Handled {
                    method: method.to_owned(),
                    code,
                })
                .get()
        }
    }

    /// What ends with the response body: recorded once, at the trailers or on drop.
    struct Call {
        metrics: Arc<Metrics>,
        method: String,
        start: Instant,
        code: u16,
    }

    impl Drop for Call {
        fn drop(&mut self) {
            let method = std::mem::take(&mut self.method);
            self.metrics
                .seconds
                .get_or_create(&Method {
                    method: method.clone(),
                })
                .observe(self.start.elapsed().as_secs_f64());
            self.metrics
                .handled
                .get_or_create(&Handled {
                    method,
                    code: self.code,
                })
                .inc();
        }
    }

    fn code(headers: &http::HeaderMap) -> Option<u16> {
        headers.get("grpc-status")?.to_str().ok()?.parse().ok()
    }

    #[derive(Clone)]
    pub(super) struct Layer<S> {
        pub(super) inner: S,
        pub(super) metrics: Arc<Metrics>,
    }

    impl<S, B> tower::Service<http::Request<tonic::body::Body>> for Layer<S>
    where
        S: tower::Service<http::Request<tonic::body::Body>, Response = http::Response<B>>,
        S::Future: Unpin,
    {
        type Response = http::Response<Body<B>>;
        type Error = S::Error;
        type Future = Future<S::Future>;
        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            self.inner.poll_ready(cx)
        }
        fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
            let call = Call {
                metrics: Arc::clone(&self.metrics),
                method: req.uri().path().to_owned(),
                start: Instant::now(),
                // Unknown, until the status arrives.
                code: 2,
            };
            Future {
                fut: self.inner.call(req),
                call: Some(call),
            }
        }
    }

    pub(super) struct Future<F> {
        fut: F,
        call: Option<Call>,
    }

    impl<F, B, E> std::future::Future for Future<F>
    where
        F: std::future::Future<Output = Result<http::Response<B>, E>> + Unpin,
    {
        type Output = Result<http::Response<Body<B>>, E>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let res = std::task::ready!(Pin::new(&mut self.fut).poll(cx));
            let mut call = self.call.take();
            Poll::Ready(res.map(|res| {
                if let (Some(call), Some(code)) = (call.as_mut(), code(res.headers())) {
                    call.code = code;
                }
                res.map(|inner| Body { inner, call })
            }))
        }
    }

    pub(super) struct Body<B> {
        inner: B,
        call: Option<Call>,
    }

    impl<B: http_body::Body + Unpin> http_body::Body for Body<B> {
        type Data = B::Data;
        type Error = B::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<B::Data>, B::Error>>> {
            let polled = Pin::new(&mut self.inner).poll_frame(cx);
            match &polled {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Some(trailers) = frame.trailers_ref() {
                        let code = code(trailers);
                        if let Some(mut call) = self.call.take() {
                            call.code = code.unwrap_or(call.code);
                        }
                    }
                }
                Poll::Ready(None | Some(Err(_))) => drop(self.call.take()),
                Poll::Pending => {}
            }
            polled
        }
        fn is_end_stream(&self) -> bool {
            self.inner.is_end_stream()
        }
        fn size_hint(&self) -> http_body::SizeHint {
            self.inner.size_hint()
        }
    }
}

/// The bare service behind only the request-body wrapper (what tonic must box).
#[derive(Clone)]
struct PassthroughBody<S>(S);

impl<S, B> Service<http::Request<tonic::body::Body>> for PassthroughBody<S>
where
    S: Service<
            http::Request<promenade_tonic::MsgCountingBody<tonic::body::Body>>,
            Response = http::Response<B>,
        >,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }
    fn call(&mut self, req: http::Request<tonic::body::Body>) -> S::Future {
        self.0
            .call(req.map(promenade_tonic::MsgCountingBody::passthrough))
    }
}

/// Runs `n` unary calls through `svc`: the loop `TONIC_COUNT` mode hands to callgrind
/// (`--toggle-collect='*counted_calls*'`), so that only the calls are counted.
#[inline(never)]
fn counted_calls<S, B>(rt: &tokio::runtime::Runtime, svc: &S, body: &Bytes, n: usize)
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    rt.block_on(async {
        for _ in 0..n {
            black_box(call(svc, body).await);
        }
    });
}

/// `TONIC_COUNT=variant[:n]`: instead of timing, runs `n` in-process unary calls (default
/// 10,000) of one variant (`bare`, `layer`, `passthrough`, `hand-written`) after 100 warm-up calls, for an
/// instruction count that does not depend on the machine's load:
///
/// ```text
/// TONIC_COUNT=layer:5000 valgrind --tool=callgrind --collect-atstart=no \
///     --toggle-collect='*counted_calls*' target/release/deps/tonic-<hash>
/// ```
fn count(spec: &str) {
    let (variant, n) = spec.split_once(':').unwrap_or((spec, "10000"));
    let n: usize = n.parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let body = framed_ping();
    macro_rules! run {
        ($svc:expr) => {{
            let svc = $svc;
            counted_calls(&rt, &svc, &body, 100);
            counted_calls(&rt, &svc, &body, n);
        }};
    }
    match variant {
        "bare" => run!(promenade_tonic_demo::server()),
        "layer" => run!(GrpcServerService::new(
            promenade_tonic_demo::server(),
            metrics(Side::Server)
        )),
        "passthrough" => run!(PassthroughBody(promenade_tonic_demo::server())),
        "hand-written" => run!(hand::Layer {
            inner: promenade_tonic_demo::server(),
            metrics: hand::metrics(),
        }),
        other => panic!(
            "TONIC_COUNT: unknown variant {other:?} (bare, layer, passthrough, hand-written)"
        ),
    }
}

fn main() {
    if let Ok(spec) = std::env::var("TONIC_COUNT") {
        count(&spec);
        return;
    }
    ab();
    benches();
    Criterion::default().configure_from_args().final_summary();
}

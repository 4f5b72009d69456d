//! Per-request overhead of the `promenade-tower` layer against bare axum and against
//! `axum-prometheus`, in the same run.
//!
//! 1. In-process (criterion): the router is called as a tower `Service`
//!    (`ready().call()`), the response body is read to the end, no sockets.
//! 2. Paired in-process overhead: interleaved batches of bare axum and each instrumented
//!    router, median of the per-batch differences (skip with `TOWER_PAIRED=0`).
//! 3. Loopback throughput: each router served by hyper on 127.0.0.1, a hyper HTTP/1.1
//!    client with keep-alive connections; alternating rounds, medians. Skip it with
//!    `TOWER_LOOPBACK=0`.
//!
//! `hand_written` is the minimal layer one would write with prometheus-client: a request
//! counter and a duration histogram by method, route (`MatchedPath`), status, to the
//! response head; no in-flight gauge, a boxed future.
//!
//! Also measured for reference: `noop_layer` (a pass-through `Router::layer`, i.e. what
//! axum's per-route boxing costs before any work), `core_tracker_start_finish` (the core's
//! `HttpMetrics::start` + drop alone) and `service_fn` (the layer on a plain tower service,
//! without axum).
//!
//! 4. Labels from the application (skip with `TOWER_APP_LABELS=0`): paired, the same app
//!    (a layer inserting a tenant into request extensions, a handler setting an outcome
//!    extension) with and without a request-extension label and a response-extension label
//!    declared; and `core_tracker_app_labels`, the core tracker with both labels.
//!
//! 5. Instruction counts (`TOWER_COUNT=variant[:n[:unmatched]]`, see [`count`]): one
//!    variant's requests under callgrind instead of the timings.
//!
//! ```text
//! cargo bench -p promenade-benches --bench tower -- --warm-up-time 1 --measurement-time 3
//! ```
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_prometheus::PrometheusMetricLayer;
use bytes::Bytes;
use criterion::{Criterion, criterion_group};
use http::Request;
use http_body_util::{BodyExt, Empty};
use promenade_core::Registry;
use promenade_tower::{Prometheus, PrometheusRouterExt};
use tower::{Service, ServiceExt};

fn routes() -> Router {
    Router::new()
        .route("/", get(|| async { "hello" }))
        .route("/users/{id}", get(|| async { "user" }))
}

fn bare() -> Router {
    routes()
}

fn ours() -> Router {
    // The registry lives as long as the router (the scrape route holds it).
    let registry = Registry::new();
    routes()
        .with_prometheus(Prometheus::new(&registry).unwrap())
        .unwrap()
}

/// Ours with `/users/{id}` excluded by route template: what an excluded request costs.
fn ours_route_excluded() -> Router {
    let registry = Registry::new();
    let prometheus = Prometheus::builder(&registry)
        .metrics(|m| m.exclude_route("/users/{id}"))
        .build()
        .unwrap();
    routes().with_prometheus(prometheus).unwrap()
}

/// Ours with status 200 excluded: tracked until the response head, then not recorded.
fn ours_status_excluded() -> Router {
    let registry = Registry::new();
    let prometheus = Prometheus::builder(&registry)
        .metrics(|m| m.exclude_status(200))
        .build()
        .unwrap();
    routes().with_prometheus(prometheus).unwrap()
}

/// A pass-through layer: what any `Router::layer` costs in axum, before doing any work.
fn noop_layer() -> Router {
    routes().layer(tower::util::MapResponseLayer::new(
        |r: axum::response::Response| r,
    ))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct HandLabels {
    method: String,
    route: String,
    status: u16,
}

type HandHistograms = prometheus_client::metrics::family::Family<
    HandLabels,
    prometheus_client::metrics::histogram::Histogram,
    fn() -> prometheus_client::metrics::histogram::Histogram,
>;

/// The hand-written layer's metrics.
struct Hand {
    requests: prometheus_client::metrics::family::Family<
        HandLabels,
        prometheus_client::metrics::counter::Counter,
    >,
    duration: HandHistograms,
}

#[derive(Clone)]
struct HandLayer(std::sync::Arc<Hand>);

impl<S> tower::Layer<S> for HandLayer {
    type Service = HandService<S>;
    fn layer(&self, inner: S) -> HandService<S> {
        HandService {
            inner,
            metrics: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct HandService<S> {
    inner: S,
    metrics: std::sync::Arc<Hand>,
}

impl<S> Service<Request<Body>> for HandService<S>
where
    S: Service<Request<Body>, Response = axum::response::Response> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let start = Instant::now();
        let method = req.method().as_str().to_owned();
        let route = req
            .extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
        let metrics = self.metrics.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await?;
            let labels = HandLabels {
                method,
                route,
                status: res.status().as_u16(),
            };
            metrics.requests.get_or_create(&labels).inc();
            metrics
                .duration
                .get_or_create(&labels)
                .observe(start.elapsed().as_secs_f64());
            Ok(res)
        })
    }
}

/// The minimal hand-written prometheus-client layer (see the module docs).
fn hand_written() -> Router {
    use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
    let hand = Hand {
        requests: Default::default(),
        duration: HandHistograms::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 12))
        }),
    };
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register("http_requests", "Requests.", hand.requests.clone());
    registry.register(
        "http_request_duration_seconds",
        "Duration.",
        hand.duration.clone(),
    );
    routes().layer(HandLayer(std::sync::Arc::new(hand)))
}

fn axum_prometheus() -> Router {
    // Installs the global `metrics` recorder: call once per process.
    let (layer, handle) = PrometheusMetricLayer::pair();
    routes()
        .route("/metrics", get(move || async move { handle.render() }))
        .layer(layer)
}

async fn one_request(router: &mut Router, path: &'static str) {
    let req = Request::get(path).body(Body::empty()).unwrap();
    let resp = ServiceExt::<Request<Body>>::ready(router)
        .await
        .unwrap()
        .call(req)
        .await
        .unwrap();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    black_box(body);
}

fn in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let routers = [
        ("bare_axum", bare()),
        ("noop_layer", noop_layer()),
        ("promenade_tower", ours()),
        ("promenade_route_excluded", ours_route_excluded()),
        ("promenade_status_excluded", ours_status_excluded()),
        ("hand_written", hand_written()),
        ("axum_prometheus", axum_prometheus_once()),
    ];
    let registry = Registry::new();
    let metrics = promenade_core::http_metrics::HttpMetrics::builder(&registry)
        .build()
        .unwrap();
    let headers = http::HeaderMap::new();
    c.bench_function("tower/core_tracker_start_finish", |b| {
        b.iter(|| {
            let mut t = metrics.start(&promenade_core::http_metrics::RequestInfo {
                method: black_box("GET"),
                route: Some(black_box("/users/{id}")),
                path: "/users/42",
                headers: &headers,
            });
            t.response_head(200);
            drop(t);
        });
    });
    // The layer alone, on a plain tower service (no axum routing, no per-layer boxing).
    {
        use promenade_tower::{HttpMetricsLayer, route_fn};
        use std::borrow::Cow;
        use tower::Layer;
        let handler = tower::service_fn(|_req: Request<Empty<Bytes>>| async {
            Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Full::new(
                Bytes::from_static(b"user"),
            )))
        });
        let registry = Registry::new();
        let layered = HttpMetricsLayer::builder(&registry)
            .route_extractor(route_fn(|_req| Some(Cow::Borrowed("/users/{id}"))))
            .build()
            .unwrap()
            .layer(handler);
        let mut group = c.benchmark_group("tower/service_fn");
        group.bench_function("bare", |b| {
            let mut svc = handler;
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let req = Request::get("/users/42").body(Empty::new()).unwrap();
                        let resp = svc.ready().await.unwrap().call(req).await.unwrap();
                        black_box(resp.into_body().collect().await.unwrap().to_bytes());
                    }
                    start.elapsed()
                })
            });
        });
        group.bench_function("promenade_tower", |b| {
            let mut svc = layered.clone();
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let req = Request::get("/users/42").body(Empty::new()).unwrap();
                        let resp = svc.ready().await.unwrap().call(req).await.unwrap();
                        black_box(resp.into_body().collect().await.unwrap().to_bytes());
                    }
                    start.elapsed()
                })
            });
        });
        group.finish();
    }
    for (path, label) in [("/users/42", "matched"), ("/nope", "unmatched")] {
        let mut group = c.benchmark_group(format!("tower/{label}"));
        for (name, router) in &routers {
            group.bench_function(*name, |b| {
                let mut router = router.clone();
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            one_request(&mut router, path).await;
                        }
                        start.elapsed()
                    })
                });
            });
        }
        group.finish();
    }
}

/// The tenant an auth-like layer inserts, for the application-label benchmarks.
#[derive(Clone)]
struct Tenant(&'static str);

/// The outcome a handler sets, for the application-label benchmarks.
#[derive(Clone)]
struct Outcome(&'static str);

/// A tier label from the request's extensions and an outcome label from the response's.
fn with_app_labels(
    m: promenade_core::http_metrics::HttpMetricsBuilder,
) -> promenade_core::http_metrics::HttpMetricsBuilder {
    use promenade_core::http_metrics::LabelValues;
    m.request_extension_label(
        "tier",
        LabelValues::one_of(&["free", "pro"], "other"),
        |t: &Tenant| t.0,
    )
    .response_extension_label(
        "outcome",
        LabelValues::one_of(&["found"], "other").when_absent("none"),
        |o: &Outcome| o.0,
    )
}

/// The app of the application-label benchmarks: a tenant inserted outside the metrics
/// layer, an outcome set by the handler; with or without the labels declared.
fn app_labels_router(labelled: bool) -> Router {
    let registry = Registry::new();
    let mut prometheus = Prometheus::builder(&registry);
    if labelled {
        prometheus = prometheus.metrics(with_app_labels);
    }
    Router::new()
        .route(
            "/users/{id}",
            get(|| async { (axum::Extension(Outcome("found")), "user") }),
        )
        .with_prometheus(prometheus.build().unwrap())
        .unwrap()
        .layer(tower::util::MapRequestLayer::new(
            |mut req: Request<Body>| {
                req.extensions_mut().insert(Tenant("pro"));
                req
            },
        ))
}

/// The core tracker alone with a request-extension and a response-extension label.
fn core_app_labels(c: &mut Criterion) {
    use promenade_core::http_metrics::{ExtensionsRef, HttpMetrics, RequestInfo};
    let registry = Registry::new();
    let metrics = with_app_labels(HttpMetrics::builder(&registry))
        .build()
        .unwrap();
    let headers = http::HeaderMap::new();
    let mut request_ext = http::Extensions::new();
    request_ext.insert(Tenant("pro"));
    let mut response = http::Response::new(());
    response.extensions_mut().insert(Outcome("found"));
    c.bench_function("tower/core_tracker_app_labels", |b| {
        b.iter(|| {
            let mut t = metrics.start(&RequestInfo {
                method: black_box("GET"),
                route: Some(black_box("/users/{id}")),
                path: "/users/42",
                headers: &headers,
            });
            t.request_extensions(ExtensionsRef::from(&request_ext));
            t.response_head(200);
            t.response_labels(
                response.headers(),
                ExtensionsRef::from(response.extensions()),
            );
            drop(t);
        });
    });
}

criterion_group!(benches, in_process, core_app_labels);

/// Paired: the same app with and without the two application labels, interleaved batches,
/// median of the differences and of the ratio. Skip with `TOWER_APP_LABELS=0`.
fn paired_app_labels() {
    const BATCHES: usize = 201;
    const PER_BATCH: u32 = 2_000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut plain = app_labels_router(false);
    let mut labelled = app_labels_router(true);
    let mut diffs = Vec::with_capacity(BATCHES);
    let mut ratios = Vec::with_capacity(BATCHES);
    let mut plain_ns = Vec::with_capacity(BATCHES);
    rt.block_on(async {
        for i in 0..BATCHES {
            let run = async |r: &mut Router| {
                let start = Instant::now();
                for _ in 0..PER_BATCH {
                    one_request(r, "/users/42").await;
                }
                start.elapsed().as_nanos() as f64 / f64::from(PER_BATCH)
            };
            let (p, l) = if i % 2 == 0 {
                let p = run(&mut plain).await;
                (p, run(&mut labelled).await)
            } else {
                let l = run(&mut labelled).await;
                (run(&mut plain).await, l)
            };
            diffs.push(l - p);
            ratios.push(l / p);
            plain_ns.push(p);
        }
    });
    println!(
        "\napplication labels (request extension + response extension) vs none, same app: {BATCHES} interleaved batches x {PER_BATCH} requests\n  {:+7.0} ns/request, ratio {:.3} (median without labels {:.0} ns)",
        median(&diffs),
        median(&ratios),
        median(&plain_ns)
    );
}

/// Loopback: `CONNS` keep-alive connections, each sending `PER_CONN` sequential GETs.
fn loopback() {
    const ROUNDS: usize = 5;
    const CONNS: usize = 8;
    const PER_CONN: usize = 2_500;
    const ROUND_LIMIT: Duration = Duration::from_secs(30);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // Fresh routers, except axum-prometheus: its global recorder exists only once.
    let servers: Vec<(&str, std::net::SocketAddr)> = rt.block_on(async {
        let mut out = Vec::new();
        for (name, router) in [
            ("bare_axum", bare()),
            ("promenade_tower", ours()),
            ("axum_prometheus", axum_prometheus_once()),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
            out.push((name, addr));
        }
        out
    });
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    for round in 0..ROUNDS {
        // Alternate the order every round so no server always goes first.
        let mut order: Vec<usize> = (0..servers.len()).collect();
        order.rotate_left(round % servers.len());
        for i in order {
            let addr = servers[i].1;
            let rps = rt.block_on(async move {
                let start = Instant::now();
                let mut tasks = Vec::new();
                for _ in 0..CONNS {
                    tasks.push(tokio::spawn(async move {
                        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                        stream.set_nodelay(true).unwrap();
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let (mut send, conn) =
                            hyper::client::conn::http1::handshake(io).await.unwrap();
                        tokio::spawn(conn);
                        let mut done = 0usize;
                        while done < PER_CONN && start.elapsed() < ROUND_LIMIT {
                            send.ready().await.unwrap();
                            let req = Request::get("/users/42")
                                .header("host", "127.0.0.1")
                                .body(Empty::<Bytes>::new())
                                .unwrap();
                            let resp = send.send_request(req).await.unwrap();
                            assert_eq!(resp.status(), 200);
                            black_box(resp.into_body().collect().await.unwrap().to_bytes());
                            done += 1;
                        }
                        done
                    }));
                }
                let mut total = 0;
                for t in tasks {
                    total += t.await.unwrap();
                }
                total as f64 / start.elapsed().as_secs_f64()
            });
            results[i].push(rps);
        }
    }
    println!(
        "\nloopback throughput: {CONNS} keep-alive connections x {PER_CONN} GET /users/42, {ROUNDS} alternating rounds"
    );
    let bare_median = median(&results[0]);
    for (i, (name, _)) in servers.iter().enumerate() {
        let m = median(&results[i]);
        let per_req_ns = 1e9 / m - 1e9 / bare_median;
        println!(
            "  {name:<16} median {m:>9.0} req/s  ({:+.1}% vs bare, {per_req_ns:+.0} ns/request)  rounds: {:?}",
            (m / bare_median - 1.0) * 100.0,
            results[i].iter().map(|r| r.round()).collect::<Vec<_>>()
        );
    }
}

/// `axum_prometheus()` panics if its global recorder is already installed; the in-process
/// benchmark installs it first, so share one router.
fn axum_prometheus_once() -> Router {
    static ROUTER: std::sync::OnceLock<Router> = std::sync::OnceLock::new();
    ROUTER
        .get_or_init(|| {
            // Its handle spawns an upkeep task: give it a runtime of its own that lives on.
            let _enter = background_runtime().enter();
            axum_prometheus()
        })
        .clone()
}

fn background_runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap()
    })
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Paired in-process overhead: short batches of bare axum and of each instrumented router,
/// interleaved (order alternating), so load from other processes hits both alike; reports
/// the median over batches of (router − bare) ns/request. Skip with `TOWER_PAIRED=0`.
fn paired() {
    const BATCHES: usize = 201;
    const PER_BATCH: u32 = 2_000;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut bare_router = bare();
    let mut others = [
        ("noop_layer", noop_layer()),
        ("promenade_tower", ours()),
        ("promenade_route_excluded", ours_route_excluded()),
        ("promenade_status_excluded", ours_status_excluded()),
        ("hand_written", hand_written()),
        ("axum_prometheus", axum_prometheus_once()),
    ];
    println!(
        "\npaired overhead vs bare axum: {BATCHES} interleaved batches x {PER_BATCH} requests, median of differences"
    );
    for path in ["/users/42", "/nope"] {
        for (name, router) in &mut others {
            let mut diffs = Vec::with_capacity(BATCHES);
            let mut bare_ns = Vec::with_capacity(BATCHES);
            let mut x_ns = Vec::with_capacity(BATCHES);
            rt.block_on(async {
                for i in 0..BATCHES {
                    let run = async |r: &mut Router| {
                        let start = Instant::now();
                        for _ in 0..PER_BATCH {
                            one_request(r, path).await;
                        }
                        start.elapsed().as_nanos() as f64 / f64::from(PER_BATCH)
                    };
                    let (b, x) = if i % 2 == 0 {
                        let b = run(&mut bare_router).await;
                        (b, run(router).await)
                    } else {
                        let x = run(router).await;
                        (run(&mut bare_router).await, x)
                    };
                    diffs.push(x - b);
                    bare_ns.push(b);
                    x_ns.push(x);
                }
            });
            println!(
                "  {path:<10} {name:<16} {:+7.0} ns/request  (medians: bare {:.0} ns, {name} {:.0} ns)",
                median(&diffs),
                median(&bare_ns),
                median(&x_ns)
            );
        }
    }
}

/// Runs `n` requests to `path` through `router`: the loop `TOWER_COUNT` mode hands to
/// callgrind (`--toggle-collect='tower::counted_requests'`), so that only the requests are
/// counted. (Not `*counted_requests*`: the async block inside, `counted_requests::{{closure}}`,
/// would match too and toggle collection off again.)
#[inline(never)]
fn counted_requests(
    rt: &tokio::runtime::Runtime,
    router: &mut Router,
    n: usize,
    path: &'static str,
) {
    rt.block_on(async {
        for _ in 0..n {
            one_request(router, path).await;
        }
    });
}

/// `TOWER_COUNT=variant[:n[:unmatched]]`: instead of timing, runs `n` requests (default
/// 10,000) of one variant to `/users/42` (or `/nope` with `unmatched`) after 100 warm-up
/// requests, for an instruction count that does not depend on the machine's load:
///
/// ```text
/// TOWER_COUNT=promenade:5000 valgrind --tool=callgrind --collect-atstart=no \
///     --toggle-collect='tower::counted_requests' target/release/deps/tower-<hash>
/// ```
///
/// Instructions per request: the total ÷ (n + 100).
fn count(spec: &str) {
    let mut parts = spec.split(':');
    let variant = parts.next().unwrap_or_default();
    let n: usize = parts.next().map_or(10_000, |n| n.parse().unwrap());
    let path = match parts.next() {
        None | Some("matched") => "/users/42",
        Some("unmatched") => "/nope",
        Some(other) => panic!("TOWER_COUNT: {other:?} is neither matched nor unmatched"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut router = match variant {
        "bare" => bare(),
        "noop-layer" => noop_layer(),
        "promenade" => ours(),
        "route-excluded" => ours_route_excluded(),
        "status-excluded" => ours_status_excluded(),
        "hand-written" => hand_written(),
        "axum-prometheus" => axum_prometheus_once(),
        other => panic!(
            "TOWER_COUNT: unknown variant {other:?} (bare, noop-layer, promenade, route-excluded, status-excluded, hand-written, axum-prometheus)"
        ),
    };
    counted_requests(&rt, &mut router, 100, path);
    counted_requests(&rt, &mut router, n, path);
}

fn main() {
    if let Ok(spec) = std::env::var("TOWER_COUNT") {
        count(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    if std::env::var("TOWER_PAIRED").as_deref() != Ok("0") {
        paired();
    }
    if std::env::var("TOWER_APP_LABELS").as_deref() != Ok("0") {
        paired_app_labels();
    }
    if std::env::var("TOWER_LOOPBACK").as_deref() != Ok("0") {
        loopback();
    }
}

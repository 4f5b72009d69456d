//! Overhead of promenade-actix against bare actix-web, against actix-web-prom 0.10, and
//! against `hand-written`: the minimal middleware one would write with prometheus-client (a
//! request counter and a duration histogram by method, route, status; no in-flight gauge;
//! the route read after routing).
//!
//! In process (criterion): one `GET /users/{id}` through `actix_web::test::init_service` +
//! `call_service`, body read to the end, on a single-threaded actix system.
//!
//! Loopback (after criterion, only under `cargo bench`): a real server per variant (1 worker)
//! on 127.0.0.1:0, 2 keep-alive client threads, a bounded number of requests per round,
//! variants alternating, median requests/s of the rounds.
//!
//! Paired (instead of criterion, with `ACTIX_PAIRED=batches`): bare and each app in
//! interleaved batches, median of the per-batch differences; instruction counts (with
//! `ACTIX_COUNT=variant[:n]` under callgrind, see [`count`]).
//!
//! ```text
//! cargo bench -p promenade-benches --bench actix -- --warm-up-time 1 --measurement-time 3
//! LOOPBACK_ROUNDS=5 LOOPBACK_REQUESTS=20000 (defaults); ACTIX_LOOPBACK=0 skips the loopback
//! ACTIX_PAIRED=101 cargo bench -p promenade-benches --bench actix
//! ```
#![allow(missing_docs, clippy::unwrap_used)] // benchmark harness

use std::hint::black_box;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use actix_web::dev::Service as _;
use actix_web::{App, HttpResponse, HttpServer, test, web};
use criterion::Criterion;

async fn user(id: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().body(format!("user {id}"))
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { "root" }))
        .route("/users/{id}", web::get().to(user))
        .service(
            web::scope("/api")
                .route("/items/{id}", web::get().to(|| async { "item" }))
                .route("/orders/{id}", web::get().to(|| async { "order" })),
        );
}

fn promenade() -> promenade_actix::PrometheusMetrics {
    let registry = promenade_core::Registry::new();
    promenade_actix::PrometheusMetrics::builder(&registry)
        .build()
        .unwrap()
}

fn actix_web_prom() -> actix_web_prom::PrometheusMetrics {
    actix_web_prom::PrometheusMetricsBuilder::new("api")
        .endpoint("/metrics")
        .build()
        .unwrap()
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
struct HandLabels {
    method: String,
    route: String,
    status: u16,
}

/// The hand-written middleware's metrics.
struct Hand {
    requests: prometheus_client::metrics::family::Family<
        HandLabels,
        prometheus_client::metrics::counter::Counter,
    >,
    duration: prometheus_client::metrics::family::Family<
        HandLabels,
        prometheus_client::metrics::histogram::Histogram,
        fn() -> prometheus_client::metrics::histogram::Histogram,
    >,
}

fn hand() -> Arc<Hand> {
    use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
    let hand = Hand {
        requests: Default::default(),
        duration: prometheus_client::metrics::family::Family::new_with_constructor(|| {
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
    Arc::new(hand)
}

/// The app with the hand-written middleware recording into `$metrics` (an `Arc<Hand>`).
macro_rules! hand_written_app {
    ($metrics:expr) => {{
        let metrics: Arc<Hand> = $metrics;
        App::new()
            .wrap_fn(move |req, srv| {
                let start = Instant::now();
                let metrics = Arc::clone(&metrics);
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    let labels = HandLabels {
                        method: res.request().method().as_str().to_owned(),
                        route: res
                            .request()
                            .match_pattern()
                            .unwrap_or_else(|| "unmatched".to_owned()),
                        status: res.status().as_u16(),
                    };
                    metrics.requests.get_or_create(&labels).inc();
                    metrics
                        .duration
                        .get_or_create(&labels)
                        .observe(start.elapsed().as_secs_f64());
                    Ok(res)
                }
            })
            .configure(routes)
    }};
}

/// Times `iters` requests through an in-process app; the body is read to the end.
macro_rules! bench_app {
    ($c:expr, $sys:expr, $name:expr, $app:expr) => {{
        let app = $sys.block_on(test::init_service($app));
        $c.bench_function($name, |b| {
            b.iter_custom(|iters| {
                $sys.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let req = test::TestRequest::get().uri("/users/42").to_request();
                        let res = test::call_service(&app, req).await;
                        black_box(test::read_body(res).await);
                    }
                    start.elapsed()
                })
            })
        });
    }};
}

fn in_process(c: &mut Criterion) {
    let sys = actix_rt::System::new();
    bench_app!(c, sys, "actix/bare", App::new().configure(routes));
    let mw = promenade();
    bench_app!(
        c,
        sys,
        "actix/promenade",
        App::new().wrap(mw).configure(routes)
    );
    let prom = actix_web_prom();
    bench_app!(
        c,
        sys,
        "actix/actix-web-prom",
        App::new().wrap(prom).configure(routes)
    );
    bench_app!(c, sys, "actix/hand-written", hand_written_app!(hand()));
    let registry = promenade_core::Registry::new();
    let by_route = promenade_actix::PrometheusMetrics::builder(&registry)
        .metrics(|m| m.in_flight_by_route(true))
        .build()
        .unwrap();
    bench_app!(
        c,
        sys,
        "actix/promenade-in-flight-by-route",
        App::new().wrap(by_route).configure(routes)
    );

    // Where promenade's overhead goes.
    bench_app!(
        c,
        sys,
        "actix-breakdown/wrap_fn-noop",
        App::new()
            .wrap_fn(|req, srv| srv.call(req))
            .configure(routes)
    );
    bench_app!(
        c,
        sys,
        "actix-breakdown/match_pattern-before-routing",
        App::new()
            .wrap_fn(|req, srv| {
                black_box(req.match_pattern());
                srv.call(req)
            })
            .configure(routes)
    );
    bench_app!(
        c,
        sys,
        "actix-breakdown/match_pattern-after-routing",
        App::new()
            .wrap_fn(|req, srv| {
                let fut = srv.call(req);
                async move {
                    let res = fut.await?;
                    black_box(res.request().match_pattern());
                    Ok(res)
                }
            })
            .configure(routes)
    );
    let registry = promenade_core::Registry::new();
    let excluded = promenade_actix::PrometheusMetrics::builder(&registry)
        .metrics(|m| m.exclude_path("/users/42"))
        .build()
        .unwrap();
    bench_app!(
        c,
        sys,
        "actix-breakdown/promenade-path-excluded",
        App::new().wrap(excluded).configure(routes)
    );
    // Excluded requests in the same run as the recorded `actix/promenade`: by route template
    // (the path matched before routing, as route rules need), by prefix, by status.
    for (name, hook) in [
        (
            "actix/promenade-route-excluded",
            (|m| m.exclude_route("/users/{id}"))
                as fn(promenade_core::http_metrics::HttpMetricsBuilder) -> _,
        ),
        ("actix/promenade-prefix-excluded", |m| {
            m.exclude_path_prefix("/users/")
        }),
        ("actix/promenade-status-excluded", |m| m.exclude_status(200)),
    ] {
        let registry = promenade_core::Registry::new();
        let mw = promenade_actix::PrometheusMetrics::builder(&registry)
            .metrics(hook)
            .build()
            .unwrap();
        bench_app!(c, sys, name, App::new().wrap(mw).configure(routes));
    }
    let registry = promenade_core::Registry::new();
    let core = promenade_core::http_metrics::HttpMetrics::builder(&registry)
        .build()
        .unwrap();
    let headers = http::HeaderMap::new();
    c.bench_function("actix-breakdown/core-start-finish", |b| {
        b.iter(|| {
            let mut t = core.start(&promenade_core::http_metrics::RequestInfo {
                method: "GET",
                route: Some("/users/{id}"),
                path: "/users/42",
                headers: &headers,
            });
            t.response_head(200);
            drop(t);
        })
    });
}

#[derive(Clone, Copy, Debug)]
enum Variant {
    Bare,
    Promenade,
    ActixWebProm,
}

/// Starts a 1-worker server for `variant`; returns its port and a stop function.
fn start(
    variant: Variant,
) -> (
    u16,
    actix_web::dev::ServerHandle,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_rt::System::new()
            .block_on(async move {
                let server = match variant {
                    Variant::Bare => HttpServer::new(|| App::new().configure(routes))
                        .workers(1)
                        .disable_signals()
                        .bind(("127.0.0.1", 0))
                        .map(|s| (s.addrs()[0].port(), s.run())),
                    Variant::Promenade => {
                        let mw = promenade();
                        HttpServer::new(move || App::new().wrap(mw.clone()).configure(routes))
                            .workers(1)
                            .disable_signals()
                            .bind(("127.0.0.1", 0))
                            .map(|s| (s.addrs()[0].port(), s.run()))
                    }
                    Variant::ActixWebProm => {
                        let mw = actix_web_prom();
                        HttpServer::new(move || App::new().wrap(mw.clone()).configure(routes))
                            .workers(1)
                            .disable_signals()
                            .bind(("127.0.0.1", 0))
                            .map(|s| (s.addrs()[0].port(), s.run()))
                    }
                }?;
                let (port, server) = server;
                tx.send((port, server.handle())).unwrap();
                server.await
            })
            .unwrap();
    });
    let (port, handle) = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    (port, handle, thread)
}

/// `n` keep-alive GETs on one connection; panics on any non-200.
fn client_loop(port: u16, n: usize) {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut line = String::new();
    let mut body = Vec::new();
    for i in 0..n {
        write!(
            writer,
            "GET /users/{} HTTP/1.1\r\nhost: x\r\n\r\n",
            i % 1000
        )
        .unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        let mut len = 0;
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length: ") {
                len = v.parse().unwrap();
            }
        }
        body.resize(len, 0);
        reader.read_exact(&mut body).unwrap();
    }
}

fn loopback() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let rounds = env("LOOPBACK_ROUNDS", 5);
    let requests = env("LOOPBACK_REQUESTS", 20_000);
    const CLIENTS: usize = 2;
    let variants = [Variant::Bare, Variant::Promenade, Variant::ActixWebProm];
    let servers: Vec<_> = variants.iter().map(|v| start(*v)).collect();
    let deadline = Instant::now() + Duration::from_secs(300);
    // Warm-up round.
    for (port, _, _) in &servers {
        client_loop(*port, 2_000);
    }
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 0..rounds {
        if Instant::now() > deadline {
            eprintln!("loopback: time budget spent after {round} rounds");
            break;
        }
        // Alternate the order each round.
        let mut order: Vec<usize> = (0..variants.len()).collect();
        order.rotate_left(round % variants.len());
        for i in order {
            let port = servers[i].0;
            let start = Instant::now();
            std::thread::scope(|s| {
                for _ in 0..CLIENTS {
                    s.spawn(|| client_loop(port, requests / CLIENTS));
                }
            });
            results[i].push(requests as f64 / start.elapsed().as_secs_f64());
        }
    }
    println!(
        "\nloopback: {CLIENTS} keep-alive clients, 1 server worker, {requests} requests/round"
    );
    for (v, r) in variants.iter().zip(&mut results) {
        r.sort_by(f64::total_cmp);
        let median = r.get(r.len() / 2).copied().unwrap_or(f64::NAN);
        let per_req_us = 1e6 / median;
        println!(
            "loopback {:<14} median {:>9.0} req/s ({per_req_us:.2} µs/req); rounds: {:?}",
            format!("{v:?}"),
            median,
            r.iter().map(|x| x.round()).collect::<Vec<_>>()
        );
    }
    for (_, handle, thread) in servers {
        std::thread::spawn(move || actix_rt::System::new().block_on(handle.stop(false)))
            .join()
            .unwrap();
        thread.join().unwrap();
    }
}

/// Runs `n` requests through `app`: the loop `ACTIX_COUNT` mode hands to callgrind
/// (`--toggle-collect='*counted_requests*'`), so that only the requests are counted.
#[inline(never)]
fn counted_requests<S, R, B>(
    sys: &actix_rt::SystemRunner,
    app: &S,
    n: usize,
    request: impl Fn() -> R,
) where
    S: actix_web::dev::Service<
            R,
            Response = actix_web::dev::ServiceResponse<B>,
            Error = actix_web::Error,
        >,
    B: actix_web::body::MessageBody,
{
    sys.block_on(async {
        for _ in 0..n {
            let res = test::call_service(app, request()).await;
            black_box(test::read_body(res).await);
        }
    });
}

/// `ACTIX_COUNT=variant[:n]`: instead of timing, runs `n` requests (default 10,000) of one
/// variant after a warm-up, for an instruction count that does not depend on the machine's
/// load:
///
/// ```text
/// ACTIX_COUNT=promenade valgrind --tool=callgrind --collect-atstart=no \
///     --toggle-collect='*counted_requests*' target/release/deps/actix-<hash>
/// ```
fn count(spec: &str) {
    let (variant, n) = spec.split_once(':').unwrap_or((spec, "10000"));
    let n: usize = n.parse().unwrap();
    let sys = actix_rt::System::new();
    macro_rules! run {
        ($app:expr) => {{
            let app = sys.block_on(test::init_service($app));
            let request = || test::TestRequest::get().uri("/users/42").to_request();
            counted_requests(&sys, &app, 100, request);
            counted_requests(&sys, &app, n, request);
        }};
    }
    match variant {
        "bare" => run!(App::new().configure(routes)),
        "promenade" => run!(App::new().wrap(promenade()).configure(routes)),
        "actix-web-prom" => run!(App::new().wrap(actix_web_prom()).configure(routes)),
        "hand-written" => run!(hand_written_app!(hand())),
        "path-excluded" => {
            let registry = promenade_core::Registry::new();
            let mw = promenade_actix::PrometheusMetrics::builder(&registry)
                .metrics(|m| m.exclude_path("/users/42"))
                .build()
                .unwrap();
            run!(App::new().wrap(mw).configure(routes))
        }
        other => panic!(
            "ACTIX_COUNT: unknown variant {other:?} (bare, promenade, actix-web-prom, hand-written, path-excluded)"
        ),
    }
}

/// A batch of in-process requests to one app; returns ns per request.
type Batch = Box<dyn FnMut(&actix_rt::SystemRunner) -> f64>;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `ACTIX_PAIRED=batches` (default 101): paired in-process overhead. Short batches of bare
/// actix-web and of each instrumented app, interleaved with the bare one in alternating order,
/// so that drift and load from other processes hit both sides of each difference alike;
/// reports the median over batches of (app − bare) ns per request, and the ratios the
/// targets are stated in. The sequential criterion cases drift by more than the 0.1 µs
/// between promenade and the hand-written middleware.
fn paired(batches: usize) {
    const PER_BATCH: u32 = 2_000;
    let sys = actix_rt::System::new();
    macro_rules! batch {
        ($app:expr) => {{
            let app = sys.block_on(test::init_service($app));
            Box::new(move |sys: &actix_rt::SystemRunner| {
                let start = Instant::now();
                sys.block_on(async {
                    for _ in 0..PER_BATCH {
                        let req = test::TestRequest::get().uri("/users/42").to_request();
                        let res = test::call_service(&app, req).await;
                        black_box(test::read_body(res).await);
                    }
                });
                start.elapsed().as_nanos() as f64 / f64::from(PER_BATCH)
            }) as Batch
        }};
    }
    let mut bare = batch!(App::new().configure(routes));
    let mut others: Vec<(&str, Batch)> = vec![
        (
            "promenade",
            batch!(App::new().wrap(promenade()).configure(routes)),
        ),
        ("hand-written", batch!(hand_written_app!(hand()))),
        (
            "actix-web-prom",
            batch!(App::new().wrap(actix_web_prom()).configure(routes)),
        ),
    ];
    let mut diffs: Vec<Vec<f64>> = vec![Vec::with_capacity(batches); others.len()];
    let mut bare_ns = Vec::with_capacity(batches * others.len());
    for i in 0..batches {
        for (k, (_, run)) in others.iter_mut().enumerate() {
            let (b, x) = if (i + k) % 2 == 0 {
                let b = bare(&sys);
                (b, run(&sys))
            } else {
                let x = run(&sys);
                (bare(&sys), x)
            };
            diffs[k].push(x - b);
            bare_ns.push(b);
        }
    }
    println!(
        "\npaired overhead vs bare actix-web (GET /users/42): {batches} interleaved batches x {PER_BATCH} requests, median of differences; bare median {:.0} ns",
        median(&mut bare_ns)
    );
    let overhead: Vec<f64> = diffs.iter_mut().map(|d| median(d)).collect();
    for ((name, _), o) in others.iter().zip(&overhead) {
        println!("  {name:<16} {o:+7.0} ns/request");
    }
    println!(
        "  promenade / hand-written {:.2}x, promenade / actix-web-prom {:.2}x",
        overhead[0] / overhead[1],
        overhead[0] / overhead[2]
    );
}

fn main() {
    if let Ok(spec) = std::env::var("ACTIX_COUNT") {
        count(&spec);
        return;
    }
    if let Ok(batches) = std::env::var("ACTIX_PAIRED") {
        paired(batches.parse().unwrap_or(101));
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    in_process(&mut c);
    c.final_summary();
    // Only under `cargo bench` (not `cargo test --benches`).
    if std::env::args().any(|a| a == "--bench")
        && std::env::var("ACTIX_LOOPBACK").as_deref() != Ok("0")
    {
        loopback();
    }
}

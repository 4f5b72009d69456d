//! Load and consistency, one generic test for each demo (axum, actix, tonic): client
//! threads send requests as fast as the machine sustains — HTTP/1.1 keep-alive from
//! [`HTTP_CLIENTS`] threads, or [`GRPC_CONCURRENCY`] concurrent unary calls on one tonic
//! channel — while a real Prometheus scrapes the demo every second. Afterwards:
//!
//! * `up` stayed 1 for every scrape of the run (`min_over_time(up[…])`);
//! * the longest `scrape_duration_seconds` is under 1 s (the only timing bound; generous);
//! * Prometheus's totals (`sum(http_requests_total)`, `sum(grpc_server_handled_total)`, per
//!   status or code, and the histograms' `_count`) equal the client-side counts exactly, and
//!   nothing is left in flight.
//!
//! Each demo is loaded for 15 s by default; set `PROMENADE_HEAVY=1` for 60 s per demo. The
//! three tests take turns (a lock), so they never share the CPU with each other. Figures
//! (requests sent, elapsed, rate, scrape durations, series count) are printed; see them
//! with `cargo test -p promenade-tests --test load_e2e -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{ActixDemoServer, AxumDemoServer, Demo, TonicDemoServer};
use promenade_tests::{FIRST_SCRAPE_TIMEOUT, PrometheusServer, ScrapeTarget, or_skip};
use promenade_tonic_demo::{DemoClient, Ping};

/// Concurrent HTTP clients, each a thread with its own keep-alive connection.
const HTTP_CLIENTS: usize = 4;
/// Concurrent unary calls on the one gRPC channel.
const GRPC_CONCURRENCY: usize = 16;
/// Upper bound on the requests of one run, whatever the machine's speed.
const MAX_REQUESTS: u64 = 50_000_000;
/// How long Prometheus may take to show the final counts.
const FINAL_SCRAPE_TIMEOUT: Duration = Duration::from_secs(15);

/// One test at a time: the machine's cores go to one demo and its Prometheus.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Load duration per demo: 15 s, or 60 s with `PROMENADE_HEAVY=1`.
fn load_duration() -> Duration {
    if std::env::var("PROMENADE_HEAVY").is_ok_and(|v| v == "1") {
        Duration::from_secs(60)
    } else {
        Duration::from_secs(15)
    }
}

/// What the clients sent and how it was answered.
#[derive(Debug, Default)]
struct Sent {
    /// Responses by HTTP status or gRPC code name.
    by_outcome: BTreeMap<String, u64>,
    elapsed: Duration,
}

impl Sent {
    fn total(&self) -> u64 {
        self.by_outcome.values().sum()
    }
}

trait Load: Demo {
    /// Loads the demo for `duration`; panics on any unexpected answer.
    fn load(&self, duration: Duration) -> Sent;
    /// Checks Prometheus's view of job `job` against `sent` (after the final scrape).
    fn check_totals(prom: &PrometheusServer, job: &str, sent: &Sent);
}

/// A keep-alive agent of its own for one client thread (no Accept, no redirects, 10 s limit).
fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .new_agent()
}

fn http_load<D: Demo>(demo: &D, duration: Duration) -> Sent {
    let base = demo.url("");
    let base = base.as_str();
    let started = Instant::now();
    let deadline = started + duration;
    let per_thread: Vec<BTreeMap<String, u64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..HTTP_CLIENTS)
            .map(|c| {
                s.spawn(move || {
                    let agent = agent();
                    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
                    let mut i = 0u64;
                    while Instant::now() < deadline && i < MAX_REQUESTS / HTTP_CLIENTS as u64 {
                        let (method, path, want) = match i % 100 {
                            99 => ("GET", "/panic".to_owned(), 500),
                            n if n % 10 == 9 => ("GET", format!("/no/such/{c}/{i}"), 404),
                            n if n % 5 == 1 => ("POST", "/echo".to_owned(), 200),
                            n if n % 2 == 0 => ("GET", format!("/users/{i}"), 200),
                            _ => ("GET", "/".to_owned(), 200),
                        };
                        let url = format!("{base}{path}");
                        let resp = if method == "POST" {
                            agent.post(&url).send(&b"payload"[..])
                        } else {
                            agent.get(&url).call()
                        };
                        let mut resp = resp.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
                        // Read the body to the end so the connection is reused.
                        resp.body_mut().read_to_vec().unwrap();
                        let status = resp.status().as_u16();
                        assert_eq!(status, want, "{method} {path}");
                        *counts.entry(status.to_string()).or_default() += 1;
                        i += 1;
                    }
                    counts
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sent = Sent {
        elapsed: started.elapsed(),
        ..Sent::default()
    };
    for counts in per_thread {
        for (k, v) in counts {
            *sent.by_outcome.entry(k).or_default() += v;
        }
    }
    sent
}

fn http_check_totals(prom: &PrometheusServer, job: &str, sent: &Sent) {
    let total = sent.total() as f64;
    let got = prom
        .wait_for_value(
            &format!("sum(http_requests_total{{job=\"{job}\"}})"),
            |v| v == total,
            FINAL_SCRAPE_TIMEOUT,
        )
        .unwrap();
    assert_eq!(got, total);
    for (status, n) in &sent.by_outcome {
        assert_eq!(
            prom.query_scalar(&format!(
                "sum(http_requests_total{{job=\"{job}\",status=\"{status}\"}})"
            )),
            Some(*n as f64),
            "status {status}"
        );
    }
    let unmatched = sent.by_outcome.get("404").copied().unwrap_or(0) as f64;
    assert_eq!(
        prom.query_scalar(&format!(
            "sum(http_requests_total{{job=\"{job}\",route=\"unmatched\"}})"
        )),
        Some(unmatched)
    );
    assert_eq!(
        prom.query_scalar(&format!(
            "sum(http_request_duration_seconds_count{{job=\"{job}\"}})"
        )),
        Some(total)
    );
    assert_eq!(
        prom.query_scalar(&format!("sum(http_requests_in_flight{{job=\"{job}\"}})")),
        Some(0.0)
    );
    // In-flight is labelled by method only: one series per method, none with a route.
    assert_eq!(
        prom.query_scalar(&format!(
            "count(http_requests_in_flight{{job=\"{job}\",route!=\"\"}})"
        )),
        None
    );
    assert_eq!(
        prom.query_scalar(&format!(
            "count(http_requests_in_flight{{job=\"{job}\",method=\"GET\"}})"
        )),
        Some(1.0)
    );
    // The scrape route is not counted.
    assert_eq!(
        prom.query_scalar(&format!(
            "count(http_requests_total{{job=\"{job}\",route=\"/metrics\"}})"
        )),
        None
    );
}

impl Load for AxumDemoServer {
    fn load(&self, duration: Duration) -> Sent {
        http_load(self, duration)
    }

    fn check_totals(prom: &PrometheusServer, job: &str, sent: &Sent) {
        http_check_totals(prom, job, sent);
    }
}

impl Load for ActixDemoServer {
    fn load(&self, duration: Duration) -> Sent {
        http_load(self, duration)
    }

    fn check_totals(prom: &PrometheusServer, job: &str, sent: &Sent) {
        http_check_totals(prom, job, sent);
    }
}

impl Load for TonicDemoServer {
    fn load(&self, duration: Duration) -> Sent {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let ok = AtomicU64::new(0);
        let not_found = AtomicU64::new(0);
        let started = Instant::now();
        rt.block_on(async {
            let client = DemoClient::new(self.channel().await);
            let deadline = tokio::time::Instant::now() + duration;
            let next = AtomicU64::new(0);
            let calls = (0..GRPC_CONCURRENCY).map(|_| {
                let mut c = client.clone();
                let (ok, not_found, next) = (&ok, &not_found, &next);
                async move {
                    while tokio::time::Instant::now() < deadline {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= MAX_REQUESTS {
                            break;
                        }
                        // Every 50th call fails with NotFound.
                        let fail = i % 50 == 49;
                        let ping = Ping {
                            text: "load".into(),
                            fail_code: if fail {
                                tonic::Code::NotFound as i32
                            } else {
                                0
                            },
                            ..Default::default()
                        };
                        match c.unary(ping).await {
                            Ok(_) if !fail => ok.fetch_add(1, Ordering::Relaxed),
                            Err(s) if fail && s.code() == tonic::Code::NotFound => {
                                not_found.fetch_add(1, Ordering::Relaxed)
                            }
                            other => panic!("call {i}: unexpected {other:?}"),
                        };
                    }
                }
            });
            // The calls borrow the counters: run them concurrently on this task (the channel's
            // connection runs on the runtime's workers).
            join_all(calls).await;
        });
        let mut sent = Sent {
            elapsed: started.elapsed(),
            ..Sent::default()
        };
        sent.by_outcome
            .insert("OK".to_owned(), ok.load(Ordering::Relaxed));
        sent.by_outcome
            .insert("NotFound".to_owned(), not_found.load(Ordering::Relaxed));
        sent
    }

    fn check_totals(prom: &PrometheusServer, job: &str, sent: &Sent) {
        let total = sent.total() as f64;
        let sel = format!(
            "job=\"{job}\",grpc_service=\"promenade.demo.v1.Demo\",grpc_method=\"Unary\",grpc_type=\"unary\""
        );
        let got = prom
            .wait_for_value(
                &format!("sum(grpc_server_handled_total{{job=\"{job}\"}})"),
                |v| v == total,
                FINAL_SCRAPE_TIMEOUT,
            )
            .unwrap();
        assert_eq!(got, total);
        for (code, n) in &sent.by_outcome {
            assert_eq!(
                prom.query_scalar(&format!(
                    "sum(grpc_server_handled_total{{{sel},grpc_code=\"{code}\"}})"
                )),
                Some(*n as f64),
                "grpc_code {code}"
            );
        }
        let ok = sent.by_outcome["OK"] as f64;
        for (family, want) in [
            ("grpc_server_started_total", total),
            ("grpc_server_handling_seconds_count", total),
            ("grpc_server_msg_received_total", total),
            // A failed unary call sends no message.
            ("grpc_server_msg_sent_total", ok),
        ] {
            assert_eq!(
                prom.query_scalar(&format!("sum({family}{{{sel}}})")),
                Some(want),
                "{family}"
            );
        }
        // Started equals handled across the whole server: nothing left in flight.
        assert_eq!(
            prom.query_scalar(&format!(
                "sum(grpc_server_started_total{{job=\"{job}\"}}) - sum(grpc_server_handled_total{{job=\"{job}\"}})"
            )),
            Some(0.0)
        );
    }
}

/// Awaits every future of `calls` concurrently on the current task.
async fn join_all<F: std::future::Future<Output = ()>>(calls: impl Iterator<Item = F>) {
    let mut calls: Vec<_> = calls.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        calls.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if calls.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

fn prometheus_keeps_up_with_load_and_counts_every_request<D: Load>() {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let job = D::ADAPTER;
    let demo = D::start();
    let prom = or_skip!(PrometheusServer::start(&[ScrapeTarget::new(
        job,
        demo.port()
    )
    .scrape_interval(Duration::from_secs(1))]));
    prom.wait_for_up(job, FIRST_SCRAPE_TIMEOUT).unwrap();
    let since = Instant::now();

    let sent = demo.load(load_duration());
    D::check_totals(&prom, job, &sent);

    // Every scrape since the first successful one, the whole load included.
    let range = format!("[{}s]", since.elapsed().as_secs() + 2);
    let q = |f: &str, metric: &str| {
        prom.query_scalar(&format!("{f}({metric}{{job=\"{job}\"}}{range})"))
            .unwrap_or_else(|| panic!("no {f}({metric}) for {job}\n{}", prom.diagnostics()))
    };
    let scrapes = q("count_over_time", "up");
    let min_up = q("min_over_time", "up");
    let max_scrape = q("max_over_time", "scrape_duration_seconds");
    let avg_scrape = q("avg_over_time", "scrape_duration_seconds");
    let series = prom
        .query_scalar(&format!("scrape_samples_scraped{{job=\"{job}\"}}"))
        .unwrap();
    let total = sent.total();
    println!(
        "{job}: {total} requests {:?} in {:.1} s = {:.0}/s; {scrapes} scrapes, up min {min_up}; \
         scrape duration max {:.1} ms, avg {:.1} ms; {series} series per scrape",
        sent.by_outcome,
        sent.elapsed.as_secs_f64(),
        total as f64 / sent.elapsed.as_secs_f64(),
        max_scrape * 1e3,
        avg_scrape * 1e3,
    );
    assert!(total > 0);
    assert_eq!(
        min_up,
        1.0,
        "a scrape failed during the load\n{}",
        prom.diagnostics()
    );
    assert!(
        max_scrape < 1.0,
        "slowest scrape took {max_scrape} s (limit 1 s)"
    );
}

macro_rules! load {
    ($adapter:ident, $demo:ty) => {
        mod $adapter {
            use super::*;

            #[test]
            fn prometheus_keeps_up_with_load_and_counts_every_request() {
                super::prometheus_keeps_up_with_load_and_counts_every_request::<$demo>();
            }
        }
    };
}

load!(axum, AxumDemoServer);
load!(actix, ActixDemoServer);
load!(grpc, TonicDemoServer);

//! Shared helpers for the promenade-actix integration tests: a test application, a real
//! actix server on 127.0.0.1:0 in its own thread, and a raw keep-alive HTTP/1.1 client.
#![allow(dead_code, missing_docs, clippy::unwrap_used)] // test helpers: failing loudly is the point

use std::convert::Infallible;
use std::future::Future as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures_core::Stream;
use promenade_actix::PrometheusMetrics;

/// A body that yields `left` chunks, one every `interval`.
pub(crate) struct Ticker {
    left: u32,
    interval: Duration,
    sleep: Pin<Box<actix_rt::time::Sleep>>,
}

impl Ticker {
    pub(crate) fn new(chunks: u32, interval: Duration) -> Self {
        Self {
            left: chunks,
            interval,
            sleep: Box::pin(actix_rt::time::sleep(interval)),
        }
    }
}

impl Stream for Ticker {
    type Item = Result<Bytes, Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.left -= 1;
        let next = actix_rt::time::Instant::now() + self.interval;
        self.sleep.as_mut().reset(next);
        Poll::Ready(Some(Ok(Bytes::from(format!("chunk {}\n", self.left)))))
    }
}

async fn slow(req: actix_web::HttpRequest) -> HttpResponse {
    let ms: u64 = req
        .query_string()
        .strip_prefix("ms=")
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    actix_rt::time::sleep(Duration::from_millis(ms.min(30_000))).await;
    HttpResponse::Ok().body(format!("slept {ms} ms"))
}

async fn panics() -> HttpResponse {
    panic!("handler panicked on purpose (test)");
}

/// Routes of the test application.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(|| async { "root" }))
        .route(
            "/users/{id}",
            web::get().to(|id: web::Path<u32>| async move { format!("user {id}") }),
        )
        .route("/echo", web::post().to(|body: Bytes| async move { body }))
        .route("/slow", web::get().to(slow))
        .route(
            "/stream",
            web::get().to(|| async {
                HttpResponse::Ok().streaming(Ticker::new(5, Duration::from_millis(25)))
            }),
        )
        .route("/panic", web::get().to(panics))
        .route(
            "/error",
            web::get().to(|| async {
                Err::<HttpResponse, _>(actix_web::error::ErrorConflict("conflict"))
            }),
        )
        .service(
            web::scope("/api")
                .service(
                    web::resource("/items/{id}")
                        .route(web::get().to(|| async { "item" }))
                        .route(web::delete().to(|| async { HttpResponse::NoContent().finish() })),
                )
                .service(web::scope("/v1").route(
                    "/things/{thing}/parts/{part}",
                    web::get().to(|| async { "part" }),
                )),
        );
}

/// A real actix server on 127.0.0.1:0 running in its own thread.
pub(crate) struct TestServer {
    pub port: u16,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub(crate) fn start(metrics: PrometheusMetrics, workers: usize) -> Self {
        Self::start_with(metrics, workers, true)
    }

    pub(crate) fn start_with(
        metrics: PrometheusMetrics,
        workers: usize,
        half_closed: bool,
    ) -> Self {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let result = actix_rt::System::new().block_on(async move {
                let server =
                    HttpServer::new(move || App::new().wrap(metrics.clone()).configure(routes))
                        .workers(workers)
                        .h1_allow_half_closed(half_closed)
                        .disable_signals()
                        .shutdown_timeout(1)
                        .bind(("127.0.0.1", 0))?;
                let port = server.addrs()[0].port();
                let server = server.run();
                let _ = tx.send((port, server.handle()));
                server.await
            });
            if let Err(e) = result {
                eprintln!("test server failed: {e}");
            }
        });
        let (port, handle) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server did not start");
        Self {
            port,
            handle,
            thread: Some(thread),
        }
    }

    pub(crate) fn conn(&self) -> Conn {
        Conn::new(self.port)
    }

    pub(crate) fn metrics(&self) -> String {
        let (status, body) = self.conn().request("GET", "/metrics", &[], b"");
        assert_eq!(status, 200);
        String::from_utf8(body).unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        // Stop the server from a helper runtime; bounded by shutdown_timeout(1).
        let _ = std::thread::spawn(move || {
            actix_rt::System::new().block_on(handle.stop(false));
        })
        .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A raw keep-alive HTTP/1.1 client connection.
pub(crate) struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    pub(crate) fn new(port: u16) -> Self {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Self {
            reader: BufReader::new(stream),
        }
    }

    pub(crate) fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    pub(crate) fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) {
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        let s = self.reader.get_mut();
        s.write_all(req.as_bytes()).unwrap();
        s.write_all(body).unwrap();
    }

    /// Reads one response: status, headers (lower-case names) and the de-chunked body.
    pub(crate) fn read_response(
        &mut self,
        head_only: bool,
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {line:?}"));
        let mut headers = Vec::new();
        loop {
            line.clear();
            self.reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if head_only {
            return (status, headers, body);
        }
        if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                line.clear();
                self.reader.read_line(&mut line).unwrap();
                let size = usize::from_str_radix(line.trim(), 16).unwrap();
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk).unwrap();
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(len) = get("content-length") {
            body.resize(len.parse().unwrap(), 0);
            self.reader.read_exact(&mut body).unwrap();
        }
        (status, headers, body)
    }

    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        self.send(method, path, headers, body);
        let (status, _, body) = self.read_response(method == "HEAD");
        (status, body)
    }

    pub(crate) fn request_full(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, Vec<u8>) {
        self.send(method, path, headers, b"");
        self.read_response(method == "HEAD")
    }
}

/// The value of the sample `name{labels}` in a text exposition.
pub(crate) use promenade_core::testutil::sample_value as sample;

/// Number of sample lines in a text exposition.
pub(crate) fn series_count(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .count()
}

/// Polls `f` every 20 ms until it returns true or `timeout` passes.
pub(crate) fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

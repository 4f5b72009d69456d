//! The axum and actix demos served in-process on 127.0.0.1:0 behind one [`Demo`] trait, so
//! one scenario runs against both, and scrape-parsing helpers.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use promenade_core::Registry;
use promenade_examples::DemoOptions;
use promenade_tests::http_get;

/// A demo server (same routes, same metric names) running in-process until drop.
pub(crate) trait Demo: Sized {
    /// Which adapter serves it, for messages.
    const ADAPTER: &'static str;

    /// Starts the demo with default options on 127.0.0.1:0.
    fn start() -> Self {
        Self::start_with(DemoOptions::default())
    }

    /// Starts the demo with `options` on 127.0.0.1:0.
    fn start_with(options: DemoOptions) -> Self;

    /// The port it listens on.
    fn port(&self) -> u16;

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    /// `GET /metrics` as text 0.0.4.
    fn scrape(&self) -> String {
        let resp = http_get(&self.url("/metrics"), &[]).expect("scrape");
        assert_eq!(resp.status, 200);
        resp.text()
    }

    /// Scrapes until `ok` accepts the text (at most `timeout`), returning the last text.
    fn scrape_until(&self, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.scrape();
            if ok(&text) || Instant::now() >= deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The demo router from `promenade-examples`, served on its own runtime thread until drop.
pub(crate) struct AxumDemoServer {
    port: u16,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// The registry the demo records into.
    pub registry: Registry,
}

impl Demo for AxumDemoServer {
    const ADAPTER: &'static str = "axum";

    fn start_with(options: DemoOptions) -> Self {
        let registry = Registry::new();
        let app =
            promenade_examples::axum_demo::axum_app_with(&registry, &options).expect("demo app");
        Self::serve(app, registry)
    }

    fn port(&self) -> u16 {
        self.port
    }
}

impl AxumDemoServer {
    /// Serves any `app` (recording into `registry`) the way the demo is served.
    pub(crate) fn serve(app: axum::Router, registry: Registry) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("local addr").port();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                tokio::select! {
                    r = axum::serve(listener, app) => r.expect("serve"),
                    _ = rx => {}
                }
            });
            // Dropping the runtime ends every connection task.
        });
        Self {
            port,
            shutdown: Some(tx),
            thread: Some(thread),
            registry,
        }
    }
}

impl Drop for AxumDemoServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The actix demo on its own thread (its own actix system, default worker count).
pub(crate) struct ActixDemoServer {
    port: u16,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Demo for ActixDemoServer {
    const ADAPTER: &'static str = "actix";

    fn start_with(options: DemoOptions) -> Self {
        Self::spawn("actix demo", move || {
            let registry = Registry::new();
            let (server, addr) =
                promenade_examples::actix_demo::server_with("127.0.0.1:0", &registry, &options)?;
            Ok((server, addr.port()))
        })
    }

    fn port(&self) -> u16 {
        self.port
    }
}

impl ActixDemoServer {
    /// Serves `routes` wrapped in `metrics` with the demo's server settings, on its own
    /// thread and actix system.
    pub(crate) fn serve(
        metrics: promenade_actix::PrometheusMetrics,
        routes: fn(&mut actix_web::web::ServiceConfig),
    ) -> Self {
        Self::spawn("actix server", move || {
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .wrap(metrics.clone())
                    .configure(routes)
            })
            .workers(2)
            .shutdown_timeout(2)
            .h1_allow_half_closed(false)
            .bind("127.0.0.1:0")?;
            let port = server.addrs().first().map_or(0, std::net::SocketAddr::port);
            Ok((server.run(), port))
        })
    }

    /// Runs the server that `start` builds (and the port it listens on) on its own thread
    /// and actix system, until drop; `what` names it in failures.
    pub(crate) fn spawn(
        what: &'static str,
        start: impl FnOnce() -> std::io::Result<(actix_web::dev::Server, u16)> + Send + 'static,
    ) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let result = actix_rt::System::new().block_on(async move {
                let (server, port) = start()?;
                let _ = tx.send((port, server.handle()));
                server.await
            });
            if let Err(e) = result {
                eprintln!("{what} failed: {e}");
            }
        });
        let (port, handle) = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("{what} did not start"));
        Self {
            port,
            handle,
            thread: Some(thread),
        }
    }
}

impl Drop for ActixDemoServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let _ = std::thread::spawn(move || {
            actix_rt::System::new().block_on(handle.stop(false));
        })
        .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The value of sample `name{labels}`.
pub(crate) use promenade_core::testutil::sample_value as sample;

/// `http_requests_total{method,route,status}`.
pub(crate) fn requests(text: &str, method: &str, route: &str, status: &str) -> Option<f64> {
    sample(
        text,
        "http_requests_total",
        &format!(r#"method="{method}",route="{route}",status="{status}""#),
    )
}

/// Every `(labels, value)` of a metric.
pub(crate) fn all_samples<'a>(text: &'a str, name: &str) -> Vec<(&'a str, f64)> {
    let prefix = format!("{name}{{");
    text.lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .filter_map(|rest| {
            let (labels, value) = rest.rsplit_once("} ")?;
            Some((labels, value.trim().parse().ok()?))
        })
        .collect()
}

/// Sum of every `http_requests_in_flight` gauge.
pub(crate) fn total_in_flight(text: &str) -> f64 {
    all_samples(text, "http_requests_in_flight")
        .iter()
        .map(|(_, v)| v)
        .sum()
}

/// Number of sample lines in an exposition (every series of every metric).
pub(crate) fn sample_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// A minimal HTTP/1.1 keep-alive client on one TCP connection, for methods that ureq
/// refuses to send (`BREW`, lowercase `get`, …). Responses must carry `Content-Length`.
pub(crate) struct RawClient {
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl RawClient {
    pub(crate) fn connect(port: u16) -> Self {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("read timeout");
        Self {
            reader: std::io::BufReader::new(stream),
        }
    }

    /// Sends `method path` without a body and returns the status code.
    pub(crate) fn request(&mut self, method: &str, path: &str) -> u16 {
        use std::io::{BufRead, Read, Write};
        let req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        self.reader
            .get_mut()
            .write_all(req.as_bytes())
            .expect("write");
        let mut status = 0;
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.reader.read_line(&mut line).expect("read head");
            assert!(n > 0, "connection closed");
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some(rest) = l.strip_prefix("HTTP/1.1 ") {
                status = rest[..3].parse().expect("status");
            } else if let Some((k, v)) = l.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().expect("content-length");
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).expect("read body");
        status
    }
}

/// One response read by [`RawClient::send`].
#[derive(Debug, Clone)]
pub(crate) struct RawResponse {
    /// Status code.
    pub status: u16,
    /// Header pairs as received (names lower-cased, values as raw bytes).
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body (chunked bodies are decoded).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first header called `name` (lower-case), if any.
    pub(crate) fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Whether the server announced that it closes the connection after this response.
    pub(crate) fn closes_connection(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"close"))
    }
}

/// Largest response body [`RawClient::send`] reads.
pub(crate) const RAW_MAX_BODY: usize = 64 * 1024 * 1024;

impl RawClient {
    /// Sends `request` exactly as given (request line, headers, blank line and any body) and
    /// reads one response: `Content-Length` or chunked bodies, none after a `HEAD` request
    /// (`head_request`) or for 1xx/204/304. Transport and framing problems are `Err`.
    pub(crate) fn send(
        &mut self,
        request: &[u8],
        head_request: bool,
    ) -> std::io::Result<RawResponse> {
        use std::io::{BufRead, Error, Read, Write};
        fn line(reader: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
            let mut buf = Vec::new();
            // Bounded: a header line longer than 1 MiB is an error, not a hang.
            let n = reader.take(1 << 20).read_until(b'\n', &mut buf)?;
            if n == 0 {
                return Err(Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed",
                ));
            }
            while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                buf.pop();
            }
            Ok(buf)
        }
        let bad = |what: String| Error::new(std::io::ErrorKind::InvalidData, what);
        self.reader.get_mut().write_all(request)?;
        let status_line = line(&mut self.reader)?;
        let status: u16 = status_line
            .strip_prefix(b"HTTP/1.1 ")
            .and_then(|rest| std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok())
            .ok_or_else(|| {
                bad(format!(
                    "bad status line {:?}",
                    String::from_utf8_lossy(&status_line)
                ))
            })?;
        let mut headers = Vec::new();
        for _ in 0..1000 {
            let l = line(&mut self.reader)?;
            if l.is_empty() {
                break;
            }
            let colon = l
                .iter()
                .position(|b| *b == b':')
                .ok_or_else(|| bad(format!("bad header {:?}", String::from_utf8_lossy(&l))))?;
            let name = String::from_utf8_lossy(&l[..colon]).to_ascii_lowercase();
            headers.push((name, l[colon + 1..].trim_ascii().to_vec()));
        }
        let mut response = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        if head_request || status < 200 || status == 204 || status == 304 {
            return Ok(response);
        }
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"));
        if chunked {
            loop {
                let size_line = line(&mut self.reader)?;
                let size = std::str::from_utf8(&size_line)
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
                    .ok_or_else(|| bad("bad chunk size".into()))?;
                if size == 0 {
                    // Trailers, then the blank line.
                    while !line(&mut self.reader)?.is_empty() {}
                    break;
                }
                if response.body.len() + size > RAW_MAX_BODY {
                    return Err(bad("body too large".into()));
                }
                let start = response.body.len();
                response.body.resize(start + size, 0);
                self.reader.read_exact(&mut response.body[start..])?;
                line(&mut self.reader)?; // CRLF after the chunk
            }
        } else if let Some(v) = response.header("content-length") {
            let length: usize = std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|n| *n <= RAW_MAX_BODY)
                .ok_or_else(|| bad("bad content-length".into()))?;
            response.body.resize(length, 0);
            self.reader.read_exact(&mut response.body)?;
        } else {
            // Delimited by the end of the connection.
            self.reader
                .by_ref()
                .take(RAW_MAX_BODY as u64)
                .read_to_end(&mut response.body)?;
        }
        Ok(response)
    }
}

/// `VmRSS` of this process in bytes (Linux only; `None` elsewhere or if unreadable).
pub(crate) fn resident_set_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// The tonic demo as `tonic-server` serves it: `promenade.demo.v1.Demo` and
/// `grpc.health.v1.Health` behind `GrpcServerLayer`, every method's series pre-created at
/// zero, and `/metrics` on the gRPC port (HTTP/1.1 beside HTTP/2), on a runtime of its own
/// (two workers) until drop. [`DemoOptions`] are ignored: the gRPC demo has no switches.
pub(crate) struct TonicDemoServer {
    port: u16,
    runtime: Option<tokio::runtime::Runtime>,
    /// The registry the server records into.
    pub registry: Registry,
}

impl Demo for TonicDemoServer {
    const ADAPTER: &'static str = "tonic";

    fn start_with(_options: DemoOptions) -> Self {
        use promenade_tonic::GrpcMetricsBuilderExt as _;

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let registry = Registry::new();
        let r = registry.clone();
        let port = runtime.block_on(async move {
            let metrics = promenade_core::grpc_metrics::GrpcMetrics::builder(
                &r,
                promenade_core::grpc_metrics::Side::Server,
            )
            .file_descriptor_set(promenade_tonic_demo::FILE_DESCRIPTOR_SET)
            .expect("demo descriptors")
            .file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .expect("health descriptors")
            .initialize(true)
            .build()
            .expect("grpc metrics");
            let (health, health_service) = tonic_health::server::health_reporter();
            health
                .set_serving::<promenade_tonic_demo::DemoServer<promenade_tonic_demo::DemoService>>(
                )
                .await;
            let routes = tonic::service::Routes::new(promenade_tonic_demo::server())
                .add_service(health_service);
            let routes = promenade_tonic::with_metrics_route(
                routes,
                promenade_core::scrape::ScrapeHandler::new(r),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind 127.0.0.1:0");
            let port = listener.local_addr().expect("local addr").port();
            tokio::spawn(
                tonic::transport::Server::builder()
                    .accept_http1(true)
                    .layer(promenade_tonic::GrpcServerLayer::new(metrics))
                    .add_routes(routes)
                    .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
            );
            port
        });
        Self {
            port,
            runtime: Some(runtime),
            registry,
        }
    }

    fn port(&self) -> u16 {
        self.port
    }
}

impl TonicDemoServer {
    /// `http://127.0.0.1:PORT`, the gRPC endpoint.
    pub(crate) fn grpc_uri(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A connected channel to the server (call from inside a tokio runtime).
    pub(crate) async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.grpc_uri())
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connect to the tonic demo")
    }
}

impl Drop for TonicDemoServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

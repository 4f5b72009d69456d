//! The server over real sockets: TCP on 127.0.0.1 and Unix sockets in a temporary
//! directory, async and on a background thread. Every wait is bounded.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use super::*;
use crate::Registry;
use crate::scrape::ScrapeAuth;

/// A bound on every wait in these tests, far above what any step takes.
const BOUND: Duration = Duration::from_secs(10);
const AUTH: &str = "Authorization: Bearer s3cret\r\n";

fn handler() -> ScrapeHandler {
    let registry = Registry::new();
    registry
        .gauge("up", "Up.")
        .map(|g| g.set(1.0))
        .expect("a valid gauge");
    ScrapeHandler::builder(&registry)
        .auth(ScrapeAuth::Bearer("s3cret".into()))
        .process_collector(false)
        .build()
        .expect("a valid handler")
}

fn server() -> MetricsServer {
    MetricsServer::builder(handler())
        .shutdown_timeout(Duration::from_secs(2))
        .build()
        .expect("a valid server")
}

/// Where a test connects.
#[derive(Clone, Debug)]
enum Target {
    Tcp(std::net::SocketAddr),
    #[cfg(unix)]
    Unix(std::path::PathBuf),
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

impl Target {
    fn connect(&self) -> std::io::Result<Box<dyn Stream>> {
        match self {
            Target::Tcp(addr) => {
                let s = std::net::TcpStream::connect_timeout(addr, BOUND)?;
                s.set_read_timeout(Some(BOUND))?;
                Ok(Box::new(s))
            }
            #[cfg(unix)]
            Target::Unix(path) => {
                let s = std::os::unix::net::UnixStream::connect(path)?;
                s.set_read_timeout(Some(BOUND))?;
                Ok(Box::new(s))
            }
        }
    }

    /// Sends one request (closing the connection after it) and reads the whole answer.
    fn request(&self, method: &str, path: &str, extra: &str) -> String {
        let mut stream = self.connect().expect("the server accepts");
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{extra}\r\n"
        )
        .expect("the request is sent");
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .expect("the answer arrives before the bound");
        answer
    }
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next().unwrap_or_default();
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(answer: &str) -> &str {
    answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default()
}

/// Everything a scrape client sees, on one server.
fn check_routes(target: &Target) {
    let get = target.request("GET", "/metrics", AUTH);
    assert!(get.starts_with("HTTP/1.1 200 OK\r\n"), "{get}");
    assert!(body(&get).contains("# TYPE up gauge\nup 1\n"), "{get}");
    assert_eq!(
        header(&get, "content-length"),
        Some(body(&get).len().to_string().as_str())
    );

    let head = target.request("HEAD", "/metrics", AUTH);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(header(&head, "content-type"), header(&get, "content-type"));
    assert_eq!(header(&head, "content-length"), None, "{head}");
    assert_eq!(body(&head), "");

    let unauthorized = target.request("GET", "/metrics", "");
    assert!(unauthorized.starts_with("HTTP/1.1 401 "), "{unauthorized}");
    assert_eq!(
        header(&unauthorized, "www-authenticate"),
        Some("Bearer realm=\"metrics\"")
    );
    assert!(!body(&unauthorized).contains("up 1"));

    let health = target.request("GET", "/healthz", "");
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert_eq!(body(&health), "ok");

    let post = target.request("POST", "/healthz", "Content-Length: 0\r\n");
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");

    let other = target.request("GET", "/metrics/more", AUTH);
    assert!(other.starts_with("HTTP/1.1 404 "), "{other}");
}

/// The target no longer takes requests: refused, or closed without an answer.
fn assert_stopped(target: &Target) {
    match target.connect() {
        Err(_) => {}
        Ok(mut stream) => {
            let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            assert!(answer.is_empty(), "answered after shutdown: {answer}");
        }
    }
}

/// An async server on a multi-thread runtime, stopped through its shutdown future.
struct AsyncServer {
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl AsyncServer {
    fn tcp(server: MetricsServer) -> (Self, Target) {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("a port");
        let addr = listener.local_addr().expect("an address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        (
            Self {
                runtime,
                stop: Some(stop),
                task,
            },
            Target::Tcp(addr),
        )
    }

    #[cfg(unix)]
    fn unix(server: MetricsServer, path: &std::path::Path) -> (Self, Target) {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let listener = {
            let _context = runtime.enter();
            tokio::net::UnixListener::bind(path).expect("a socket")
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = runtime.spawn(server.serve_unix(listener, async {
            let _ = stopped.await;
        }));
        (
            Self {
                runtime,
                stop: Some(stop),
                task,
            },
            Target::Unix(path.to_owned()),
        )
    }

    /// Signals shutdown and waits (bounded) for `serve` to return.
    fn shutdown(mut self) -> Duration {
        let started = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = self.task;
        self.runtime
            .block_on(async { tokio::time::timeout(BOUND, task).await })
            .expect("serve returns before the bound")
            .expect("serve did not panic")
            .expect("serve returns Ok");
        started.elapsed()
    }
}

#[test]
fn async_tcp_routes_and_shutdown() {
    let (server, target) = AsyncServer::tcp(server());
    check_routes(&target);
    assert!(server.shutdown() < Duration::from_secs(3));
    assert_stopped(&target);
}

#[cfg(unix)]
#[test]
fn async_unix_routes_and_shutdown() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (server, target) = AsyncServer::unix(server(), &dir.path().join("m.sock"));
    check_routes(&target);
    assert!(server.shutdown() < Duration::from_secs(3));
    assert_stopped(&target);
}

#[test]
fn background_tcp_routes_and_shutdown() {
    let running = server().spawn("127.0.0.1:0").expect("a port");
    let target = Target::Tcp(running.local_addr().expect("a TCP address"));
    check_routes(&target);
    let started = Instant::now();
    running.shutdown().expect("the thread is joined");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_stopped(&target);
}

#[cfg(unix)]
#[test]
fn background_unix_routes_and_shutdown() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("m.sock");
    let running = server().spawn_unix(&path).expect("a socket");
    assert_eq!(running.unix_path(), Some(path.as_path()));
    assert_eq!(running.local_addr(), None);
    let target = Target::Unix(path.clone());
    check_routes(&target);
    running.shutdown().expect("the thread is joined");
    assert!(!path.exists(), "the socket file is removed");
    assert_stopped(&target);
}

#[test]
fn dropping_the_handle_stops_the_background_server() {
    let running = server().spawn("127.0.0.1:0").expect("a port");
    let target = Target::Tcp(running.local_addr().expect("a TCP address"));
    assert!(
        target
            .request("GET", "/healthz", "")
            .starts_with("HTTP/1.1 200")
    );
    let started = Instant::now();
    drop(running);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_stopped(&target);
}

#[test]
fn shutdown_lets_a_scrape_in_progress_finish_and_closes_idle_connections() {
    let registry = Registry::new();
    registry
        .gauge_fn("slow", "Slow.", || {
            std::thread::sleep(Duration::from_millis(500));
            1.0
        })
        .expect("a valid gauge");
    let running = MetricsServer::builder(ScrapeHandler::new(registry))
        .shutdown_timeout(Duration::from_secs(5))
        .build()
        .expect("a valid server")
        .spawn("127.0.0.1:0")
        .expect("a port");
    let target = Target::Tcp(running.local_addr().expect("a TCP address"));
    // An idle kept-alive connection must not hold shutdown up to its timeout.
    let _idle = target.connect().expect("the server accepts");
    let scrape = {
        let target = target.clone();
        std::thread::spawn(move || target.request("GET", "/metrics", ""))
    };
    std::thread::sleep(Duration::from_millis(150)); // the scrape is in the collector now
    let started = Instant::now();
    running.shutdown().expect("the thread is joined");
    let took = started.elapsed();
    let answer = scrape.join().expect("the client thread");
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(body(&answer).contains("slow 1\n"), "{answer}");
    // Waited for the scrape (~350 ms left), not for the idle connection (5 s bound).
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
}

#[test]
fn a_slow_header_client_is_closed_after_the_timeout() {
    let running = MetricsServer::builder(handler())
        .header_read_timeout(Duration::from_millis(300))
        .build()
        .expect("a valid server")
        .spawn("127.0.0.1:0")
        .expect("a port");
    let target = Target::Tcp(running.local_addr().expect("a TCP address"));
    let mut stream = target.connect().expect("the server accepts");
    let started = Instant::now();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHo")
        .expect("a partial head is sent");
    let mut rest = Vec::new();
    // EOF, or a reset: either way the server gave up on the connection.
    let _ = stream.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(250),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");
    assert!(
        !String::from_utf8_lossy(&rest).contains("200 OK"),
        "a half-sent request got an answer"
    );
    // Other clients are still served.
    assert!(
        target
            .request("GET", "/healthz", "")
            .starts_with("HTTP/1.1 200")
    );
    running.shutdown().expect("the thread is joined");
}

#[test]
fn invalid_configurations_are_errors() {
    for health in ["healthz", "/metrics"] {
        let err = MetricsServer::builder(handler())
            .health_path(Some(health))
            .build()
            .expect_err("refused");
        assert!(matches!(err, Error::InvalidConfig(_)), "{err}");
    }
    assert!(
        MetricsServer::builder(handler())
            .header_read_timeout(Duration::ZERO)
            .build()
            .is_err()
    );
}

#[test]
fn without_a_health_path_it_is_not_found() {
    let running = MetricsServer::builder(handler())
        .health_path(None)
        .build()
        .expect("a valid server")
        .spawn("127.0.0.1:0")
        .expect("a port");
    let target = Target::Tcp(running.local_addr().expect("a TCP address"));
    assert!(
        target
            .request("GET", "/healthz", "")
            .starts_with("HTTP/1.1 404")
    );
    running.shutdown().expect("the thread is joined");
}

#[test]
fn binding_a_taken_address_is_an_error_at_spawn() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("an address");
    assert!(server().spawn(addr).is_err());
}

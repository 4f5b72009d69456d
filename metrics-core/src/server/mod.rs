//! A standalone `/metrics` server for programs without a web framework, or for serving
//! metrics on a port of their own: everything [`ScrapeHandler`] does (negotiation, gzip,
//! auth, limits, `HEAD`) at the handler's [path](ScrapeHandler::path), a health path
//! (`/healthz` answering `200 ok` by default), `404` elsewhere. HTTP/1.1 over TCP or, on
//! Unix, a Unix-domain socket; tokio and hyper underneath.
//!
//! - Async: [`MetricsServer::serve`] (and [`serve_unix`](MetricsServer::serve_unix)) run
//!   on your tokio runtime until a shutdown future completes.
//! - Blocking: [`MetricsServer::spawn`] (and [`spawn_unix`](MetricsServer::spawn_unix))
//!   run on a background thread with a small runtime of its own, and return a
//!   [`BackgroundServer`] handle that shuts it down (also on drop).
//!
//! Collectors run on tokio's blocking pool, never on the thread that accepts connections. A
//! connection whose request head does not arrive within the
//! [header-read timeout](MetricsServerBuilder::header_read_timeout) (5 s by default) is
//! closed, so that slow clients cannot hold connections open; failed accepts (such as
//! running out of file descriptors) are retried after a short pause.
//!
//! ```
//! use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
//!
//! let registry = Registry::new();
//! registry.counter("jobs_total", "Jobs run.")?.inc();
//! let server = MetricsServer::new(ScrapeHandler::new(registry)).spawn("127.0.0.1:0")?;
//! println!("metrics on http://{}/metrics", server.local_addr().expect("a TCP server"));
//! // ... the program's work ...
//! server.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Metrics on a separate port for axum and actix-web services
//!
//! Keeping `/metrics` off the public port needs no second router: instrument the service
//! with its adapter and serve a scrape handler for the same registry with this server.
//!
//! axum (`promenade-tower`): the layer records the requests, the server exposes them.
//!
//! ```ignore
//! use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
//! use promenade_tower::HttpMetricsLayer;
//!
//! let registry = Registry::new();
//! let app = axum::Router::new()
//!     .route("/", axum::routing::get(|| async { "hello" }))
//!     .layer(HttpMetricsLayer::builder(&registry).build()?);
//! let handler = ScrapeHandler::builder(&registry).build()?; // with the process collector
//! let metrics = tokio::net::TcpListener::bind("0.0.0.0:9464").await?;
//! tokio::spawn(MetricsServer::new(handler).serve(metrics, std::future::pending()));
//! let public = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(public, app).await?;
//! ```
//!
//! actix-web (`promenade-actix`): the same, or a second `HttpServer` with
//! `promenade_actix::metrics_route(handler)` if you prefer to stay within actix.
//!
//! ```ignore
//! use actix_web::{App, HttpServer, web};
//! use promenade_actix::PrometheusMetrics;
//! use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
//!
//! let registry = Registry::new();
//! let metrics = PrometheusMetrics::builder(&registry).build()?;
//! // On a background thread: actix-web runs its own runtimes.
//! let _server = MetricsServer::new(ScrapeHandler::builder(&registry).build()?).spawn("0.0.0.0:9464")?;
//! HttpServer::new(move || App::new().wrap(metrics.clone()).route("/", web::get().to(|| async { "hello" })))
//!     .bind("0.0.0.0:8080")?
//!     .run()
//!     .await?;
//! ```
//!
//! Layer: top (beside `scrape`, which it serves); imports only from `scrape` and below.

mod background;
mod serve;
mod service;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::io;
use std::net::ToSocketAddrs;
#[cfg(unix)]
use std::path::Path;
use std::time::Duration;

pub use background::BackgroundServer;

use crate::error::{Error, Result};
use crate::scrape::ScrapeHandler;

/// The default [header-read timeout](MetricsServerBuilder::header_read_timeout).
///
/// ```
/// assert_eq!(promenade_core::server::DEFAULT_HEADER_READ_TIMEOUT.as_secs(), 5);
/// ```
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The default [shutdown timeout](MetricsServerBuilder::shutdown_timeout).
///
/// ```
/// assert_eq!(promenade_core::server::DEFAULT_SHUTDOWN_TIMEOUT.as_secs(), 5);
/// ```
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The default [health path](MetricsServerBuilder::health_path), as Kubernetes examples use.
///
/// ```
/// assert_eq!(promenade_core::server::DEFAULT_HEALTH_PATH, "/healthz");
/// ```
pub const DEFAULT_HEALTH_PATH: &str = "/healthz";

/// Serves a [`ScrapeHandler`] and a health path over HTTP/1.1 (see the [module](self)
/// documentation).
///
/// ```
/// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = MetricsServer::builder(ScrapeHandler::new(Registry::new()))
///     .health_path(Some("/livez"))
///     .build()?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
/// let task = tokio::spawn(server.serve(listener, async { let _ = stopped.await; }));
/// // ... scrape it ...
/// let _ = stop.send(());
/// task.await??;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MetricsServer {
    handler: ScrapeHandler,
    health_path: Option<String>,
    header_read_timeout: Duration,
    shutdown_timeout: Duration,
}

impl MetricsServer {
    /// A server for `handler` with the defaults: health path [`DEFAULT_HEALTH_PATH`],
    /// [`DEFAULT_HEADER_READ_TIMEOUT`], [`DEFAULT_SHUTDOWN_TIMEOUT`].
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let server = MetricsServer::new(ScrapeHandler::new(Registry::new()));
    /// assert_eq!(server.health_path(), Some("/healthz"));
    /// ```
    pub fn new(handler: ScrapeHandler) -> Self {
        Self {
            handler,
            health_path: Some(DEFAULT_HEALTH_PATH.to_owned()),
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// Configures a server for `handler`: health path, timeouts.
    ///
    /// ```
    /// use std::time::Duration;
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let server = MetricsServer::builder(ScrapeHandler::new(Registry::new()))
    ///     .header_read_timeout(Duration::from_secs(2))
    ///     .build()?;
    /// assert_eq!(server.header_read_timeout(), Duration::from_secs(2));
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn builder(handler: ScrapeHandler) -> MetricsServerBuilder {
        MetricsServerBuilder {
            server: Self::new(handler),
        }
    }

    /// The scrape handler served at its [path](ScrapeHandler::path).
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let server = MetricsServer::new(ScrapeHandler::new(Registry::new()));
    /// assert_eq!(server.handler().path(), "/metrics");
    /// ```
    pub fn handler(&self) -> &ScrapeHandler {
        &self.handler
    }

    /// The health path, if any.
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let server = MetricsServer::builder(ScrapeHandler::new(Registry::new())).health_path(None).build()?;
    /// assert_eq!(server.health_path(), None);
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn health_path(&self) -> Option<&str> {
        self.health_path.as_deref()
    }

    /// How long a connection may take to send a request head.
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::{DEFAULT_HEADER_READ_TIMEOUT, MetricsServer}};
    /// let server = MetricsServer::new(ScrapeHandler::new(Registry::new()));
    /// assert_eq!(server.header_read_timeout(), DEFAULT_HEADER_READ_TIMEOUT);
    /// ```
    pub fn header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }

    /// How long requests in progress may take to finish once shutdown begins.
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::{DEFAULT_SHUTDOWN_TIMEOUT, MetricsServer}};
    /// let server = MetricsServer::new(ScrapeHandler::new(Registry::new()));
    /// assert_eq!(server.shutdown_timeout(), DEFAULT_SHUTDOWN_TIMEOUT);
    /// ```
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// Serves on `listener` until `shutdown` completes (pass `std::future::pending()` to
    /// serve until the future is dropped). Then the listener is closed, each connection
    /// finishes the request it is answering and closes, and the future completes once they
    /// have, or after the [shutdown timeout](MetricsServerBuilder::shutdown_timeout) at the
    /// latest. Dropping the future closes the listener and every connection at once.
    /// Failed accepts are retried, so it returns no error today; the `Result` leaves room
    /// for one. Needs a tokio runtime with I/O and timers enabled (`#[tokio::main]` has
    /// them).
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let server = MetricsServer::new(ScrapeHandler::new(Registry::new()));
    /// // Here stopped at once; a program would pass e.g. `tokio::signal::ctrl_c()`'s future.
    /// server.serve(listener, async {}).await?;
    /// # Ok(()) }
    /// ```
    pub async fn serve<F>(self, listener: tokio::net::TcpListener, shutdown: F) -> io::Result<()>
    where
        F: Future<Output = ()> + Send,
    {
        serve::run(self, listener, shutdown).await;
        Ok(())
    }

    /// As [`serve`](Self::serve), on a Unix-domain socket.
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let path = std::env::temp_dir().join(format!("promenade-serve-unix-{}.sock", std::process::id()));
    /// let listener = tokio::net::UnixListener::bind(&path)?;
    /// MetricsServer::new(ScrapeHandler::new(Registry::new())).serve_unix(listener, async {}).await?;
    /// std::fs::remove_file(&path)?; // the listener's owner removes the socket file
    /// # Ok(()) }
    /// ```
    #[cfg(unix)]
    #[cfg_attr(docsrs, doc(cfg(unix)))]
    pub async fn serve_unix<F>(
        self,
        listener: tokio::net::UnixListener,
        shutdown: F,
    ) -> io::Result<()>
    where
        F: Future<Output = ()> + Send,
    {
        serve::run(self, listener, shutdown).await;
        Ok(())
    }

    /// Binds `addr` and serves on a background thread with a current-thread tokio runtime
    /// of its own, for programs that have no async runtime (it works in those that do, too).
    /// Errors from binding are returned here. See [`BackgroundServer`] for shutdown.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    ///
    /// let registry = Registry::new();
    /// registry.gauge("up", "Up.").unwrap().set(1.0);
    /// let server = MetricsServer::new(ScrapeHandler::new(registry)).spawn("127.0.0.1:0")?;
    /// let mut stream = std::net::TcpStream::connect(server.local_addr().expect("a TCP server"))?;
    /// stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
    /// let mut answer = String::new();
    /// stream.read_to_string(&mut answer)?;
    /// assert!(answer.starts_with("HTTP/1.1 200 OK"));
    /// assert!(answer.ends_with("up 1\n"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(self, addr: impl ToSocketAddrs) -> io::Result<BackgroundServer> {
        let listener = std::net::TcpListener::bind(addr)?;
        BackgroundServer::spawn_tcp(self, listener)
    }

    /// As [`spawn`](Self::spawn), on a Unix-domain socket bound at `path` (which must not
    /// exist yet). The socket file is removed at shutdown.
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let path = std::env::temp_dir().join(format!("promenade-spawn-unix-{}.sock", std::process::id()));
    /// let server = MetricsServer::new(ScrapeHandler::new(Registry::new())).spawn_unix(&path)?;
    /// assert!(std::os::unix::net::UnixStream::connect(&path).is_ok());
    /// server.shutdown()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(unix)]
    #[cfg_attr(docsrs, doc(cfg(unix)))]
    pub fn spawn_unix(self, path: impl AsRef<Path>) -> io::Result<BackgroundServer> {
        BackgroundServer::spawn_unix(self, path.as_ref())
    }
}

/// Configures a [`MetricsServer`] (from [`MetricsServer::builder`]).
///
/// ```
/// use std::time::Duration;
/// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
/// let server = MetricsServer::builder(ScrapeHandler::new(Registry::new()))
///     .health_path(Some("/ready"))
///     .header_read_timeout(Duration::from_secs(10))
///     .shutdown_timeout(Duration::from_secs(1))
///     .build()?;
/// assert_eq!(server.shutdown_timeout(), Duration::from_secs(1));
/// # Ok::<(), promenade_core::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct MetricsServerBuilder {
    server: MetricsServer,
}

impl MetricsServerBuilder {
    /// The path answering `200 ok` to GET and HEAD (for liveness probes), or `None` for no
    /// health path. Default [`DEFAULT_HEALTH_PATH`]. It must start with `/` and differ from
    /// the scrape handler's path.
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let builder = MetricsServer::builder(ScrapeHandler::new(Registry::new()));
    /// assert!(builder.clone().health_path(Some("healthz")).build().is_err());
    /// assert!(builder.health_path(Some("/metrics")).build().is_err());
    /// ```
    pub fn health_path(mut self, path: Option<&str>) -> Self {
        self.server.health_path = path.map(str::to_owned);
        self
    }

    /// How long a connection may take to send a request head before it is closed (also
    /// between requests on a kept-alive connection). Default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`]; must not be zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let builder = MetricsServer::builder(ScrapeHandler::new(Registry::new()));
    /// assert!(builder.header_read_timeout(Duration::ZERO).build().is_err());
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.server.header_read_timeout = timeout;
        self
    }

    /// How long requests in progress may take to finish once shutdown begins; connections
    /// still open then are closed. Default [`DEFAULT_SHUTDOWN_TIMEOUT`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let server = MetricsServer::builder(ScrapeHandler::new(Registry::new())).shutdown_timeout(Duration::ZERO).build()?;
    /// assert_eq!(server.shutdown_timeout(), Duration::ZERO);
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.server.shutdown_timeout = timeout;
        self
    }

    /// The server, or [`Error::InvalidConfig`] for a health path that does not start with
    /// `/` or equals the scrape path, or a zero header-read timeout.
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let server = MetricsServer::builder(ScrapeHandler::new(Registry::new())).build()?;
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn build(self) -> Result<MetricsServer> {
        let server = self.server;
        if let Some(path) = &server.health_path {
            if !path.starts_with('/') {
                return Err(Error::InvalidConfig(format!(
                    "health path {path:?} must start with '/'"
                )));
            }
            if path == server.handler.path() {
                return Err(Error::InvalidConfig(format!(
                    "health path {path:?} is the scrape path"
                )));
            }
        }
        if server.header_read_timeout.is_zero() {
            return Err(Error::InvalidConfig(
                "the header-read timeout must not be zero".to_owned(),
            ));
        }
        Ok(server)
    }
}

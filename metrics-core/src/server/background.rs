//! The server on a thread of its own, for programs without an async runtime.

use std::io;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::MetricsServer;
use super::serve::{Listener, run};

/// A [`MetricsServer`] running on a background thread (from [`MetricsServer::spawn`] or
/// [`MetricsServer::spawn_unix`]). [`shutdown`](Self::shutdown), or dropping the handle,
/// stops it: no new connections, requests in progress get the server's
/// [shutdown timeout](super::MetricsServerBuilder::shutdown_timeout) to finish (and
/// collectors still running as long again), then the thread is joined.
///
/// ```
/// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
/// let server = MetricsServer::new(ScrapeHandler::new(Registry::new())).spawn("127.0.0.1:0")?;
/// let addr = server.local_addr().expect("a TCP server");
/// assert!(std::net::TcpStream::connect(addr).is_ok());
/// server.shutdown()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct BackgroundServer {
    local_addr: Option<SocketAddr>,
    #[cfg(unix)]
    socket_path: Option<PathBuf>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundServer {
    /// Starts `server` on the listener `make` returns (called inside the new runtime, as
    /// tokio's `from_std` requires), on a new thread with a current-thread runtime.
    fn start<L: Listener>(
        server: MetricsServer,
        make: impl FnOnce() -> io::Result<L>,
        local_addr: Option<SocketAddr>,
    ) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            make()?
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let grace = server.shutdown_timeout;
        let thread = std::thread::Builder::new()
            .name("promenade-metrics".to_owned())
            .spawn(move || {
                // A dropped sender (the handle is gone) stops the server as well.
                runtime.block_on(run(server, listener, async move {
                    let _ = stopped.await;
                }));
                // Collectors still running on the blocking pool get the same bound; a
                // collector that never returns keeps its thread, but not this one.
                runtime.shutdown_timeout(grace);
            })?;
        Ok(Self {
            local_addr,
            #[cfg(unix)]
            socket_path: None,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub(super) fn spawn_tcp(
        server: MetricsServer,
        listener: std::net::TcpListener,
    ) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let local_addr = listener.local_addr()?;
        Self::start(
            server,
            move || tokio::net::TcpListener::from_std(listener),
            Some(local_addr),
        )
    }

    #[cfg(unix)]
    pub(super) fn spawn_unix(server: MetricsServer, path: &Path) -> io::Result<Self> {
        let listener = std::os::unix::net::UnixListener::bind(path)?;
        let started = listener.set_nonblocking(true).and_then(|()| {
            Self::start(
                server,
                move || tokio::net::UnixListener::from_std(listener),
                None,
            )
        });
        match started {
            Ok(mut this) => {
                this.socket_path = Some(path.to_owned());
                Ok(this)
            }
            Err(e) => {
                // The socket file was created by the bind above.
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        }
    }

    /// The TCP address the server listens on (`None` for a Unix socket).
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let server = MetricsServer::new(ScrapeHandler::new(Registry::new())).spawn("127.0.0.1:0")?;
    /// assert_ne!(server.local_addr().map(|a| a.port()), Some(0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The path of the Unix socket the server listens on (`None` for TCP).
    ///
    /// ```
    /// # #[cfg(unix)] {
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let dir = std::env::temp_dir().join(format!("promenade-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// let path = dir.join("metrics.sock");
    /// let server = MetricsServer::new(ScrapeHandler::new(Registry::new())).spawn_unix(&path)?;
    /// assert_eq!(server.unix_path(), Some(path.as_path()));
    /// server.shutdown()?;
    /// assert!(!path.exists()); // removed at shutdown
    /// # std::fs::remove_dir(&dir)?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[cfg(unix)]
    #[cfg_attr(docsrs, doc(cfg(unix)))]
    pub fn unix_path(&self) -> Option<&Path> {
        self.socket_path.as_deref()
    }

    /// Stops the server and joins its thread: the listener closes at once, requests in
    /// progress get the [shutdown timeout](super::MetricsServerBuilder::shutdown_timeout)
    /// to finish, and a Unix socket's file is removed. Waits at most about twice that
    /// timeout. An error means the server thread panicked.
    ///
    /// ```
    /// use promenade_core::{Registry, scrape::ScrapeHandler, server::MetricsServer};
    /// let server = MetricsServer::new(ScrapeHandler::new(Registry::new())).spawn("127.0.0.1:0")?;
    /// let addr = server.local_addr().expect("a TCP server");
    /// server.shutdown()?;
    /// assert!(std::net::TcpStream::connect(addr).is_err()); // nothing listens any more
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(mut self) -> io::Result<()> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            // Fails only if the server already ended.
            let _ = stop.send(());
        }
        let joined = match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| io::Error::other("the metrics server thread panicked")),
            None => Ok(()),
        };
        #[cfg(unix)]
        if let Some(path) = self.socket_path.take() {
            let _ = std::fs::remove_file(path);
        }
        joined
    }
}

impl Drop for BackgroundServer {
    /// As [`shutdown`](BackgroundServer::shutdown), ignoring a panicked thread.
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

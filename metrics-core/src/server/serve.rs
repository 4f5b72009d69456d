//! The accept loop and the connections, for any listener (TCP, Unix socket).

use std::future::Future;
use std::io;
use std::pin::pin;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::MetricsServer;
use super::service::Routes;

/// How long the loop waits after a failed accept before the next one.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// A listener the server accepts connections from.
pub(super) trait Listener: Send + 'static {
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept(&self) -> impl Future<Output = io::Result<Self::Io>> + Send;
}

impl Listener for tokio::net::TcpListener {
    type Io = tokio::net::TcpStream;
    async fn accept(&self) -> io::Result<Self::Io> {
        let (stream, _) = tokio::net::TcpListener::accept(self).await?;
        Ok(stream)
    }
}

#[cfg(unix)]
impl Listener for tokio::net::UnixListener {
    type Io = tokio::net::UnixStream;
    async fn accept(&self) -> io::Result<Self::Io> {
        let (stream, _) = tokio::net::UnixListener::accept(self).await?;
        Ok(stream)
    }
}

/// Serves until `shutdown` completes; then stops accepting, asks every connection to finish
/// its request in progress and close, and waits for them at most the shutdown timeout
/// (connections still open then are dropped).
pub(super) async fn run<L: Listener>(
    server: MetricsServer,
    listener: L,
    shutdown: impl Future<Output = ()> + Send,
) {
    let routes = Routes {
        health_path: server.health_path.as_deref().map(Into::into),
        handler: server.handler,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    // Dropping the set (when this future is dropped) aborts the connections too.
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(io) => {
                    connections.spawn(connection(io, routes.clone(), server.header_read_timeout, stop_rx.clone()));
                }
                Err(_) => {
                    // Usually transient (EMFILE, ECONNABORTED): pause and go on, as axum::serve
                    // and Go's net/http do, instead of spinning or giving up.
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_ERROR_PAUSE) => {}
                    }
                }
            },
            // Reap finished connections so that the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    // `send` fails only without receivers, that is, without connections left.
    let _ = stop_tx.send(true);
    let drain = async { while connections.join_next().await.is_some() {} };
    // Connections still open after the bound are aborted when the set drops.
    let _ = tokio::time::timeout(server.shutdown_timeout, drain).await;
}

async fn connection<I>(
    io: I,
    routes: Routes,
    header_read_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut http1 = hyper::server::conn::http1::Builder::new();
    // Clients that send their request head byte by byte cannot hold connections open.
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let mut conn = pin!(http1.serve_connection(TokioIo::new(io), routes));
    tokio::select! {
        // A connection error concerns that client only.
        _ = conn.as_mut() => return,
        // `Err` means the server is gone: stop as well.
        _ = stop.wait_for(|stop| *stop) => {}
    }
    // Finishes the request in progress, then closes; an idle connection closes at once.
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

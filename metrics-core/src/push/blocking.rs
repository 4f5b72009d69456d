//! The blocking client: the async client driven by a current-thread Tokio runtime of its
//! own, usable from a plain `main` and from `spawn_blocking` alike.

use std::future::Future;

use tokio::runtime::{Handle, Runtime};

use super::{PushError, Pushgateway};
use crate::registry::Registry;

/// A blocking Pushgateway client for code outside async tasks: a plain `main`, or a
/// `spawn_blocking` closure (or another thread) of an async program. It drives the async
/// client on a current-thread Tokio runtime of its own.
///
/// Where a Tokio runtime is already current, as inside `spawn_blocking`, its runtime cannot
/// run on the calling thread (one runtime cannot be started inside another), so each request
/// then runs on a short-lived scoped thread while the caller waits. That also works inside an
/// async task, but blocks the task's worker thread for up to the time limit: use the async
/// [`Pushgateway`] there.
///
/// ```no_run
/// let registry = promenade_core::Registry::new();
/// let gateway = promenade_core::push::Pushgateway::builder("http://127.0.0.1:9091", "nightly")
///     .build_blocking()
///     .unwrap();
/// gateway.push(&registry).unwrap();
/// ```
///
/// Inside `spawn_blocking` (here nothing may listen on port 9: whatever the answer, the
/// client runs instead of refusing):
///
/// ```
/// use std::time::Duration;
/// use promenade_core::push::{PushError, Pushgateway};
///
/// # let rt = tokio::runtime::Runtime::new().unwrap();
/// # rt.block_on(async {
/// let registry = promenade_core::Registry::new();
/// let result = tokio::task::spawn_blocking(move || {
///     let gateway = Pushgateway::builder("http://127.0.0.1:9", "nightly")
///         .timeout(Duration::from_secs(2))
///         .build_blocking()?;
///     gateway.push(&registry)
/// })
/// .await
/// .unwrap();
/// assert!(!matches!(result, Err(PushError::Runtime(_))));
/// # });
/// ```
pub struct BlockingPushgateway {
    inner: Pushgateway,
    /// Always `Some` until dropped (see the `Drop` implementation).
    runtime: Option<Runtime>,
}

impl std::fmt::Debug for BlockingPushgateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingPushgateway")
            .field("inner", &self.inner)
            .field("runtime", &self.runtime)
            .finish()
    }
}

impl Drop for BlockingPushgateway {
    /// Where a runtime is current, dropping another one the usual way may panic (it waits,
    /// which an async task must not do): there it is shut down in the background instead.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take()
            && Handle::try_current().is_ok()
        {
            runtime.shutdown_background();
        }
    }
}

impl BlockingPushgateway {
    /// `inner` with a current-thread runtime of its own.
    pub(super) fn new(inner: Pushgateway) -> Result<Self, PushError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PushError::Runtime(format!("cannot start a Tokio runtime: {e}")))?;
        Ok(Self {
            inner,
            runtime: Some(runtime),
        })
    }

    /// Runs the request `make` builds on this client's runtime: on the calling thread, or,
    /// when a Tokio runtime is current there, on a scoped thread of its own.
    fn run<'a, F, Fut>(&'a self, make: F) -> Result<(), PushError>
    where
        F: FnOnce(&'a Pushgateway) -> Fut + Send,
        Fut: Future<Output = Result<(), PushError>>,
    {
        let Some(runtime) = self.runtime.as_ref() else {
            unreachable!("the runtime is taken only on drop")
        };
        if Handle::try_current().is_err() {
            return runtime.block_on(make(&self.inner));
        }
        let inner = &self.inner;
        std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name("promenade-push".into())
                .spawn_scoped(scope, move || runtime.block_on(make(inner)))
                .map_err(|e| {
                    PushError::Runtime(format!("cannot start a thread for the request: {e}"))
                })?;
            worker
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// The group's URL.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://gw:9091", "j").build_blocking().unwrap();
    /// assert_eq!(g.url(), "http://gw:9091/metrics/job/j");
    /// ```
    pub fn url(&self) -> &str {
        self.inner.url()
    }

    /// Blocking [`Pushgateway::push`] (`PUT`).
    ///
    /// ```no_run
    /// # fn demo(g: promenade_core::push::BlockingPushgateway, r: promenade_core::Registry) {
    /// g.push(&r).unwrap();
    /// # }
    /// ```
    pub fn push(&self, registry: &Registry) -> Result<(), PushError> {
        self.run(|inner| inner.push(registry))
    }

    /// Blocking [`Pushgateway::push_add`] (`POST`).
    ///
    /// ```no_run
    /// # fn demo(g: promenade_core::push::BlockingPushgateway, r: promenade_core::Registry) {
    /// g.push_add(&r).unwrap();
    /// # }
    /// ```
    pub fn push_add(&self, registry: &Registry) -> Result<(), PushError> {
        self.run(|inner| inner.push_add(registry))
    }

    /// Blocking [`Pushgateway::delete`] (`DELETE`).
    ///
    /// ```no_run
    /// # fn demo(g: promenade_core::push::BlockingPushgateway) {
    /// g.delete().unwrap();
    /// # }
    /// ```
    pub fn delete(&self) -> Result<(), PushError> {
        self.run(Pushgateway::delete)
    }

    /// The async client inside.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://gw:9091", "j").build_blocking().unwrap();
    /// let _async_client = g.as_async().clone();
    /// ```
    pub fn as_async(&self) -> &Pushgateway {
        &self.inner
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    #[test]
    fn down_gateway_is_a_quick_connect_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let g = Pushgateway::builder(&format!("http://127.0.0.1:{port}"), "j")
            .timeout(Duration::from_secs(5))
            .build_blocking()
            .unwrap();
        let start = std::time::Instant::now();
        let err = g.push(&Registry::new()).unwrap_err();
        assert!(matches!(err, PushError::Connect { .. }), "{err}");
        assert!(err.to_string().contains("could not reach the Pushgateway"));
        assert!(err.to_string().contains("onnection refused"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn hanging_gateway_times_out() {
        // Accepts connections but never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let g = Pushgateway::builder(&format!("http://127.0.0.1:{port}"), "j")
            .timeout(Duration::from_millis(300))
            .build_blocking()
            .unwrap();
        let start = std::time::Instant::now();
        let err = g.delete().unwrap_err();
        assert!(matches!(err, PushError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(3));
        drop(listener);
    }

    /// A loopback HTTP/1.1 server that answers every request with `status` and records
    /// `(method, target, body)`.
    struct Loopback {
        url: String,
        requests: Arc<Mutex<Vec<(String, String, String)>>>,
    }

    impl Loopback {
        fn start(status: u16) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let requests = Arc::new(Mutex::new(Vec::new()));
            let seen = Arc::clone(&requests);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    let Ok(stream) = stream else { return };
                    let seen = Arc::clone(&seen);
                    std::thread::spawn(move || serve(stream, status, &seen));
                }
            });
            Self { url, requests }
        }

        fn requests(&self) -> Vec<(String, String, String)> {
            self.requests.lock().unwrap().clone()
        }
    }

    fn serve(stream: TcpStream, status: u16, seen: &Mutex<Vec<(String, String, String)>>) {
        let mut reader = BufReader::new(stream);
        loop {
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = request_line.split_whitespace();
            let method = parts.next().unwrap_or("").to_owned();
            let target = parts.next().unwrap_or("").to_owned();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                if line.trim_end().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            seen.lock().unwrap().push((
                method,
                target,
                String::from_utf8_lossy(&body).into_owned(),
            ));
            let answer = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
            if reader.get_mut().write_all(answer.as_bytes()).is_err() {
                return;
            }
        }
    }

    fn registry() -> Registry {
        let r = Registry::new();
        r.gauge("pushed", "P.").unwrap().set(7.0);
        r
    }

    /// Pushes, adds and deletes with `gateway`, then checks what `server` received.
    fn round_trip(gateway: &BlockingPushgateway, server: &Loopback) {
        let r = registry();
        gateway.push(&r).unwrap();
        gateway.push_add(&r).unwrap();
        gateway.delete().unwrap();
        let requests = server.requests();
        let methods: Vec<&str> = requests.iter().map(|(m, _, _)| m.as_str()).collect();
        assert_eq!(methods, ["PUT", "POST", "DELETE"]);
        for (_, target, _) in &requests {
            assert_eq!(target, "/metrics/job/j");
        }
        assert!(requests[0].2.contains("pushed 7\n"), "{requests:?}");
    }

    #[test]
    fn blocking_client_outside_any_runtime() {
        let server = Loopback::start(200);
        let gateway = Pushgateway::builder(&server.url, "j")
            .build_blocking()
            .unwrap();
        round_trip(&gateway, &server);
    }

    #[test]
    fn blocking_client_inside_spawn_blocking() {
        for multi_thread in [true, false] {
            let rt = if multi_thread {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
            }
            .unwrap();
            let server = Loopback::start(200);
            let url = server.url.clone();
            rt.block_on(async move {
                tokio::task::spawn_blocking(move || {
                    // Built, used and dropped inside `spawn_blocking`.
                    let gateway = Pushgateway::builder(&url, "j").build_blocking().unwrap();
                    round_trip(&gateway, &server);
                    let err = Pushgateway::builder(&url, "j")
                        .timeout(Duration::from_millis(1))
                        .build_blocking()
                        .unwrap()
                        .push(&registry());
                    assert!(!matches!(err, Err(PushError::Runtime(_))), "{err:?}");
                })
                .await
                .unwrap();
            });
        }
    }

    #[test]
    fn blocking_client_inside_an_async_task_neither_deadlocks_nor_panics_on_drop() {
        // A current-thread runtime has one thread: the request must not need it.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let server = Loopback::start(200);
        let outside = Pushgateway::builder(&server.url, "j")
            .build_blocking()
            .unwrap();
        rt.block_on(async {
            let inside = Pushgateway::builder(&server.url, "j")
                .build_blocking()
                .unwrap();
            round_trip(&outside, &server);
            inside.delete().unwrap();
            drop(inside);
            drop(outside);
        });
        assert_eq!(server.requests().len(), 4);
    }

    #[test]
    fn errors_from_the_scoped_thread_reach_the_caller() {
        let server = Loopback::start(500);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let url = server.url.clone();
        let err = rt
            .block_on(async move {
                tokio::task::spawn_blocking(move || {
                    Pushgateway::builder(&url, "j")
                        .build_blocking()
                        .unwrap()
                        .delete()
                })
                .await
            })
            .unwrap()
            .unwrap_err();
        assert!(
            matches!(&err, PushError::Status { status, .. } if status.as_u16() == 500),
            "{err}"
        );
    }
}

//! What a scrape that must run collectors becomes: a [`ScrapeJob`] the adapter runs off its
//! executor, the concurrency slots ([`ScrapePermit`]) and the scrape timeout.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http::Response;

use super::*;
use crate::Registry;
use crate::encoding::Negotiated;

/// The scrape slots shared by a handler and its clones.
#[derive(Debug, Clone)]
pub(super) struct ConcurrencyLimit {
    pub(super) max: usize,
    pub(super) running: Arc<AtomicUsize>,
}

impl ConcurrencyLimit {
    pub(super) fn try_acquire(&self) -> Option<ScrapePermit> {
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| ScrapePermit {
                running: Arc::clone(&self.running),
            })
    }
}

/// One of the slots of [`ScrapeHandlerBuilder::max_concurrent_scrapes`](super::ScrapeHandlerBuilder::max_concurrent_scrapes), held by a
/// [`ScrapeJob`] until its collectors and encoding have finished (or it is dropped unrun).
///
/// ```
/// use http::{HeaderMap, Method};
/// use promenade_core::scrape::{Prepared, ScrapeHandler};
/// let handler = ScrapeHandler::builder(&promenade_core::Registry::new()).max_concurrent_scrapes(1).build().unwrap();
/// let Prepared::Encode(job) = handler.prepare(&Method::GET, &HeaderMap::new()) else { unreachable!() };
/// assert!(job.permit().is_some()); // the only slot is taken
/// assert_eq!(handler.prepare(&Method::GET, &HeaderMap::new()).into_response().unwrap().status(), 503);
/// drop(job); // frees it
/// assert!(matches!(handler.prepare(&Method::GET, &HeaderMap::new()), Prepared::Encode(_)));
/// ```
#[derive(Debug)]
pub struct ScrapePermit {
    pub(super) running: Arc<AtomicUsize>,
}

impl Drop for ScrapePermit {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What [`ScrapeHandler::prepare`] decided about a request.
///
/// ```
/// use http::{HeaderMap, Method};
/// use promenade_core::scrape::{Prepared, ScrapeHandler};
/// let handler = ScrapeHandler::new(promenade_core::Registry::new());
/// // HEAD needs no collector: answered at once.
/// assert!(matches!(handler.prepare(&Method::HEAD, &HeaderMap::new()), Prepared::Answer(_)));
/// // GET has to collect and encode.
/// assert!(matches!(handler.prepare(&Method::GET, &HeaderMap::new()), Prepared::Encode(_)));
/// ```
#[derive(Debug)]
#[must_use]
pub enum Prepared {
    /// The complete response; no collector has to run (405, 401, 503 when all scrape slots
    /// are taken, and every `HEAD`).
    Answer(Response<Bytes>),
    /// Collectors have to run and their output be encoded: run the job off the async
    /// executor ([`ScrapeJob::spawn_with`]), or in place with [`ScrapeJob::run`].
    Encode(ScrapeJob),
}

impl Prepared {
    /// The response if it is already known.
    ///
    /// ```
    /// use http::{HeaderMap, Method};
    /// let handler = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// let answer = handler.prepare(&Method::DELETE, &HeaderMap::new()).into_response();
    /// assert_eq!(answer.unwrap().status(), 405);
    /// ```
    pub fn into_response(self) -> Option<Response<Bytes>> {
        match self {
            Prepared::Answer(response) => Some(response),
            Prepared::Encode(_) => None,
        }
    }
}

/// A scrape whose collectors still have to run: everything [`ScrapeHandler::prepare`]
/// negotiated, and the concurrency slot if the handler limits scrapes. `Send + 'static`, so
/// it can move to a blocking thread.
///
/// ```
/// use http::{HeaderMap, Method, StatusCode};
/// use promenade_core::scrape::{Prepared, ScrapeHandler};
/// let registry = promenade_core::Registry::new();
/// registry.gauge("up", "Up.").unwrap().set(1.0);
/// let handler = ScrapeHandler::new(registry);
/// if let Prepared::Encode(job) = handler.prepare(&Method::GET, &HeaderMap::new()) {
///     let response = std::thread::spawn(move || job.run()).join().unwrap();
///     assert_eq!(response.status(), StatusCode::OK);
///     assert!(response.body().ends_with(b"up 1\n"));
/// }
/// ```
#[must_use = "a job does nothing unless it is run"]
pub struct ScrapeJob {
    pub(super) registry: Registry,
    pub(super) negotiated: Negotiated,
    pub(super) gzip: bool,
    pub(super) timeout: Option<Duration>,
    pub(super) permit: Option<ScrapePermit>,
}

impl std::fmt::Debug for ScrapeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScrapeJob")
            .field("negotiated", &self.negotiated)
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .field("permit", &self.permit)
            .finish_non_exhaustive()
    }
}

impl ScrapeJob {
    /// The handler's [scrape timeout](super::ScrapeHandlerBuilder::timeout), if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// use http::{HeaderMap, Method};
    /// use promenade_core::scrape::{Prepared, ScrapeHandler};
    /// let handler = ScrapeHandler::builder(&promenade_core::Registry::new()).timeout(Duration::from_secs(5)).build().unwrap();
    /// let Prepared::Encode(job) = handler.prepare(&Method::GET, &HeaderMap::new()) else { unreachable!() };
    /// assert_eq!(job.timeout(), Some(Duration::from_secs(5)));
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The concurrency slot this job holds, if the handler limits concurrent scrapes.
    ///
    /// ```
    /// use http::{HeaderMap, Method};
    /// use promenade_core::scrape::{Prepared, ScrapeHandler};
    /// let handler = ScrapeHandler::new(promenade_core::Registry::new());
    /// let Prepared::Encode(job) = handler.prepare(&Method::GET, &HeaderMap::new()) else { unreachable!() };
    /// assert!(job.permit().is_none()); // no limit set
    /// ```
    pub fn permit(&self) -> Option<&ScrapePermit> {
        self.permit.as_ref()
    }

    /// Runs the collectors and encodes, on the calling thread (which it may block for as
    /// long as the slowest collector). A panic in a collector or encoder becomes a `500`
    /// response. The concurrency slot is released when this returns.
    ///
    /// ```
    /// use http::{HeaderMap, Method, StatusCode};
    /// use promenade_core::scrape::{Prepared, ScrapeHandler};
    /// let registry = promenade_core::Registry::new();
    /// registry.gauge_fn("broken", "Panics.", || panic!("sensor unplugged")).unwrap();
    /// let handler = ScrapeHandler::new(registry);
    /// let Prepared::Encode(job) = handler.prepare(&Method::GET, &HeaderMap::new()) else { unreachable!() };
    /// let response = job.run();
    /// assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    /// ```
    pub fn run(self) -> Response<Bytes> {
        let ScrapeJob {
            registry,
            negotiated,
            gzip,
            permit,
            ..
        } = self;
        // The registry reports collector failures as errors; this catches whatever still
        // unwinds, so that an adapter answers 500 instead of losing the connection.
        let result = catch_unwind(AssertUnwindSafe(|| {
            encode_response(&registry, &negotiated, gzip)
        }));
        // The slot is held until the work has really ended.
        drop(permit);
        result.unwrap_or_else(|payload| {
            error_response(&format!(
                "scrape failed: a collector or encoder panicked: {}\n",
                panic_message(payload.as_ref())
            ))
        })
    }

    /// Runs the job through `spawn` (the runtime's blocking pool: tokio's `spawn_blocking`,
    /// actix-web's `web::block`, …) and waits for it at most the
    /// [scrape timeout](super::ScrapeHandlerBuilder::timeout), counted from this call. On
    /// timeout the answer is `503` with `Retry-After` while the work runs on to its end,
    /// keeping its concurrency slot; a failed task (`Err` from the spawned future) is a
    /// `500`. `spawn` is called right away, so the work starts even if the returned future
    /// is never polled. The timer needs no runtime (one shared timer thread).
    ///
    /// ```
    /// use std::time::Duration;
    /// use http::{HeaderMap, Method, StatusCode};
    /// use promenade_core::scrape::{Prepared, ScrapeHandler};
    ///
    /// let registry = promenade_core::Registry::new();
    /// registry.gauge_fn("slow", "Slow.", || { std::thread::sleep(Duration::from_millis(300)); 1.0 }).unwrap();
    /// let handler = ScrapeHandler::builder(&registry).timeout(Duration::from_millis(50)).build().unwrap();
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let response = rt.block_on(async {
    ///     match handler.prepare(&Method::GET, &HeaderMap::new()) {
    ///         Prepared::Answer(response) => response,
    ///         Prepared::Encode(job) => job.spawn_with(|work| tokio::task::spawn_blocking(work)).await,
    ///     }
    /// });
    /// assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(response.headers()["retry-after"], "1");
    /// ```
    pub fn spawn_with<S, T, E>(self, spawn: S) -> impl Future<Output = Response<Bytes>>
    where
        S: FnOnce(BlockingWork) -> T,
        T: Future<Output = Result<Response<Bytes>, E>>,
        E: std::fmt::Display,
    {
        let timer = self.timeout.map(|t| (timer::Sleep::new(t), t));
        let task = spawn(Box::new(move || self.run()));
        wait_for_job(task, timer)
    }
}

/// The closure [`ScrapeJob::spawn_with`] hands to the blocking-pool spawner.
///
/// ```
/// let work: promenade_core::scrape::BlockingWork = Box::new(|| http::Response::new(bytes::Bytes::new()));
/// assert_eq!(work().status(), 200);
/// ```
pub type BlockingWork = Box<dyn FnOnce() -> Response<Bytes> + Send + 'static>;

async fn wait_for_job<T, E>(task: T, timer: Option<(timer::Sleep, Duration)>) -> Response<Bytes>
where
    T: Future<Output = Result<Response<Bytes>, E>>,
    E: std::fmt::Display,
{
    let mut task = std::pin::pin!(task);
    let mut timer = timer;
    std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = task.as_mut().poll(cx) {
            return Poll::Ready(result.unwrap_or_else(|e| {
                error_response(&format!("scrape failed: the scrape task failed: {e}\n"))
            }));
        }
        if let Some((sleep, timeout)) = timer.as_mut()
            && Pin::new(sleep).poll(cx).is_ready()
        {
            return Poll::Ready(unavailable(&format!(
                "scrape timed out after {} ms\n",
                timeout.as_millis()
            )));
        }
        Poll::Pending
    })
    .await
}

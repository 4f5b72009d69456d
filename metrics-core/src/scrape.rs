//! The `/metrics` response, independent of any web framework: request method and headers
//! in, status, headers and body out. Each adapter's scrape route is a few lines around it.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

use crate::Registry;
use crate::encoding::gzip;
use crate::encoding::{Negotiated, negotiate};

/// Credentials the scrape endpoint requires.
///
/// ```
/// use http::{HeaderMap, Method, StatusCode};
/// use promenade_core::scrape::{ScrapeAuth, ScrapeHandler};
/// let auth = ScrapeAuth::Basic { username: "prometheus".into(), password: "secret".into() };
/// assert_eq!(format!("{auth:?}"), "Basic(prometheus:***)"); // secrets are never printed
/// let handler = ScrapeHandler::new(promenade_core::Registry::new()).with_auth(auth);
/// let mut headers = HeaderMap::new();
/// // base64("prometheus:secret")
/// headers.insert("authorization", "Basic cHJvbWV0aGV1czpzZWNyZXQ=".parse().unwrap());
/// assert_eq!(handler.respond(&Method::GET, &headers).status(), StatusCode::OK);
/// headers.insert("authorization", "Basic d3Jvbmc6d3Jvbmc=".parse().unwrap());
/// let denied = handler.respond(&Method::GET, &headers);
/// assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(denied.headers()["www-authenticate"], "Basic realm=\"metrics\"");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum ScrapeAuth {
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
}

impl std::fmt::Debug for ScrapeAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            ScrapeAuth::Bearer(_) => f.write_str("Bearer(***)"),
            ScrapeAuth::Basic { username, .. } => write!(f, "Basic({username}:***)"),
        }
    }
}

impl ScrapeAuth {
    fn expected_header(&self) -> String {
        match self {
            ScrapeAuth::Bearer(token) => format!("Bearer {token}"),
            ScrapeAuth::Basic { username, password } => {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD
                        .encode(format!("{username}:{password}"))
                )
            }
        }
    }

    fn challenge(&self) -> &'static str {
        match self {
            ScrapeAuth::Bearer(_) => "Bearer realm=\"metrics\"",
            ScrapeAuth::Basic { .. } => "Basic realm=\"metrics\"",
        }
    }
}

/// Builds `/metrics` responses for a registry: GET and HEAD (405 otherwise), optional auth,
/// content negotiation from `Accept`, gzip when `Accept-Encoding` allows it, and optional
/// limits on concurrent scrapes and on scrape time (both off by default).
///
/// Collectors run user code and may block, so an async adapter does not call
/// [`respond`](Self::respond) on its executor: it calls [`prepare`](Self::prepare), which
/// answers at once whatever runs no collector (405, 401, `HEAD`, 503 when busy), and runs
/// the [`ScrapeJob`] it may return on a blocking pool with [`ScrapeJob::spawn_with`].
///
/// ```
/// use http::{HeaderMap, Method, StatusCode};
/// use promenade_core::{scrape::ScrapeHandler, Registry};
///
/// let registry = Registry::new();
/// registry.counter("hits_total", "Hits.").unwrap().inc();
/// let handler = ScrapeHandler::new(registry);
/// let response = handler.respond(&Method::GET, &HeaderMap::new());
/// assert_eq!(response.status(), StatusCode::OK);
/// assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8; escaping=underscores");
/// assert!(std::str::from_utf8(response.body()).unwrap().contains("hits_total 1"));
/// assert_eq!(handler.respond(&Method::POST, &HeaderMap::new()).status(), StatusCode::METHOD_NOT_ALLOWED);
/// ```
#[derive(Clone)]
pub struct ScrapeHandler {
    registry: Registry,
    auth: Option<(ScrapeAuth, String)>,
    gzip: bool,
    limit: Option<ConcurrencyLimit>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for ScrapeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // By hand: the expected `Authorization` value holds the secret.
        f.debug_struct("ScrapeHandler")
            .field("registry", &self.registry)
            .field("auth", &self.auth.as_ref().map(|(auth, _)| auth))
            .field("gzip", &self.gzip)
            .field("max_concurrent_scrapes", &self.max_concurrent_scrapes())
            .field("scrape_timeout", &self.timeout)
            .finish()
    }
}

/// The scrape slots shared by a handler and its clones.
#[derive(Debug, Clone)]
struct ConcurrencyLimit {
    max: usize,
    running: Arc<AtomicUsize>,
}

impl ConcurrencyLimit {
    fn try_acquire(&self) -> Option<ScrapePermit> {
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

/// One of the slots of [`ScrapeHandler::with_max_concurrent_scrapes`], held by a
/// [`ScrapeJob`] until its collectors and encoding have finished (or it is dropped unrun).
///
/// ```
/// use http::{HeaderMap, Method};
/// use promenade_core::scrape::{Prepared, ScrapeHandler};
/// let handler = ScrapeHandler::new(promenade_core::Registry::new()).with_max_concurrent_scrapes(1);
/// let Prepared::Encode(job) = handler.prepare(&Method::GET, &HeaderMap::new()) else { unreachable!() };
/// assert!(job.permit().is_some()); // the only slot is taken
/// assert_eq!(handler.prepare(&Method::GET, &HeaderMap::new()).into_response().unwrap().status(), 503);
/// drop(job); // frees it
/// assert!(matches!(handler.prepare(&Method::GET, &HeaderMap::new()), Prepared::Encode(_)));
/// ```
#[derive(Debug)]
pub struct ScrapePermit {
    running: Arc<AtomicUsize>,
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
    registry: Registry,
    negotiated: Negotiated,
    gzip: bool,
    timeout: Option<Duration>,
    permit: Option<ScrapePermit>,
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
    /// The handler's [scrape timeout](ScrapeHandler::with_scrape_timeout), if any.
    ///
    /// ```
    /// use std::time::Duration;
    /// use http::{HeaderMap, Method};
    /// use promenade_core::scrape::{Prepared, ScrapeHandler};
    /// let handler = ScrapeHandler::new(promenade_core::Registry::new()).with_scrape_timeout(Duration::from_secs(5));
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
    /// [scrape timeout](ScrapeHandler::with_scrape_timeout), counted from this call. On
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
    /// let handler = ScrapeHandler::new(registry).with_scrape_timeout(Duration::from_millis(50));
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

impl ScrapeHandler {
    /// A handler for `registry`, gzip allowed, no auth, no limits.
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// ```
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            auth: None,
            gzip: true,
            limit: None,
            timeout: None,
        }
    }

    /// Requires credentials; a missing or wrong `Authorization` header gets 401 and no metrics.
    ///
    /// ```
    /// use http::{HeaderMap, Method, StatusCode};
    /// use promenade_core::scrape::{ScrapeAuth, ScrapeHandler};
    /// let h = ScrapeHandler::new(promenade_core::Registry::new()).with_auth(ScrapeAuth::Bearer("s3cret".into()));
    /// assert_eq!(h.respond(&Method::GET, &HeaderMap::new()).status(), StatusCode::UNAUTHORIZED);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("authorization", "Bearer s3cret".parse().unwrap());
    /// assert_eq!(h.respond(&Method::GET, &headers).status(), StatusCode::OK);
    /// ```
    #[must_use]
    pub fn with_auth(mut self, auth: ScrapeAuth) -> Self {
        let expected = auth.expected_header();
        self.auth = Some((auth, expected));
        self
    }

    /// Turns gzip compression off even when the scraper accepts it.
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new()).with_gzip(false);
    /// ```
    #[must_use]
    pub fn with_gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// At most `max` scrapes run collectors at the same time (`0` counts as 1). One more
    /// gets `503 Service Unavailable` at once, with `Retry-After: 1` and a short text body,
    /// and runs no collector. A scrape keeps its slot until its collectors and encoding have
    /// really finished, even after the adapter gave up on it
    /// ([`with_scrape_timeout`](Self::with_scrape_timeout)), so slow collectors cannot pile
    /// up. `HEAD`, 401 and 405 take no slot. Clones of the handler share the slots. Off by
    /// default.
    ///
    /// ```
    /// use http::{HeaderMap, Method, StatusCode};
    /// use promenade_core::scrape::{Prepared, ScrapeHandler};
    /// let handler = ScrapeHandler::new(promenade_core::Registry::new()).with_max_concurrent_scrapes(1);
    /// assert_eq!(handler.max_concurrent_scrapes(), Some(1));
    /// let first = handler.prepare(&Method::GET, &HeaderMap::new()); // holds the slot
    /// let busy = handler.respond(&Method::GET, &HeaderMap::new());
    /// assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(busy.headers()["retry-after"], "1");
    /// drop(first);
    /// assert_eq!(handler.respond(&Method::GET, &HeaderMap::new()).status(), StatusCode::OK);
    /// ```
    #[must_use]
    pub fn with_max_concurrent_scrapes(mut self, max: usize) -> Self {
        self.limit = Some(ConcurrencyLimit {
            max: max.max(1),
            running: Arc::new(AtomicUsize::new(0)),
        });
        self
    }

    /// The limit set with [`with_max_concurrent_scrapes`](Self::with_max_concurrent_scrapes).
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// assert_eq!(h.max_concurrent_scrapes(), None);
    /// ```
    pub fn max_concurrent_scrapes(&self) -> Option<usize> {
        self.limit.as_ref().map(|l| l.max)
    }

    /// Gives up on a scrape whose collectors and encoding have not finished within
    /// `timeout`: the adapters answer `503 Service Unavailable` (with `Retry-After: 1`).
    /// Collectors cannot be interrupted, so the abandoned work runs on to its end on the
    /// blocking pool, keeping its [concurrency slot](Self::with_max_concurrent_scrapes);
    /// combine both so that repeated slow scrapes cannot pile up. Enforced by
    /// [`ScrapeJob::spawn_with`], which every adapter uses; [`respond`](Self::respond) runs
    /// in place and cannot give up. Off by default.
    ///
    /// ```
    /// use std::time::Duration;
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new())
    ///     .with_scrape_timeout(Duration::from_secs(8))
    ///     .with_max_concurrent_scrapes(2);
    /// assert_eq!(h.scrape_timeout(), Some(Duration::from_secs(8)));
    /// ```
    #[must_use]
    pub fn with_scrape_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The timeout set with [`with_scrape_timeout`](Self::with_scrape_timeout).
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// assert_eq!(h.scrape_timeout(), None);
    /// ```
    pub fn scrape_timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The registry this handler exposes.
    ///
    /// ```
    /// let r = promenade_core::Registry::new();
    /// let h = promenade_core::scrape::ScrapeHandler::new(r.clone());
    /// h.registry().gauge("g", "G.").unwrap();
    /// ```
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Everything about a scrape request that needs no collector: method (405), auth
    /// (401), negotiation, `HEAD` (the GET's headers, an empty body, no collector run) and
    /// the concurrency limit (503). Cheap, so adapters call it on the async executor;
    /// what is left is a [`ScrapeJob`] to run on a blocking pool.
    ///
    /// `HEAD` answers carry no `Content-Length` (the length is not known without encoding):
    /// adapters must not let their framework fill in `0`.
    ///
    /// ```
    /// use http::{HeaderMap, Method};
    /// use promenade_core::scrape::{Prepared, ScrapeHandler};
    /// let registry = promenade_core::Registry::new();
    /// registry.gauge_fn("expensive", "Expensive.", || unreachable!("HEAD runs no collector")).unwrap();
    /// let handler = ScrapeHandler::new(registry);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("accept-encoding", "gzip".parse().unwrap());
    /// let head = handler.prepare(&Method::HEAD, &headers).into_response().unwrap();
    /// assert_eq!(head.status(), 200);
    /// assert_eq!(head.headers()["content-encoding"], "gzip");
    /// assert!(head.headers().get("content-length").is_none());
    /// assert!(head.body().is_empty());
    /// ```
    pub fn prepare(&self, method: &Method, headers: &HeaderMap) -> Prepared {
        if method != Method::GET && method != Method::HEAD {
            return Prepared::Answer(
                plain(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method not allowed; use GET or HEAD\n",
                )
                .map(|mut r| {
                    r.headers_mut()
                        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                    r
                })
                .unwrap_or_else(fallback),
            );
        }
        if let Some((auth, expected)) = &self.auth {
            let given = headers
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !credentials_match(given, expected.as_bytes()) {
                return Prepared::Answer(
                    plain(StatusCode::UNAUTHORIZED, "unauthorized\n")
                        .map(|mut r| {
                            r.headers_mut().insert(
                                header::WWW_AUTHENTICATE,
                                HeaderValue::from_static(auth.challenge()),
                            );
                            r
                        })
                        .unwrap_or_else(fallback),
                );
            }
        }
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
        let negotiated = negotiate(accept);
        let gzip = self.gzip && accepts_gzip(headers);
        if method == Method::HEAD {
            // The GET's headers without running a collector.
            return Prepared::Answer(ok_response(&negotiated, gzip, Bytes::new()));
        }
        let permit = match &self.limit {
            Some(limit) => match limit.try_acquire() {
                Some(permit) => Some(permit),
                None => {
                    return Prepared::Answer(unavailable(
                        "too many concurrent scrapes; try again later\n",
                    ));
                }
            },
            None => None,
        };
        Prepared::Encode(ScrapeJob {
            registry: self.registry.clone(),
            negotiated,
            gzip,
            timeout: self.timeout,
            permit,
        })
    }

    /// Answers one scrape request in place: [`prepare`](Self::prepare), then
    /// [`ScrapeJob::run`] on the calling thread. Fine in blocking code; async adapters run
    /// the job on a blocking pool instead (and only they enforce the scrape timeout).
    ///
    /// ```
    /// use http::{HeaderMap, Method, StatusCode};
    /// use promenade_core::{scrape::ScrapeHandler, Registry};
    /// let registry = Registry::new();
    /// registry.gauge("up", "Up.").unwrap().set(1.0);
    /// let handler = ScrapeHandler::new(registry);
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("accept", "application/openmetrics-text;version=1.0.0".parse().unwrap());
    /// let response = handler.respond(&Method::GET, &headers);
    /// assert_eq!(response.status(), StatusCode::OK);
    /// assert_eq!(response.headers()["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores");
    /// assert!(response.body().ends_with(b"up 1.0\n# EOF\n"));
    ///
    /// headers.insert("accept-encoding", "gzip".parse().unwrap());
    /// let response = handler.respond(&Method::GET, &headers);
    /// assert_eq!(response.headers()["content-encoding"], "gzip");
    /// assert!(response.body().starts_with(&[0x1f, 0x8b])); // gzip magic
    ///
    /// // HEAD gets the same headers and no body.
    /// assert!(handler.respond(&Method::HEAD, &HeaderMap::new()).body().is_empty());
    /// ```
    pub fn respond(&self, method: &Method, headers: &HeaderMap) -> Response<Bytes> {
        match self.prepare(method, headers) {
            Prepared::Answer(response) => response,
            Prepared::Encode(job) => job.run(),
        }
    }
}

/// Collects and encodes: the blocking part of a scrape.
fn encode_response(registry: &Registry, negotiated: &Negotiated, gzip: bool) -> Response<Bytes> {
    let body = match registry.encode_negotiated(negotiated) {
        Ok(body) => body,
        Err(e) => return error_response(&format!("encoding failed: {e}\n")),
    };
    let (body, gzip) = if gzip {
        match gzip::compress(&body, gzip::Compression::fast()) {
            Ok(zipped) => (Bytes::from(zipped), true),
            // Compression failed: the plain body is still a valid answer.
            Err(_) => (Bytes::from(body), false),
        }
    } else {
        (Bytes::from(body), false)
    };
    ok_response(negotiated, gzip, body)
}

/// A 200 with the negotiated headers.
fn ok_response(negotiated: &Negotiated, gzip: bool, body: Bytes) -> Response<Bytes> {
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, negotiated.content_type())
        .header(header::VARY, "Accept, Accept-Encoding");
    if gzip {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
    }
    builder.body(body).unwrap_or_else(fallback)
}

/// A 500 with `text` as the body.
fn error_response(text: &str) -> Response<Bytes> {
    plain(StatusCode::INTERNAL_SERVER_ERROR, text).unwrap_or_else(fallback)
}

/// A 503 with `Retry-After` and `text` as the body.
fn unavailable(text: &str) -> Response<Bytes> {
    plain(StatusCode::SERVICE_UNAVAILABLE, text)
        .map(|mut r| {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        })
        .unwrap_or_else(fallback)
}

/// The message of a panic payload (`panic!` with a literal or a format string), shortened.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    // A body line, not a dump: at most 200 characters.
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn plain(status: StatusCode, text: &str) -> Result<Response<Bytes>, ()> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Bytes::from(text.to_owned()))
        .map_err(|_| ())
}

fn fallback<E>(_: E) -> Response<Bytes> {
    let mut r = Response::new(Bytes::from_static(b"internal error\n"));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

/// Whether `Accept-Encoding` lists gzip (or `*`) with a non-zero weight.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .next()
                .map_or(1.0, |q| q.trim().parse::<f64>().unwrap_or(0.0));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && q > 0.0
        })
}

/// `Authorization` values match: the scheme case-insensitively (RFC 9110 §11.1), the
/// credentials exactly and in constant time.
fn credentials_match(given: &[u8], expected: &[u8]) -> bool {
    fn split(v: &[u8]) -> (&[u8], &[u8]) {
        v.split_at(v.iter().position(|&b| b == b' ').unwrap_or(v.len()))
    }
    let (given_scheme, given_rest) = split(given);
    let (expected_scheme, expected_rest) = split(expected);
    given_scheme.eq_ignore_ascii_case(expected_scheme) & constant_time_eq(given_rest, expected_rest)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A timer that needs no async runtime: the scrape timeout must work on tokio runtimes
/// built without timers, on actix and anywhere else. One lazily started thread sleeps
/// until the earliest deadline and wakes the tasks whose deadline has passed.
mod timer {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    /// Completes once its deadline has passed. If the timer thread cannot be started, it
    /// never completes (the timeout is then not enforced; nothing panics).
    pub(super) struct Sleep {
        // `None`: too far away for an `Instant`, never fires.
        deadline: Option<Instant>,
        shared: Option<Arc<Shared>>,
    }

    #[derive(Default)]
    struct Shared {
        fired: AtomicBool,
        waker: Mutex<Option<Waker>>,
    }

    struct Entry {
        deadline: Instant,
        seq: u64,
        // Weak: a finished scrape drops its sleep, and the entry is then cheap to skip.
        shared: Weak<Shared>,
    }

    impl PartialEq for Entry {
        fn eq(&self, other: &Self) -> bool {
            (self.deadline, self.seq) == (other.deadline, other.seq)
        }
    }
    impl Eq for Entry {}
    impl PartialOrd for Entry {
        fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Entry {
        fn cmp(&self, other: &Self) -> std::cmp::Ordering {
            (self.deadline, self.seq).cmp(&(other.deadline, other.seq))
        }
    }

    #[derive(Default)]
    struct Queue {
        entries: BinaryHeap<Reverse<Entry>>,
        seq: u64,
    }

    #[derive(Default)]
    struct Timer {
        queue: Mutex<Queue>,
        changed: Condvar,
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn timer() -> Option<&'static Timer> {
        static TIMER: OnceLock<Option<&'static Timer>> = OnceLock::new();
        *TIMER.get_or_init(|| {
            // Leaked on purpose: one per process, used by a thread that never ends.
            let timer: &'static Timer = Box::leak(Box::default());
            std::thread::Builder::new()
                .name("promenade-scrape-timer".into())
                .spawn(move || run(timer))
                .ok()
                .map(|_| timer)
        })
    }

    fn run(timer: &Timer) {
        let mut queue = lock(&timer.queue);
        loop {
            let now = Instant::now();
            let mut due = Vec::new();
            while queue
                .entries
                .peek()
                .is_some_and(|Reverse(e)| e.deadline <= now)
            {
                if let Some(Reverse(entry)) = queue.entries.pop() {
                    due.push(entry.shared);
                }
            }
            if !due.is_empty() {
                // Wake outside the lock: a waker may run arbitrary code.
                drop(queue);
                for shared in due.iter().filter_map(Weak::upgrade) {
                    shared.fired.store(true, Ordering::Release);
                    if let Some(waker) = lock(&shared.waker).take() {
                        waker.wake();
                    }
                }
                queue = lock(&timer.queue);
                continue;
            }
            queue = match queue.entries.peek() {
                Some(Reverse(next)) => {
                    let wait = next.deadline.saturating_duration_since(now);
                    timer
                        .changed
                        .wait_timeout(queue, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => timer
                    .changed
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner),
            };
        }
    }

    impl Sleep {
        pub(super) fn new(after: Duration) -> Self {
            Self {
                deadline: Instant::now().checked_add(after),
                shared: None,
            }
        }
    }

    impl Future for Sleep {
        type Output = ();

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let Some(deadline) = self.deadline else {
                return Poll::Pending;
            };
            if Instant::now() >= deadline {
                return Poll::Ready(());
            }
            let shared = match &self.shared {
                Some(shared) => Arc::clone(shared),
                None => {
                    let shared = Arc::new(Shared::default());
                    if let Some(timer) = timer() {
                        let mut queue = lock(&timer.queue);
                        queue.seq = queue.seq.wrapping_add(1);
                        let seq = queue.seq;
                        queue.entries.push(Reverse(Entry {
                            deadline,
                            seq,
                            shared: Arc::downgrade(&shared),
                        }));
                        drop(queue);
                        timer.changed.notify_one();
                    }
                    self.shared = Some(Arc::clone(&shared));
                    shared
                }
            };
            *lock(&shared.waker) = Some(cx.waker().clone());
            // Checked after storing the waker, so a firing in between is not lost.
            if shared.fired.load(Ordering::Acquire) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_scheme_is_case_insensitive_credentials_are_not() {
        let expected = b"Bearer s3cret";
        assert!(credentials_match(b"Bearer s3cret", expected));
        assert!(credentials_match(b"bearer s3cret", expected));
        assert!(credentials_match(b"BEARER s3cret", expected));
        assert!(!credentials_match(b"Bearer S3CRET", expected));
        assert!(!credentials_match(b"Basic s3cret", expected));
        assert!(!credentials_match(b"Bearers3cret", expected));
        assert!(!credentials_match(b"", expected));
        assert!(!credentials_match(b"Bearer s3cret ", expected));
    }

    #[test]
    fn gzip_detection() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("deflate, gzip;q=0"),
        );
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity, gzip"),
        );
        assert!(accepts_gzip(&h));
    }

    #[test]
    fn gzip_body_decodes() {
        let r = Registry::new();
        r.gauge("g", "G.").unwrap().set(5.0);
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let resp = ScrapeHandler::new(r).respond(&Method::GET, &h);
        assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&resp.body()[..]),
            &mut text,
        )
        .unwrap();
        assert!(text.contains("g 5\n"));
    }

    #[cfg(feature = "protobuf")]
    #[test]
    fn protobuf_and_escaping_are_negotiated() {
        let r = Registry::new();
        r.gauge("g", "G.").unwrap().set(1.0);
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static(
                "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=values",
            ),
        );
        let resp = ScrapeHandler::new(r.clone()).respond(&Method::GET, &h);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=values"
        );
        let families = crate::encoding::protobuf::decode_delimited(resp.body()).unwrap();
        assert_eq!(families[0].name.as_deref(), Some("g"));
    }

    fn counting(registry: &Registry) -> Arc<AtomicUsize> {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&calls);
        registry
            .gauge_fn("calls", "Calls.", move || {
                c.fetch_add(1, Ordering::SeqCst) as f64
            })
            .unwrap();
        calls
    }

    #[test]
    fn head_has_the_get_headers_and_runs_no_collector() {
        let registry = Registry::new();
        let calls = counting(&registry);
        let handler = ScrapeHandler::new(registry);
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/openmetrics-text;version=1.0.0"),
        );
        let get = handler.respond(&Method::GET, &h);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let head = handler.respond(&Method::HEAD, &h);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "HEAD ran a collector");
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers(), get.headers());
        assert!(head.headers().get(header::CONTENT_LENGTH).is_none());
        assert!(head.body().is_empty());
    }

    #[test]
    fn auth_is_checked_before_head_and_the_limit() {
        let handler = ScrapeHandler::new(Registry::new())
            .with_auth(ScrapeAuth::Bearer("t".into()))
            .with_max_concurrent_scrapes(1);
        let _held = handler.prepare(&Method::GET, &{
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
            h
        });
        for method in [Method::GET, Method::HEAD] {
            let r = handler.respond(&method, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method}");
        }
    }

    #[test]
    fn concurrency_slots_are_shared_by_clones_and_released_after_the_work() {
        let handler = ScrapeHandler::new(Registry::new()).with_max_concurrent_scrapes(2);
        let clone = handler.clone();
        let a = handler.prepare(&Method::GET, &HeaderMap::new());
        let b = clone.prepare(&Method::GET, &HeaderMap::new());
        assert!(matches!(a, Prepared::Encode(_)) && matches!(b, Prepared::Encode(_)));
        let busy = handler.respond(&Method::GET, &HeaderMap::new());
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
        assert!(busy.body().starts_with(b"too many concurrent scrapes"));
        // HEAD, 405 and 401 take no slot.
        assert_eq!(
            handler.respond(&Method::HEAD, &HeaderMap::new()).status(),
            200
        );
        assert_eq!(
            handler.respond(&Method::PUT, &HeaderMap::new()).status(),
            405
        );
        if let Prepared::Encode(job) = a {
            assert_eq!(job.run().status(), StatusCode::OK);
        }
        assert!(matches!(
            clone.prepare(&Method::GET, &HeaderMap::new()),
            Prepared::Encode(_)
        ));
        drop(b);
        // Zero is taken as one.
        let one = ScrapeHandler::new(Registry::new()).with_max_concurrent_scrapes(0);
        assert_eq!(one.max_concurrent_scrapes(), Some(1));
        assert_eq!(one.respond(&Method::GET, &HeaderMap::new()).status(), 200);
    }

    #[test]
    fn a_panic_while_encoding_is_a_500_and_frees_the_slot() {
        let registry = Registry::new();
        registry
            .gauge_fn("boom", "Boom.", || panic!("collector exploded"))
            .unwrap();
        let handler = ScrapeHandler::new(registry).with_max_concurrent_scrapes(1);
        for _ in 0..2 {
            let r = handler.respond(&Method::GET, &HeaderMap::new());
            assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
            assert!(!String::from_utf8_lossy(r.body()).contains("# TYPE"));
        }
    }

    #[test]
    fn panic_messages_are_read_and_shortened() {
        assert_eq!(panic_message(&"static"), "static");
        assert_eq!(panic_message(&String::from("owned")), "owned");
        assert_eq!(panic_message(&42u8), "(no message)");
        let long = "é".repeat(300);
        assert_eq!(panic_message(&long).chars().count(), 201);
    }

    #[test]
    fn the_sleep_fires_in_order_without_a_runtime_timer() {
        // A current-thread runtime without `enable_time`: the scrape timer does not need it.
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let started = std::time::Instant::now();
        rt.block_on(async {
            let long = timer::Sleep::new(Duration::from_millis(200));
            let short = timer::Sleep::new(Duration::from_millis(50));
            short.await;
            let after_short = started.elapsed();
            assert!(after_short >= Duration::from_millis(50));
            assert!(after_short < Duration::from_millis(190), "{after_short:?}");
            long.await;
        });
        assert!(started.elapsed() >= Duration::from_millis(200));
        // A duration past any Instant does not panic.
        drop(timer::Sleep::new(Duration::MAX));
    }

    #[test]
    fn spawn_with_times_out_keeps_the_slot_then_releases_it() {
        let registry = Registry::new();
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = std::sync::Mutex::new(wait);
        let (entered, entered_rx) = std::sync::mpsc::channel::<()>();
        let entered = std::sync::Mutex::new(entered);
        registry
            .gauge_fn("slow", "Slow.", move || {
                let _ = entered.lock().unwrap().send(());
                let _ = wait.lock().unwrap().recv_timeout(Duration::from_secs(10));
                1.0
            })
            .unwrap();
        let handler = ScrapeHandler::new(registry)
            .with_max_concurrent_scrapes(1)
            .with_scrape_timeout(Duration::from_millis(100));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let scrape = |handler: &ScrapeHandler| {
            let handle = rt.handle().clone();
            rt.block_on(async {
                match handler.prepare(&Method::GET, &HeaderMap::new()) {
                    Prepared::Answer(r) => r,
                    Prepared::Encode(job) => {
                        job.spawn_with(move |w| handle.spawn_blocking(w)).await
                    }
                }
            })
        };
        let timed_out = scrape(&handler);
        assert_eq!(timed_out.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            timed_out
                .body()
                .starts_with(b"scrape timed out after 100 ms")
        );
        entered_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        let busy = scrape(&handler);
        assert!(busy.body().starts_with(b"too many concurrent scrapes"));
        release.send(()).unwrap();
        // The abandoned work ends and frees the slot; then a scrape goes through.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while handler
            .limit
            .as_ref()
            .unwrap()
            .running
            .load(Ordering::SeqCst)
            != 0
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the slot was never freed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        release.send(()).unwrap();
        assert_eq!(scrape(&handler).status(), StatusCode::OK);
    }

    #[test]
    fn spawn_with_turns_a_failed_task_into_a_500() {
        let handler = ScrapeHandler::new(Registry::new());
        let Prepared::Encode(job) = handler.prepare(&Method::GET, &HeaderMap::new()) else {
            panic!("GET must encode");
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(job.spawn_with(|work| {
            drop(work); // the pool refused the work
            std::future::ready(Err::<Response<Bytes>, _>("pool shut down"))
        }));
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.body().ends_with(b"pool shut down\n"));
    }

    #[test]
    fn debug_does_not_print_secrets() {
        let h = ScrapeHandler::new(Registry::new()).with_auth(ScrapeAuth::Bearer("s3cret".into()));
        assert!(!format!("{h:?}").contains("s3cret"));
    }

    #[test]
    fn basic_auth() {
        let h = ScrapeHandler::new(Registry::new()).with_auth(ScrapeAuth::Basic {
            username: "prom".into(),
            password: "pw".into(),
        });
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic cHJvbTpwdw=="),
        );
        assert_eq!(h.respond(&Method::GET, &headers).status(), StatusCode::OK);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic cHJvbTp4eA=="),
        );
        let denied = h.respond(&Method::GET, &headers);
        assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
        assert!(!String::from_utf8_lossy(denied.body()).contains("# TYPE"));
        assert_eq!(
            denied.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"metrics\""
        );
    }
}

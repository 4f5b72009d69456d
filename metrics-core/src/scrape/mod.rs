//! The `/metrics` response, independent of any web framework: request method and headers
//! in, status, headers and body out. Each adapter's scrape route is a few lines around it.
//!
//! Files: `auth.rs` (credentials), `job.rs` (jobs run off the executor, concurrency slots,
//! timeout), `timer.rs` (the runtime-free timer behind the timeout), this file (the handler
//! and its responses).

mod auth;
mod builder;
mod job;
#[cfg(test)]
mod tests;
mod timer;

use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

use crate::Registry;
use crate::encoding::gzip;
use crate::encoding::{Negotiated, negotiate};

pub use auth::ScrapeAuth;
use auth::credentials_match;
pub use builder::{DEFAULT_PATH, ScrapeHandlerBuilder};
use job::ConcurrencyLimit;
pub use job::{BlockingWork, Prepared, ScrapeJob, ScrapePermit};

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
    path: String,
    auth: Option<(ScrapeAuth, String)>,
    count_scrapes: bool,
    gzip: bool,
    limit: Option<ConcurrencyLimit>,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for ScrapeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // By hand: the expected `Authorization` value holds the secret.
        f.debug_struct("ScrapeHandler")
            .field("registry", &self.registry)
            .field("path", &self.path)
            .field("auth", &self.auth.as_ref().map(|(auth, _)| auth))
            .field("gzip", &self.gzip)
            .field("count_scrapes", &self.count_scrapes)
            .field("max_concurrent_scrapes", &self.max_concurrent_scrapes())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ScrapeHandler {
    /// A handler that exposes `registry` exactly as it is: path [`DEFAULT_PATH`], gzip
    /// allowed, no auth, no limits, and nothing registered (no process collector). The
    /// adapters build theirs with [`builder`](Self::builder), which registers the process
    /// collector by default.
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// assert_eq!(h.path(), "/metrics");
    /// ```
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            path: DEFAULT_PATH.to_owned(),
            auth: None,
            gzip: true,
            count_scrapes: false,
            limit: None,
            timeout: None,
        }
    }

    /// Configures a handler for `registry`: path, auth, gzip, whether scrapes are counted,
    /// the process collector, limits. The adapters' `.scrape(|s| ..)` hooks hand you this
    /// builder, so these options have the same names everywhere.
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let handler = promenade_core::scrape::ScrapeHandler::builder(&registry).gzip(false).build()?;
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn builder(registry: &Registry) -> ScrapeHandlerBuilder {
        ScrapeHandlerBuilder::new(registry)
    }

    /// The path this handler is meant to be served at.
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// assert_eq!(h.path(), promenade_core::scrape::DEFAULT_PATH);
    /// ```
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the HTTP adapters count requests to this route in their request metrics (see
    /// [`ScrapeHandlerBuilder::count_scrapes`]).
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// assert!(!h.counts_scrapes());
    /// ```
    pub fn counts_scrapes(&self) -> bool {
        self.count_scrapes
    }

    /// Whether answers may be gzip-compressed.
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// assert!(h.gzip());
    /// ```
    pub fn gzip(&self) -> bool {
        self.gzip
    }

    /// The limit set with [`ScrapeHandlerBuilder::max_concurrent_scrapes`].
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// assert_eq!(h.max_concurrent_scrapes(), None);
    /// ```
    pub fn max_concurrent_scrapes(&self) -> Option<usize> {
        self.limit.as_ref().map(|l| l.max)
    }

    /// The timeout set with [`ScrapeHandlerBuilder::timeout`].
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// assert_eq!(h.timeout(), None);
    /// ```
    pub fn timeout(&self) -> Option<Duration> {
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

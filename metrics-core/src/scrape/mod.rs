//! The `/metrics` response, independent of any web framework: request method and headers
//! in, status, headers and body out. Each adapter's scrape route is a few lines around it.
//!
//! Files: `auth.rs` (credentials), `job.rs` (jobs run off the executor, concurrency slots,
//! timeout), `timer.rs` (the runtime-free timer behind the timeout), this file (the handler
//! and its responses).

mod auth;
mod job;
#[cfg(test)]
mod tests;
mod timer;

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

use crate::Registry;
use crate::encoding::gzip;
use crate::encoding::{Negotiated, negotiate};

pub use auth::ScrapeAuth;
use auth::credentials_match;
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

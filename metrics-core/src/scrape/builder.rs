//! [`ScrapeHandlerBuilder`]: every option of a `/metrics` route, declared once. The axum,
//! actix-web and tonic adapters all hand this builder to the user (`.scrape(|s| ..)` on their
//! builders, or directly for tonic and plain tower), so an option has one name everywhere.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use super::ScrapeHandler;
use super::auth::ScrapeAuth;
use super::job::ConcurrencyLimit;
use crate::{Error, Registry, Result};

/// The path a scrape route is served at unless configured otherwise, in every adapter.
///
/// ```
/// assert_eq!(promenade_core::scrape::DEFAULT_PATH, "/metrics");
/// ```
pub const DEFAULT_PATH: &str = "/metrics";

/// Configures a [`ScrapeHandler`]: where it is served, who may scrape, how it answers, and
/// what else it exposes. Every adapter takes these options with the same names.
///
/// | option | default |
/// |---|---|
/// | [`path`](Self::path) | [`DEFAULT_PATH`] (`/metrics`) |
/// | [`auth`](Self::auth) | none |
/// | [`gzip`](Self::gzip) | on (when the scraper accepts it) |
/// | [`count_scrapes`](Self::count_scrapes) | off |
/// | [`process_collector`](Self::process_collector) | on |
/// | [`max_concurrent_scrapes`](Self::max_concurrent_scrapes) | unlimited |
/// | [`timeout`](Self::timeout) | none |
///
/// ```
/// use std::time::Duration;
/// use promenade_core::scrape::{ScrapeAuth, ScrapeHandler};
///
/// let registry = promenade_core::Registry::new();
/// let handler = ScrapeHandler::builder(&registry)
///     .path("/internal/metrics")
///     .auth(ScrapeAuth::Bearer("s3cret".into()))
///     .gzip(false)
///     .max_concurrent_scrapes(2)
///     .timeout(Duration::from_secs(8))
///     .build()?;
/// assert_eq!(handler.path(), "/internal/metrics");
/// # Ok::<(), promenade_core::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ScrapeHandlerBuilder {
    registry: Registry,
    path: String,
    auth: Option<ScrapeAuth>,
    gzip: bool,
    count_scrapes: bool,
    process_collector: bool,
    max_concurrent: Option<usize>,
    timeout: Option<Duration>,
}

impl ScrapeHandlerBuilder {
    pub(super) fn new(registry: &Registry) -> Self {
        Self {
            registry: registry.clone(),
            path: DEFAULT_PATH.to_owned(),
            auth: None,
            gzip: true,
            count_scrapes: false,
            process_collector: true,
            max_concurrent: None,
            timeout: None,
        }
    }

    /// The path the route is served at (default [`DEFAULT_PATH`]). It must start with `/`
    /// and be a plain path: no `{`, `}`, `*`, `?`, `#`, whitespace or control characters
    /// ([`build`](Self::build) refuses it otherwise).
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let handler = promenade_core::scrape::ScrapeHandler::builder(&registry).path("/internal/metrics").build()?;
    /// assert_eq!(handler.path(), "/internal/metrics");
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.path);
        self
    }

    /// Requires credentials: a missing or wrong `Authorization` header gets 401 and no
    /// metrics.
    ///
    /// ```
    /// use http::{HeaderMap, Method, StatusCode};
    /// use promenade_core::scrape::{ScrapeAuth, ScrapeHandler};
    /// let registry = promenade_core::Registry::new();
    /// let h = ScrapeHandler::builder(&registry).auth(ScrapeAuth::Bearer("s3cret".into())).build()?;
    /// assert_eq!(h.respond(&Method::GET, &HeaderMap::new()).status(), StatusCode::UNAUTHORIZED);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("authorization", "Bearer s3cret".parse().unwrap());
    /// assert_eq!(h.respond(&Method::GET, &headers).status(), StatusCode::OK);
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn auth(mut self, auth: ScrapeAuth) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Whether answers may be gzip-compressed when the scraper's `Accept-Encoding` allows it
    /// (default on; Prometheus always allows it).
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let handler = promenade_core::scrape::ScrapeHandler::builder(&registry).gzip(false).build()?;
    /// assert!(!handler.gzip());
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Whether requests to the scrape route are counted in the HTTP request metrics like any
    /// other route (default off: scrapes would otherwise dominate low-traffic services'
    /// request rates). Read by the HTTP adapters; the handler itself counts nothing.
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let handler = promenade_core::scrape::ScrapeHandler::builder(&registry).count_scrapes(true).build()?;
    /// assert!(handler.counts_scrapes());
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn count_scrapes(mut self, on: bool) -> Self {
        self.count_scrapes = on;
        self
    }

    /// Whether [`build`](Self::build) registers the process collector
    /// (`process_cpu_seconds_total`, `process_resident_memory_bytes`, … from `/proc`) in the
    /// registry (default on, as in the other Prometheus clients). Process metrics already
    /// registered (by an earlier handler, or by
    /// [`register_process_collector`](crate::collectors::register_process_collector)) are
    /// left as they are, so several servers can share a registry. Without the `process`
    /// feature, or off Linux, there is no process collector and this option does nothing.
    ///
    /// ```
    /// use promenade_core::{Format, Registry, scrape::ScrapeHandler};
    /// let without = Registry::new();
    /// ScrapeHandler::builder(&without).process_collector(false).build()?;
    /// assert!(!without.encode_to_string(Format::Text)?.contains("process_"));
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn process_collector(mut self, on: bool) -> Self {
        self.process_collector = on;
        self
    }

    /// At most `max` scrapes run collectors at the same time (`0` counts as 1). One more
    /// gets `503 Service Unavailable` at once, with `Retry-After: 1` and a short text body,
    /// and runs no collector. A scrape keeps its slot until its collectors and encoding have
    /// really finished, even after the adapter gave up on it ([`timeout`](Self::timeout)),
    /// so slow collectors cannot pile up. `HEAD`, 401 and 405 take no slot. Clones of the
    /// handler share the slots. Unlimited by default.
    ///
    /// ```
    /// use http::{HeaderMap, Method, StatusCode};
    /// use promenade_core::scrape::ScrapeHandler;
    /// let registry = promenade_core::Registry::new();
    /// let handler = ScrapeHandler::builder(&registry).max_concurrent_scrapes(1).build()?;
    /// let first = handler.prepare(&Method::GET, &HeaderMap::new()); // holds the slot
    /// let busy = handler.respond(&Method::GET, &HeaderMap::new());
    /// assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(busy.headers()["retry-after"], "1");
    /// drop(first);
    /// assert_eq!(handler.respond(&Method::GET, &HeaderMap::new()).status(), StatusCode::OK);
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn max_concurrent_scrapes(mut self, max: usize) -> Self {
        self.max_concurrent = Some(max.max(1));
        self
    }

    /// Gives up on a scrape whose collectors and encoding have not finished within
    /// `timeout`: the adapters answer `503 Service Unavailable` (with `Retry-After: 1`).
    /// Collectors cannot be interrupted, so the abandoned work runs on to its end on the
    /// blocking pool, keeping its [concurrency slot](Self::max_concurrent_scrapes); combine
    /// both so that repeated slow scrapes cannot pile up. Enforced by
    /// [`ScrapeJob::spawn_with`](super::ScrapeJob::spawn_with), which every adapter uses;
    /// [`ScrapeHandler::respond`] runs in place and cannot give up. None by default.
    ///
    /// ```
    /// use std::time::Duration;
    /// let registry = promenade_core::Registry::new();
    /// let handler = promenade_core::scrape::ScrapeHandler::builder(&registry).timeout(Duration::from_secs(8)).build()?;
    /// assert_eq!(handler.timeout(), Some(Duration::from_secs(8)));
    /// # Ok::<(), promenade_core::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks the path and registers the process collector (unless turned off).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a path that is not a plain absolute path; a registration
    /// error when the registry holds other metrics under the process collector's names.
    ///
    /// ```
    /// let registry = promenade_core::Registry::new();
    /// let err = promenade_core::scrape::ScrapeHandler::builder(&registry).path("metrics").build().unwrap_err();
    /// assert!(err.to_string().contains("\"metrics\""), "{err}");
    /// ```
    pub fn build(self) -> Result<ScrapeHandler> {
        check_path(&self.path)?;
        // Without the feature there is no process collector to register.
        #[cfg(not(feature = "process"))]
        let _ = self.process_collector;
        #[cfg(feature = "process")]
        if self.process_collector {
            crate::collectors::register_process_collector(&self.registry)?;
        }
        let mut handler = ScrapeHandler::new(self.registry);
        handler.path = self.path;
        handler.auth = self.auth.map(|auth| {
            let expected = auth.expected_header();
            (auth, expected)
        });
        handler.gzip = self.gzip;
        handler.count_scrapes = self.count_scrapes;
        handler.limit = self.max_concurrent.map(|max| ConcurrencyLimit {
            max,
            running: Arc::new(AtomicUsize::new(0)),
        });
        handler.timeout = self.timeout;
        Ok(handler)
    }
}

/// A scrape path must be something every router mounts literally.
fn check_path(path: &str) -> Result<()> {
    let plain = path.starts_with('/')
        && !path.chars().any(|c| {
            matches!(c, '{' | '}' | '*' | '?' | '#') || c.is_whitespace() || c.is_control()
        });
    if plain {
        Ok(())
    } else {
        Err(Error::InvalidConfig(format!(
            "scrape path {path:?} must start with '/' and be a plain path (no '{{', '}}', '*', '?', '#', spaces or control characters)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        for ok in ["/", "/metrics", "/internal/metrics", "/a-b_c.d~e"] {
            assert!(check_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "metrics", "/m/{id}", "/m/*rest", "/m?x", "/m#x", "/m x", "/m\n",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
    }
}

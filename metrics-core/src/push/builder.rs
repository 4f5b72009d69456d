//! The client's options: [`PushgatewayBuilder`], the body format and the default time
//! limit; `build` checks them all and assembles the async or blocking client.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::Uri;
use http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::path::{build_path, check_grouping};
use super::{BlockingPushgateway, PushError, Pushgateway};
use crate::encoding::Format;

/// Default time limit for one request, connection included.
///
/// ```
/// assert_eq!(promenade_core::push::DEFAULT_TIMEOUT.as_secs(), 10);
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The body format of a push.
///
/// Text is the default here (the Go client defaults to protobuf); protobuf (feature
/// `protobuf`, on by default) is needed to push native histograms.
///
/// ```
/// assert_eq!(promenade_core::push::PushFormat::default(), promenade_core::push::PushFormat::Text);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PushFormat {
    /// Prometheus text format 0.0.4.
    #[default]
    Text,
    /// Length-delimited protobuf `io.prometheus.client.MetricFamily` messages.
    #[cfg(feature = "protobuf")]
    #[cfg_attr(docsrs, doc(cfg(feature = "protobuf")))]
    Protobuf,
}

impl PushFormat {
    /// The `Content-Type` of a body in this format.
    ///
    /// ```
    /// assert!(promenade_core::push::PushFormat::Text.content_type().starts_with("text/plain; version=0.0.4"));
    /// ```
    pub fn content_type(self) -> &'static str {
        match self {
            PushFormat::Text => Format::Text.content_type(),
            #[cfg(feature = "protobuf")]
            PushFormat::Protobuf => Format::Protobuf.content_type(),
        }
    }
}

/// Configures a [`Pushgateway`]; see [`Pushgateway::builder`].
///
/// ```
/// use std::time::Duration;
/// let gateway = promenade_core::push::Pushgateway::builder("http://127.0.0.1:9091", "backup")
///     .grouping("instance", "db-1")
///     .gzip(true)
///     .timeout(Duration::from_secs(3))
///     .build()
///     .unwrap();
/// assert_eq!(gateway.url(), "http://127.0.0.1:9091/metrics/job/backup/instance/db-1");
/// ```
#[derive(Clone)]
pub struct PushgatewayBuilder {
    url: String,
    job: String,
    grouping: Vec<(String, String)>,
    format: PushFormat,
    gzip: bool,
    always_base64: bool,
    utf8_names: bool,
    basic_auth: Option<(String, String)>,
    headers: Vec<(String, String)>,
    timeout: Duration,
    /// PEM bytes of root certificates to trust besides the web's (feature `push-tls`).
    #[cfg(feature = "push-tls")]
    tls_roots: Vec<Vec<u8>>,
}

impl std::fmt::Debug for PushgatewayBuilder {
    /// Leaves out the password and header values, which may be secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("PushgatewayBuilder")
            .field("url", &self.url)
            .field("job", &self.job)
            .field("grouping", &self.grouping)
            .field("format", &self.format)
            .field("gzip", &self.gzip)
            .field("always_base64", &self.always_base64)
            .field("utf8_names", &self.utf8_names)
            .field("basic_auth_user", &self.basic_auth.as_ref().map(|(u, _)| u))
            .field("header_names", &header_names)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl PushgatewayBuilder {
    /// The defaults; see [`Pushgateway::builder`].
    pub(super) fn new(url: &str, job: &str) -> Self {
        Self {
            url: url.to_owned(),
            job: job.to_owned(),
            grouping: Vec::new(),
            format: PushFormat::default(),
            gzip: false,
            always_base64: false,
            utf8_names: false,
            basic_auth: None,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            #[cfg(feature = "push-tls")]
            tls_roots: Vec::new(),
        }
    }

    /// Adds a grouping-key label (after `job`, in the order given). Names must be valid
    /// label names, not `job`, not starting with `__`, and not repeated.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://gw:9091", "backup")
    ///     .grouping("path", "/var/tmp")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(g.url(), "http://gw:9091/metrics/job/backup/path@base64/L3Zhci90bXA");
    /// ```
    #[must_use]
    pub fn grouping(mut self, name: &str, value: &str) -> Self {
        self.grouping.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The body format (text 0.0.4 by default).
    ///
    /// ```
    /// use promenade_core::push::{PushFormat, Pushgateway};
    /// Pushgateway::builder("http://gw:9091", "j").format(PushFormat::Text).build().unwrap();
    /// ```
    #[must_use]
    pub fn format(mut self, format: PushFormat) -> Self {
        self.format = format;
        self
    }

    /// Compresses bodies with gzip (`Content-Encoding: gzip`); off by default.
    ///
    /// ```
    /// promenade_core::push::Pushgateway::builder("http://gw:9091", "j").gzip(true).build().unwrap();
    /// ```
    #[must_use]
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Base64-encodes every grouping-key value (and the job), not only those that need it.
    /// Useful when a proxy in front of the gateway mangles percent-encoded paths.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://gw:9091", "j")
    ///     .grouping("name", "Προμηθεύς")
    ///     .always_base64(true)
    ///     .build()
    ///     .unwrap();
    /// assert!(g.url().ends_with("/name@base64/zqDPgc6_zrzOt864zrXPjc-C"));
    /// ```
    #[must_use]
    pub fn always_base64(mut self, on: bool) -> Self {
        self.always_base64 = on;
        self
    }

    /// Allows UTF-8 grouping label names (any non-empty name), sent in the `values` escaping
    /// the gateway decodes when started with `--push.enable-utf8-names`;
    /// legacy names starting with `U__` are escaped too. Off by default, as in the gateway.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://gw:9091", "j")
    ///     .utf8_names(true)
    ///     .grouping("foo.bar", "x")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(g.url(), "http://gw:9091/metrics/job/j/U__foo_2e_bar/x");
    /// assert!(promenade_core::push::Pushgateway::builder("http://gw:9091", "j")
    ///     .grouping("foo.bar", "x").build().is_err());
    /// ```
    #[must_use]
    pub fn utf8_names(mut self, on: bool) -> Self {
        self.utf8_names = on;
        self
    }

    /// Sends HTTP basic authentication with every request.
    ///
    /// ```
    /// promenade_core::push::Pushgateway::builder("http://gw:9091", "j").basic_auth("user", "secret").build().unwrap();
    /// ```
    #[must_use]
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.basic_auth = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Adds a header to every request (checked by [`build`](Self::build)).
    ///
    /// ```
    /// let b = promenade_core::push::Pushgateway::builder("http://gw:9091", "j");
    /// assert!(b.clone().header("X-Tenant", "a").build().is_ok());
    /// assert!(b.header("bad header", "a").build().is_err());
    /// ```
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Time limit for each request, from connecting to the end of the response (default
    /// [`DEFAULT_TIMEOUT`]; must not be zero).
    ///
    /// ```
    /// use std::time::Duration;
    /// promenade_core::push::Pushgateway::builder("http://gw:9091", "j").timeout(Duration::from_secs(2)).build().unwrap();
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Trusts the root certificate(s) in `pem` (PEM `CERTIFICATE` blocks) for `https://`
    /// gateways, besides the web's roots: for a gateway whose certificate your own CA signed.
    /// Checked by [`build`](Self::build). Feature `push-tls`.
    ///
    /// ```
    /// use promenade_core::push::{PushError, Pushgateway};
    /// let err = Pushgateway::builder("https://gw.internal:9091", "j")
    ///     .tls_root_certificates_pem(b"not a certificate")
    ///     .build()
    ///     .unwrap_err();
    /// assert!(matches!(err, PushError::InvalidCertificate(_)), "{err}");
    /// ```
    #[cfg(feature = "push-tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "push-tls")))]
    #[must_use]
    pub fn tls_root_certificates_pem(mut self, pem: &[u8]) -> Self {
        self.tls_roots.push(pem.to_vec());
        self
    }

    /// Validates everything and builds the async client. Needs no runtime; requests do.
    /// `https://` URLs need the feature `push-tls`.
    ///
    /// ```
    /// use promenade_core::push::Pushgateway;
    /// assert!(Pushgateway::builder("http://gw:9091", "").build().is_err());
    /// assert_eq!(Pushgateway::builder("https://gw:9091", "j").build().is_ok(), cfg!(feature = "push-tls"));
    /// assert!(Pushgateway::builder("gw:9091", "j").build().is_err());
    /// assert!(Pushgateway::builder("http://gw:9091", "j").grouping("job", "x").build().is_err());
    /// ```
    pub fn build(self) -> Result<Pushgateway, PushError> {
        check_grouping(&self.job, &self.grouping, self.utf8_names)?;
        if self.timeout.is_zero() {
            return Err(PushError::InvalidTimeout);
        }
        let bad_url = |reason: &str| PushError::InvalidUrl {
            url: self.url.clone(),
            reason: reason.to_owned(),
        };
        let base = self.url.trim_end_matches('/');
        let lower = base.to_ascii_lowercase();
        #[cfg(not(feature = "push-tls"))]
        if lower.starts_with("https://") {
            return Err(bad_url(
                "https needs the `push-tls` feature of promenade-core; without it, use http:// or a TLS-terminating proxy",
            ));
        }
        if !lower.starts_with("http://") && !lower.starts_with("https://") {
            return Err(bad_url("must start with http:// or https://"));
        }
        if base.contains(['?', '#']) {
            return Err(bad_url("must not have a query or fragment"));
        }
        let url = format!(
            "{base}{}",
            build_path(
                &self.job,
                &self.grouping,
                self.always_base64,
                self.utf8_names
            )
        );
        let uri: Uri = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad_url(&e.to_string()))?;
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad_url("has no host"));
        }
        if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
            return Err(bad_url(
                "must not contain credentials; use PushgatewayBuilder::basic_auth",
            ));
        }
        let mut headers = Vec::with_capacity(self.headers.len() + 1);
        for (n, v) in &self.headers {
            let name = HeaderName::from_bytes(n.as_bytes())
                .map_err(|_| PushError::InvalidHeader(n.clone()))?;
            let value =
                HeaderValue::from_str(v).map_err(|_| PushError::InvalidHeader(n.clone()))?;
            headers.push((name, value));
        }
        if let Some((user, password)) = &self.basic_auth {
            let token = STANDARD.encode(format!("{user}:{password}"));
            let mut value = HeaderValue::from_str(&format!("Basic {token}"))
                .map_err(|_| PushError::InvalidHeader("authorization".into()))?;
            value.set_sensitive(true);
            headers.push((AUTHORIZATION, value));
        }
        let mut forbidden: Vec<String> = vec!["job".to_owned()];
        forbidden.extend(self.grouping.iter().map(|(n, _)| n.clone()));
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(self.timeout));
        connector.set_nodelay(true);
        #[cfg(feature = "push-tls")]
        let connector = {
            let mut roots = Vec::new();
            for pem in &self.tls_roots {
                roots.extend(super::tls::parse_roots(pem)?);
            }
            super::tls::connector(connector, &roots)?
        };
        // No idle pool: a batch job pushes rarely, and pooled connections would tie the
        // client to the runtime that opened them.
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build(connector);
        Ok(Pushgateway {
            url,
            uri,
            forbidden,
            format: self.format,
            gzip: self.gzip,
            headers,
            timeout: self.timeout,
            client,
        })
    }

    /// Validates everything and builds the blocking client (with its own current-thread
    /// Tokio runtime). Usable anywhere, `spawn_blocking` included; in async code prefer the
    /// async client, which does not block a worker thread.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://127.0.0.1:9091", "j").build_blocking().unwrap();
    /// ```
    pub fn build_blocking(self) -> Result<BlockingPushgateway, PushError> {
        BlockingPushgateway::new(self.build()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_timeout_and_secrets_in_debug() {
        assert!(matches!(
            Pushgateway::builder("http://x:1", "j")
                .timeout(Duration::ZERO)
                .build(),
            Err(PushError::InvalidTimeout)
        ));
        let b = Pushgateway::builder("http://x:1", "j")
            .basic_auth("alice", "hunter2")
            .header("Authorization", "Bearer t0ken");
        let shown = format!("{b:?}");
        assert!(
            shown.contains("alice") && shown.contains("Authorization"),
            "{shown}"
        );
        assert!(
            !shown.contains("hunter2") && !shown.contains("t0ken"),
            "{shown}"
        );
    }

    #[test]
    fn url_validation() {
        for bad in [
            "",
            "ftp://x",
            #[cfg(not(feature = "push-tls"))]
            "https://x",
            "https://",
            "http://",
            "http://x?y=1",
            "http://a b",
        ] {
            assert!(
                Pushgateway::builder(bad, "j").build().is_err(),
                "{bad:?} accepted"
            );
        }
        let g = Pushgateway::builder("HTTP://x:1/prefix/", "j")
            .build()
            .unwrap();
        assert_eq!(g.url(), "HTTP://x:1/prefix/metrics/job/j");
    }
}

//! A Pushgateway client for batch jobs (feature `push`).
//!
//! A [`Pushgateway`] is bound to one group, given by the job name and an optional grouping
//! key, and sends a [`Registry`]'s metrics there:
//!
//! - [`Pushgateway::push`] (`PUT`) replaces every metric of the group;
//! - [`Pushgateway::push_add`] (`POST`) replaces only the families pushed;
//! - [`Pushgateway::delete`] (`DELETE`) removes the group.
//!
//! It runs on hyper 1 with hyper-util's client over plain HTTP (no TLS: put a TLS-terminating
//! proxy in front of the gateway if needed) inside a Tokio runtime with its time driver
//! enabled (`#[tokio::main]` has it). For programs without a runtime, [`BlockingPushgateway`]
//! brings its own current-thread runtime.
//!
//! Grouping-key values that contain `/` or are empty are sent base64url-encoded with the
//! `@base64` suffix; other values are percent-encoded (checklist K5), like the Go client.
//! Every request has a time limit (10 s by default), so a gateway that is down or hangs
//! gives an error instead of blocking the job.
//!
//! ```no_run
//! use promenade_core::Registry;
//! use promenade_core::push::Pushgateway;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::new();
//! registry.gauge("backup_last_success_unixtime", "Last successful backup.")?.set_to_current_time();
//!
//! let gateway = Pushgateway::builder("http://127.0.0.1:9091", "backup")
//!     .grouping("instance", "db-1")
//!     .build_blocking()?;
//! gateway.push(&registry)?;
//! # Ok(()) }
//! ```

use std::io::Write as _;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::encoding::Format;
use crate::name::is_valid_label_name;
use crate::registry::Registry;

/// Default time limit for one request, connection included.
///
/// ```
/// assert_eq!(promenade_core::push::DEFAULT_TIMEOUT.as_secs(), 10);
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How much of an error response's body is kept for [`PushError::Status`].
const ERROR_BODY_LIMIT: usize = 4096;

/// Errors of the Pushgateway client.
///
/// ```
/// use promenade_core::push::{PushError, Pushgateway};
/// let err = Pushgateway::builder("http://127.0.0.1:9091", "").build().unwrap_err();
/// assert!(matches!(err, PushError::EmptyJob));
/// assert_eq!(err.to_string(), "the Pushgateway job name must not be empty");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The gateway URL is not a usable `http://` URL.
    #[error("invalid Pushgateway URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The job name is empty.
    #[error("the Pushgateway job name must not be empty")]
    EmptyJob,
    /// A grouping-key label name is invalid, reserved (`__` prefix), `job`, or repeated.
    #[error("invalid grouping label name {name:?}: {reason}")]
    InvalidGroupingLabel {
        /// The label name.
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The request time limit is zero.
    #[error("the Pushgateway request timeout must not be zero")]
    InvalidTimeout,
    /// A header name or value given to the builder is invalid.
    #[error("invalid header {0:?}")]
    InvalidHeader(String),
    /// A pushed metric already carries `job` or a grouping-key label (checklist K6): the
    /// gateway would silently overwrite it.
    #[error(
        "metric {metric:?} already has the label {label:?}, which the push's grouping key sets; \
         remove the label or push to a different group"
    )]
    LabelCollision {
        /// The sample name.
        metric: String,
        /// The clashing label name.
        label: String,
    },
    /// Encoding the metrics failed.
    #[error("encoding the metrics failed: {0}")]
    Encode(#[from] crate::Error),
    /// Compressing the body failed.
    #[error("compressing the body failed: {0}")]
    Compress(#[source] std::io::Error),
    /// The gateway could not be reached (connection refused, DNS failure, reset, ...).
    #[error("could not reach the Pushgateway at {url}: {reason}")]
    Connect {
        /// The request URL.
        url: String,
        /// The transport error with its causes, e.g. `client error (Connect): tcp connect
        /// error: Connection refused (os error 111)`.
        reason: String,
        /// The transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// No complete answer within the time limit.
    #[error("the Pushgateway at {url} did not answer within {timeout:?}")]
    Timeout {
        /// The request URL.
        url: String,
        /// The time limit.
        timeout: Duration,
    },
    /// The gateway answered with an unexpected status.
    #[error("{method} {url} returned {status}: {body}")]
    Status {
        /// The request method.
        method: Method,
        /// The request URL.
        url: String,
        /// The status code.
        status: StatusCode,
        /// The start of the response body (the gateway's explanation).
        body: String,
    },
    /// The blocking client could not start its runtime, or was called inside a Tokio runtime.
    #[error("blocking Pushgateway client: {0}")]
    Runtime(String),
}

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

/// Appends `/<name>/<value>` or `/<name>@base64/<base64url value>` for one grouping-key
/// component (checklist K5).
fn push_component(
    path: &mut String,
    name: &str,
    value: &str,
    always_base64: bool,
    utf8_names: bool,
) {
    path.push('/');
    if utf8_names && (!is_valid_label_name(name) || name.starts_with("U__")) {
        push_utf8_name(path, name);
    } else {
        path.push_str(name);
    }
    if value.is_empty() {
        path.push_str("@base64/=");
    } else if always_base64 || value.contains('/') {
        path.push_str("@base64/");
        path.push_str(&URL_SAFE_NO_PAD.encode(value));
    } else {
        path.push('/');
        query_escape(path, value);
    }
}

/// A grouping label name for a gateway run with `--push.enable-utf8-names` (checklist K8):
/// the `values` escaping of G5, `U__` then legacy characters as they are, `_` doubled, any
/// other character as `_<hex code point>_`. A legacy name that already starts with `U__`
/// is encoded too (its first `U` as `_55_`), so the gateway does not decode it by mistake.
fn push_utf8_name(path: &mut String, name: &str) {
    use std::fmt::Write as _;
    path.push_str("U__");
    for (i, c) in name.char_indices() {
        let legacy = c.is_ascii_alphabetic() || c == ':' || (i > 0 && c.is_ascii_digit());
        if c == '_' {
            path.push_str("__");
        } else if legacy && !(i == 0 && name.starts_with("U__")) {
            path.push(c);
        } else {
            let _ = write!(path, "_{:x}_", u32::from(c));
        }
    }
}

/// Percent-encodes everything but `A-Z a-z 0-9 - _ . ~`, as Go's `url.QueryEscape` does,
/// except that a space becomes `%20` rather than `+` (a `+` in a path segment is a plus).
fn query_escape(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

fn check_grouping(
    job: &str,
    grouping: &[(String, String)],
    utf8_names: bool,
) -> Result<(), PushError> {
    if job.is_empty() {
        return Err(PushError::EmptyJob);
    }
    for (i, (name, _)) in grouping.iter().enumerate() {
        let reason = if name.is_empty() {
            Some("must not be empty")
        } else if !utf8_names && !is_valid_label_name(name) {
            Some("must match [a-zA-Z_][a-zA-Z0-9_]* (or enable utf8_names)")
        } else if name.starts_with("__") {
            Some("names starting with __ are reserved")
        } else if name == "job" {
            Some("the job is given separately")
        } else if grouping[..i].iter().any(|(n, _)| n == name) {
            Some("given more than once")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(PushError::InvalidGroupingLabel {
                name: name.clone(),
                reason,
            });
        }
    }
    Ok(())
}

/// The URL path of a group: `/metrics/job/<job>{/<name>/<value>}` (checklist K1, K5).
///
/// The job comes first; values containing `/` or empty are base64url-encoded (without
/// padding; an empty value is `=`) under `<name>@base64`; other values are percent-encoded.
///
/// ```
/// use promenade_core::push::grouping_key_path;
/// assert_eq!(
///     grouping_key_path("directory_cleaner", &[("path", "/var/tmp")]).unwrap(),
///     "/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA",
/// );
/// assert_eq!(
///     grouping_key_path("example", &[("first_label", ""), ("second_label", "foobar")]).unwrap(),
///     "/metrics/job/example/first_label@base64/=/second_label/foobar",
/// );
/// assert!(grouping_key_path("", &[]).is_err());
/// assert!(grouping_key_path("j", &[("__x", "y")]).is_err());
/// ```
pub fn grouping_key_path(job: &str, grouping: &[(&str, &str)]) -> Result<String, PushError> {
    let owned: Vec<(String, String)> = grouping
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    check_grouping(job, &owned, false)?;
    Ok(build_path(job, &owned, false, false))
}

fn build_path(
    job: &str,
    grouping: &[(String, String)],
    always_base64: bool,
    utf8_names: bool,
) -> String {
    let mut path = String::from("/metrics");
    push_component(&mut path, "job", job, always_base64, false);
    for (n, v) in grouping {
        push_component(&mut path, n, v, always_base64, utf8_names);
    }
    path
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
    pub fn format(mut self, format: PushFormat) -> Self {
        self.format = format;
        self
    }

    /// Compresses bodies with gzip (`Content-Encoding: gzip`); off by default.
    ///
    /// ```
    /// promenade_core::push::Pushgateway::builder("http://gw:9091", "j").gzip(true).build().unwrap();
    /// ```
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
    pub fn always_base64(mut self, on: bool) -> Self {
        self.always_base64 = on;
        self
    }

    /// Allows UTF-8 grouping label names (any non-empty name), sent in the `values` escaping
    /// the gateway decodes when started with `--push.enable-utf8-names` (checklist K8);
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
    pub fn utf8_names(mut self, on: bool) -> Self {
        self.utf8_names = on;
        self
    }

    /// Sends HTTP basic authentication with every request.
    ///
    /// ```
    /// promenade_core::push::Pushgateway::builder("http://gw:9091", "j").basic_auth("user", "secret").build().unwrap();
    /// ```
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
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Validates everything and builds the async client. Needs no runtime; requests do.
    ///
    /// ```
    /// use promenade_core::push::Pushgateway;
    /// assert!(Pushgateway::builder("http://gw:9091", "").build().is_err());
    /// assert!(Pushgateway::builder("https://gw:9091", "j").build().is_err()); // no TLS
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
        if lower.starts_with("https://") {
            return Err(bad_url(
                "https is not supported (no TLS in this client); use http:// or a TLS-terminating proxy",
            ));
        }
        if !lower.starts_with("http://") {
            return Err(bad_url("must start with http://"));
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
    /// Tokio runtime). Fails when called inside a Tokio runtime: use the async client there.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://127.0.0.1:9091", "j").build_blocking().unwrap();
    /// ```
    pub fn build_blocking(self) -> Result<BlockingPushgateway, PushError> {
        refuse_inside_runtime()?;
        let inner = self.build()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PushError::Runtime(format!("cannot start a Tokio runtime: {e}")))?;
        Ok(BlockingPushgateway { inner, runtime })
    }
}

fn refuse_inside_runtime() -> Result<(), PushError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(PushError::Runtime(
            "called inside a Tokio runtime; use the async Pushgateway there".into(),
        ));
    }
    Ok(())
}

/// An async Pushgateway client bound to one group (job plus grouping key).
/// Cheap to clone.
///
/// ```no_run
/// # async fn demo() -> Result<(), promenade_core::push::PushError> {
/// let registry = promenade_core::Registry::new();
/// let gateway = promenade_core::push::Pushgateway::builder("http://127.0.0.1:9091", "nightly").build()?;
/// gateway.push(&registry).await?;
/// gateway.delete().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pushgateway {
    url: String,
    uri: Uri,
    forbidden: Vec<String>,
    format: PushFormat,
    gzip: bool,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for Pushgateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pushgateway")
            .field("url", &self.url)
            .field("format", &self.format)
            .field("gzip", &self.gzip)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Pushgateway {
    /// Starts configuring a client for `url` (the gateway's base URL, e.g.
    /// `http://127.0.0.1:9091`, possibly with a path prefix) and `job`.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://127.0.0.1:9091/", "my job").build().unwrap();
    /// assert_eq!(g.url(), "http://127.0.0.1:9091/metrics/job/my%20job");
    /// ```
    pub fn builder(url: &str, job: &str) -> PushgatewayBuilder {
        PushgatewayBuilder {
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
        }
    }

    /// The group's URL, where pushes go.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://gw:9091", "j").grouping("a", "").build().unwrap();
    /// assert_eq!(g.url(), "http://gw:9091/metrics/job/j/a@base64/=");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Replaces every metric of the group with `registry`'s (HTTP `PUT`).
    ///
    /// ```no_run
    /// # async fn demo(g: promenade_core::push::Pushgateway, r: promenade_core::Registry) {
    /// g.push(&r).await.unwrap();
    /// # }
    /// ```
    pub async fn push(&self, registry: &Registry) -> Result<(), PushError> {
        let body = self.body(registry)?;
        self.send(Method::PUT, Some(body)).await
    }

    /// Replaces only the families `registry` has, keeping the group's others (HTTP `POST`).
    ///
    /// ```no_run
    /// # async fn demo(g: promenade_core::push::Pushgateway, r: promenade_core::Registry) {
    /// g.push_add(&r).await.unwrap();
    /// # }
    /// ```
    pub async fn push_add(&self, registry: &Registry) -> Result<(), PushError> {
        let body = self.body(registry)?;
        self.send(Method::POST, Some(body)).await
    }

    /// Deletes the group (HTTP `DELETE`).
    ///
    /// ```no_run
    /// # async fn demo(g: promenade_core::push::Pushgateway) {
    /// g.delete().await.unwrap();
    /// # }
    /// ```
    pub async fn delete(&self) -> Result<(), PushError> {
        self.send(Method::DELETE, None).await
    }

    /// Encodes `registry`, refusing samples that carry `job` or a grouping label (K6).
    fn body(&self, registry: &Registry) -> Result<Bytes, PushError> {
        let text = registry.encode_to_string(Format::Text)?;
        check_sample_labels(&text, &self.forbidden)?;
        let raw = match self.format {
            PushFormat::Text => text.into_bytes(),
            #[cfg(feature = "protobuf")]
            PushFormat::Protobuf => registry.encode_to_vec(Format::Protobuf)?,
        };
        if !self.gzip {
            return Ok(Bytes::from(raw));
        }
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(raw.len() / 4 + 64),
            flate2::Compression::default(),
        );
        gz.write_all(&raw).map_err(PushError::Compress)?;
        Ok(Bytes::from(gz.finish().map_err(PushError::Compress)?))
    }

    async fn send(&self, method: Method, body: Option<Bytes>) -> Result<(), PushError> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(self.uri.clone());
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, self.format.content_type());
            if self.gzip {
                builder = builder.header(CONTENT_ENCODING, "gzip");
            }
        }
        for (n, v) in &self.headers {
            builder = builder.header(n, v);
        }
        let request = builder
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| PushError::InvalidHeader(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| PushError::Connect {
                    url: self.url.clone(),
                    reason: error_chain(&e),
                    source: Box::new(e),
                })?;
            let status = response.status();
            let ok = match method {
                Method::DELETE => status == StatusCode::ACCEPTED || status == StatusCode::OK,
                _ => status == StatusCode::OK || status == StatusCode::ACCEPTED,
            };
            // Read (a bounded part of) the body either way, so the exchange completes.
            let body = Limited::new(response.into_body(), ERROR_BODY_LIMIT)
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            if ok {
                Ok(())
            } else {
                Err(PushError::Status {
                    method: method.clone(),
                    url: self.url.clone(),
                    status,
                    body: String::from_utf8_lossy(&body).trim_end().to_owned(),
                })
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(PushError::Timeout {
                url: self.url.clone(),
                timeout: self.timeout,
            }),
        }
    }
}

/// A blocking Pushgateway client for plain `main`s: the async client plus its own
/// current-thread Tokio runtime. Do not use (or drop) it inside an async context.
///
/// ```no_run
/// let registry = promenade_core::Registry::new();
/// let gateway = promenade_core::push::Pushgateway::builder("http://127.0.0.1:9091", "nightly")
///     .build_blocking()
///     .unwrap();
/// gateway.push(&registry).unwrap();
/// ```
#[derive(Debug)]
pub struct BlockingPushgateway {
    inner: Pushgateway,
    runtime: tokio::runtime::Runtime,
}

impl BlockingPushgateway {
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
        refuse_inside_runtime()?;
        self.runtime.block_on(self.inner.push(registry))
    }

    /// Blocking [`Pushgateway::push_add`] (`POST`).
    ///
    /// ```no_run
    /// # fn demo(g: promenade_core::push::BlockingPushgateway, r: promenade_core::Registry) {
    /// g.push_add(&r).unwrap();
    /// # }
    /// ```
    pub fn push_add(&self, registry: &Registry) -> Result<(), PushError> {
        refuse_inside_runtime()?;
        self.runtime.block_on(self.inner.push_add(registry))
    }

    /// Blocking [`Pushgateway::delete`] (`DELETE`).
    ///
    /// ```no_run
    /// # fn demo(g: promenade_core::push::BlockingPushgateway) {
    /// g.delete().unwrap();
    /// # }
    /// ```
    pub fn delete(&self) -> Result<(), PushError> {
        refuse_inside_runtime()?;
        self.runtime.block_on(self.inner.delete())
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

/// An error and its causes, joined by `: ` (hyper's own messages are terse).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let msg = c.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cause = c.source();
    }
    out
}

/// Reads a quoted string starting after its opening quote; returns the unescaped content
/// and the rest after the closing quote.
fn read_quoted(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &s[i + 1..])),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

/// The sample name and label names of one text-format sample line.
fn sample_labels(line: &str) -> (String, Vec<String>) {
    let (name, mut rest) = match line.find(['{', ' ']) {
        Some(i) if line.as_bytes()[i] == b'{' => (line[..i].to_owned(), &line[i + 1..]),
        _ => return (line.split(' ').next().unwrap_or("").to_owned(), Vec::new()),
    };
    let mut name = name;
    let mut labels = Vec::new();
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if rest.is_empty() || rest.starts_with('}') {
            break;
        }
        let (token, after) = if let Some(q) = rest.strip_prefix('"') {
            match read_quoted(q) {
                Some(t) => t,
                None => break,
            }
        } else {
            let end = rest.find(['=', ',', '}']).unwrap_or(rest.len());
            (rest[..end].trim().to_owned(), &rest[end..])
        };
        if let Some(value) = after.trim_start().strip_prefix('=') {
            labels.push(token);
            match value.trim_start().strip_prefix('"').and_then(read_quoted) {
                Some((_, r)) => rest = r,
                None => break,
            }
        } else {
            // A quoted metric name inside the braces (UTF-8 names).
            name = token;
            rest = after;
        }
    }
    (name, labels)
}

/// Refuses samples carrying `job` or a grouping-key label (checklist K6).
fn check_sample_labels(text: &str, forbidden: &[String]) -> Result<(), PushError> {
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') || !line.contains('{') {
            continue;
        }
        let (metric, labels) = sample_labels(line);
        if let Some(label) = labels.into_iter().find(|l| forbidden.contains(l)) {
            return Err(PushError::LabelCollision { metric, label });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(job: &str, g: &[(&str, &str)]) -> String {
        grouping_key_path(job, g).unwrap()
    }

    #[test]
    fn k5_vectors() {
        assert_eq!(
            path("directory_cleaner", &[("path", "/var/tmp")]),
            "/metrics/job/directory_cleaner/path@base64/L3Zhci90bXA"
        );
        assert_eq!(
            path(
                "example",
                &[("first_label", ""), ("second_label", "foobar")]
            ),
            "/metrics/job/example/first_label@base64/=/second_label/foobar"
        );
        let mut p = String::new();
        push_component(&mut p, "name", "Προμηθεύς", true, false);
        assert_eq!(p, "/name@base64/zqDPgc6_zrzOt864zrXPjc-C");
        // Without forcing, Go's rule: percent-encoded UTF-8.
        assert_eq!(
            path("j", &[("name", "Προμηθεύς")]),
            "/metrics/job/j/name/%CE%A0%CF%81%CE%BF%CE%BC%CE%B7%CE%B8%CE%B5%CF%8D%CF%82"
        );
    }

    #[test]
    fn job_and_values_escaping() {
        assert_eq!(path("a/b", &[]), "/metrics/job@base64/YS9i");
        assert_eq!(
            path("x", &[("v", "a b+c&d=é~")]),
            "/metrics/job/x/v/a%20b%2Bc%26d%3D%C3%A9~"
        );
        assert_eq!(path("Az09-_.~", &[]), "/metrics/job/Az09-_.~");
    }

    #[test]
    fn grouping_validation() {
        assert!(matches!(
            grouping_key_path("", &[]),
            Err(PushError::EmptyJob)
        ));
        for bad in ["__name", "job", "1a", "a-b", ""] {
            assert!(
                grouping_key_path("j", &[(bad, "v")]).is_err(),
                "{bad:?} accepted"
            );
        }
        assert!(grouping_key_path("j", &[("a", "1"), ("a", "2")]).is_err());
        assert!(grouping_key_path("j", &[("_a", "1"), ("b", "2")]).is_ok());
    }

    #[test]
    fn utf8_grouping_names_use_values_escaping_k8() {
        let path = |name: &str, value: &str| {
            build_path("j", &[(name.to_owned(), value.to_owned())], false, true)
        };
        assert_eq!(path("foo.bar", "v"), "/metrics/job/j/U__foo_2e_bar/v");
        assert_eq!(path("U__foo", "v"), "/metrics/job/j/U___55_____foo/v");
        assert_eq!(path("plain", "v"), "/metrics/job/j/plain/v");
        assert_eq!(path("花火", "v"), "/metrics/job/j/U___82b1__706b_/v");
        // Combines with @base64 values.
        assert_eq!(path("a.b", "/x"), "/metrics/job/j/U__a_2e_b@base64/L3g");
        // The gateway's decoding (our `values` unescaping) gives the names back.
        for name in ["foo.bar", "U__foo", "花火", "a_b.c"] {
            let p = path(name, "v");
            let encoded = p.split('/').nth(4).unwrap();
            assert_eq!(
                crate::encoding::unescape_name(encoded, crate::encoding::EscapingScheme::Values),
                name,
                "{p}"
            );
        }
        assert!(check_grouping("j", &[("".to_owned(), "v".to_owned())], true).is_err());
        assert!(check_grouping("j", &[("__x.y".to_owned(), "v".to_owned())], true).is_err());
        assert!(check_grouping("j", &[("x.y".to_owned(), "v".to_owned())], true).is_ok());
    }

    #[test]
    fn sample_label_parsing() {
        assert_eq!(sample_labels("up 1"), ("up".to_owned(), vec![]));
        assert_eq!(
            sample_labels(r#"x{a="1",job="q\"},job=\\"} 2"#),
            ("x".to_owned(), vec!["a".to_owned(), "job".to_owned()])
        );
        assert_eq!(
            sample_labels(r#"{"my.metric",instance="i"} 2"#),
            ("my.metric".to_owned(), vec!["instance".to_owned()])
        );
        assert_eq!(
            sample_labels(r#"y{"odd.label"="v"} 2"#),
            ("y".to_owned(), vec!["odd.label".to_owned()])
        );
    }

    #[test]
    fn refuses_job_and_grouping_labels() {
        let r = Registry::new();
        r.counter_family("c_total", "C.", &["job"])
            .unwrap()
            .get(&["x"])
            .unwrap()
            .inc();
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .build()
            .unwrap();
        let err = g.body(&r).unwrap_err();
        assert!(
            matches!(&err, PushError::LabelCollision { metric, label } if metric == "c_total" && label == "job"),
            "{err}"
        );

        let r = Registry::builder()
            .const_label("instance", "a")
            .build()
            .unwrap();
        r.gauge("g", "G.").unwrap();
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .grouping("instance", "b")
            .build()
            .unwrap();
        assert!(matches!(g.body(&r), Err(PushError::LabelCollision { .. })));
        // A label value that merely mentions job= is fine.
        let r = Registry::new();
        r.info("build", "B.", &[("note", "job=\"x\"")]).unwrap();
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .build()
            .unwrap();
        assert!(g.body(&r).is_ok());
    }

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
    fn gzip_body_round_trips() {
        use std::io::Read as _;
        let r = Registry::new();
        r.gauge("g", "G.").unwrap().set(2.0);
        let g = Pushgateway::builder("http://127.0.0.1:1", "j")
            .gzip(true)
            .build()
            .unwrap();
        let body = g.body(&r).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert!(text.contains("g 2"));
    }

    #[test]
    fn url_validation() {
        for bad in [
            "",
            "ftp://x",
            "https://x",
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

    #[test]
    fn blocking_client_refuses_to_run_inside_a_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            assert!(matches!(
                Pushgateway::builder("http://127.0.0.1:1", "j").build_blocking(),
                Err(PushError::Runtime(_))
            ));
        });
    }
}

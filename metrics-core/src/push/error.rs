//! The client's error type, and how transport errors are rendered into it.

use std::time::Duration;

use http::{Method, StatusCode};

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
    /// A pushed family's series already carry `job` or a grouping-key label: the gateway
    /// would silently overwrite it with the group's value. Found before anything is sent,
    /// from the registry's families (their label names, the constant labels, a state set's
    /// own name, the `le` or `quantile` a histogram or summary adds), even a family without
    /// series yet; for collectors that describe no families, from the samples they write.
    #[error(
        "metric {metric:?} already has the label {label:?}, which the push's grouping key sets; \
         remove the label or push to a different group"
    )]
    LabelCollision {
        /// The name of the family's first sample in the text format (`_total` for a counter,
        /// `_bucket` for a histogram, `_info` for an info metric), or, for a collector that
        /// describes no families, of the sample found.
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
    /// A root certificate given to the builder is not a usable PEM certificate, or TLS could
    /// not be set up (feature `push-tls`).
    #[error("invalid TLS root certificate: {0}")]
    InvalidCertificate(String),
    /// The blocking client could not start its runtime, or a thread to run a request on.
    #[error("blocking Pushgateway client: {0}")]
    Runtime(String),
}

/// An error and its causes, joined by `: ` (hyper's own messages are terse).
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
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

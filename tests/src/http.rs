//! A tiny blocking HTTP client (ureq, plain HTTP only) and free-port helper.
//!
//! The client is set up for testing servers rather than for browsing:
//! it never follows redirects, never turns 4xx/5xx into errors, ignores proxy
//! environment variables, does not decompress (send `Accept-Encoding: gzip` yourself and
//! you get the gzip bytes back), and sends **no** `Accept` header unless you pass one, so
//! "no Accept header" negotiation can be tested. Every request is limited to 10 s.

use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Duration;

use ureq::Agent;
use ureq::config::AutoHeaderValue;

/// Per-request time limit of [`http_get`] and [`http_request`].
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest response body [`http_get`] and [`http_request`] will read.
pub const MAX_BODY: u64 = 64 * 1024 * 1024;

/// A complete HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Header pairs in the order received; names are lower-case.
    pub headers: Vec<(String, String)>,
    /// Raw body bytes (not decompressed).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All values of header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body decoded as UTF-8 (lossily).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The shared ureq agent configured as described in the [module docs](self).
pub fn http_agent() -> &'static Agent {
    static AGENT: OnceLock<Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .accept(AutoHeaderValue::None)
            .accept_encoding(AutoHeaderValue::None)
            .user_agent("promenade-tests")
            .timeout_global(Some(HTTP_TIMEOUT))
            .build()
            .new_agent()
    })
}

/// `GET url` with the extra request `headers`; returns status, headers and body.
///
/// `Err` only for transport problems (connection refused, timeout, malformed response);
/// any status code, 4xx and 5xx included, is an `Ok`.
pub fn http_get(url: &str, headers: &[(&str, &str)]) -> Result<HttpResponse, String> {
    http_request("GET", url, headers, &[])
}

/// Sends `method url` with `headers` and `body` (an empty body is sent without one for
/// GET, HEAD, DELETE and OPTIONS). Same result conventions as [`http_get`].
pub fn http_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<HttpResponse, String> {
    let what = || format!("{method} {url}");
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let bodyless = body.is_empty() && matches!(method, "GET" | "HEAD" | "DELETE" | "OPTIONS");
    let result = if bodyless {
        builder
            .body(())
            .map_err(|e| format!("{}: bad request: {e}", what()))
            .and_then(|req| http_agent().run(req).map_err(|e| e.to_string()))
    } else {
        builder
            .body(body.to_vec())
            .map_err(|e| format!("{}: bad request: {e}", what()))
            .and_then(|req| http_agent().run(req).map_err(|e| e.to_string()))
    };
    let mut resp = result.map_err(|e| format!("{}: {e}", what()))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = if method == "HEAD" {
        Vec::new()
    } else {
        resp.body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| format!("{}: reading body: {e}", what()))?
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
///
/// Another process may grab it before you bind it; the server starters in this crate
/// retry with a new port when that happens.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0 to find a free port: {e}"))
}

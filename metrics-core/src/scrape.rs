//! The `/metrics` response, independent of any web framework: request method and headers
//! in, status, headers and body out. Each adapter's scrape route is a few lines around it.

use std::io::Write as _;

use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Response, StatusCode};

use crate::Registry;
use crate::encoding::negotiate;

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
/// content negotiation from `Accept`, gzip when `Accept-Encoding` allows it.
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
#[derive(Debug, Clone)]
pub struct ScrapeHandler {
    registry: Registry,
    auth: Option<(ScrapeAuth, String)>,
    gzip: bool,
}

impl ScrapeHandler {
    /// A handler for `registry`, gzip allowed, no auth.
    ///
    /// ```
    /// let h = promenade_core::scrape::ScrapeHandler::new(promenade_core::Registry::new());
    /// ```
    pub fn new(registry: Registry) -> Self {
        Self {
            registry,
            auth: None,
            gzip: true,
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
    pub fn with_gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
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

    /// Answers one scrape request.
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
        if method != Method::GET && method != Method::HEAD {
            return plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed; use GET or HEAD\n",
            )
            .map(|mut r| {
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
                r
            })
            .unwrap_or_else(fallback);
        }
        if let Some((auth, expected)) = &self.auth {
            let given = headers
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !credentials_match(given, expected.as_bytes()) {
                return plain(StatusCode::UNAUTHORIZED, "unauthorized\n")
                    .map(|mut r| {
                        r.headers_mut().insert(
                            header::WWW_AUTHENTICATE,
                            HeaderValue::from_static(auth.challenge()),
                        );
                        r
                    })
                    .unwrap_or_else(fallback);
            }
        }
        let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
        let negotiated = negotiate(accept);
        let body = match self.registry.encode_negotiated(&negotiated) {
            Ok(body) => body,
            Err(e) => {
                return plain(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &format!("encoding failed: {e}\n"),
                )
                .unwrap_or_else(fallback);
            }
        };
        let gzip = self.gzip && accepts_gzip(headers);
        let body = if gzip {
            gzip_bytes(&body)
        } else {
            Some(Bytes::from(body))
        };
        let (body, gzip) = match body {
            Some(b) => (b, gzip),
            None => (Bytes::new(), false),
        };
        let body = if method == Method::HEAD {
            Bytes::new()
        } else {
            body
        };
        let mut builder = Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, negotiated.content_type())
            .header(header::VARY, "Accept, Accept-Encoding");
        if gzip {
            builder = builder.header(header::CONTENT_ENCODING, "gzip");
        }
        builder.body(body).unwrap_or_else(|_| fallback(()))
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

fn gzip_bytes(data: &[u8]) -> Option<Bytes> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    enc.write_all(data).ok()?;
    enc.finish().ok().map(Bytes::from)
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

//! Scrape credentials: bearer or basic auth, compared in constant time.

use base64::Engine as _;

/// Credentials the scrape endpoint requires.
///
/// ```
/// use http::{HeaderMap, Method, StatusCode};
/// use promenade_core::scrape::{ScrapeAuth, ScrapeHandler};
/// let auth = ScrapeAuth::Basic { username: "prometheus".into(), password: "secret".into() };
/// assert_eq!(format!("{auth:?}"), "Basic(prometheus:***)"); // secrets are never printed
/// let handler = ScrapeHandler::builder(&promenade_core::Registry::new()).auth(auth).build().unwrap();
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
    pub(super) fn expected_header(&self) -> String {
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

    pub(super) fn challenge(&self) -> &'static str {
        match self {
            ScrapeAuth::Bearer(_) => "Bearer realm=\"metrics\"",
            ScrapeAuth::Basic { .. } => "Basic realm=\"metrics\"",
        }
    }
}
/// `Authorization` values match: the scheme case-insensitively (RFC 9110 §11.1), the
/// credentials exactly and in constant time.
pub(super) fn credentials_match(given: &[u8], expected: &[u8]) -> bool {
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

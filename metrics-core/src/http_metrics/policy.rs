//! The label policy of HTTP series: which methods keep their name, what a request that
//! matched no route or got no response is labelled, and how a status code becomes a label
//! (and which statuses get a remembered series). Only constants and pure functions, so
//! every other part of the HTTP instrumentation can rely on them.

/// Route label value for requests that matched no route.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, RequestInfo, UNMATCHED_ROUTE};
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry).build().unwrap();
/// let headers = http::HeaderMap::new();
/// // A scanner probing random paths: no route matched, so the raw path is not used.
/// let mut tracker = metrics.start(&RequestInfo { method: "GET", route: None, path: "/wp-login.php", headers: &headers });
/// tracker.response_head(404);
/// drop(tracker);
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains(&format!("http_requests_total{{method=\"GET\",route=\"{UNMATCHED_ROUTE}\",status=\"404\"}} 1")));
/// assert!(!text.contains("wp-login"));
/// ```
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// Method label value for methods outside the known list.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, OTHER_METHOD};
/// let metrics = HttpMetrics::builder(&promenade_core::Registry::new()).build().unwrap();
/// assert_eq!(metrics.method_label("BREW"), OTHER_METHOD);
/// assert_eq!(OTHER_METHOD, "_OTHER");
/// ```
pub const OTHER_METHOD: &str = "_OTHER";
/// Status label value for requests dropped before a response existed (client went away,
/// future cancelled), as nginx logs it.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, RequestInfo, CLIENT_CLOSED_STATUS};
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// let metrics = HttpMetrics::builder(&registry).build().unwrap();
/// let headers = http::HeaderMap::new();
/// let tracker = metrics.start(&RequestInfo { method: "GET", route: Some("/slow"), path: "/slow", headers: &headers });
/// drop(tracker); // the client went away before a response head existed
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains(&format!("http_requests_total{{method=\"GET\",route=\"/slow\",status=\"{CLIENT_CLOSED_STATUS}\"}} 1")));
/// ```
pub const CLIENT_CLOSED_STATUS: u16 = 499;

/// The HTTP methods kept by name (OpenTelemetry's list); anything else becomes `_OTHER`.
///
/// ```
/// use promenade_core::http_metrics::{HttpMetrics, KNOWN_METHODS};
/// let metrics = HttpMetrics::builder(&promenade_core::Registry::new()).build().unwrap();
/// for method in KNOWN_METHODS {
///     assert_eq!(metrics.method_label(method), method);
/// }
/// assert!(!KNOWN_METHODS.contains(&"PROPFIND"));
/// ```
pub const KNOWN_METHODS: [&str; 9] = [
    "CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE",
];

/// The method label for a method as sent: the name of a known or configured extra method,
/// else [`OTHER_METHOD`]. Exact, case-sensitive comparison (`get` is not `GET`), as
/// OpenTelemetry's HTTP semantic conventions ask.
pub(super) fn method_label<'a>(method: &str, extra_methods: &'a [Box<str>]) -> &'a str {
    method_name(method_index(method, extra_methods), extra_methods)
}

/// The position of a method's label among the known methods, then the extra methods, then
/// [`OTHER_METHOD`] (at `KNOWN_METHODS.len() + extra_methods.len()`): a small index, so
/// per-method state is an array slot rather than a hash lookup.
pub(super) fn method_index(method: &str, extra_methods: &[Box<str>]) -> usize {
    if let Some(i) = KNOWN_METHODS.iter().position(|m| *m == method) {
        return i;
    }
    extra_methods
        .iter()
        .position(|m| &**m == method)
        .map_or(KNOWN_METHODS.len() + extra_methods.len(), |i| {
            KNOWN_METHODS.len() + i
        })
}

/// The label of a [`method_index`].
pub(super) fn method_name(index: usize, extra_methods: &[Box<str>]) -> &str {
    if let Some(m) = KNOWN_METHODS.get(index) {
        return m;
    }
    index
        .checked_sub(KNOWN_METHODS.len())
        .and_then(|i| extra_methods.get(i))
        .map_or(OTHER_METHOD, |m| m)
}

/// `"200"`, or `"2xx"` with classes; no allocation.
pub(super) fn status_label(code: u16, classes: bool, buf: &mut [u8; 5]) -> &str {
    if classes {
        return match code / 100 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            5 => "5xx",
            _ => "other",
        };
    }
    let mut n = code;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

/// Statuses whose request series an in-flight entry remembers (one slot each); status
/// classes use the first five slots. Other statuses are looked up every time.
pub(super) const STATUS_SLOTS: usize = 24;

/// The slot of `code` among [`STATUS_SLOTS`], if it has one.
pub(super) fn status_slot(code: u16, classes: bool) -> Option<usize> {
    if classes {
        return match code / 100 {
            c @ 1..=5 => Some(usize::from(c - 1)),
            _ => None,
        };
    }
    Some(match code {
        200 => 0,
        201 => 1,
        202 => 2,
        204 => 3,
        206 => 4,
        301 => 5,
        302 => 6,
        303 => 7,
        304 => 8,
        307 => 9,
        308 => 10,
        400 => 11,
        401 => 12,
        403 => 13,
        404 => 14,
        405 => 15,
        409 => 16,
        422 => 17,
        429 => 18,
        499 => 19,
        500 => 20,
        502 => 21,
        503 => 22,
        504 => 23,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels() {
        let mut b = [0u8; 5];
        assert_eq!(status_label(200, false, &mut b), "200");
        assert_eq!(status_label(7, false, &mut b), "7");
        assert_eq!(status_label(65535, false, &mut b), "65535");
        assert_eq!(status_label(404, true, &mut b), "4xx");
    }
}

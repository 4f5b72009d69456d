//! What the adapters read off the wire: the method path, split into the `grpc_service` and
//! `grpc_method` labels (strictly, so a hostile path cannot mint label values), and the gRPC
//! message frames of a body, counted across arbitrary chunk boundaries for the `msg_*`
//! counters. Neither knows about metrics; both are pure functions of the bytes.

/// The label value of `grpc_service` and `grpc_method` for unregistered or unparsable methods.
///
/// ```
/// assert_eq!(promenade_core::grpc_metrics::UNKNOWN, "unknown");
/// ```
pub const UNKNOWN: &str = "unknown";

/// Longest service or method name accepted by [`split_method`] (bytes).
///
/// ```
/// use promenade_core::grpc_metrics::{MAX_NAME_LEN, split_method};
/// assert!(split_method(&format!("/{}/M", "s".repeat(MAX_NAME_LEN + 1))).is_none());
/// ```
pub const MAX_NAME_LEN: usize = 256;

/// Splits a full method path `/pkg.Service/Method` into `("pkg.Service", "Method")`.
///
/// Stricter than Go's split (which cuts at the first `/` and keeps the rest): the path must
/// be exactly `/<service>/<method>`, the service made of ASCII letters, digits, `_` and `.`,
/// the method of ASCII letters, digits and `_`, each non-empty and at most
/// [`MAX_NAME_LEN`] bytes. Anything else is `None` (recorded as `unknown`/`unknown`).
///
/// ```
/// use promenade_core::grpc_metrics::split_method;
/// assert_eq!(split_method("/pkg.Service/Method"), Some(("pkg.Service", "Method")));
/// assert_eq!(split_method("/grpc.health.v1.Health/Check"), Some(("grpc.health.v1.Health", "Check")));
/// assert_eq!(split_method("/a/b/c"), None);
/// assert_eq!(split_method("pkg.Service/Method"), None);
/// assert_eq!(split_method("/metrics"), None);
/// ```
pub fn split_method(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    let (service, method) = rest.split_once('/')?;
    let ok_len = |s: &str| !s.is_empty() && s.len() <= MAX_NAME_LEN;
    let service_ok = ok_len(service)
        && service
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && !service.starts_with('.')
        && !service.ends_with('.')
        && !service.contains("..");
    let method_ok = ok_len(method)
        && method
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    (service_ok && method_ok).then_some((service, method))
}

/// Counts gRPC messages in a byte stream of length-prefixed frames (1-byte compressed flag,
/// 4-byte big-endian length, payload), across arbitrary chunk boundaries. A message counts
/// once its last payload byte has been seen; compressed messages count like any other.
///
/// ```
/// use promenade_core::grpc_metrics::FrameCounter;
/// let mut c = FrameCounter::default();
/// let frame = [0u8, 0, 0, 0, 3, b'a', b'b', b'c'];
/// assert_eq!(c.push(&frame[..4]), 0); // split inside the header
/// assert_eq!(c.push(&frame[4..6]), 0);
/// assert_eq!(c.push(&frame[6..]), 1);
/// assert_eq!(c.push(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 2); // two empty (one compressed) messages
/// assert!(c.at_boundary());
/// ```
// Hidden: only promenade-tonic's body wrappers use it (see the re-export in mod.rs).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameCounter {
    header: [u8; 5],
    header_len: u8,
    remaining: u64,
}

impl FrameCounter {
    /// Feeds the next chunk; returns how many messages it completed.
    ///
    /// ```
    /// let mut c = promenade_core::grpc_metrics::FrameCounter::default();
    /// assert_eq!(c.push(&[0, 0, 0, 0, 1, 42, 0, 0]), 1); // one message, then a partial header
    /// ```
    pub fn push(&mut self, mut chunk: &[u8]) -> u64 {
        let mut completed = 0;
        // Every iteration consumes at least one byte, so the loop ends after chunk.len() steps.
        while !chunk.is_empty() {
            if self.remaining > 0 {
                let take = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(chunk.len());
                chunk = &chunk[take..];
                self.remaining -= take as u64;
                if self.remaining == 0 {
                    completed += 1;
                }
                continue;
            }
            let need = 5 - usize::from(self.header_len);
            let take = need.min(chunk.len());
            let start = usize::from(self.header_len);
            self.header[start..start + take].copy_from_slice(&chunk[..take]);
            self.header_len += take as u8;
            chunk = &chunk[take..];
            if self.header_len == 5 {
                self.header_len = 0;
                let len = u32::from_be_bytes([
                    self.header[1],
                    self.header[2],
                    self.header[3],
                    self.header[4],
                ]);
                if len == 0 {
                    completed += 1;
                } else {
                    self.remaining = u64::from(len);
                }
            }
        }
        completed
    }

    /// Whether the stream so far ended exactly at a message boundary.
    ///
    /// ```
    /// let mut c = promenade_core::grpc_metrics::FrameCounter::default();
    /// c.push(&[0, 0, 0]);
    /// assert!(!c.at_boundary());
    /// ```
    pub fn at_boundary(&self) -> bool {
        self.header_len == 0 && self.remaining == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_paths() {
        assert_eq!(
            split_method("/pkg.Service/Method"),
            Some(("pkg.Service", "Method"))
        );
        assert_eq!(split_method("/Service/M_1"), Some(("Service", "M_1")));
        let long = format!("/{}/M", "a".repeat(MAX_NAME_LEN + 1));
        let hostile = [
            "",
            "/",
            "//",
            "///",
            "/a",
            "/a/",
            "//b",
            "a/b",
            "/a/b/",
            "/a/b/c",
            "/../etc/passwd",
            "/a/../b",
            "/.a/b",
            "/a./b",
            "/a..b/c",
            "/a b/c",
            "/a/b?x=1",
            "/a/b#f",
            "/a/b\n",
            "/a\0/b",
            "/ünï/cödé",
            "/a/b.c",
            "/a/%2F",
            long.as_str(),
        ];
        for p in hostile {
            assert_eq!(split_method(p), None, "{p:?}");
        }
    }

    #[test]
    fn frames_across_chunks() {
        let mut stream = Vec::new();
        for len in [0u32, 1, 300, 70_000] {
            stream.push(u8::from(len % 2 == 1));
            stream.extend_from_slice(&len.to_be_bytes());
            stream.extend(std::iter::repeat_n(7u8, len as usize));
        }
        for chunk in [1, 2, 3, 5, 7, 4096, stream.len()] {
            let mut c = FrameCounter::default();
            let n: u64 = stream.chunks(chunk).map(|ch| c.push(ch)).sum();
            assert_eq!(n, 4, "chunk size {chunk}");
            assert!(c.at_boundary());
        }
        let mut c = FrameCounter::default();
        assert_eq!(c.push(&stream[..stream.len() - 1]), 3);
        assert!(!c.at_boundary());
    }
}

//! Trace ids for exemplars: from an incoming W3C `traceparent` header, or (feature
//! `opentelemetry`) from the current OpenTelemetry span context. No tracing dependency is
//! needed for the header path. Also the one way an instrumented duration is observed with
//! such an id as its exemplar, so HTTP and gRPC attach it identically.

use std::fmt;

use crate::metric::Histogram;

/// A trace id as an exemplar carries it: 16 bytes, not all zero (the W3C Trace Context
/// form), written as 32 lower-case hex digits when attached. It is checked once, when made,
/// so attaching it as an exemplar label cannot fail later, and it is small and `Copy` so a
/// request can hold it without allocating (binary: half the bytes a request moves around).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceId([u8; 16]);

const HEX: &[u8; 16] = b"0123456789abcdef";

impl TraceId {
    /// The id of 32 lower-case hex digits, not all zero; anything else is `None`.
    pub(crate) fn from_hex(hex: &str) -> Option<TraceId> {
        if !is_lower_hex(hex, 32) {
            return None;
        }
        let mut id = [0u8; 16];
        for (byte, pair) in id.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            // Checked as lower-case hex above.
            let digit = |c: u8| {
                if c.is_ascii_digit() {
                    c - b'0'
                } else {
                    c - b'a' + 10
                }
            };
            *byte = digit(pair[0]) << 4 | digit(pair[1]);
        }
        Self::from_bytes(id)
    }

    /// The id of 16 binary bytes (as OpenTelemetry holds it); all zero is `None`.
    pub(crate) fn from_bytes(bytes: [u8; 16]) -> Option<TraceId> {
        (bytes != [0; 16]).then_some(TraceId(bytes))
    }

    /// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex flags>`)
    /// when the trace is sampled; anything malformed is ignored.
    pub(crate) fn from_traceparent(header: &str) -> Option<TraceId> {
        let mut parts = header.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if !is_lower_hex(version, 2)
            || version == "ff"
            || !is_lower_hex(span, 16)
            || !is_lower_hex(flags, 2)
        {
            return None;
        }
        // Version 00 has exactly four fields; later versions may append more.
        if version == "00" && parts.next().is_some() {
            return None;
        }
        if span.bytes().all(|b| b == b'0') {
            return None;
        }
        let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
        if !sampled {
            return None;
        }
        TraceId::from_hex(trace)
    }

    /// The sampled trace of the current OpenTelemetry context (feature `opentelemetry`;
    /// without it there is no span context to read, and this is always `None`).
    pub(crate) fn from_current_span() -> Option<TraceId> {
        current_span()
    }

    /// The id to attach as an exemplar: the sampled trace of `traceparent` when given and
    /// well-formed, else (feature `opentelemetry`) the current span context's sampled trace.
    pub(crate) fn for_exemplar(traceparent: Option<&str>) -> Option<TraceId> {
        traceparent
            .and_then(TraceId::from_traceparent)
            .or_else(TraceId::from_current_span)
    }

    /// The 32 hex digits, written into `buf`.
    pub(crate) fn hex<'b>(&self, buf: &'b mut [u8; 32]) -> &'b str {
        for (pair, b) in buf.chunks_exact_mut(2).zip(self.0) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0x0f)];
        }
        // Only ASCII hex digits were written, so this cannot fall back.
        std::str::from_utf8(buf).unwrap_or("")
    }

    /// The 32 hex digits, for tests.
    #[cfg(test)]
    pub(crate) fn to_hex(self) -> String {
        self.hex(&mut [0; 32]).to_owned()
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TraceId")
            .field(&self.hex(&mut [0; 32]))
            .finish()
    }
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(feature = "opentelemetry")]
fn current_span() -> Option<TraceId> {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = opentelemetry::Context::current();
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() || !sc.is_sampled() {
        return None;
    }
    TraceId::from_bytes(sc.trace_id().to_bytes())
}

#[cfg(not(feature = "opentelemetry"))]
#[inline]
fn current_span() -> Option<TraceId> {
    None
}

/// Observes `seconds` on `histogram` with `trace_id` as its exemplar (label `trace_id`), or
/// plainly when there is no trace. Either way the observation is counted exactly once.
#[inline]
pub(crate) fn observe_with_trace(histogram: &Histogram, seconds: f64, trace_id: Option<&TraceId>) {
    match trace_id {
        Some(id) => observe_with_id(histogram, seconds, id),
        None => histogram.observe(seconds),
    }
}

/// Out of line: the plain observation is what most requests take, and stays small.
#[inline(never)]
fn observe_with_id(histogram: &Histogram, seconds: f64, id: &TraceId) {
    // The id was validated as hex, so the exemplar is always accepted; were it ever
    // refused, the observation must still count.
    if histogram
        .observe_with_exemplar(seconds, &[("trace_id", id.hex(&mut [0; 32]))])
        .is_err()
    {
        histogram.observe(seconds);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_parsing() {
        let ok = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            TraceId::from_traceparent(ok)
                .map(TraceId::to_hex)
                .as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", // not sampled
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
            "",
            "00-😱😱😱😱😱😱😱😱-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceId::from_traceparent(bad), None, "{bad}");
        }
        // Later versions may carry more fields.
        assert!(
            TraceId::from_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
                .is_some()
        );
    }

    #[test]
    fn observe_with_trace_attaches_the_id_or_observes_plainly() {
        let registry = crate::Registry::new();
        let h = registry
            .histogram("work_seconds", "Work.", crate::Buckets::default())
            .unwrap();
        let id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        observe_with_trace(&h, 0.2, None);
        observe_with_trace(&h, 0.3, Some(&id));
        let om = registry
            .encode_to_string(crate::Format::OpenMetrics)
            .unwrap();
        assert!(om.contains("work_seconds_count 2\n"), "{om}");
        assert!(
            om.contains(r#"# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.3"#),
            "{om}"
        );
    }
}

/// An OpenTelemetry context with a remote span of trace `4bf92f3577b34da6a3ce929d0e0e4736`,
/// for the tests here and those of the trackers that read it.
#[cfg(test)]
#[cfg(feature = "opentelemetry")]
pub(crate) mod test_context {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId as OtelTraceId, TraceState,
    };

    pub(crate) fn remote_span(flags: TraceFlags) -> opentelemetry::Context {
        let sc = SpanContext::new(
            OtelTraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            flags,
            true,
            TraceState::default(),
        );
        opentelemetry::Context::current().with_remote_span_context(sc)
    }
}

#[cfg(test)]
#[cfg(feature = "opentelemetry")]
mod span_context_tests {
    use opentelemetry::trace::TraceFlags;

    use super::test_context::remote_span as context;
    use super::*;

    #[test]
    fn sampled_span_context_gives_the_trace_id() {
        let _guard = context(TraceFlags::SAMPLED).attach();
        assert_eq!(
            TraceId::for_exemplar(None).map(TraceId::to_hex).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            TraceId::from_current_span().map(TraceId::to_hex).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        // A valid header wins over the context.
        let header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        assert_eq!(
            TraceId::for_exemplar(Some(header))
                .map(TraceId::to_hex)
                .as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
    }

    #[test]
    fn unsampled_or_missing_span_context_gives_nothing() {
        assert_eq!(TraceId::for_exemplar(None), None);
        let _guard = context(TraceFlags::default()).attach();
        assert_eq!(TraceId::for_exemplar(None), None);
        assert_eq!(TraceId::from_current_span(), None);
    }
}

//! Trace ids for exemplars: from an incoming W3C `traceparent` header, or (feature
//! `opentelemetry`) from the current OpenTelemetry span context. No tracing dependency is
//! needed for the header path.

/// The trace id to attach as an exemplar: the sampled trace of `traceparent` when given and
/// well-formed, else (feature `opentelemetry`) the current span context's sampled trace.
pub(crate) fn exemplar_trace_id(traceparent: Option<&str>) -> Option<[u8; 32]> {
    traceparent
        .and_then(sampled_trace_id)
        .or_else(current_span_trace_id)
}

/// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex flags>`) when
/// the trace is sampled; anything malformed is ignored.
pub(crate) fn sampled_trace_id(header: &str) -> Option<[u8; 32]> {
    let mut parts = header.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let lower_hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !lower_hex(version, 2)
        || version == "ff"
        || !lower_hex(trace, 32)
        || !lower_hex(span, 16)
        || !lower_hex(flags, 2)
    {
        return None;
    }
    // Version 00 has exactly four fields; later versions may append more.
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if trace.bytes().all(|b| b == b'0') || span.bytes().all(|b| b == b'0') {
        return None;
    }
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
    let mut id = [0u8; 32];
    id.copy_from_slice(trace.as_bytes());
    sampled.then_some(id)
}

/// The sampled trace id of the current OpenTelemetry context, as lower-case hex.
#[cfg(feature = "opentelemetry")]
pub(crate) fn current_span_trace_id() -> Option<[u8; 32]> {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = opentelemetry::Context::current();
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() || !sc.is_sampled() {
        return None;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [0u8; 32];
    for (i, b) in sc.trace_id().to_bytes().iter().enumerate() {
        id[2 * i] = HEX[usize::from(b >> 4)];
        id[2 * i + 1] = HEX[usize::from(b & 0x0f)];
    }
    Some(id)
}

/// Without the `opentelemetry` feature there is no span context to read.
#[cfg(not(feature = "opentelemetry"))]
#[inline]
pub(crate) fn current_span_trace_id() -> Option<[u8; 32]> {
    None
}

#[cfg(test)]
#[cfg(feature = "opentelemetry")]
mod tests {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };

    use super::*;

    fn context(flags: TraceFlags) -> opentelemetry::Context {
        let sc = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            flags,
            true,
            TraceState::default(),
        );
        opentelemetry::Context::current().with_remote_span_context(sc)
    }

    #[test]
    fn sampled_span_context_gives_the_trace_id() {
        let _guard = context(TraceFlags::SAMPLED).attach();
        assert_eq!(
            exemplar_trace_id(None).as_ref().map(|id| &id[..]),
            Some(&b"4bf92f3577b34da6a3ce929d0e0e4736"[..])
        );
        // A valid header wins over the context.
        let header = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        assert_eq!(
            exemplar_trace_id(Some(header)).as_ref().map(|id| &id[..]),
            Some(&b"0af7651916cd43dd8448eb211c80319c"[..])
        );
    }

    #[test]
    fn unsampled_or_missing_span_context_gives_nothing() {
        assert_eq!(exemplar_trace_id(None), None);
        let _guard = context(TraceFlags::default()).attach();
        assert_eq!(exemplar_trace_id(None), None);
    }

    #[test]
    fn http_tracker_takes_the_span_context_trace_id() {
        use crate::http_metrics::{HttpMetrics, RequestInfo};
        let registry = crate::Registry::new();
        let metrics = HttpMetrics::builder(&registry).build().unwrap();
        let headers = http::HeaderMap::new();
        {
            let _guard = context(TraceFlags::SAMPLED).attach();
            let mut tracker = metrics.start(&RequestInfo {
                method: "GET",
                route: Some("/"),
                path: "/",
                headers: &headers,
            });
            tracker.response_head(200);
        }
        let om = registry
            .encode_to_string(crate::Format::OpenMetrics)
            .unwrap();
        assert!(
            om.contains(r#"# {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}"#),
            "{om}"
        );
    }
}

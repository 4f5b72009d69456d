//! Content negotiation from an `Accept` header
//! (<https://prometheus.io/docs/instrumenting/content_negotiation/>), following the released Go
//! implementation (prometheus/common `expfmt.NegotiateIncludingOpenMetrics`).

use super::Format;

/// How names outside the legacy character set are written
/// (<https://prometheus.io/docs/instrumenting/escaping_schemes/>).
///
/// ```
/// use promenade_core::encoding::{escape_name, negotiate, EscapingScheme};
/// // A scraper asks for a scheme in its Accept header; underscores is the default.
/// assert_eq!(negotiate(None).escaping, EscapingScheme::default());
/// assert_eq!(negotiate(Some("text/plain;version=0.0.4;escaping=values")).escaping, EscapingScheme::Values);
/// assert_eq!(escape_name("http.server.duration", EscapingScheme::Underscores), "http_server_duration");
/// assert_eq!(escape_name("http.server.duration", EscapingScheme::Dots), "http_dot_server_dot_duration");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EscapingScheme {
    /// Names are written as they are, quoted where needed.
    AllowUtf8,
    /// Invalid characters become `_` (the default when nothing is asked for).
    #[default]
    Underscores,
    /// `.` becomes `_dot_`, `_` becomes `__`, other invalid characters `__`.
    Dots,
    /// `U__` prefix and `_<hex>_` escapes; reversible.
    Values,
}

impl EscapingScheme {
    /// The parameter value, as in `escaping=underscores`.
    ///
    /// ```
    /// assert_eq!(promenade_core::encoding::EscapingScheme::AllowUtf8.as_str(), "allow-utf-8");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            EscapingScheme::AllowUtf8 => "allow-utf-8",
            EscapingScheme::Underscores => "underscores",
            EscapingScheme::Dots => "dots",
            EscapingScheme::Values => "values",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "allow-utf-8" => Some(EscapingScheme::AllowUtf8),
            "underscores" => Some(EscapingScheme::Underscores),
            "dots" => Some(EscapingScheme::Dots),
            "values" => Some(EscapingScheme::Values),
            _ => None,
        }
    }
}

/// The outcome of negotiation: what to write and the Content-Type to send.
///
/// ```
/// use promenade_core::encoding::{negotiate, EscapingScheme};
/// use promenade_core::{Format, Registry};
///
/// let n = negotiate(Some("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8"));
/// assert_eq!(n.format, Format::OpenMetrics);
/// assert_eq!(n.escaping, EscapingScheme::AllowUtf8);
/// assert_eq!(n.content_type(), "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8");
///
/// let registry = Registry::new();
/// registry.gauge("up", "Up.").unwrap().set(1.0);
/// assert!(registry.encode_negotiated(&n).unwrap().ends_with(b"# EOF\n"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The chosen format.
    pub format: Format,
    /// The escaping scheme in force for names.
    pub escaping: EscapingScheme,
}

impl Negotiated {
    /// The full Content-Type, with the escaping parameter as the Go client sends it.
    ///
    /// ```
    /// let n = promenade_core::encoding::negotiate(None);
    /// assert_eq!(n.content_type(), "text/plain; version=0.0.4; charset=utf-8; escaping=underscores");
    /// ```
    pub fn content_type(&self) -> String {
        format!(
            "{}; escaping={}",
            self.format.content_type(),
            self.escaping.as_str()
        )
    }
}

struct Entry<'a> {
    media_type: &'a str,
    version: Option<&'a str>,
    proto: Option<&'a str>,
    encoding: Option<&'a str>,
    escaping: Option<&'a str>,
    q: f64,
    wildcard: bool,
}

fn parse_entry(raw: &str) -> Option<Entry<'_>> {
    let mut parts = raw.split(';');
    let media_type = parts.next()?.trim();
    if media_type.is_empty() || !media_type.contains('/') {
        return None;
    }
    let mut entry = Entry {
        media_type,
        version: None,
        proto: None,
        encoding: None,
        escaping: None,
        q: 1.0,
        wildcard: media_type.contains('*'),
    };
    for param in parts {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"');
        match key.trim() {
            "version" => entry.version = Some(value),
            "escaping" => entry.escaping = Some(value),
            "proto" => entry.proto = Some(value),
            "encoding" => entry.encoding = Some(value),
            // Go's goautoneg turns an unparsable weight into 0.
            "q" => {
                entry.q = value
                    .parse::<f64>()
                    .ok()
                    .filter(|q| q.is_finite())
                    .unwrap_or(0.0)
            }
            _ => {}
        }
    }
    Some(entry)
}

#[cfg(feature = "protobuf")]
fn protobuf_format(e: &Entry<'_>) -> Option<Format> {
    (e.proto == Some("io.prometheus.client.MetricFamily") && e.encoding == Some("delimited"))
        .then_some(Format::Protobuf)
}

#[cfg(not(feature = "protobuf"))]
fn protobuf_format(_: &Entry<'_>) -> Option<Format> {
    None
}

/// Picks the exposition format for an `Accept` header value.
///
/// Entries are ranked by weight (entries with `q=0` are not acceptable). The first one we
/// serve wins: delimited protobuf (with the `protobuf` feature), OpenMetrics `version=1.0.0`, OpenMetrics `0.0.1` or without a version (as Go
/// answers), and text `0.0.4` or without a version. A missing or unparsable header, or one
/// naming nothing we serve (`*/*` included), gets text 0.0.4. The escaping scheme is the last
/// valid `escaping=` seen up to and including the chosen entry, else `underscores` (as the Go
/// implementation does).
///
/// ```
/// use promenade_core::encoding::{negotiate, EscapingScheme};
/// use promenade_core::Format;
/// let prom3 = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,\
///     application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,\
///     text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
/// let n = negotiate(Some(prom3));
/// assert_eq!(n.format, Format::OpenMetrics);
/// assert_eq!(n.escaping, EscapingScheme::AllowUtf8);
/// assert_eq!(negotiate(Some("*/*")).format, Format::Text);
/// ```
pub fn negotiate(accept: Option<&str>) -> Negotiated {
    let mut result = Negotiated {
        format: Format::Text,
        escaping: EscapingScheme::Underscores,
    };
    let Some(accept) = accept else { return result };
    // Bound the work an absurd header can cause.
    let mut entries: Vec<Entry<'_>> = accept
        .split(',')
        .take(64)
        .filter_map(parse_entry)
        .filter(|e| e.q > 0.0)
        .collect();
    // Highest weight first; on equal weight concrete types before wildcards; otherwise stable.
    entries.sort_by(|a, b| b.q.total_cmp(&a.q).then(a.wildcard.cmp(&b.wildcard)));
    for e in &entries {
        if let Some(scheme) = e.escaping.and_then(EscapingScheme::parse) {
            result.escaping = scheme;
        }
        let media = e.media_type;
        let format = if media.eq_ignore_ascii_case("application/openmetrics-text") {
            match e.version {
                Some("1.0.0") => Some(Format::OpenMetrics),
                Some("0.0.1") | None => Some(Format::OpenMetricsV0_0_1),
                Some(_) => None,
            }
        } else if media.eq_ignore_ascii_case("application/vnd.google.protobuf") {
            protobuf_format(e)
        } else if media.eq_ignore_ascii_case("text/plain") {
            matches!(e.version, Some("0.0.4") | None).then_some(Format::Text)
        } else {
            None
        };
        if let Some(format) = format {
            result.format = format;
            return result;
        }
    }
    result
}

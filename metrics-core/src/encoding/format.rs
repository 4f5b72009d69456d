//! The exposition formats this crate writes, and what each needs of the encoders.

/// An exposition format this crate can write.
///
/// ```
/// use promenade_core::{Format, Registry};
/// let registry = Registry::new();
/// registry.gauge("up", "Up.").unwrap().set(1.0);
/// assert!(registry.encode_to_string(Format::Text).unwrap().contains("# TYPE up gauge\nup 1\n"));
/// // OpenMetrics writes float values with a decimal point and ends with `# EOF`.
/// assert!(registry.encode_to_string(Format::OpenMetrics).unwrap().ends_with("up 1.0\n# EOF\n"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text format 0.0.4 (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
    /// OpenMetrics text requested as `version=0.0.1` (same body, different Content-Type).
    OpenMetricsV0_0_1,
    /// Length-delimited protobuf `io.prometheus.client.MetricFamily` messages; the only
    /// format that carries native histograms.
    #[cfg(feature = "protobuf")]
    Protobuf,
}

impl Format {
    /// The Content-Type for this format, without the escaping parameter.
    ///
    /// ```
    /// assert_eq!(promenade_core::Format::Text.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    /// ```
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::OpenMetricsV0_0_1 => {
                "application/openmetrics-text; version=0.0.1; charset=utf-8"
            }
            #[cfg(feature = "protobuf")]
            Format::Protobuf => {
                "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
            }
        }
    }

    pub(crate) fn is_openmetrics(self) -> bool {
        matches!(self, Format::OpenMetrics | Format::OpenMetricsV0_0_1)
    }
}

//! Every Accept header Prometheus has sent (each release from 2.0 to 3.x) picks the expected
//! format, escaping scheme and Content-Type.

use promenade_core::Format;
use promenade_core::encoding::{EscapingScheme, negotiate};

const PROTO: &str =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited";

fn check(header: Option<&str>, format: Format, escaping: EscapingScheme) {
    let n = negotiate(header);
    assert_eq!(
        (n.format, n.escaping),
        (format, escaping),
        "Accept: {header:?}"
    );
    assert!(n.content_type().starts_with(format.content_type()));
    assert!(
        n.content_type()
            .ends_with(&format!("; escaping={}", escaping.as_str()))
    );
}

#[test]
fn prometheus_3_4_default() {
    check(
        Some(
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
        ),
        Format::OpenMetrics,
        EscapingScheme::AllowUtf8,
    );
}

#[test]
fn prometheus_3_4_protobuf_first() {
    // The protobuf entry carries no `escaping=`, so names are escaped with underscores (as the
    // Go implementation does).
    let h = format!(
        "{PROTO};q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    );
    check(Some(&h), Format::Protobuf, EscapingScheme::Underscores);
}

#[test]
fn prometheus_3_0_to_3_3_escaping_on_every_entry() {
    let h = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;escaping=allow-utf-8;q=0.2";
    check(Some(h), Format::OpenMetrics, EscapingScheme::AllowUtf8);
    let proto_first = format!(
        "{PROTO};escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.2,*/*;escaping=allow-utf-8;q=0.1"
    );
    check(
        Some(&proto_first),
        Format::Protobuf,
        EscapingScheme::AllowUtf8,
    );
}

#[test]
fn prometheus_2_series() {
    use EscapingScheme::{AllowUtf8, Underscores};
    let cases: [(&str, Format, EscapingScheme); 9] = [
        (
            "text/plain;version=0.0.4;q=1,*/*;q=0.1",
            Format::Text,
            Underscores,
        ),
        (
            "application/openmetrics-text; version=0.0.1,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            Format::OpenMetricsV0_0_1,
            Underscores,
        ),
        (
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            Format::OpenMetrics,
            Underscores,
        ),
        (
            "application/openmetrics-text;version=1.0.0;q=0.75,application/openmetrics-text;q=0.6,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            Format::OpenMetrics,
            Underscores,
        ),
        (
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            Format::Protobuf,
            Underscores,
        ),
        (
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
            Format::Protobuf,
            Underscores,
        ),
        (
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            Format::OpenMetrics,
            Underscores,
        ),
        // 2.49.0 sent `*/*;q=2`: the wildcard ranks first but names nothing we serve.
        (
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=2",
            Format::OpenMetrics,
            Underscores,
        ),
        (
            "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,*/*;escaping=allow-utf-8;q=0.2",
            Format::OpenMetrics,
            AllowUtf8,
        ),
    ];
    for (h, f, e) in cases {
        check(Some(h), f, e);
    }
}

#[test]
fn fallbacks_and_defaults() {
    use EscapingScheme::Underscores;
    check(None, Format::Text, Underscores);
    check(Some(""), Format::Text, Underscores);
    check(Some("*/*"), Format::Text, Underscores);
    check(Some("application/json"), Format::Text, Underscores);
    check(Some(";;;,,,=q=;"), Format::Text, Underscores);
    check(Some("text/plain"), Format::Text, Underscores);
    check(Some("text/plain;version=1.0.0"), Format::Text, Underscores);
    check(
        Some("application/openmetrics-text"),
        Format::OpenMetricsV0_0_1,
        Underscores,
    );
    check(
        Some("application/openmetrics-text;version=2.0.0"),
        Format::Text,
        Underscores,
    );
    // q=0 means "not acceptable".
    check(
        Some("application/openmetrics-text;version=1.0.0;q=0,text/plain"),
        Format::Text,
        Underscores,
    );
}

#[test]
fn escaping_parameter_rules() {
    check(
        Some("text/plain;version=0.0.4;escaping=values"),
        Format::Text,
        EscapingScheme::Values,
    );
    check(
        Some("text/plain;version=0.0.4;escaping=dots"),
        Format::Text,
        EscapingScheme::Dots,
    );
    // Unknown values are ignored, never echoed: the header is untrusted input.
    let n = negotiate(Some("text/plain;version=0.0.4;escaping=<script>"));
    assert_eq!(n.escaping, EscapingScheme::Underscores);
    assert!(!n.content_type().contains("script"));
    // The last valid escaping seen up to the matched entry wins.
    check(
        Some("application/json;escaping=values;q=0.9,text/plain;version=0.0.4;q=0.5"),
        Format::Text,
        EscapingScheme::Values,
    );
}

#[test]
fn content_types_are_exact() {
    assert_eq!(
        negotiate(Some("application/openmetrics-text;version=1.0.0")).content_type(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores"
    );
    assert_eq!(
        negotiate(Some("application/openmetrics-text;version=0.0.1")).content_type(),
        "application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=underscores"
    );
}

#[test]
fn protobuf_needs_delimited_metric_family() {
    use EscapingScheme::Underscores;
    check(Some(PROTO), Format::Protobuf, Underscores);
    check(
        Some(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text",
        ),
        Format::Text,
        Underscores,
    );
    check(
        Some("application/vnd.google.protobuf;proto=other.Message;encoding=delimited"),
        Format::Text,
        Underscores,
    );
    check(
        Some("application/vnd.google.protobuf"),
        Format::Text,
        Underscores,
    );
    assert_eq!(
        negotiate(Some(PROTO)).content_type(),
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores"
    );
}

#[test]
fn absurd_headers_are_bounded() {
    let huge = "x/y;q=0.1,".repeat(100_000);
    assert_eq!(negotiate(Some(&huge)).format, Format::Text);
}

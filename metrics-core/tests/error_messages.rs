//! Error messages say what the user did: the family and its label names on a label-count
//! mismatch, the likely cause of a name that is already registered, and `?` works in a
//! `main` that returns `std::io::Result`.

use promenade_core::http_metrics::HttpMetricsBuilder;
use promenade_core::{Error, Registry};

#[test]
fn a_wrong_label_count_names_the_family_and_its_labels() {
    let registry = Registry::new();
    let requests = registry
        .counter_family("http_requests_total", "Requests.", &["method", "status"])
        .unwrap();
    let message = requests.get(&["GET"]).unwrap_err().to_string();
    assert!(message.contains("\"http_requests\""), "{message}");
    assert!(message.contains("[\"method\", \"status\"]"), "{message}");
    assert!(message.contains("1 label value"), "{message}");
}

#[test]
fn a_second_registration_suggests_a_second_layer() {
    let registry = Registry::new();
    registry
        .histogram_family(
            "http_request_duration_seconds",
            "Latency.",
            &["route"],
            promenade_core::Buckets::default(),
        )
        .unwrap();
    let err = registry
        .histogram_family(
            "http_request_duration_seconds",
            "Latency.",
            &["route"],
            promenade_core::Buckets::default(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyRegistered { .. }));
    let message = err.to_string();
    assert!(message.contains("already registered"), "{message}");
    assert!(message.contains("same registry"), "{message}");
}

#[test]
fn question_mark_works_in_an_io_result_main() {
    fn main_like() -> std::io::Result<()> {
        let registry = Registry::new();
        registry.counter("jobs_total", "Jobs.")?;
        registry.counter("jobs_total", "Again.")?;
        Ok(())
    }
    let err = main_like().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::Other);
    assert!(err.to_string().contains("\"jobs\""), "{err}");
}

/// A builder change under test.
type Declare = Box<dyn Fn(HttpMetricsBuilder) -> HttpMetricsBuilder>;

/// Labels from the application: a bad declaration is refused at build with a message that
/// names the builder method, the label and what is wrong with it.
#[test]
fn application_label_declarations_are_checked_at_build() {
    use promenade_core::http_metrics::{HttpMetrics, LabelValues};
    let tiers = || LabelValues::one_of(&["free", "pro"], "other");
    let cases: Vec<(Declare, &[&str])> = vec![
        (
            Box::new(move |b| {
                b.request_extension_label("bad-name", tiers(), |s: &String| s.as_str())
            }),
            &[
                "request_extension_label(\"bad-name\", ..)",
                "invalid label name",
            ],
        ),
        (
            Box::new(move |b| b.response_header_label("__tier", "x-tier", tiers())),
            &["response_header_label(\"__tier\", ..)", "reserved"],
        ),
        (
            Box::new(move |b| b.request_header_label("status", "x-status", tiers())),
            &[
                "request_header_label(\"status\", ..)",
                "already used by a built-in HTTP label",
            ],
        ),
        (
            Box::new(move |b| b.request_header_label("http_route", "x-route", tiers())),
            &["already used by a built-in OpenTelemetry label"],
        ),
        (
            Box::new(move |b| {
                b.derived_label("tier", |_| String::new())
                    .request_header_label("tier", "x-tier", tiers())
            }),
            &[
                "request_header_label(\"tier\", ..)",
                "already used by derived_label",
            ],
        ),
        (
            Box::new(move |b| {
                b.const_label("tier", "x")
                    .request_header_label("tier", "x-tier", tiers())
            }),
            &["already used by const_label"],
        ),
        (
            Box::new(move |b| {
                b.request_header_label("tier", "x-tier", tiers())
                    .response_extension_label("tier", tiers(), |s: &String| s.as_str())
            }),
            &[
                "response_extension_label(\"tier\", ..)",
                "already declared by request_header_label",
            ],
        ),
        (
            Box::new(|b| {
                b.response_extension_label(
                    "outcome",
                    LabelValues::one_of::<&str>(&[], "other"),
                    |s: &String| s.as_str(),
                )
            }),
            &[
                "response_extension_label(\"outcome\", ..)",
                "LabelValues::one_of was given no values",
            ],
        ),
        (
            Box::new(move |b| b.response_header_label("outcome", "x outcome", tiers())),
            &["\"x outcome\" is not a valid header name"],
        ),
    ];
    for (declare, needles) in cases {
        let registry = Registry::new();
        let err = declare(HttpMetrics::builder(&registry))
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)), "{err:?}");
        let message = err.to_string();
        for needle in needles {
            assert!(message.contains(needle), "{needle:?} not in {message}");
        }
        // Nothing was registered: the same registry takes a valid configuration.
        assert!(HttpMetrics::builder(&registry).build().is_ok());
    }
}

/// Labels from the application on gRPC: the same checks as HTTP, against the gRPC labels,
/// with messages naming the builder method and the label.
#[test]
fn grpc_application_label_declarations_are_checked_at_build() {
    use promenade_core::grpc_metrics::{GrpcMetrics, GrpcMetricsBuilder, LabelValues, Side};
    type DeclareGrpc = Box<dyn Fn(GrpcMetricsBuilder) -> GrpcMetricsBuilder>;
    let tenants = || LabelValues::one_of(&["acme", "globex"], "other");
    let cases: Vec<(DeclareGrpc, &[&str])> = vec![
        (
            Box::new(move |b| b.request_metadata_label("bad-name", "x-tenant", tenants())),
            &[
                "request_metadata_label(\"bad-name\", ..)",
                "invalid label name",
            ],
        ),
        (
            Box::new(move |b| {
                b.request_extension_label("grpc_service", tenants(), |s: &String| s.as_str())
            }),
            &[
                "request_extension_label(\"grpc_service\", ..)",
                "already used by a built-in gRPC label",
            ],
        ),
        (
            Box::new(move |b| b.response_metadata_label("grpc_method", "x-m", tenants())),
            &[
                "response_metadata_label(\"grpc_method\", ..)",
                "built-in gRPC label",
            ],
        ),
        (
            Box::new(move |b| {
                b.response_extension_label("grpc_code", tenants(), |s: &String| s.as_str())
            }),
            &[
                "response_extension_label(\"grpc_code\", ..)",
                "built-in gRPC label",
            ],
        ),
        (
            Box::new(move |b| b.request_metadata_label("grpc_type", "x-t", tenants())),
            &[
                "request_metadata_label(\"grpc_type\", ..)",
                "built-in gRPC label",
            ],
        ),
        (
            Box::new(move |b| {
                b.request_metadata_label(
                    "tenant",
                    "x-tenant",
                    LabelValues::one_of::<&str>(&[], "other"),
                )
            }),
            &[
                "request_metadata_label(\"tenant\", ..)",
                "LabelValues::one_of was given no values",
            ],
        ),
        (
            Box::new(move |b| {
                b.request_metadata_label("tenant", "x-tenant", tenants())
                    .request_extension_label("tenant", tenants(), |s: &String| s.as_str())
            }),
            &[
                "request_extension_label(\"tenant\", ..)",
                "already declared by request_metadata_label",
            ],
        ),
        (
            Box::new(move |b| b.request_metadata_label("tenant", "x tenant", tenants())),
            &["\"x tenant\" is not a valid header name"],
        ),
        (
            Box::new(move |b| b.max_series(0)),
            &["max_series(0)", "at least 1"],
        ),
    ];
    for side in [Side::Server, Side::Client] {
        for (declare, needles) in &cases {
            let registry = Registry::new();
            let err = declare(GrpcMetrics::builder(&registry, side))
                .build()
                .unwrap_err();
            assert!(matches!(err, Error::InvalidConfig(_)), "{err:?}");
            let message = err.to_string();
            for needle in *needles {
                assert!(message.contains(needle), "{needle:?} not in {message}");
            }
            // Nothing was registered: the same registry takes a valid configuration.
            assert!(GrpcMetrics::builder(&registry, side).build().is_ok());
        }
    }
}

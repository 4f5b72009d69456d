//! Error messages say what the user did: the family and its label names on a label-count
//! mismatch, the likely cause of a name that is already registered, and `?` works in a
//! `main` that returns `std::io::Result`.

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

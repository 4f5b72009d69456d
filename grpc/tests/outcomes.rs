//! The opt-in outcome split: with `handling_seconds_by_code(true)` the handling-seconds
//! histogram carries `grpc_code` on both sides of real tonic calls, so error latency is seen
//! apart from success latency; off (the default), the Go middleware's label set is kept.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use common::{Harness, SVC};
use promenade_tonic::GrpcMetricsBuilderExt as _;
use promenade_tonic_demo::{FILE_DESCRIPTOR_SET, Ping};
use tonic::Code;

fn ping(fail: Code) -> Ping {
    Ping {
        text: "x".into(),
        fail_code: fail as i32,
        ..Default::default()
    }
}

/// The exact series' count, `None` when absent.
fn count(text: &str, side: &str, code: Option<&str>) -> Option<f64> {
    let code = code.map_or(String::new(), |c| format!(",grpc_code=\"{c}\""));
    let series = format!(
        "grpc_{side}_handling_seconds_count{{grpc_type=\"unary\",grpc_service=\"{SVC}\",grpc_method=\"Unary\"{code}}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&series))
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handling_seconds_by_code_splits_outcomes_on_both_sides() {
    let h = Harness::start_configured(promenade_tonic_demo::server(), |b| {
        b.file_descriptor_set(FILE_DESCRIPTOR_SET)
            .unwrap()
            .handling_seconds_by_code(true)
    })
    .await;
    let mut c = h.client();
    for _ in 0..3 {
        c.unary(ping(Code::Ok)).await.unwrap();
    }
    for _ in 0..2 {
        assert_eq!(
            c.unary(ping(Code::NotFound)).await.unwrap_err().code(),
            Code::NotFound
        );
    }
    let text = h.text();
    for side in ["server", "client"] {
        assert_eq!(count(&text, side, Some("OK")), Some(3.0), "{side}\n{text}");
        assert_eq!(
            count(&text, side, Some("NotFound")),
            Some(2.0),
            "{side}\n{text}"
        );
        assert_eq!(
            count(&text, side, None),
            None,
            "{side}: no code-less series\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handling_seconds_has_no_code_by_default() {
    let h = Harness::start().await;
    let mut c = h.client();
    c.unary(ping(Code::Ok)).await.unwrap();
    c.unary(ping(Code::NotFound)).await.unwrap_err();
    let text = h.text();
    for side in ["server", "client"] {
        assert_eq!(count(&text, side, None), Some(2.0), "{side}\n{text}");
    }
    assert!(!text.contains("handling_seconds_count{grpc_type=\"unary\",grpc_service=\"promenade.demo.v1.Demo\",grpc_method=\"Unary\",grpc_code"));
}

//! The tracker's unit tests: deferred routes, discovery and its cap, and message counts
//! racing the route decision.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::*;
use crate::Format;
use crate::grpc_metrics::{GrpcCode, GrpcType, MAX_DISCOVERED_METHODS};

#[test]
fn tracker_records_once_and_cancels_by_default() {
    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, Side::Server)
        .method("/a.B/C", GrpcType::ServerStream)
        .build()
        .unwrap();
    let mut t = m.start("/a.B/C");
    t.set_code(GrpcCode::Ok);
    t.finish(GrpcCode::DataLoss);
    drop(m.start("/a.B/C"));
    let text = r.encode_to_string(Format::Text).unwrap();
    assert!(text.contains(r#"grpc_code="DataLoss"} 1"#));
    assert!(text.contains(r#"grpc_code="Canceled"} 1"#));
    assert!(!text.contains(r#"grpc_code="OK""#));
    assert!(text.contains(r#"grpc_server_handling_seconds_count{grpc_type="server_stream",grpc_service="a.B",grpc_method="C"} 2"#));
    assert!(!text.contains("grpc_server_handling_seconds_bucket{grpc_type=\"server_stream\",grpc_service=\"a.B\",grpc_method=\"C\",grpc_code"));
}

fn text(r: &Registry) -> String {
    r.encode_to_string(Format::Text).unwrap()
}

/// The value of one sample line, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

const UNKNOWN_LABELS: &str =
    r#"{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown"}"#;

#[test]
fn server_defers_a_new_path_until_its_route_is_known() {
    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, Side::Server).build().unwrap();
    let mut call = m.start("/kv.Store/Get");
    assert!(call.is_route_pending());
    assert_eq!(call.labels(), (UNKNOWN, UNKNOWN));
    call.msg_received();
    call.received_counter().add(2);
    // Nothing counted anywhere while the route is pending.
    assert!(!text(&r).contains("grpc_server_started_total{"));
    call.resolve_route(true);
    call.resolve_route(false); // the first decision holds
    assert_eq!(call.labels(), ("kv.Store", "Get"));
    assert_eq!(call.grpc_type(), None);
    call.msg_sent();
    call.finish(GrpcCode::NotFound);
    let labels = r#"{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Get"}"#;
    let t = text(&r);
    assert_eq!(
        sample(&t, &format!("grpc_server_started_total{labels}")),
        1.0
    );
    assert_eq!(
        sample(&t, &format!("grpc_server_msg_received_total{labels}")),
        3.0
    );
    assert_eq!(
        sample(&t, &format!("grpc_server_msg_sent_total{labels}")),
        1.0
    );
    assert!(t.contains(r#"grpc_server_handled_total{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Get",grpc_code="NotFound"} 1"#));
    assert_eq!(
        sample(&t, &format!("grpc_server_handling_seconds_count{labels}")),
        1.0
    );
    assert_eq!(m.discovered_method_count(), 1);
    // Discovered: the next call is counted at once.
    let next = m.start("/kv.Store/Get");
    assert!(!next.is_route_pending());
    assert_eq!(
        sample(&text(&r), &format!("grpc_server_started_total{labels}")),
        2.0
    );
    drop(next);
    assert!(!text(&r).contains(r#"grpc_service="unknown""#));
}

#[test]
fn route_misses_and_undecided_calls_stay_unknown() {
    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, Side::Server).build().unwrap();
    for _ in 0..3 {
        let mut miss = m.start("/no.Such/Method");
        assert!(miss.is_route_pending());
        miss.msg_received();
        miss.resolve_route(false);
        assert_eq!(miss.labels(), (UNKNOWN, UNKNOWN));
        miss.finish(GrpcCode::Unimplemented);
    }
    // Ended before any head (cancelled, failed, panicked): unknown, Canceled.
    let pending = m.start("/kv.Store/Watch");
    pending.msg_received();
    drop(pending);
    // Never gets labels of its own: not deferred at all.
    assert!(!m.start("/not/a/path").is_route_pending());
    assert_eq!(m.discovered_method_count(), 0);
    let t = text(&r);
    assert_eq!(
        sample(&t, &format!("grpc_server_started_total{UNKNOWN_LABELS}")),
        5.0
    );
    assert_eq!(
        sample(
            &t,
            &format!("grpc_server_msg_received_total{UNKNOWN_LABELS}")
        ),
        4.0
    );
    assert!(t.contains(r#"grpc_server_handled_total{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown",grpc_code="Unimplemented"} 3"#));
    assert!(t.contains(r#"grpc_server_handled_total{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown",grpc_code="Canceled"} 2"#));
    assert!(!t.contains("no.Such") && !t.contains("kv.Store"));
    // A miss does not block a later call from discovering the path.
    let mut hit = m.start("/no.Such/Method");
    assert!(hit.is_route_pending());
    hit.resolve_route(true);
    assert_eq!(m.discovered_method_count(), 1);
}

#[test]
fn discovery_stops_at_the_cap() {
    for side in [Side::Server, Side::Client] {
        let r = Registry::new();
        let m = GrpcMetrics::builder(&r, side)
            .handling_seconds(false)
            .build()
            .unwrap();
        for i in 0..MAX_DISCOVERED_METHODS + 50 {
            let mut call = m.start(&format!("/s.S/M{i}"));
            // Full: calls go straight to unknown, nothing waits.
            if i >= MAX_DISCOVERED_METHODS {
                assert!(!call.is_route_pending());
                assert_eq!(call.labels(), (UNKNOWN, UNKNOWN));
            }
            call.resolve_route(true);
            call.finish(GrpcCode::Ok);
        }
        assert_eq!(m.discovered_method_count(), MAX_DISCOVERED_METHODS);
        let t = text(&r);
        let prefix = match side {
            Side::Server => "grpc_server",
            Side::Client => "grpc_client",
        };
        let started = format!("{prefix}_started_total{{");
        assert_eq!(
            t.matches(started.as_str()).count(),
            MAX_DISCOVERED_METHODS + 1
        );
        assert_eq!(
            sample(&t, &format!("{prefix}_started_total{UNKNOWN_LABELS}")),
            50.0
        );
    }
}

#[test]
fn client_discovers_at_start_and_registered_methods_turn_discovery_off() {
    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, Side::Client).build().unwrap();
    let call = m.start("/kv.Store/Get");
    assert!(!call.is_route_pending());
    assert_eq!(call.labels(), ("kv.Store", "Get"));
    m.record_started("/kv.Store/Put");
    m.start("/bad path").finish(GrpcCode::Internal);
    assert_eq!(m.discovered_method_count(), 2);
    drop(call);
    let t = text(&r);
    assert!(t.contains(r#"grpc_client_started_total{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Put"} 1"#));
    assert_eq!(
        sample(&t, &format!("grpc_client_started_total{UNKNOWN_LABELS}")),
        1.0
    );

    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, Side::Server)
        .method("/kv.Store/Get", GrpcType::Unary)
        .build()
        .unwrap();
    let other = m.start("/kv.Store/Put");
    assert!(!other.is_route_pending());
    assert_eq!(other.labels(), (UNKNOWN, UNKNOWN));
    assert_eq!(m.start("/kv.Store/Get").grpc_type(), Some(GrpcType::Unary));
    // A server interceptor cannot see routes: unknown unless registered or discovered.
    let s = GrpcMetrics::builder(&r, Side::Client).build().unwrap();
    drop(s);
    let r2 = Registry::new();
    let server = GrpcMetrics::builder(&r2, Side::Server).build().unwrap();
    server.record_started("/kv.Store/Get");
    assert_eq!(server.discovered_method_count(), 0);
    assert_eq!(
        sample(
            &text(&r2),
            &format!("grpc_server_started_total{UNKNOWN_LABELS}")
        ),
        1.0
    );
}

#[test]
fn messages_counted_while_the_route_is_decided_are_never_lost() {
    const ADDS: u64 = 20_000;
    for round in 0..20 {
        let r = Registry::new();
        let m = GrpcMetrics::builder(&r, Side::Server).build().unwrap();
        let mut call = m.start("/kv.Store/Stream");
        let go = Arc::new(std::sync::Barrier::new(5));
        let progress = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let c = if i % 2 == 0 {
                    call.received_counter()
                } else {
                    call.sent_counter()
                };
                let (go, progress) = (Arc::clone(&go), Arc::clone(&progress));
                std::thread::spawn(move || {
                    go.wait();
                    for _ in 0..ADDS {
                        c.add(1);
                        progress.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        // Decide while the counters are busy, so adds race with the decision.
        go.wait();
        while progress.load(Ordering::Relaxed) < ADDS {
            std::hint::spin_loop();
        }
        call.resolve_route(round % 2 == 0);
        for t in threads {
            t.join().unwrap();
        }
        call.finish(GrpcCode::Ok);
        let t = text(&r);
        let labels = if round % 2 == 0 {
            r#"{grpc_type="unknown",grpc_service="kv.Store",grpc_method="Stream"}"#
        } else {
            UNKNOWN_LABELS
        };
        let both = (2 * ADDS) as f64;
        assert_eq!(
            sample(&t, &format!("grpc_server_msg_received_total{labels}")),
            both
        );
        assert_eq!(
            sample(&t, &format!("grpc_server_msg_sent_total{labels}")),
            both
        );
        assert_eq!(
            sample(&t, &format!("grpc_server_started_total{labels}")),
            1.0
        );
    }
}

#[test]
fn discovery_can_be_turned_off() {
    let r = Registry::new();
    let m = GrpcMetrics::builder(&r, Side::Server)
        .discover_methods(false)
        .build()
        .unwrap();
    let call = m.start("/kv.Store/Get");
    assert!(!call.is_route_pending());
    drop(call);
    assert_eq!(
        sample(
            &text(&r),
            &format!("grpc_server_started_total{UNKNOWN_LABELS}")
        ),
        1.0
    );
}

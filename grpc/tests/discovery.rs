//! Method discovery, with a real tonic server and client on 127.0.0.1 and no descriptor
//! registered on either side: the demo's methods get their real `grpc_service` and
//! `grpc_method` (with `grpc_type="unknown"`), paths the server does not route stay
//! `unknown`, and no flood of random paths can add series.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::time::{Duration, Instant};

use common::{Expect, Harness, SVC, assert_calls_closed, series_count};
use promenade_tonic_demo::{Ping, Pong};
use tonic::Code;

fn ping(text: &str) -> Ping {
    Ping {
        text: text.into(),
        ..Default::default()
    }
}

/// A unary call with the demo's messages to any path, through `channel`.
async fn raw_unary<C>(channel: C, path: String) -> Result<Pong, tonic::Status>
where
    C: tonic::client::GrpcService<tonic::body::Body>,
    C::Error: Into<tonic::codegen::StdError>,
    C::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <C::ResponseBody as http_body::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unknown(e.into().to_string()))?;
    let codec = tonic_prost::ProstCodec::<Ping, Pong>::default();
    let path = http::uri::PathAndQuery::try_from(path).unwrap();
    grpc.unary(tonic::Request::new(ping("?")), path, codec)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_methods_get_their_real_labels_without_descriptors() {
    let h = Harness::start_discovering().await;
    let mut c = h.client();
    for _ in 0..3 {
        c.unary(ping("u")).await.unwrap();
    }
    let pings = (0..5).map(|i| ping(&i.to_string())).collect::<Vec<_>>();
    assert_eq!(
        c.client_stream(tokio_stream::iter(pings))
            .await
            .unwrap()
            .into_inner()
            .seq,
        5
    );
    for _ in 0..2 {
        let mut s = c
            .server_stream(Ping {
                count: 7,
                ..ping("s")
            })
            .await
            .unwrap()
            .into_inner();
        let mut n = 0;
        while s.message().await.unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 7);
    }
    let pings = (0..6).map(|i| ping(&i.to_string())).collect::<Vec<_>>();
    let mut s = c
        .bidi(tokio_stream::iter(pings))
        .await
        .unwrap()
        .into_inner();
    let mut n = 0;
    while s.message().await.unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 6);
    // Exact counts on both sides, under the real service and method names; the streaming
    // kind is not on the wire, so it says `unknown`.
    for (method, calls, requests, responses) in [
        ("Unary", 3.0, 3.0, 3.0),
        ("ClientStream", 1.0, 5.0, 1.0),
        ("ServerStream", 2.0, 2.0, 14.0),
        ("Bidi", 1.0, 6.0, 6.0),
    ] {
        Expect {
            ty: "unknown",
            method,
            code: "OK",
            calls,
            requests,
            responses,
        }
        .check(&h);
    }
    let text = h.text();
    assert!(!text.contains(r#"grpc_service="unknown""#), "{text}");
    assert_eq!(h.server_metrics.discovered_method_count(), 4);
    assert_calls_closed(&text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_the_server_does_not_route_stay_unknown() {
    let h = Harness::start_discovering().await;
    h.client().unary(ping("known")).await.unwrap();
    let paths = [
        "/no.Such/Method",              // unknown service: tonic's Routes fallback
        "/promenade.demo.v1.Demo/Nope", // unknown method of a known service
        "/a/b/c",                       // malformed: never gets labels
    ];
    for _ in 0..2 {
        for path in paths {
            let err = raw_unary(h.channel.clone(), path.to_owned())
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::Unimplemented, "{path}");
        }
    }
    let server_unknown = |family: &str, code: Option<&str>| {
        h.value(
            &format!("grpc_server_{family}"),
            "unknown",
            "unknown",
            "unknown",
            code,
        )
    };
    assert_eq!(server_unknown("started_total", None), 6.0, "{}", h.text());
    assert_eq!(
        server_unknown("handled_total", Some("Unimplemented")),
        6.0,
        "{}",
        h.text()
    );
    assert_eq!(server_unknown("handling_seconds_count", None), 6.0);
    // Only the demo's Unary was discovered by the server.
    assert_eq!(h.server_metrics.discovered_method_count(), 1);
    let text = h.text();
    for line in text.lines().filter(|l| l.starts_with("grpc_server_")) {
        assert!(
            !line.contains("no.Such") && !line.contains("Nope"),
            "{line}"
        );
    }
    // The client chose those paths itself: it labels its calls by them (malformed ones
    // excepted).
    for (svc, method) in [("no.Such", "Method"), (SVC, "Nope")] {
        assert_eq!(
            h.value(
                "grpc_client_handled_total",
                "unknown",
                svc,
                method,
                Some("Unimplemented")
            ),
            2.0,
            "{text}"
        );
    }
    assert_eq!(
        h.value(
            "grpc_client_started_total",
            "unknown",
            "unknown",
            "unknown",
            None
        ),
        2.0
    );
    assert_calls_closed(&text);
}

/// A small deterministic generator for the random paths (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_random_paths_add_no_series() {
    const CALLS: usize = 10_000;
    const TASKS: usize = 8;
    let h = Harness::start_discovering().await;
    // The known methods and the `unknown` series exist before the flood.
    h.client().unary(ping("known")).await.unwrap();
    raw_unary(h.plain_channel.clone(), "/warm.Up/Call".to_owned())
        .await
        .unwrap_err();
    let before = h.text();
    // The flood goes through a channel without the client layer: a client discovers the
    // paths its own code chooses, and this test is about what callers can do to a server.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let channel = h.plain_channel.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1));
            let mut done = 0;
            for i in 0..CALLS / TASKS {
                if Instant::now() > deadline {
                    break;
                }
                let r = rng.next();
                // Unknown services, unknown methods of the known service, and odd shapes.
                let path = match i % 4 {
                    0 | 1 => format!("/r{:x}.S{:x}/M{:x}", r >> 40, r & 0xffff, r >> 20),
                    2 => format!("/{SVC}/M{r:x}"),
                    _ => format!("/{:x}/{:x}", r, r >> 7),
                };
                let err = raw_unary(channel.clone(), path.clone()).await.unwrap_err();
                assert_eq!(err.code(), Code::Unimplemented, "{path}");
                done += 1;
            }
            done
        }));
    }
    let mut done = 0;
    for t in tasks {
        done += t.await.unwrap();
    }
    assert_eq!(done, CALLS, "the flood did not finish in time");
    let after = h.text();
    assert_eq!(series_count(&after), series_count(&before), "{after}");
    assert_eq!(h.server_metrics.discovered_method_count(), 1);
    assert_eq!(
        h.value(
            "grpc_server_started_total",
            "unknown",
            "unknown",
            "unknown",
            None
        ),
        (CALLS + 1) as f64
    );
    assert_calls_closed(&after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_cancelled_before_its_head_is_recorded_on_unknown() {
    let h = Harness::start_discovering().await;
    let mut c = h.client();
    // The handler sleeps before answering: the client gives up before any response head.
    let slow = c.unary(Ping {
        delay_ms: 5_000,
        ..ping("slow")
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(200), slow)
            .await
            .is_err()
    );
    let closed = h
        .wait_until(Duration::from_secs(10), |h| {
            h.value(
                "grpc_server_handled_total",
                "unknown",
                "unknown",
                "unknown",
                Some("Canceled"),
            ) == 1.0
        })
        .await;
    assert!(closed, "server never ended the call\n{}", h.text());
    assert_eq!(
        h.value(
            "grpc_server_started_total",
            "unknown",
            "unknown",
            "unknown",
            None
        ),
        1.0
    );
    // The server never saw it routed: not discovered. The client had discovered it.
    assert_eq!(h.server_metrics.discovered_method_count(), 0);
    assert_eq!(
        h.value(
            "grpc_client_handled_total",
            "unknown",
            SVC,
            "Unary",
            Some("Canceled")
        ),
        1.0
    );
    assert_calls_closed(&h.text());
    // A call that gets its answer discovers the method.
    c.unary(ping("fast")).await.unwrap();
    assert_eq!(h.server_metrics.discovered_method_count(), 1);
    assert_eq!(
        h.value(
            "grpc_server_handled_total",
            "unknown",
            SVC,
            "Unary",
            Some("OK")
        ),
        1.0
    );
    assert_calls_closed(&h.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_on_a_new_path_is_in_flight_once_its_head_is_out() {
    let h = Harness::start_discovering().await;
    let mut c = h.client();
    let mut s = c
        .server_stream(Ping {
            count: 5_000,
            delay_ms: 5,
            ..ping("long")
        })
        .await
        .unwrap()
        .into_inner();
    s.message().await.unwrap().unwrap();
    // The head is out, the stream goes on: started counted on the real labels, not ended.
    let started = |h: &Harness| {
        h.value(
            "grpc_server_started_total",
            "unknown",
            SVC,
            "ServerStream",
            None,
        )
    };
    assert_eq!(started(&h), 1.0, "{}", h.text());
    assert_eq!(
        h.sum(
            "grpc_server_handled_total",
            &[r#"grpc_method="ServerStream""#]
        ),
        0.0
    );
    assert!(
        h.value(
            "grpc_server_msg_sent_total",
            "unknown",
            SVC,
            "ServerStream",
            None
        ) >= 1.0
    );
    drop(s);
    let closed = h
        .wait_until(Duration::from_secs(10), |h| {
            h.value(
                "grpc_server_handled_total",
                "unknown",
                SVC,
                "ServerStream",
                Some("Canceled"),
            ) == 1.0
        })
        .await;
    assert!(closed, "{}", h.text());
    assert_calls_closed(&h.text());
}

/// The demo loads its descriptors as tonic's recipe does (`build.rs` writes
/// `OUT_DIR/demo_descriptor.bin`, `tonic::include_file_descriptor_set!` includes it): every
/// method is registered with its exact kind, and discovery is off.
#[test]
fn the_descriptor_recipe_registers_every_demo_method() {
    use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    use promenade_tonic::GrpcMetricsBuilderExt as _;
    let m = GrpcMetrics::builder(&promenade_core::Registry::new(), Side::Server)
        .file_descriptor_set(promenade_tonic_demo::FILE_DESCRIPTOR_SET)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(m.method_count(), 5);
    for (method, kind) in [
        ("Unary", GrpcType::Unary),
        ("ClientStream", GrpcType::ClientStream),
        ("ServerStream", GrpcType::ServerStream),
        ("Bidi", GrpcType::BidiStream),
        ("FailMidStream", GrpcType::ServerStream),
    ] {
        assert_eq!(m.grpc_type(&format!("/{SVC}/{method}")), Some(kind));
    }
    let mut other = m.start(&format!("/{SVC}/Nope"));
    assert!(!other.is_route_pending());
    other.resolve_route(true);
    assert_eq!(other.labels(), ("unknown", "unknown"));
    assert_eq!(m.discovered_method_count(), 0);
}

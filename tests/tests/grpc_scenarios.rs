//! The gRPC scenario: the tonic demo (what `tonic-server` serves, in-process on
//! 127.0.0.1:0) and an instrumented tonic client make a fixed mix of calls — unary OK, unary
//! errors with every non-OK code, client/server/bidi streams, errors mid-stream, calls the
//! client cancels (before the reply, after the headers, mid-stream), unknown services and
//! methods and unparsable paths. Afterwards every `grpc_server_*` and `grpc_client_*`
//! series equals what the test sent, per `grpc_type`, `grpc_service`, `grpc_method` and
//! `grpc_code`, with the Go middleware's family names, labels and code strings.
//!
//! Messages are counted from the gRPC frames on the wire (a documented difference from the
//! Go middleware, see `promenade-tonic`'s crate docs): a unary call that fails sends no
//! reply message, and the final `io.EOF` of a stream is not a message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{Demo, TonicDemoServer, all_samples};
use promenade_core::grpc_metrics::{GrpcCode, GrpcMetrics, Side};
use promenade_core::{Format, Registry};
use promenade_tonic::{GrpcClientLayer, GrpcClientService, GrpcMetricsBuilderExt as _};
use promenade_tonic_demo::{DemoClient, Ping, Pong};
use tonic::Code;
use tonic::transport::Channel;
use tower_layer::Layer as _;

const SVC: &str = "promenade.demo.v1.Demo";
const HEALTH: &str = "grpc.health.v1.Health";
const UNKNOWN: &str = "unknown";
/// Bound on every wait for the server to record something.
const SETTLE: Duration = Duration::from_secs(10);

/// The `grpc_code` label value of a tonic code: tonic's `Code` mapped by number onto the
/// core's `GrpcCode`, whose `as_str` is the workspace's one list of grpc-go's names (checked
/// against tonic's own variant names by the tonic adapter's unit tests).
fn go_name(c: Code) -> &'static str {
    GrpcCode::try_from(i32::from(c))
        .expect("tonic codes are 0-16")
        .as_str()
}

/// What one side's metrics must show: label strings (as exposed, in exposition order)
/// mapped to values, zero series left out.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    started: BTreeMap<String, f64>,
    handled: BTreeMap<String, f64>,
    /// Messages the server received (server side) / the client received (client side).
    received: BTreeMap<String, f64>,
    /// Messages the server sent (server side) / the client sent (client side).
    sent: BTreeMap<String, f64>,
    handling_count: BTreeMap<String, f64>,
}

fn base(ty: &str, svc: &str, method: &str) -> String {
    format!(r#"grpc_type="{ty}",grpc_service="{svc}",grpc_method="{method}""#)
}

fn add(map: &mut BTreeMap<String, f64>, key: String, n: u32) {
    if n > 0 {
        *map.entry(key).or_default() += f64::from(n);
    }
}

/// The expected metrics of both sides, built call by call.
#[derive(Debug, Default)]
struct Expected {
    server: Counts,
    client: Counts,
    calls: u32,
}

impl Expected {
    /// One call of `ty` to `svc/method` that ended with `code`, with `c2s` request
    /// messages and `s2c` reply messages on the wire (as seen by both sides).
    fn call(&mut self, ty: &str, svc: &str, method: &str, code: &str, c2s: u32, s2c: u32) {
        self.calls += 1;
        let b = base(ty, svc, method);
        let h = format!(r#"{b},grpc_code="{code}""#);
        for (side, received, sent) in [(&mut self.server, c2s, s2c), (&mut self.client, s2c, c2s)] {
            add(&mut side.started, b.clone(), 1);
            add(&mut side.handled, h.clone(), 1);
            add(&mut side.handling_count, b.clone(), 1);
            add(&mut side.received, b.clone(), received);
            add(&mut side.sent, b.clone(), sent);
        }
    }
}

/// The non-zero series of one side's families.
fn counts(text: &str, side: &str) -> Counts {
    let get = |family: &str| -> BTreeMap<String, f64> {
        all_samples(text, &format!("grpc_{side}_{family}"))
            .into_iter()
            .filter(|(_, v)| *v != 0.0)
            .map(|(l, v)| (l.to_owned(), v))
            .collect()
    };
    Counts {
        started: get("started_total"),
        handled: get("handled_total"),
        received: get("msg_received_total"),
        sent: get("msg_sent_total"),
        handling_count: get("handling_seconds_count"),
    }
}

fn total_handled(text: &str, side: &str) -> f64 {
    all_samples(text, &format!("grpc_{side}_handled_total"))
        .iter()
        .map(|s| s.1)
        .sum()
}

fn value(registry: &Registry, name: &str, labels: &str) -> f64 {
    let text = registry.encode_to_string(Format::Text).unwrap();
    common::sample(&text, name, labels).unwrap_or(0.0)
}

/// Waits (bounded by [`SETTLE`]) until `cond` holds; returns whether it did.
async fn until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + SETTLE;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

fn ping(text: &str, count: u32) -> Ping {
    Ping {
        text: text.to_owned(),
        count,
        ..Default::default()
    }
}

type Client = DemoClient<GrpcClientService<Channel>>;

/// A unary call to any path through the instrumented channel, with the demo's messages.
async fn raw_unary(channel: GrpcClientService<Channel>, path: &'static str) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<Ping, Pong>::default();
    grpc.unary(
        tonic::Request::new(ping("raw", 0)),
        http::uri::PathAndQuery::from_static(path),
        codec,
    )
    .await
    .expect_err("no such method")
}

/// Client metrics as `tonic-client` sets them up: both services, every series at zero.
fn client_metrics(registry: &Registry) -> GrpcMetrics {
    GrpcMetrics::builder(registry, Side::Client)
        .file_descriptor_set(promenade_tonic_demo::FILE_DESCRIPTOR_SET)
        .unwrap()
        .file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .unwrap()
        .initialize(true)
        .build()
        .unwrap()
}

/// Sends the fixed mix on one channel; adds what both sides must show to `e`.
#[allow(clippy::too_many_lines)]
async fn drive(server: &TonicDemoServer, metrics: GrpcMetrics, e: &mut Expected) {
    let channel = GrpcClientLayer::new(metrics).layer(server.channel().await);
    let mut c: Client = DemoClient::new(channel.clone());

    // Unary OK.
    for _ in 0..5 {
        let pong = c.unary(ping("ok", 0)).await.unwrap().into_inner();
        assert_eq!(pong.text, "ok");
        e.call("unary", SVC, "Unary", "OK", 1, 1);
    }
    // Unary errors: every non-OK code once, NotFound three times. A failed unary call has
    // no reply message.
    for code in (1..=16).chain([5, 5]) {
        let status = c
            .unary(Ping {
                fail_code: code,
                ..ping("fail", 0)
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::from_i32(code));
        e.call("unary", SVC, "Unary", go_name(Code::from_i32(code)), 1, 0);
    }
    // Client streams: 3 messages, then none at all, then a failure on the second message.
    let pong = c
        .client_stream(tokio_stream::iter(vec![
            ping("a", 0),
            ping("b", 0),
            ping("c", 0),
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pong.seq, 3);
    e.call("client_stream", SVC, "ClientStream", "OK", 3, 1);
    let pong = c
        .client_stream(tokio_stream::iter(Vec::<Ping>::new()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pong.seq, 0);
    e.call("client_stream", SVC, "ClientStream", "OK", 0, 1);
    let status = c
        .client_stream(tokio_stream::iter(vec![
            ping("a", 0),
            Ping {
                fail_code: Code::InvalidArgument as i32,
                ..ping("b", 0)
            },
        ]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    e.call(
        "client_stream",
        SVC,
        "ClientStream",
        "InvalidArgument",
        2,
        0,
    );
    // Server streams: 4 replies twice, 0 replies, 3 replies then NotFound.
    for n in [4, 4, 0] {
        let mut s = c.server_stream(ping("s", n)).await.unwrap().into_inner();
        let mut got = 0;
        while s.message().await.unwrap().is_some() {
            got += 1;
        }
        assert_eq!(got, n);
        e.call("server_stream", SVC, "ServerStream", "OK", 1, n);
    }
    let mut s = c
        .server_stream(Ping {
            fail_code: Code::NotFound as i32,
            ..ping("s", 3)
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..3 {
        assert!(s.message().await.unwrap().is_some());
    }
    assert_eq!(s.message().await.unwrap_err().code(), Code::NotFound);
    e.call("server_stream", SVC, "ServerStream", "NotFound", 1, 3);
    // FailMidStream: 2 replies, then Aborted (its default) in the trailers.
    let mut s = c.fail_mid_stream(ping("f", 2)).await.unwrap().into_inner();
    for _ in 0..2 {
        assert!(s.message().await.unwrap().is_some());
    }
    assert_eq!(s.message().await.unwrap_err().code(), Code::Aborted);
    e.call("server_stream", SVC, "FailMidStream", "Aborted", 1, 2);
    // Bidi: one reply per message.
    let mut s = c
        .bidi(tokio_stream::iter(vec![ping("x", 0), ping("y", 0)]))
        .await
        .unwrap()
        .into_inner();
    let mut got = 0;
    while s.message().await.unwrap().is_some() {
        got += 1;
    }
    assert_eq!(got, 2);
    e.call("bidi_stream", SVC, "Bidi", "OK", 2, 2);
    // Bidi failing on its second message: one reply, then Internal.
    let mut s = c
        .bidi(tokio_stream::iter(vec![
            ping("x", 0),
            Ping {
                fail_code: Code::Internal as i32,
                ..ping("y", 0)
            },
        ]))
        .await
        .unwrap()
        .into_inner();
    assert!(s.message().await.unwrap().is_some());
    assert_eq!(s.message().await.unwrap_err().code(), Code::Internal);
    e.call("bidi_stream", SVC, "Bidi", "Internal", 2, 1);

    // The health service (registered from its descriptor set, like the demo's).
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let reply = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: SVC.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.status, 1, "SERVING");
    e.call("unary", HEALTH, "Check", "OK", 1, 1);

    // Cancellations: the client drops the call; both sides record Canceled.
    // 1. A unary call dropped while the handler is still waiting (30 s delay): dropped as
    //    soon as the server has read the request.
    let received_before = value(
        &server.registry,
        "grpc_server_msg_received_total",
        &base("unary", SVC, "Unary"),
    );
    {
        let mut c2 = c.clone();
        let call = c2.unary(Ping {
            delay_ms: 30_000,
            ..ping("slow", 0)
        });
        tokio::pin!(call);
        tokio::select! {
            r = &mut call => panic!("the 30 s call returned early: {r:?}"),
            read = until(|| value(&server.registry, "grpc_server_msg_received_total", &base("unary", SVC, "Unary")) > received_before) => assert!(read, "the server never read the request"),
        }
    } // dropped here
    e.call("unary", SVC, "Unary", "Canceled", 1, 0);
    // 2. A server stream dropped after the response headers, before its first reply (30 s
    //    away).
    let s = c
        .server_stream(Ping {
            delay_ms: 30_000,
            ..ping("never", 3)
        })
        .await
        .unwrap()
        .into_inner();
    drop(s);
    e.call("server_stream", SVC, "ServerStream", "Canceled", 1, 0);
    // Unknown method, unknown service, unparsable paths: Unimplemented, recorded under the
    // fixed `unknown` labels on both sides (`grpc_type` included: the kind of a method
    // nobody registered is not known). The server never reads the request message.
    for path in [
        "/promenade.demo.v1.Demo/NoSuchMethod",
        "/no.such.Service/Method",
        "/no-service-no-method",
        "/a/b/c",
        "/promenade.demo.v1.Demo/Unary/extra",
    ] {
        let status = raw_unary(channel.clone(), path).await;
        assert_eq!(status.code(), Code::Unimplemented, "{path}");
        e.call(UNKNOWN, UNKNOWN, UNKNOWN, "Unimplemented", 1, 0);
    }
}

/// A bidi stream whose client goes away mid-stream: one message each way, the client drops
/// the reply stream (client side: `Canceled` at once), then its whole runtime — connection
/// and request stream included — before the request stream ended. (Dropping only the reply
/// stream does not reset the HTTP/2 stream while hyper still streams the request body.)
fn bidi_client_goes_away_mid_stream(
    server: &TonicDemoServer,
    metrics: GrpcMetrics,
    e: &mut Expected,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tx = rt.block_on(async {
        let mut c = DemoClient::new(GrpcClientLayer::new(metrics).layer(server.channel().await));
        let (tx, rx) = tokio::sync::mpsc::channel::<Ping>(4);
        let mut s = c
            .bidi(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        tx.send(ping("first", 0)).await.unwrap();
        assert!(s.message().await.unwrap().is_some());
        tx // kept open: the request stream never ends
    });
    drop(rt); // the connection goes away with the request stream still open
    drop(tx);
    let key = format!(
        r#"{},grpc_code="Canceled""#,
        base("bidi_stream", SVC, "Bidi")
    );
    let text = server.scrape_until(SETTLE, |t| {
        common::sample(t, "grpc_server_handled_total", &key) == Some(1.0)
    });
    assert_eq!(
        common::sample(&text, "grpc_server_handled_total", &key),
        Some(1.0),
        "{text}"
    );
    e.call("bidi_stream", SVC, "Bidi", "Canceled", 1, 1);
}

#[test]
fn fixed_mix_of_grpc_calls_is_counted_exactly_on_both_sides() {
    let server = TonicDemoServer::start();
    let client_registry = Registry::new();
    let metrics = client_metrics(&client_registry);
    let mut expected = Expected::default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(drive(&server, metrics.clone(), &mut expected));
    drop(rt); // closes the client's connection
    bidi_client_goes_away_mid_stream(&server, metrics, &mut expected);

    let calls = f64::from(expected.calls);
    let server_text = server.scrape_until(SETTLE, |t| total_handled(t, "server") == calls);
    let client_text = client_registry.encode_to_string(Format::Text).unwrap();
    let got_server = counts(&server_text, "server");
    let got_client = counts(&client_text, "client");

    // The server cannot tell how many messages the client wrote for a method it does not
    // serve: it never reads them.
    expected
        .server
        .received
        .remove(&base(UNKNOWN, UNKNOWN, UNKNOWN));
    assert_eq!(
        got_server.started, expected.server.started,
        "server started"
    );
    assert_eq!(
        got_server.handled, expected.server.handled,
        "server handled"
    );
    assert_eq!(
        got_server.received, expected.server.received,
        "server msg_received"
    );
    assert_eq!(got_server.sent, expected.server.sent, "server msg_sent");
    assert_eq!(
        got_server.handling_count, expected.server.handling_count,
        "server handling_seconds_count"
    );
    assert_eq!(
        got_client.started, expected.client.started,
        "client started"
    );
    assert_eq!(
        got_client.handled, expected.client.handled,
        "client handled"
    );
    assert_eq!(
        got_client.received, expected.client.received,
        "client msg_received"
    );
    assert_eq!(got_client.sent, expected.client.sent, "client msg_sent");
    assert_eq!(
        got_client.handling_count, expected.client.handling_count,
        "client handling_seconds_count"
    );
    // The histogram carries no grpc_code label (as in the Go middleware), and no series is
    // left half-done.
    assert!(
        !server_text.contains("grpc_server_handling_seconds_count{grpc_type=\"unary\",grpc_service=\"promenade.demo.v1.Demo\",grpc_method=\"Unary\",grpc_code"),
        "{server_text}"
    );
    // Started equals handled for every method: nothing is still in flight.
    let started: f64 = got_server.started.values().sum();
    assert_eq!(started, calls);
}

/// Raw HTTP/2 gRPC requests with `:path`s that are not `/service/method`: hyper refuses
/// what is not a path at all (`nope`, empty) before any service sees it, so nothing is
/// recorded; `*` (valid HTTP/2, no method) reaches the router and is recorded as an
/// `Unimplemented` call of the fixed `unknown` method. The server keeps serving throughout.
#[test]
fn malformed_http2_paths_are_refused_or_recorded_as_unknown() {
    let server = TonicDemoServer::start();
    let unknown = format!(
        r#"{},grpc_code="Unimplemented""#,
        base(UNKNOWN, UNKNOWN, UNKNOWN)
    );
    for (path, refused) in [("nope", true), ("", true), ("*", false), ("nope2", true)] {
        let before = server.scrape();
        let frames = h2_exchange(server.port(), path);
        let outcome = h2_outcome(&frames);
        if refused {
            assert_eq!(outcome, Some(H2Outcome::Refused), "{path:?}: {frames:?}");
            let after = server.scrape();
            assert_eq!(
                counts(&after, "server"),
                counts(&before, "server"),
                "{path:?}: {after}"
            );
        } else {
            assert_eq!(outcome, Some(H2Outcome::Answered), "{path:?}: {frames:?}");
            let after = server.scrape_until(SETTLE, |t| {
                total_handled(t, "server") == total_handled(&before, "server") + 1.0
            });
            assert_eq!(
                common::sample(&after, "grpc_server_handled_total", &unknown),
                Some(
                    common::sample(&before, "grpc_server_handled_total", &unknown).unwrap_or(0.0)
                        + 1.0
                ),
                "{path:?}: {after}"
            );
        }
    }
    // Every refused request left the server working: a real call still succeeds.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = DemoClient::new(server.channel().await);
        c.unary(ping("still here", 0)).await.unwrap();
    });
    let text = server.scrape_until(SETTLE, |t| total_handled(t, "server") == 2.0);
    assert_eq!(total_handled(&text, "server"), 2.0, "{text}");
}

#[derive(Debug, PartialEq, Eq)]
enum H2Outcome {
    /// RST_STREAM or GOAWAY.
    Refused,
    /// A HEADERS frame ending stream 1 (a trailers-only gRPC response).
    Answered,
}

/// Sends [`h2_request`] on a new connection and reads frames until the outcome is known, the
/// server closes, 5 s pass without data or 64 KiB arrived.
fn h2_exchange(port: u16, path: &str) -> Vec<u8> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(&h2_request(path)).unwrap();
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while got.len() < 64 * 1024 && h2_outcome(&got).is_none() {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// The first RST_STREAM/GOAWAY, or HEADERS with END_STREAM on stream 1, among `bytes`.
fn h2_outcome(bytes: &[u8]) -> Option<H2Outcome> {
    let mut rest = bytes;
    while rest.len() >= 9 {
        let len = (usize::from(rest[0]) << 16) | (usize::from(rest[1]) << 8) | usize::from(rest[2]);
        let stream = u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]) & 0x7fff_ffff;
        match rest[3] {
            0x3 | 0x7 => return Some(H2Outcome::Refused),
            0x1 if stream == 1 && rest[4] & 0x1 != 0 => return Some(H2Outcome::Answered),
            _ => {}
        }
        if rest.len() < 9 + len {
            break;
        }
        rest = &rest[9 + len..];
    }
    None
}

/// HTTP/2 preface, an empty SETTINGS frame and one HEADERS frame (END_STREAM|END_HEADERS)
/// for `POST <path>` with gRPC headers, every field a literal without indexing, no Huffman.
fn h2_request(path: &str) -> Vec<u8> {
    fn literal(out: &mut Vec<u8>, name: &str, value: &str) {
        out.push(0x00);
        for s in [name, value] {
            assert!(s.len() < 127);
            out.push(s.len() as u8);
            out.extend_from_slice(s.as_bytes());
        }
    }
    let mut block = Vec::new();
    literal(&mut block, ":method", "POST");
    literal(&mut block, ":scheme", "http");
    literal(&mut block, ":authority", "127.0.0.1");
    literal(&mut block, ":path", path);
    literal(&mut block, "content-type", "application/grpc");
    literal(&mut block, "te", "trailers");
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend_from_slice(&[0, 0, 0, 0x4, 0, 0, 0, 0, 0]); // SETTINGS, empty
    let len = block.len();
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, 0x1, 0x5]);
    out.extend_from_slice(&1u32.to_be_bytes()); // stream 1
    out.extend_from_slice(&block);
    out
}

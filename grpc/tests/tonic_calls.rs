//! Real tonic server + real tonic client on 127.0.0.1: exact counts for every call type,
//! errors mid-stream, cancellation, unknown methods, and /metrics on the gRPC port.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::io::{Read as _, Write as _};
use std::time::Duration;

use common::{Expect, Harness, SVC};
use promenade_tonic_demo::{Ping, Pong};
use tonic::Code;

fn ping(text: &str) -> Ping {
    Ping {
        text: text.into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unary_ok_and_trailers_only_error() {
    let h = Harness::start().await;
    let mut c = h.client();
    for _ in 0..3 {
        assert_eq!(c.unary(ping("hi")).await.unwrap().into_inner().text, "hi");
    }
    Expect {
        ty: "unary",
        method: "Unary",
        code: "OK",
        calls: 3.0,
        requests: 3.0,
        responses: 3.0,
    }
    .check(&h);
    // An error returned by a unary handler travels in a trailers-only response.
    let err = c
        .unary(Ping {
            fail_code: Code::NotFound as i32,
            ..ping("x")
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    for side in ["server", "client"] {
        let v = h.value(
            &format!("grpc_{side}_handled_total"),
            "unary",
            SVC,
            "Unary",
            Some("NotFound"),
        );
        assert_eq!(v, 1.0, "{side}\n{}", h.text());
    }
    // The failed call sent no reply message.
    assert_eq!(
        h.value("grpc_server_msg_sent_total", "unary", SVC, "Unary", None),
        3.0
    );
    assert_eq!(
        h.value(
            "grpc_client_msg_received_total",
            "unary",
            SVC,
            "Unary",
            None
        ),
        3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_stream_counts_every_message() {
    let h = Harness::start().await;
    let mut c = h.client();
    let pings = (0..5).map(|i| ping(&i.to_string())).collect::<Vec<_>>();
    let pong = c
        .client_stream(tokio_stream::iter(pings))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pong.seq, 5);
    Expect {
        ty: "client_stream",
        method: "ClientStream",
        code: "OK",
        calls: 1.0,
        requests: 5.0,
        responses: 1.0,
    }
    .check(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_stream_counts_every_message() {
    let h = Harness::start().await;
    let mut c = h.client();
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
        while let Some(p) = s.message().await.unwrap() {
            n += 1;
            assert_eq!(p.seq, n);
        }
        assert_eq!(n, 7);
    }
    Expect {
        ty: "server_stream",
        method: "ServerStream",
        code: "OK",
        calls: 2.0,
        requests: 2.0,
        responses: 14.0,
    }
    .check(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bidi_counts_both_directions() {
    let h = Harness::start().await;
    let mut c = h.client();
    let pings = (0..6).map(|i| ping(&i.to_string())).collect::<Vec<_>>();
    let mut s = c
        .bidi(tokio_stream::iter(pings))
        .await
        .unwrap()
        .into_inner();
    let mut replies: Vec<Pong> = Vec::new();
    while let Some(p) = s.message().await.unwrap() {
        replies.push(p);
        assert!(replies.len() <= 6);
    }
    assert_eq!(replies.len(), 6);
    Expect {
        ty: "bidi_stream",
        method: "Bidi",
        code: "OK",
        calls: 1.0,
        requests: 6.0,
        responses: 6.0,
    }
    .check(&h);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_mid_stream_is_counted_with_its_real_code() {
    let h = Harness::start().await;
    let mut c = h.client();
    let mut s = c
        .fail_mid_stream(Ping {
            count: 3,
            ..ping("f")
        })
        .await
        .unwrap()
        .into_inner();
    let mut got = 0;
    let err = loop {
        match s.message().await {
            Ok(Some(_)) => got += 1,
            Ok(None) => panic!("stream ended without the error"),
            Err(status) => break status,
        }
        assert!(got <= 3);
    };
    assert_eq!(got, 3);
    assert_eq!(err.code(), Code::Aborted);
    Expect {
        ty: "server_stream",
        method: "FailMidStream",
        code: "Aborted",
        calls: 1.0,
        requests: 1.0,
        responses: 3.0,
    }
    .check(&h);
    for side in ["server", "client"] {
        assert_eq!(
            h.value(
                &format!("grpc_{side}_handled_total"),
                "server_stream",
                SVC,
                "FailMidStream",
                Some("OK")
            ),
            0.0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_stream_leaves_no_call_open() {
    let h = Harness::start().await;
    let mut c = h.client();
    let mut s = c
        .server_stream(Ping {
            count: 5_000,
            delay_ms: 5,
            ..ping("c")
        })
        .await
        .unwrap()
        .into_inner();
    for _ in 0..2 {
        s.message().await.unwrap().unwrap();
    }
    drop(s); // the client cancels
    let done = h
        .wait_until(Duration::from_secs(5), |h| {
            h.value(
                "grpc_server_handled_total",
                "server_stream",
                SVC,
                "ServerStream",
                Some("Canceled"),
            ) == 1.0
        })
        .await;
    assert!(done, "server never recorded Canceled\n{}", h.text());
    assert_eq!(
        h.value(
            "grpc_client_handled_total",
            "server_stream",
            SVC,
            "ServerStream",
            Some("Canceled")
        ),
        1.0
    );
    for side in ["server", "client"] {
        let started = h.sum(&format!("grpc_{side}_started_total"), &[]);
        let handled = h.sum(&format!("grpc_{side}_handled_total"), &[]);
        assert_eq!(started, handled, "{side}: a call is still open");
        assert_eq!(
            h.sum(&format!("grpc_{side}_handled_total"), &["grpc_code=\"OK\""]),
            0.0
        );
    }
    // Bidi cancelled by the client too.
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let mut s = c
        .bidi(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    tx.send(ping("1")).await.unwrap();
    s.message().await.unwrap().unwrap();
    drop(s);
    drop(tx);
    let done = h
        .wait_until(Duration::from_secs(5), |h| {
            h.value(
                "grpc_server_handled_total",
                "bidi_stream",
                SVC,
                "Bidi",
                Some("Canceled"),
            ) + h.value(
                "grpc_server_handled_total",
                "bidi_stream",
                SVC,
                "Bidi",
                Some("OK"),
            ) == 1.0
        })
        .await;
    assert!(done, "bidi call still open on the server\n{}", h.text());
    assert_eq!(
        h.value(
            "grpc_client_handled_total",
            "bidi_stream",
            SVC,
            "Bidi",
            Some("Canceled")
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_methods_are_unimplemented_with_fixed_labels() {
    let h = Harness::start().await;
    let mut grpc = tonic::client::Grpc::new(h.channel.clone());
    for path in [
        "/no.Such/Method",
        "/promenade.demo.v1.Demo/Nope",
        "/a/b/c",
        "/x.Y/Z",
    ] {
        grpc.ready().await.unwrap();
        let codec = tonic_prost::ProstCodec::<Ping, Pong>::default();
        let err = grpc
            .unary(
                tonic::Request::new(ping("?")),
                http::uri::PathAndQuery::from_static(path),
                codec,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unimplemented, "{path}");
    }
    for side in ["server", "client"] {
        assert_eq!(
            h.value(
                &format!("grpc_{side}_handled_total"),
                "unknown",
                "unknown",
                "unknown",
                Some("Unimplemented")
            ),
            4.0,
            "{side}\n{}",
            h.text()
        );
        assert_eq!(
            h.value(
                &format!("grpc_{side}_started_total"),
                "unknown",
                "unknown",
                "unknown",
                None
            ),
            4.0
        );
        // No label from the raw paths leaked into any series.
        assert!(!h.text().contains("no.Such"));
        assert!(!h.text().contains("Nope"));
    }
}

fn http1_get(addr: std::net::SocketAddr, path: &str, extra: &str) -> (String, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let mut body = buf[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let len =
            usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if len == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + len]);
        b = &b[eol + 4 + len..];
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_the_grpc_port_over_http1() {
    let h = Harness::start().await;
    h.client().unary(ping("m")).await.unwrap();
    let addr = h.addr;
    let (head, body) = tokio::task::spawn_blocking(move || http1_get(addr, "/metrics", ""))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains(&format!(
        "grpc_server_handled_total{{grpc_type=\"unary\",grpc_service=\"{SVC}\",grpc_method=\"Unary\",grpc_code=\"OK\"}} 1"
    )), "{text}");
    // Negotiation and gzip come from the core's ScrapeHandler.
    let (head, body) = tokio::task::spawn_blocking(move || {
        http1_get(
            addr,
            "/metrics",
            "Accept: application/openmetrics-text;version=1.0.0\r\nAccept-Encoding: gzip\r\n",
        )
    })
    .await
    .unwrap();
    assert!(
        head.contains("application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(
        head.to_ascii_lowercase().contains("content-encoding: gzip"),
        "{head}"
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.ends_with("# EOF\n"));
    assert!(text.contains("# TYPE grpc_server_started counter"));
    // The scrapes were not counted as gRPC calls.
    assert_eq!(h.sum("grpc_server_started_total", &[]), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_on_a_separate_port() {
    let registry = promenade_core::Registry::new();
    registry
        .counter("separate_total", "Separate.")
        .unwrap()
        .inc();
    let addr = promenade_tonic::spawn_metrics_server(
        "127.0.0.1:0".parse().unwrap(),
        promenade_core::scrape::ScrapeHandler::new(registry),
    )
    .await
    .unwrap();
    let (head, body) = tokio::task::spawn_blocking(move || http1_get(addr, "/metrics", ""))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("separate_total 1")
    );
    let (head, _) = tokio::task::spawn_blocking(move || http1_get(addr, "/other", ""))
        .await
        .unwrap();
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_kinds_together_client_matches_server() {
    let h = Harness::start().await;
    let mut c = h.client();
    c.unary(ping("a")).await.unwrap();
    c.client_stream(tokio_stream::iter(vec![ping("1"), ping("2")]))
        .await
        .unwrap();
    let mut s = c
        .server_stream(Ping {
            count: 3,
            ..ping("s")
        })
        .await
        .unwrap()
        .into_inner();
    while s.message().await.unwrap().is_some() {}
    let mut s = c
        .bidi(tokio_stream::iter(vec![ping("1")]))
        .await
        .unwrap()
        .into_inner();
    while s.message().await.unwrap().is_some() {}
    let mut s = c
        .fail_mid_stream(Ping {
            count: 1,
            fail_code: Code::DataLoss as i32,
            ..ping("f")
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(s.message().await.unwrap().unwrap().seq, 1);
    assert_eq!(s.message().await.unwrap_err().code(), Code::DataLoss);
    drop(s);
    let text = h.text();
    // Every server series has a client twin with the same value.
    let mut compared = 0;
    for line in text
        .lines()
        .filter(|l| l.starts_with("grpc_server_") && !l.contains("handling_seconds"))
    {
        let twin = line.replacen("grpc_server_", "grpc_client_", 1);
        let twin = match () {
            _ if twin.starts_with("grpc_client_msg_received") => {
                twin.replacen("msg_received", "msg_sent", 1)
            }
            _ if twin.starts_with("grpc_client_msg_sent") => {
                twin.replacen("msg_sent", "msg_received", 1)
            }
            _ => twin,
        };
        assert!(
            text.lines().any(|l| l == twin),
            "no client twin for {line}\n{text}"
        );
        compared += 1;
    }
    assert_eq!(compared, 5 * 2 + 5 + 5, "{text}");
    assert_eq!(
        h.value(
            "grpc_server_handled_total",
            "server_stream",
            SVC,
            "FailMidStream",
            Some("DataLoss")
        ),
        1.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_interceptor_counts_started_with_method_labels() {
    let h = Harness::start().await;
    let registry = promenade_core::Registry::new();
    let metrics = promenade_core::grpc_metrics::GrpcMetrics::builder(
        &registry,
        promenade_tonic::Side::Client,
    )
    .method(
        "/promenade.demo.v1.Demo/Unary",
        promenade_tonic::GrpcType::Unary,
    )
    .method(
        "/promenade.demo.v1.Demo/Bidi",
        promenade_tonic::GrpcType::BidiStream,
    )
    .build()
    .unwrap();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", h.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = promenade_tonic_demo::DemoClient::with_interceptor(
        channel,
        promenade_tonic::MetricsInterceptor::new(metrics),
    );
    c.unary(ping("i")).await.unwrap();
    c.unary(ping("i")).await.unwrap();
    let mut s = c
        .bidi(tokio_stream::iter(vec![ping("b")]))
        .await
        .unwrap()
        .into_inner();
    while s.message().await.unwrap().is_some() {}
    let text = registry
        .encode_to_string(promenade_core::Format::Text)
        .unwrap();
    assert!(text.contains(&format!("grpc_client_started_total{{grpc_type=\"unary\",grpc_service=\"{SVC}\",grpc_method=\"Unary\"}} 2")), "{text}");
    assert!(text.contains(&format!("grpc_client_started_total{{grpc_type=\"bidi_stream\",grpc_service=\"{SVC}\",grpc_method=\"Bidi\"}} 1")), "{text}");
    // An interceptor cannot see the end of a call: nothing else is recorded.
    assert!(!text.contains("grpc_client_handled_total{"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable_on_the_client() {
    let registry = promenade_core::Registry::new();
    let metrics = promenade_core::grpc_metrics::GrpcMetrics::builder(
        &registry,
        promenade_tonic::Side::Client,
    )
    .method(
        "/promenade.demo.v1.Demo/Unary",
        promenade_tonic::GrpcType::Unary,
    )
    .build()
    .unwrap();
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy();
    let mut c = promenade_tonic_demo::DemoClient::new(tower_layer::Layer::layer(
        &promenade_tonic::GrpcClientLayer::new(metrics),
        channel,
    ));
    let err = c.unary(ping("x")).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable);
    let text = registry
        .encode_to_string(promenade_core::Format::Text)
        .unwrap();
    assert!(text.contains(&format!("grpc_client_handled_total{{grpc_type=\"unary\",grpc_service=\"{SVC}\",grpc_method=\"Unary\",grpc_code=\"Unavailable\"}} 1")), "{text}");
}

/// A sampled W3C `traceparent` in the call metadata becomes the handling-seconds exemplar on
/// both sides; native buckets are served in protobuf when configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_metadata_becomes_an_exemplar_on_both_sides() {
    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let h = Harness::start().await;
    let mut c = h.client();
    let mut req = tonic::Request::new(ping("traced"));
    req.metadata_mut().insert(
        "traceparent",
        format!("00-{TRACE}-00f067aa0ba902b7-01").parse().unwrap(),
    );
    c.unary(req).await.unwrap();
    // Unsampled and malformed headers add no exemplar (and do no harm).
    for junk in [
        "00-11111111111111111111111111111111-2222222222222222-00",
        "zzz",
    ] {
        let mut req = tonic::Request::new(ping("x"));
        req.metadata_mut()
            .insert("traceparent", junk.parse().unwrap());
        c.unary(req).await.unwrap();
    }
    let om = h
        .registry
        .encode_to_string(promenade_core::Format::OpenMetrics)
        .unwrap();
    for side in ["server", "client"] {
        let exemplars: Vec<&str> = om
            .lines()
            .filter(|l| l.starts_with(&format!("grpc_{side}_handling_seconds_bucket{{")))
            .filter(|l| l.contains(" # {"))
            .collect();
        assert_eq!(exemplars.len(), 1, "{side}: {om}");
        assert!(
            exemplars[0].contains(&format!(r#"# {{trace_id="{TRACE}"}}"#)),
            "{}",
            exemplars[0]
        );
    }
}

#[test]
fn native_handling_seconds_reach_the_protobuf_exposition() {
    use promenade_core::grpc_metrics::{GrpcMetrics, Side, code};
    let registry = promenade_core::Registry::new();
    let m = GrpcMetrics::builder(&registry, Side::Server)
        .native_histograms(promenade_core::NativeBuckets::default())
        .build()
        .unwrap();
    m.start("/a.B/C").finish(code::OK);
    let buf = registry
        .encode_to_vec(promenade_core::Format::Protobuf)
        .unwrap();
    let families = promenade_core::encoding::protobuf::decode_delimited(&buf).unwrap();
    let handling = families
        .iter()
        .find(|f| f.name.as_deref() == Some("grpc_server_handling_seconds"))
        .unwrap();
    let hist = handling.metric[0].histogram.as_ref().unwrap();
    assert_eq!(hist.sample_count, Some(1));
    assert!(hist.schema.is_some(), "{hist:?}");
    // Classic buckets stay next to the native ones.
    assert!(!hist.bucket.is_empty());
}

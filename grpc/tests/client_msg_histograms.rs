//! The client's per-message latency histograms (`client_msg_histograms`) over a real tonic
//! server and client on 127.0.0.1: one observation per message and direction on streaming
//! methods, none on unary ones. Counts only; the observed durations are not checked.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use promenade_core::grpc_metrics::{GrpcMetrics, Side};
use promenade_core::{Format, Registry};
use promenade_tonic::{GrpcClientService, GrpcMetricsBuilderExt as _};
use promenade_tonic_demo::{DemoClient, FILE_DESCRIPTOR_SET, Ping};
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Endpoint, Server};

fn ping(text: &str, count: u32) -> Ping {
    Ping {
        text: text.into(),
        count,
        ..Default::default()
    }
}

fn count(text: &str, family: &str, ty: &str, method: &str) -> f64 {
    let key = format!(
        "{family}_count{{grpc_type=\"{ty}\",grpc_service=\"promenade.demo.v1.Demo\",grpc_method=\"{method}\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(key.as_str()))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

const RECV: &str = "grpc_client_msg_recv_handling_seconds";
const SEND: &str = "grpc_client_msg_send_handling_seconds";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_observe_each_message_once_per_direction() {
    let registry = Registry::new();
    let metrics = GrpcMetrics::builder(&registry, Side::Client)
        .file_descriptor_set(FILE_DESCRIPTOR_SET)
        .unwrap()
        .client_msg_histograms(true)
        .build()
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(
        Server::builder()
            .add_service(promenade_tonic_demo::server())
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = rx.await;
            }),
    );
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .unwrap();
    let mut client = DemoClient::new(GrpcClientService::new(channel, metrics));

    // Server stream: one request, five replies.
    let mut replies = client
        .server_stream(ping("s", 5))
        .await
        .unwrap()
        .into_inner();
    let mut got = 0;
    while replies.message().await.unwrap().is_some() {
        got += 1;
    }
    assert_eq!(got, 5);
    // Client stream: four requests, one reply.
    let pings = (0..4).map(|i| ping(&i.to_string(), 0)).collect::<Vec<_>>();
    client
        .client_stream(tokio_stream::iter(pings))
        .await
        .unwrap();
    // Bidi: three each way.
    let pings = (0..3).map(|i| ping(&i.to_string(), 0)).collect::<Vec<_>>();
    let mut replies = client
        .bidi(tokio_stream::iter(pings))
        .await
        .unwrap()
        .into_inner();
    while replies.message().await.unwrap().is_some() {}
    // Unary: not timed (Go's stream interceptor does not see unary calls).
    client.unary(ping("u", 0)).await.unwrap();

    let text = registry.encode_to_string(Format::Text).unwrap();
    assert_eq!(
        count(&text, RECV, "server_stream", "ServerStream"),
        5.0,
        "{text}"
    );
    assert_eq!(
        count(&text, SEND, "server_stream", "ServerStream"),
        1.0,
        "{text}"
    );
    assert_eq!(
        count(&text, SEND, "client_stream", "ClientStream"),
        4.0,
        "{text}"
    );
    assert_eq!(
        count(&text, RECV, "client_stream", "ClientStream"),
        1.0,
        "{text}"
    );
    assert_eq!(count(&text, SEND, "bidi_stream", "Bidi"), 3.0, "{text}");
    assert_eq!(count(&text, RECV, "bidi_stream", "Bidi"), 3.0, "{text}");
    assert!(!text.contains(r#"grpc_client_msg_recv_handling_seconds_count{grpc_type="unary""#));
    assert!(!text.contains(r#"grpc_client_msg_send_handling_seconds_count{grpc_type="unary""#));
    let _ = tx.send(());
}

#[test]
fn off_by_default_and_refused_on_a_server() {
    let registry = Registry::new();
    GrpcMetrics::builder(&registry, Side::Client)
        .build()
        .unwrap();
    let text = registry.encode_to_string(Format::Text).unwrap();
    assert!(!text.contains("msg_recv_handling_seconds"));
    let err = GrpcMetrics::builder(&Registry::new(), Side::Server)
        .client_msg_histograms(true)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("client_msg_histograms(true) on a Side::Server builder"),
        "{err}"
    );
}

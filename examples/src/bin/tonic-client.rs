//! Drives every method of the demo service through an instrumented tonic client, then
//! prints the client metrics (or serves them).
//!
//! ```text
//! cargo run -p promenade-examples --bin tonic-client -- [--addr 127.0.0.1:50051] [--rounds 1] [--serve 127.0.0.1:9465]
//! ```
//!
//! Each round makes: 2 unary calls (one OK, one NotFound), a client stream of 3, a server
//! stream of 4, a bidi stream of 2, a stream that fails with Aborted after 2 replies, and a
//! server stream the client cancels after 1 reply.

use std::io::Write as _;
use std::time::Duration;

use promenade_core::grpc_metrics::Side;
use promenade_core::scrape::ScrapeHandler;
use promenade_core::{Format, Registry};
use promenade_tonic::{GrpcClientService, spawn_metrics_server};
use promenade_tonic_demo::{DemoClient, Ping};
use tonic::Code;
use tonic::transport::{Channel, Endpoint};

#[path = "../tonic_demo.rs"]
mod tonic_demo;

use tonic_demo::{Result, arg, grpc_metrics};

fn ping(text: &str, count: u32) -> Ping {
    Ping {
        text: text.to_owned(),
        count,
        ..Default::default()
    }
}

async fn connect(uri: &str) -> Result<Channel> {
    let endpoint = Endpoint::from_shared(uri.to_owned())?.connect_timeout(Duration::from_secs(2));
    let mut last = None;
    for _ in 0..50 {
        match endpoint.connect().await {
            Ok(c) => return Ok(c),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last.map_or_else(|| "could not connect".into(), Into::into))
}

async fn round(c: &mut DemoClient<GrpcClientService<Channel>>) -> Result<()> {
    c.unary(ping("hello", 0)).await?;
    let err = c
        .unary(Ping {
            fail_code: Code::NotFound as i32,
            ..ping("missing", 0)
        })
        .await;
    assert_eq!(err.map_err(|s| s.code()).err(), Some(Code::NotFound));

    c.client_stream(tokio_stream::iter(vec![
        ping("a", 0),
        ping("b", 0),
        ping("c", 0),
    ]))
    .await?;

    let mut s = c.server_stream(ping("s", 4)).await?.into_inner();
    while s.message().await?.is_some() {}

    let mut s = c
        .bidi(tokio_stream::iter(vec![ping("x", 0), ping("y", 0)]))
        .await?
        .into_inner();
    while s.message().await?.is_some() {}

    let mut s = c.fail_mid_stream(ping("f", 2)).await?.into_inner();
    loop {
        match s.message().await {
            Ok(Some(_)) => {}
            Ok(None) => return Err("FailMidStream ended without an error".into()),
            Err(status) if status.code() == Code::Aborted => break,
            Err(status) => return Err(status.into()),
        }
    }

    let mut s = c
        .server_stream(Ping {
            delay_ms: 10,
            ..ping("cancel me", 1000)
        })
        .await?
        .into_inner();
    s.message().await?;
    drop(s); // cancel
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let addr = arg("--addr").unwrap_or_else(|| "127.0.0.1:50051".to_owned());
    let uri = if addr.starts_with("http") {
        addr
    } else {
        format!("http://{addr}")
    };
    let rounds: u32 = arg("--rounds").map_or(Ok(1), |r| r.parse())?;

    let registry = Registry::new();
    let metrics = grpc_metrics(&registry, Side::Client)?;
    let channel = GrpcClientService::new(connect(&uri).await?, metrics);
    let mut client = DemoClient::new(channel);
    for _ in 0..rounds.min(1_000_000) {
        round(&mut client).await?;
    }

    match arg("--serve") {
        Some(a) => {
            let bound = spawn_metrics_server(a.parse()?, ScrapeHandler::new(registry)).await?;
            println!("client metrics on http://{bound}/metrics");
            std::io::stdout().flush()?;
            let _ = tokio::signal::ctrl_c().await;
        }
        None => print!("{}", registry.encode_to_string(Format::Text)?),
    }
    Ok(())
}

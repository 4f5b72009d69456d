//! The demo gRPC server, instrumented with promenade-tonic.
//!
//! ```text
//! cargo run -p promenade-examples --bin tonic-server -- [--addr 127.0.0.1:50051] [--metrics-addr 127.0.0.1:9464] [--native]
//! ```
//!
//! Serves `promenade.demo.v1.Demo` and `grpc.health.v1.Health`, and `/metrics` on the same
//! port (HTTP/1.1 next to HTTP/2 gRPC): `curl http://127.0.0.1:50051/metrics`. With
//! `--metrics-addr`, `/metrics` is also served on a port of its own. Prints
//! `listening on http://ADDR` once the port is bound. `--native` adds native buckets to
//! `grpc_server_handling_seconds`; a sampled W3C `traceparent` in a call's metadata becomes
//! that histogram's exemplar.
//!
//! Both listeners close a connection whose HTTP/1.1 request head is not complete in time
//! (`--metrics-addr`: `promenade_tonic::HEADER_READ_TIMEOUT`, 5 s; the gRPC port: tonic's
//! 30 s), so clients sending their headers a byte at a time cannot hold connections.

use std::io::Write as _;
use std::net::SocketAddr;

use promenade_core::Registry;
use promenade_core::grpc_metrics::Side;
use promenade_core::scrape::ScrapeHandler;
use promenade_tonic::{GrpcServerLayer, spawn_metrics_server, with_metrics_route};
use promenade_tonic_demo::{DemoServer, DemoService};
use tokio_stream::wrappers::TcpListenerStream;

#[path = "../tonic_demo.rs"]
mod tonic_demo;

use tonic_demo::{Result, arg, grpc_metrics};

#[tokio::main]
async fn main() -> Result<()> {
    let addr: SocketAddr = arg("--addr")
        .unwrap_or_else(|| "127.0.0.1:50051".to_owned())
        .parse()?;
    let registry = Registry::new();
    let metrics = grpc_metrics(&registry, Side::Server)?;
    let scrape = ScrapeHandler::new(registry.clone());

    if let Some(m) = arg("--metrics-addr") {
        let bound = spawn_metrics_server(m.parse()?, scrape.clone()).await?;
        println!("metrics on http://{bound}/metrics");
    }

    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<DemoServer<DemoService>>().await;

    let routes =
        tonic::service::Routes::new(promenade_tonic_demo::server()).add_service(health_service);
    let routes = with_metrics_route(routes, scrape);

    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;

    tonic::transport::Server::builder()
        .accept_http1(true)
        .layer(GrpcServerLayer::new(metrics))
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

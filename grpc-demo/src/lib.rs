//! The Promenade gRPC demo service `promenade.demo.v1.Demo`: one method of each streaming
//! kind plus one that fails mid-stream. Shared by `promenade-tonic`'s tests, the
//! `tonic-server` / `tonic-client` examples and the benchmarks.
//!
//! The code is generated at build time from `proto/demo.proto` with `protox` (a protobuf
//! compiler in pure Rust) and `tonic-prost-build`, so no system `protoc` is needed.
//!
//! ```
//! use promenade_tonic_demo::{DemoServer, DemoService, SERVICE_NAME};
//! let _server = DemoServer::new(DemoService::default());
//! assert_eq!(SERVICE_NAME, "promenade.demo.v1.Demo");
//! ```

#![forbid(unsafe_code)]

use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status, Streaming};

/// Generated protobuf messages, client and server.
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::unwrap_used)]
pub mod pb {
    tonic::include_proto!("promenade.demo.v1");
}

pub use pb::demo_client::DemoClient;
pub use pb::demo_server::{Demo, DemoServer};
pub use pb::{Ping, Pong};

/// The encoded `FileDescriptorSet` of `proto/demo.proto` (what a reflection service serves,
/// and what `promenade-tonic` reads the methods' streaming kinds from), loaded as tonic's
/// recipe does: `build.rs` writes `OUT_DIR/demo_descriptor.bin`, and
/// `tonic::include_file_descriptor_set!("demo_descriptor")` includes it.
///
/// ```
/// let fds = promenade_tonic_demo::FILE_DESCRIPTOR_SET;
/// assert!(fds.windows(b"ClientStream".len()).any(|w| w == b"ClientStream"));
/// ```
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("demo_descriptor");

/// The full service name.
pub const SERVICE_NAME: &str = "promenade.demo.v1.Demo";

/// The most replies one streaming call sends, whatever the request asks for.
pub const MAX_COUNT: u32 = 10_000;

/// The demo implementation. Every loop is bounded by [`MAX_COUNT`].
#[derive(Debug, Default, Clone, Copy)]
pub struct DemoService;

/// A stream of replies.
pub type PongStream = Pin<Box<dyn Stream<Item = Result<Pong, Status>> + Send + 'static>>;

fn failure(code: i32) -> Status {
    Status::new(Code::from_i32(code), "failure requested by the client")
}

async fn pause(delay_ms: u32) {
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(u64::from(delay_ms.min(60_000)))).await;
    }
}

/// Sends `count` replies (then `fail`, if any) on a channel-backed stream.
fn reply_stream(ping: Ping, fail: Option<Status>) -> PongStream {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        for seq in 1..=ping.count.min(MAX_COUNT) {
            pause(ping.delay_ms).await;
            let pong = Pong {
                text: ping.text.clone(),
                seq,
            };
            if tx.send(Ok(pong)).await.is_err() {
                return; // the client went away
            }
        }
        if let Some(status) = fail {
            let _ = tx.send(Err(status)).await;
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

#[tonic::async_trait]
impl Demo for DemoService {
    async fn unary(&self, request: Request<Ping>) -> Result<Response<Pong>, Status> {
        let ping = request.into_inner();
        pause(ping.delay_ms).await;
        if ping.fail_code != 0 {
            return Err(failure(ping.fail_code));
        }
        Ok(Response::new(Pong {
            text: ping.text,
            seq: 1,
        }))
    }

    async fn client_stream(
        &self,
        request: Request<Streaming<Ping>>,
    ) -> Result<Response<Pong>, Status> {
        let mut stream = request.into_inner();
        let mut texts = Vec::new();
        let mut seq = 0u32;
        while let Some(ping) = stream.message().await? {
            seq = seq.saturating_add(1);
            if ping.fail_code != 0 {
                return Err(failure(ping.fail_code));
            }
            if texts.len() < MAX_COUNT as usize {
                texts.push(ping.text);
            }
        }
        Ok(Response::new(Pong {
            text: texts.join(","),
            seq,
        }))
    }

    type ServerStreamStream = PongStream;

    async fn server_stream(
        &self,
        request: Request<Ping>,
    ) -> Result<Response<Self::ServerStreamStream>, Status> {
        let ping = request.into_inner();
        let fail = (ping.fail_code != 0).then(|| failure(ping.fail_code));
        Ok(Response::new(reply_stream(ping, fail)))
    }

    type BidiStream = PongStream;

    async fn bidi(
        &self,
        request: Request<Streaming<Ping>>,
    ) -> Result<Response<Self::BidiStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut seq = 0u32;
            loop {
                let item = match inbound.message().await {
                    Ok(Some(ping)) if ping.fail_code != 0 => Err(failure(ping.fail_code)),
                    Ok(Some(ping)) => {
                        seq = seq.saturating_add(1);
                        pause(ping.delay_ms).await;
                        Ok(Pong {
                            text: ping.text,
                            seq,
                        })
                    }
                    Ok(None) => return,
                    Err(status) => Err(status),
                };
                let stop = item.is_err();
                if tx.send(item).await.is_err() || stop {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    type FailMidStreamStream = PongStream;

    async fn fail_mid_stream(
        &self,
        request: Request<Ping>,
    ) -> Result<Response<Self::FailMidStreamStream>, Status> {
        let ping = request.into_inner();
        let code = if ping.fail_code == 0 {
            Code::Aborted as i32
        } else {
            ping.fail_code
        };
        Ok(Response::new(reply_stream(ping, Some(failure(code)))))
    }
}

/// The demo service ready for `Server::builder().add_service(..)`.
///
/// ```
/// let _svc = promenade_tonic_demo::server();
/// ```
pub fn server() -> DemoServer<DemoService> {
    DemoServer::new(DemoService)
}

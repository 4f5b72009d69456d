//! A real tonic server (demo service, server layer, /metrics on the same port) and a real
//! tonic client (client layer) on 127.0.0.1, sharing one registry.

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use promenade_core::grpc_metrics::{GrpcMetrics, GrpcMetricsBuilder, Side};
use promenade_core::scrape::ScrapeHandler;
use promenade_core::{Format, Registry};
use promenade_tonic::{
    GrpcClientService, GrpcMetricsBuilderExt as _, GrpcServerLayer, with_metrics_route,
};
use promenade_tonic_demo::{DemoClient, FILE_DESCRIPTOR_SET};
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Endpoint, Server};

pub(crate) const SVC: &str = "promenade.demo.v1.Demo";

pub(crate) struct Harness {
    pub(crate) registry: Registry,
    pub(crate) addr: SocketAddr,
    pub(crate) channel: GrpcClientService<Channel>,
    /// The server's metrics (to read what it discovered).
    pub(crate) server_metrics: GrpcMetrics,
    /// A channel to the server without the client layer.
    pub(crate) plain_channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Harness {
    pub(crate) async fn start() -> Self {
        Self::start_with(promenade_tonic_demo::server()).await
    }

    /// Like [`Harness::start`], serving `server` (a test implementation of the demo service)
    /// instead of the demo's own.
    pub(crate) async fn start_with<T: promenade_tonic_demo::Demo>(
        server: promenade_tonic_demo::DemoServer<T>,
    ) -> Self {
        Self::start_configured(server, |b| {
            b.file_descriptor_set(FILE_DESCRIPTOR_SET).unwrap()
        })
        .await
    }

    /// The demo served and called with no method registered on either side: methods are
    /// discovered from traffic.
    pub(crate) async fn start_discovering() -> Self {
        Self::start_configured(promenade_tonic_demo::server(), |b| b).await
    }

    /// Serves `server`; both sides' metrics built by `configure`.
    pub(crate) async fn start_configured<T: promenade_tonic_demo::Demo>(
        server: promenade_tonic_demo::DemoServer<T>,
        configure: impl Fn(GrpcMetricsBuilder) -> GrpcMetricsBuilder,
    ) -> Self {
        let registry = Registry::new();
        let server_metrics = configure(GrpcMetrics::builder(&registry, Side::Server))
            .build()
            .unwrap();
        let client_metrics = configure(GrpcMetrics::builder(&registry, Side::Client))
            .build()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let routes = tonic::service::Routes::new(server);
        let routes = with_metrics_route(routes, ScrapeHandler::new(registry.clone()));
        tokio::spawn(
            Server::builder()
                .accept_http1(true)
                .layer(GrpcServerLayer::new(server_metrics.clone()))
                .add_routes(routes)
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
        // The inherent constructor: no `tower_layer::Layer` import needed.
        let plain_channel = channel.clone();
        let channel = GrpcClientService::new(channel, client_metrics);
        Self {
            registry,
            addr,
            channel,
            server_metrics,
            plain_channel,
            shutdown: Some(tx),
        }
    }

    pub(crate) fn client(&self) -> DemoClient<GrpcClientService<Channel>> {
        DemoClient::new(self.channel.clone())
    }

    pub(crate) fn text(&self) -> String {
        self.registry.encode_to_string(Format::Text).unwrap()
    }

    /// The value of one exact series, 0 when absent.
    pub(crate) fn value(
        &self,
        family: &str,
        ty: &str,
        service: &str,
        method: &str,
        code: Option<&str>,
    ) -> f64 {
        let mut key = format!(
            "{family}{{grpc_type=\"{ty}\",grpc_service=\"{service}\",grpc_method=\"{method}\""
        );
        if let Some(c) = code {
            key.push_str(&format!(",grpc_code=\"{c}\""));
        }
        key.push_str("} ");
        self.text()
            .lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// Sum of every sample line of `family` whose labels contain all `matchers`.
    pub(crate) fn sum(&self, family: &str, matchers: &[&str]) -> f64 {
        self.text()
            .lines()
            .filter(|l| l.starts_with(&format!("{family}{{")))
            .filter(|l| matchers.iter().all(|m| l.contains(m)))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum()
    }

    /// Polls `cond` every 20 ms for at most `timeout`.
    pub(crate) async fn wait_until(&self, timeout: Duration, cond: impl Fn(&Self) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if cond(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        cond(self)
    }
}

/// Checks every server family of one method against the client twins and expectations.
pub(crate) struct Expect<'a> {
    pub(crate) ty: &'a str,
    pub(crate) method: &'a str,
    pub(crate) code: &'a str,
    pub(crate) calls: f64,
    /// Messages the client sent (= server received).
    pub(crate) requests: f64,
    /// Messages the server sent (= client received).
    pub(crate) responses: f64,
}

impl Expect<'_> {
    pub(crate) fn check(&self, h: &Harness) {
        let (ty, m) = (self.ty, self.method);
        for side in ["server", "client"] {
            let started = h.value(&format!("grpc_{side}_started_total"), ty, SVC, m, None);
            assert_eq!(started, self.calls, "{side} started {m}\n{}", h.text());
            let handled = h.value(
                &format!("grpc_{side}_handled_total"),
                ty,
                SVC,
                m,
                Some(self.code),
            );
            assert_eq!(
                handled,
                self.calls,
                "{side} handled {m} {}\n{}",
                self.code,
                h.text()
            );
            let all_handled = h.sum(
                &format!("grpc_{side}_handled_total"),
                &[&format!("grpc_method=\"{m}\"")],
            );
            assert_eq!(all_handled, self.calls, "{side} handled (all codes) {m}");
            let hist = h.value(
                &format!("grpc_{side}_handling_seconds_count"),
                ty,
                SVC,
                m,
                None,
            );
            assert_eq!(hist, self.calls, "{side} handling_seconds_count {m}");
        }
        let v = |f: &str| h.value(f, ty, SVC, m, None);
        assert_eq!(
            v("grpc_server_msg_received_total"),
            self.requests,
            "server received {m}"
        );
        assert_eq!(
            v("grpc_client_msg_sent_total"),
            self.requests,
            "client sent {m}"
        );
        assert_eq!(
            v("grpc_server_msg_sent_total"),
            self.responses,
            "server sent {m}"
        );
        assert_eq!(
            v("grpc_client_msg_received_total"),
            self.responses,
            "client received {m}"
        );
    }
}

/// The series of one exposition: sample lines, comments left out.
pub(crate) fn series_count(text: &str) -> usize {
    text.lines().filter(|l| !l.starts_with('#')).count()
}

/// Checks that no call is left open: for every `grpc_{side}_started_total` label set, the
/// `handled` series of that label set add up to it, and no `handled` series lacks a
/// `started` one.
pub(crate) fn assert_calls_closed(text: &str) {
    for side in ["server", "client"] {
        let started_prefix = format!("grpc_{side}_started_total{{");
        let handled_prefix = format!("grpc_{side}_handled_total{{");
        let parse = |l: &str, prefix: &str| -> Option<(String, f64)> {
            let rest = l.strip_prefix(prefix)?;
            let (labels, value) = rest.rsplit_once(' ')?;
            Some((labels.to_owned(), value.parse().unwrap()))
        };
        let started: Vec<(String, f64)> = text
            .lines()
            .filter_map(|l| parse(l, &started_prefix))
            .collect();
        let handled: Vec<(String, f64)> = text
            .lines()
            .filter_map(|l| parse(l, &handled_prefix))
            .collect();
        for (labels, n) in &started {
            // `grpc_type=..,grpc_service=..,grpc_method=..}` → the same, then `,grpc_code=`.
            let base = format!("{},grpc_code=", labels.trim_end_matches('}'));
            let sum: f64 = handled
                .iter()
                .filter(|(l, _)| l.starts_with(&base))
                .map(|(_, v)| v)
                .sum();
            assert_eq!(sum, *n, "{side}: open calls on {labels}\n{text}");
        }
        for (labels, v) in &handled {
            if *v > 0.0 {
                let base = labels.split(",grpc_code=").next().unwrap();
                assert!(
                    started.iter().any(|(l, _)| l.trim_end_matches('}') == base),
                    "{side}: handled without started: {labels}\n{text}"
                );
            }
        }
    }
}

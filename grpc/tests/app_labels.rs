//! Labels from the application over a real tonic server and client on 127.0.0.1: a tenant
//! put into request metadata and extensions by interceptors, a response header and
//! extension set inside the server layer; exact counts for declared values, everything else
//! folded into the fallback, and random metadata that cannot grow the series.

#![allow(clippy::unwrap_used, missing_docs)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use promenade_core::grpc_metrics::{GrpcMetrics, GrpcMetricsBuilder, LabelValues, Side};
use promenade_core::{Format, Registry};
use promenade_tonic::{GrpcClientService, GrpcMetricsBuilderExt as _, GrpcServerLayer};
use promenade_tonic_demo::{DemoClient, FILE_DESCRIPTOR_SET, Ping};
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::InterceptorLayer;
use tonic::transport::{Channel, Endpoint, Server};
use tower_service::Service;

/// What an auth layer knows about the caller.
#[derive(Clone)]
struct Tenant(String);

/// What the handler decided, as a response extension.
#[derive(Clone)]
struct Outcome(&'static str);

const PREFIX: &str =
    r#"grpc_type="unary",grpc_service="promenade.demo.v1.Demo",grpc_method="Unary""#;

/// Server-side auth: the tenant from the `x-tenant` metadata into the request's extensions,
/// as a tonic interceptor run as a tower layer outside the metrics layer.
#[allow(clippy::result_large_err)]
fn server_auth(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    let tenant = request
        .metadata()
        .get("x-tenant")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Some(t) = tenant {
        request.extensions_mut().insert(Tenant(t));
    }
    Ok(request)
}

/// Inside the metrics layer: copies the request's `x-cache-want` into the response's
/// `x-cache` metadata and marks the response with an [`Outcome`] extension.
#[derive(Clone)]
struct Mark<S>(S);

impl<S, B, R> Service<http::Request<B>> for Mark<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let cache = request.headers().get("x-cache-want").cloned();
        let future = self.0.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            if let Some(v) = cache {
                response.headers_mut().insert("x-cache", v);
            }
            response.extensions_mut().insert(Outcome("served"));
            Ok(response)
        })
    }
}

struct Setup {
    registry: Registry,
    channel: GrpcClientService<Channel>,
    _shutdown: oneshot::Sender<()>,
}

impl Setup {
    async fn start(configure: impl Fn(GrpcMetricsBuilder) -> GrpcMetricsBuilder) -> Self {
        let registry = Registry::new();
        let server_metrics = configure(GrpcMetrics::builder(&registry, Side::Server))
            .response_extension_label(
                "outcome",
                LabelValues::one_of(&["served"], "other").when_absent("none"),
                |o: &Outcome| o.0,
            )
            .build()
            .unwrap();
        let client_metrics = configure(GrpcMetrics::builder(&registry, Side::Client))
            .build()
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(
            Server::builder()
                .layer(InterceptorLayer::new(server_auth))
                .layer(GrpcServerLayer::new(server_metrics))
                .layer(tower_layer::layer_fn(Mark))
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
        Self {
            registry,
            channel: GrpcClientService::new(channel, client_metrics),
            _shutdown: tx,
        }
    }

    fn text(&self) -> String {
        self.registry.encode_to_string(Format::Text).unwrap()
    }

    /// The value of the sample line `family{labels}`, 0 when absent.
    fn value(&self, family: &str, labels: &str) -> f64 {
        let key = format!("{family}{{{labels}}} ");
        self.text()
            .lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    }

    /// Number of series (sample lines) of `family`.
    fn series(&self, family: &str) -> usize {
        let prefix = format!("{family}{{");
        self.text()
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .count()
    }
}

/// One unary call as a tenant: the caller puts the tenant into the request's metadata and
/// extensions (what a client-side auth helper does; tonic moves both into the HTTP request
/// the client layer sees); `region` and `cache` are metadata.
async fn call(channel: &GrpcClientService<Channel>, tenant: &str, region: &str, cache: &str) {
    let mut request = tonic::Request::new(Ping {
        text: "hi".into(),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-tenant", tenant.parse().unwrap());
    request
        .metadata_mut()
        .insert("x-region", region.parse().unwrap());
    request
        .metadata_mut()
        .insert("x-cache-want", cache.parse().unwrap());
    request.extensions_mut().insert(Tenant(tenant.to_owned()));
    DemoClient::new(channel.clone())
        .unary(request)
        .await
        .unwrap();
}

fn declared(b: GrpcMetricsBuilder) -> GrpcMetricsBuilder {
    b.file_descriptor_set(FILE_DESCRIPTOR_SET)
        .unwrap()
        .request_extension_label(
            "tenant",
            LabelValues::one_of(&["acme", "globex"], "other"),
            |t: &Tenant| t.0.as_str(),
        )
        .request_metadata_label(
            "region",
            "x-region",
            LabelValues::one_of(&["eu", "us"], "other"),
        )
        .response_metadata_label(
            "cache",
            "X-Cache",
            LabelValues::one_of(&["hit", "miss"], "other"),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_values_are_counted_exactly_and_others_fold() {
    let s = Setup::start(declared).await;
    let calls = [
        ("acme", "eu", "hit", 3),
        ("globex", "us", "miss", 2),
        ("initech", "mars", "stale", 4),
        ("umbrella", "eu", "hit", 1),
    ];
    for (tenant, region, cache, n) in calls {
        for _ in 0..n {
            call(&s.channel, tenant, region, cache).await;
        }
    }
    let text = s.text();
    for side in ["server", "client"] {
        let started = format!("grpc_{side}_started_total");
        // Request labels only on started: the response is not known yet.
        assert_eq!(
            s.value(&started, &format!("{PREFIX},tenant=\"acme\",region=\"eu\"")),
            3.0,
            "{text}"
        );
        assert_eq!(
            s.value(
                &started,
                &format!("{PREFIX},tenant=\"globex\",region=\"us\"")
            ),
            2.0,
            "{text}"
        );
        assert_eq!(
            s.value(
                &started,
                &format!("{PREFIX},tenant=\"other\",region=\"other\"")
            ),
            4.0,
            "{text}"
        );
        assert_eq!(
            s.value(
                &started,
                &format!("{PREFIX},tenant=\"other\",region=\"eu\"")
            ),
            1.0,
            "{text}"
        );
        assert_eq!(s.series(&started), 4, "{text}");
        let handled = format!("grpc_{side}_handled_total");
        let outcome = if side == "server" {
            ",outcome=\"served\""
        } else {
            ""
        };
        let end = |labels: &str| format!("{PREFIX},grpc_code=\"OK\",{labels}{outcome}");
        assert_eq!(
            s.value(&handled, &end(r#"tenant="acme",region="eu",cache="hit""#)),
            3.0,
            "{text}"
        );
        assert_eq!(
            s.value(
                &handled,
                &end(r#"tenant="globex",region="us",cache="miss""#)
            ),
            2.0,
            "{text}"
        );
        assert_eq!(
            s.value(
                &handled,
                &end(r#"tenant="other",region="other",cache="other""#)
            ),
            4.0,
            "{text}"
        );
        let hist = format!("grpc_{side}_handling_seconds_count");
        let hist_labels = format!(r#"{PREFIX},tenant="acme",region="eu",cache="hit"{outcome}"#);
        assert_eq!(s.value(&hist, &hist_labels), 3.0, "{text}");
        // The message counters keep the Go middleware's labels only.
        let sent = if side == "server" {
            "grpc_server_msg_sent_total"
        } else {
            "grpc_client_msg_sent_total"
        };
        assert_eq!(s.value(sent, PREFIX), 10.0, "{text}");
    }
    assert!(!text.contains("initech") && !text.contains("mars") && !text.contains("stale"));
}

/// 10,000 calls with random tenant, region and cache values: no series beyond the declared
/// values (and their fallbacks) on the declared labels, and no more than the cap on a label
/// that takes any value.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_metadata_adds_no_series_beyond_the_declared_set_and_cap() {
    const CAP: usize = 20;
    let s = Setup::start(|b| {
        declared(b)
            .request_metadata_label("client", "x-tenant", LabelValues::any("none"))
            .max_series(CAP)
    })
    .await;
    let tasks = 16;
    let per_task = 640; // 10,240 calls
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let channel = s.channel.clone();
        set.spawn(async move {
            // A small xorshift per task: values differ on (nearly) every call.
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1);
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                format!("{x:016x}")
            };
            for _ in 0..per_task {
                let (tenant, region, cache) = (next(), next(), next());
                call(&channel, &tenant, &region, &cache).await;
            }
        });
    }
    let all = async {
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
    };
    // A bound on a hung test, not a measurement: far above what the calls need.
    tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .unwrap();
    let text = s.text();
    for side in ["server", "client"] {
        for family in ["started_total", "handled_total", "handling_seconds_count"] {
            let family = format!("grpc_{side}_{family}");
            // The cap, plus the overflow series that keeps it.
            assert!(
                s.series(&family) <= CAP + 1,
                "{family}: {}",
                s.series(&family)
            );
            assert!(
                s.series(&family) >= CAP,
                "{family}: the any-value label should fill the cap"
            );
        }
        let started = format!("grpc_{side}_started_total");
        let total: f64 = text
            .lines()
            .filter(|l| l.starts_with(&format!("{started}{{")))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
            .sum();
        assert_eq!(total, (tasks * per_task) as f64, "every call counted once");
    }
    // The declared labels took only their declared or fallback values.
    for line in text.lines().filter(|l| l.contains("tenant=\"")) {
        assert!(
            ["tenant=\"other\"", "tenant=\"__overflow__\""]
                .iter()
                .any(|v| line.contains(v)),
            "{line}"
        );
        assert!(
            ["region=\"other\"", "region=\"__overflow__\""]
                .iter()
                .any(|v| line.contains(v)),
            "{line}"
        );
    }
}

//! Promenade HTTP metrics and a library's `metrics` facade calls on one `/metrics`.
//!
//! cargo run -p promenade-examples --bin facade-demo   # then:
//! curl localhost:3000/cache/1; curl localhost:3000/cache/2; curl localhost:3000/metrics

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let registry = promenade_core::Registry::new();
    let app = promenade_examples::facade_demo::install_recorder(&registry)
        .and_then(|_| promenade_examples::facade_demo::app(&registry));
    promenade_examples::serve_axum(&addr, app, "try /cache/1, /cache/2, /metrics").await
}

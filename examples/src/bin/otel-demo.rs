//! OpenTelemetry instruments in an axum app, scraped through Promenade at `/metrics`.
//!
//! cargo run -p promenade-examples --bin otel-demo   # then:
//! curl -XPOST localhost:3000/order/12.5; curl -XPOST localhost:3000/cart/open; curl localhost:3000/metrics

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
    let registry = promenade_core::Registry::new();
    let provider = match promenade_examples::otel_demo::meter_provider(&registry) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("cannot build the meter provider: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = promenade_examples::otel_demo::app(&registry, &provider);
    promenade_examples::serve_axum(
        &addr,
        app,
        "try POST /order/12.5, POST /cart/open, GET /metrics",
    )
    .await
}

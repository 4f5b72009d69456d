//! Prints an exposition holding every metric type, in the format named on the command line
//! (`text` or `openmetrics`). Run: `cargo run -p promenade-core --example print_exposition -- openmetrics`.

use promenade_core::{Buckets, Family, Format, GaugeHistogram, Registry, States, Unknown};

fn main() -> Result<(), promenade_core::Error> {
    let format = match std::env::args().nth(1).as_deref() {
        Some("openmetrics") => Format::OpenMetrics,
        _ => Format::Text,
    };
    let registry = Registry::builder().const_label("service", "demo").build()?;
    let requests = registry.counter_family(
        "http_requests_total",
        "HTTP requests.\nSecond \"line\" with C:\\path.",
        &["method", "path"],
    )?;
    requests.get(&["GET", "C:\\DIR\\FILE.TXT"])?.inc_by(3.0)?;
    requests
        .get(&["POST", "Cannot find file:\n\"FILE.TXT\""])?
        .inc();
    registry
        .gauge("temperature_celsius", "Temperature.")?
        .set(21.5);
    let latency = registry.histogram("request_latency_seconds", "Latency.", Buckets::default())?;
    for v in [0.003, 0.04, 0.2, 1.5, 30.0] {
        latency.observe(v);
    }
    registry
        .summary("payload_bytes", "Payload sizes.")?
        .observe(1_500_000.0);
    registry.info(
        "build",
        "Build information.",
        &[("version", "0.1.0"), ("commit", "abc123")],
    )?;
    registry
        .stateset(
            "mode",
            "Current mode.",
            States::new(["starting", "serving"])?,
        )?
        .set("serving")?;
    let queue = Family::<GaugeHistogram>::builder_with_options(
        "queue_age_seconds",
        "Age of queued items.",
        Buckets::new(vec![1.0, 10.0])?,
    )
    .unit("seconds")
    .build()?;
    queue.get(&[] as &[&str])?.observe(4.0);
    registry.register(queue)?;
    let legacy =
        Family::<Unknown>::builder("legacy_value", "Proxied value of unknown type.").build()?;
    legacy.get(&[] as &[&str])?.set(7.0);
    registry.register(legacy)?;
    print!("{}", registry.encode_to_string(format)?);
    Ok(())
}

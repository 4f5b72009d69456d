//! A batch job that does some work and pushes its metrics to a Pushgateway.
//!
//! ```text
//! cargo run -p promenade-examples --bin push-job -- [--gateway URL] [--job NAME] [--items N]
//! ```
//!
//! It "processes" `--items` records (default 500), records how long each took and how big
//! it was, then replaces its group on the gateway (`PUT`) with: records processed, failures,
//! a duration histogram, a size summary with quantiles, the job's run time and the time of
//! its last success. It prints the URL and the exposition it pushed. Start a gateway with
//! `prometheus-pushgateway` (listens on 127.0.0.1:9091 by default).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use promenade_core::push::Pushgateway;
use promenade_core::{Buckets, Format, QuantileOptions, Registry, exponential_buckets};

struct Args {
    gateway: String,
    job: String,
    items: u64,
}

fn usage() -> &'static str {
    "usage: push-job [--gateway URL] [--job NAME] [--items N]\n\
     \n  --gateway URL  Pushgateway base URL (default http://127.0.0.1:9091)\
     \n  --job NAME     job name of the pushed group (default promenade_push_job)\
     \n  --items N      how many records to process (default 500)"
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        gateway: "http://127.0.0.1:9091".to_owned(),
        job: "promenade_push_job".to_owned(),
        items: 500,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--gateway" => args.gateway = value("--gateway")?,
            "--job" => args.job = value("--job")?,
            "--items" => {
                args.items = value("--items")?
                    .parse()
                    .map_err(|e| format!("--items: {e}"))?;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// Pretend to process one record: a little CPU work whose cost depends on the record.
fn process(record: u64) -> Result<u64, String> {
    // A deterministic pseudo-random size between 100 B and about 100 kB.
    let mut x = record.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xDEAD_BEEF;
    x ^= x >> 29;
    let size = 100 + x % 100_000;
    let mut acc = 0u64;
    for i in 0..size / 10 {
        acc = acc.wrapping_add(i * i);
    }
    std::hint::black_box(acc);
    if record % 97 == 13 {
        Err(format!("record {record} is corrupt"))
    } else {
        Ok(size)
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    // A registry of its own: a batch job pushes only what describes this run.
    let registry = Registry::new();
    let processed =
        registry.counter("records_processed_total", "Records processed successfully.")?;
    let failed = registry.counter("records_failed_total", "Records that failed.")?;
    let duration = registry.histogram(
        "record_duration_seconds",
        "Time to process one record.",
        Buckets::new(exponential_buckets(0.000_01, 4.0, 8)?)?,
    )?;
    let sizes = registry.quantile_summary(
        "record_size_bytes",
        "Size of the processed records.",
        QuantileOptions::new(&[(0.5, 0.05), (0.9, 0.01), (0.99, 0.001)])?
            .with_max_age(Duration::from_secs(3600))?,
    )?;
    let run_time = registry.gauge("job_duration_seconds", "How long the last run took.")?;
    let last_success = registry.gauge(
        "job_last_success_timestamp_seconds",
        "When the job last finished successfully (Unix time).",
    )?;

    let started = Instant::now();
    for record in 0..args.items {
        let _timer = duration.start_timer();
        match process(record) {
            Ok(size) => {
                processed.inc();
                sizes.observe(size as f64);
            }
            Err(e) => {
                failed.inc();
                eprintln!("push-job: {e}");
            }
        }
    }
    run_time.set(started.elapsed().as_secs_f64());
    last_success.set_to_current_time();

    let gateway = Pushgateway::builder(&args.gateway, &args.job)
        .timeout(Duration::from_secs(5))
        .build_blocking()?;
    gateway.push(&registry)?;
    println!("pushed to {}:\n", gateway.url());
    print!("{}", registry.encode_to_string(Format::Text)?);
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("push-job: {e}\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("push-job: {e}");
            ExitCode::FAILURE
        }
    }
}

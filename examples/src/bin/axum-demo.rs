//! The axum demo server: `cargo run -p promenade-examples --bin axum-demo [-- --addr HOST:PORT]`.

use std::io::Write as _;
use std::process::ExitCode;

use promenade_examples::axum_demo::DemoOptions;

const USAGE: &str = "usage: axum-demo [--addr HOST:PORT] [--native]   (default 127.0.0.1:3000; --native adds native histogram buckets)";

fn parse_args() -> Result<(String, DemoOptions), String> {
    let mut addr = "127.0.0.1:3000".to_owned();
    let mut options = DemoOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs a value")?,
            "--native" => options.native = true,
            "-h" | "--help" => return Err(String::new()),
            other => match other.strip_prefix("--addr=") {
                Some(v) => v.clone_into(&mut addr),
                None => return Err(format!("unknown argument: {other}")),
            },
        }
    }
    Ok((addr, options))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (addr, options) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("{e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let local = listener.local_addr().map_or(addr, |a| a.to_string());
    let registry = promenade_core::Registry::new();
    println!("listening on http://{local}");
    let _ = std::io::stdout().flush();
    if let Err(e) = promenade_examples::axum_demo::serve_with(listener, &registry, &options).await {
        eprintln!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

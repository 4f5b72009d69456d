//! actix-web demo server instrumented with Promenade.
//!
//! ```text
//! actix-demo [--addr HOST:PORT] [--native]     (default 127.0.0.1:3001)
//! ```
//!
//! Prints `listening on http://ADDR` once the socket is bound, then serves `GET /`,
//! `GET /users/{id}`, `POST /echo`, `GET /slow?ms=N`, `GET /stream`, `GET /panic` and
//! `GET /metrics`.

use std::io::Write as _;
use std::process::ExitCode;

use promenade_examples::{DemoOptions, actix_demo};

fn parse_args() -> Result<(String, DemoOptions), String> {
    let mut args = std::env::args().skip(1);
    let mut addr = actix_demo::DEFAULT_ADDR.to_owned();
    let mut options = DemoOptions::default();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            "--native" => options.native = true,
            a if a.starts_with("--addr=") => addr = a["--addr=".len()..].to_owned(),
            "-h" | "--help" => {
                return Err("usage: actix-demo [--addr HOST:PORT] [--native] (default 127.0.0.1:3001; --native adds native histogram buckets)".into());
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok((addr, options))
}

fn main() -> ExitCode {
    let (addr, options) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let registry = promenade_core::Registry::new();
    let result = actix_rt::System::new().block_on(async {
        let (server, bound) = actix_demo::server_with(&addr, &registry, &options)?;
        println!("listening on http://{bound}");
        std::io::stdout().flush()?;
        server.await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("actix-demo: {e}");
            ExitCode::FAILURE
        }
    }
}

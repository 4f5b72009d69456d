//! `cargo run -p promenade-examples --bin hyper-demo [-- --addr HOST:PORT]`: a plain hyper 1
//! server (no web framework) with Promenade's tower layer and `/metrics`, on
//! 127.0.0.1:3002 by default.

use promenade_core::Registry;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:3002".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            _ => {
                eprintln!("usage: hyper-demo [--addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    let addr = addr.parse().map_err(|e| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("--addr: {e}"))
    })?;
    let bound = promenade_examples::hyper_demo::spawn(addr, Registry::new()).await?;
    println!("hyper demo on http://{bound} (GET /, GET /users/{{id}}, GET /metrics)");
    tokio::signal::ctrl_c().await
}

//! [`ScrapeServer`]: the core's `ScrapeHandler` behind a minimal HTTP/1.1 server, so that
//! core-level tests can be scraped by a real Prometheus without any web framework.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use promenade_core::scrape::ScrapeHandler;

/// A minimal HTTP/1.1 server around `ScrapeHandler`: one thread per connection,
/// `Connection: close`, bounded request heads. Stops when dropped.
#[derive(Debug)]
pub struct ScrapeServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl ScrapeServer {
    /// Serves `handler` on a free 127.0.0.1 port until dropped.
    pub fn start(handler: ScrapeHandler) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let handler = handler.clone();
                        thread::spawn(move || serve(stream, &handler));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { port, stop }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for ScrapeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(stream: TcpStream, handler: &ScrapeHandler) {
    stream.set_nonblocking(false).ok();
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let method = request_line
        .split(' ')
        .next()
        .unwrap_or("GET")
        .parse::<http::Method>()
        .unwrap_or(http::Method::GET);
    let mut headers = http::HeaderMap::new();
    for _ in 0..100 {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && let (Ok(k), Ok(v)) = (
                http::HeaderName::try_from(k.trim()),
                http::HeaderValue::try_from(v.trim()),
            )
        {
            headers.append(k, v);
        }
    }
    let response = handler.respond(&method, &headers);
    let mut out = format!("HTTP/1.1 {}\r\n", response.status());
    for (k, v) in response.headers() {
        out.push_str(&format!("{}: {}\r\n", k, v.to_str().unwrap_or("")));
    }
    out.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body().len()
    ));
    let mut stream = stream;
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.write_all(response.body());
}

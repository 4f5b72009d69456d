//! A real Pushgateway, started per test on 127.0.0.1 and killed on drop.
//!
//! Debian's `prometheus-pushgateway` (1.5.1 in bookworm) defaults to
//! `--persistence.file=/var/lib/prometheus/pushgateway.data`, shared with the system
//! service and with every other run; the harness always passes `--persistence.file=`
//! (empty: no persistence) so each test starts with an empty gateway.

use std::path::PathBuf;
use std::process::Child;

use tempfile::TempDir;

use crate::http::free_port;
use crate::prometheus::{READY_TIMEOUT, spawn_logged, wait_ready};
use crate::tools::{PUSHGATEWAY, e2e_unavailable, find_tool};

/// A Pushgateway child process listening on `127.0.0.1:<port>`, with its log in a
/// temporary directory. Dropping it kills the process (by PID, via [`Child::kill`]).
#[derive(Debug)]
pub struct PushgatewayServer {
    child: Child,
    port: u16,
    log_path: PathBuf,
    _dir: TempDir,
}

impl PushgatewayServer {
    /// Starts a Pushgateway with no extra flags. `None` when it is not installed and
    /// end-to-end tests are optional (after a loud skip message); panics in required
    /// mode, or when it fails to become ready within [`READY_TIMEOUT`].
    pub fn start() -> Option<Self> {
        Self::start_with_args(&[])
    }

    /// [`start`](Self::start) with extra command-line flags, e.g.
    /// `--web.enable-admin-api`, `--push.disable-consistency-check`,
    /// `--web.enable-lifecycle`.
    pub fn start_with_args(extra_args: &[&str]) -> Option<Self> {
        let Some(binary) = find_tool(PUSHGATEWAY) else {
            e2e_unavailable("prometheus-pushgateway not installed");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("promenade-pushgateway-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let log_path = dir.path().join("pushgateway.log");
        for attempt in 1..=3 {
            let port = free_port();
            let mut args = vec![
                format!("--web.listen-address=127.0.0.1:{port}"),
                "--persistence.file=".to_owned(),
            ];
            args.extend(extra_args.iter().map(|a| (*a).to_owned()));
            let mut child = spawn_logged(&binary, &args, &log_path);
            match wait_ready(&mut child, port, READY_TIMEOUT) {
                Ok(()) => {
                    return Some(Self {
                        child,
                        port,
                        log_path,
                        _dir: dir,
                    });
                }
                Err(exited) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                    if exited.is_some() && log.contains("address already in use") && attempt < 3 {
                        continue;
                    }
                    panic!(
                        "pushgateway did not become ready on 127.0.0.1:{port} ({}).\n\
                         args: {args:?}\nlog:\n{log}",
                        exited.map_or_else(
                            || format!("not ready after {READY_TIMEOUT:?}"),
                            |s| format!("exited: {s}")
                        ),
                    );
                }
            }
        }
        unreachable!("the last attempt either returns or panics")
    }

    /// The port on 127.0.0.1 it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>` (push to `{url}/metrics/job/<job>…`, scrape
    /// `{url}/metrics`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Everything the Pushgateway has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for PushgatewayServer {
    fn drop(&mut self) {
        // Kill by PID (our own Child handle), never by name.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

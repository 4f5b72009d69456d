//! Running a short-lived child process with input on stdin and a hard time limit.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// What a finished child process left behind.
#[derive(Debug)]
pub(crate) struct CmdOutput {
    /// `true` when the process exited with status 0.
    pub status_ok: bool,
    /// Human-readable exit status (`exit status: 3`, `signal: 9 (SIGKILL)`).
    pub status: String,
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
}

impl CmdOutput {
    /// stdout followed by stderr, lossily decoded.
    pub(crate) fn combined(&self) -> String {
        let mut s = String::from_utf8_lossy(&self.stdout).into_owned();
        let err = String::from_utf8_lossy(&self.stderr);
        if !s.is_empty() && !err.is_empty() && !s.ends_with('\n') {
            s.push('\n');
        }
        s.push_str(&err);
        s
    }
}

/// Polls `child` until it exits or `deadline` passes; kills it (by its own handle, so by
/// PID) on timeout.
pub(crate) fn wait_bounded(child: &mut Child, deadline: Instant) -> Result<ExitStatus, String> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("timed out; killed".to_owned());
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("waiting for child failed: {e}")),
        }
    }
}

/// Runs `program args…`, feeding `input` on stdin, collecting stdout and stderr, and
/// killing the process if it has not finished within `timeout`.
pub(crate) fn run_with_input(
    program: &Path,
    args: &[&str],
    input: &[u8],
    timeout: Duration,
) -> Result<CmdOutput, String> {
    let deadline = Instant::now() + timeout;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;

    let mut stdin = child.stdin.take();
    let input = input.to_vec();
    // A child that exits without reading all of stdin makes this fail with EPIPE: ignore.
    let writer = thread::spawn(move || {
        if let Some(stdin) = stdin.as_mut() {
            let _ = stdin.write_all(&input);
        }
        drop(stdin);
    });
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );

    let status = wait_bounded(&mut child, deadline);
    let _ = writer.join();
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let status = status.map_err(|e| {
        format!(
            "{} {}: {e} after {timeout:?}\nstdout:\n{}\nstderr:\n{}",
            program.display(),
            args.first().copied().unwrap_or(""),
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )
    })?;
    Ok(CmdOutput {
        status_ok: status.success(),
        status: status.to_string(),
        stdout,
        stderr,
    })
}

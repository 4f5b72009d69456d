//! `promtool check metrics`: Prometheus's own linter for the text exposition format.
//!
//! # What promtool 2.42 (Debian bookworm's `prometheus` package) does
//!
//! `promtool check metrics` reads **text format 0.0.4** on stdin (it uses the
//! `expfmt.TextParser`, not the OpenMetrics parser) and:
//!
//! * exits **0** and prints nothing when the input parses and has no lint problems;
//! * exits **1** and prints `error while linting: text format parsing error in line N: …`
//!   to stderr on a parse error — e.g. a second HELP line for a name, a value followed by
//!   `\r`, a last line without its terminating `\n` ("unexpected end of input stream"),
//!   an invalid label name;
//! * exits **3** and prints one `<metric> <problem>` line per lint problem to stderr, e.g.
//!   `foo no help text`, `foo counter metrics should have "_total" suffix`,
//!   `g_total non-counter metrics should not have "_total" suffix`,
//!   `x_milliseconds use base unit "seconds" instead of "milliseconds"`,
//!   `fooBar metric names should be written in 'snake_case' not 'camelCase'`.
//!
//! It does **not** catch duplicate series (the same name and label set twice), a
//! histogram without its `+Inf` bucket, or non-cumulative buckets. OpenMetrics input is
//! read as 0.0.4: `# UNIT` and `# EOF` are plain comments, and an OpenMetrics counter
//! (`# TYPE foo counter` + `foo_total 1`) is linted as an untyped `foo_total` without help,
//! so only feed it 0.0.4 text. The exit status for lint problems has changed between
//! promtool releases, so [`promtool_check_metrics`] treats any output as a failure too.

use std::time::Duration;

use crate::process::run_with_input;
use crate::tools::{PROMTOOL, find_tool};

/// Runs `promtool check metrics` with `text` on stdin (30 s limit).
///
/// `Ok(())` only when promtool exits 0 **and** prints nothing. Otherwise `Err` holds the
/// exit status and promtool's output (parse errors and lint problems), so an assertion
/// message shows exactly what promtool objected to. If promtool is not installed this
/// returns `Err` too: call [`require_tool!`](crate::require_tool!)`(PROMTOOL)` first
/// so that the test is skipped (or fails, with `PROMENADE_E2E=required`) instead.
pub fn promtool_check_metrics(text: &str) -> Result<(), String> {
    let promtool = find_tool(PROMTOOL).ok_or_else(|| {
        "promtool not installed (guard the test with require_tool!(PROMTOOL))".to_owned()
    })?;
    let out = run_with_input(
        &promtool,
        &["check", "metrics"],
        text.as_bytes(),
        Duration::from_secs(30),
    )?;
    let output = out.combined();
    if out.status_ok && output.trim().is_empty() {
        Ok(())
    } else {
        Err(format!(
            "promtool check metrics failed ({}):\n{}",
            out.status,
            output.trim_end()
        ))
    }
}

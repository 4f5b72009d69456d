//! Finding the external tools the end-to-end tests need, and the skip/fail policy when
//! one is missing.
//!
//! The policy is driven by the environment variable [`E2E_ENV`] (`PROMENADE_E2E`):
//!
//! * `PROMENADE_E2E=required` (what `scripts/test.sh` and CI set): a missing tool is a
//!   test **failure** — the test panics with a message naming the tool.
//! * anything else, or unset (plain `cargo test`): a missing tool makes the test print a
//!   loud `=== SKIPPED … ===` banner to stderr and return early, so it passes without
//!   having checked anything.
//!
//! Each tool can be pointed at an explicit path with an environment variable
//! (see [`tool_env_var`]), e.g. `PROMENADE_PROMTOOL=/opt/prom/promtool`.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::process::run_with_input;

/// Name of the environment variable that selects the [`E2eMode`].
pub const E2E_ENV: &str = "PROMENADE_E2E";

/// Tool name of Prometheus's `promtool` (Debian package `prometheus`).
pub const PROMTOOL: &str = "promtool";
/// Tool name of the Prometheus server binary (Debian package `prometheus`).
pub const PROMETHEUS: &str = "prometheus";
/// Tool name of the Pushgateway binary (Debian package `prometheus-pushgateway`).
pub const PUSHGATEWAY: &str = "prometheus-pushgateway";
/// Pseudo tool name: a `python3` interpreter that can `import prometheus_client`
/// (pip package `prometheus_client`). [`find_tool`] returns the interpreter's path.
pub const PYTHON_PROMETHEUS_CLIENT: &str = "python3-prometheus_client";

/// What to do when an end-to-end prerequisite is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum E2eMode {
    /// `PROMENADE_E2E=required`: a missing tool fails the test.
    Required,
    /// Default: a missing tool skips the test loudly.
    Optional,
}

/// Reads [`E2E_ENV`]: `required` (case-insensitive) gives [`E2eMode::Required`], anything
/// else [`E2eMode::Optional`].
pub fn e2e_mode() -> E2eMode {
    match std::env::var(E2E_ENV) {
        Ok(v) if v.trim().eq_ignore_ascii_case("required") => E2eMode::Required,
        _ => E2eMode::Optional,
    }
}

/// Reports that an end-to-end prerequisite is unavailable.
///
/// In [`E2eMode::Required`] this panics (failing the test) with `reason`; otherwise it
/// prints a loud `=== SKIPPED <test> (<reason>; run scripts/test.sh) ===` banner to
/// stderr and returns, and the caller should return early from the test.
pub fn e2e_unavailable(reason: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_owned();
    match e2e_mode() {
        E2eMode::Required => panic!(
            "end-to-end prerequisite missing in {test}: {reason} \
             ({E2E_ENV}=required, so this is a failure; scripts/test.sh installs it)"
        ),
        E2eMode::Optional => {
            // Written to the real stderr, not through `eprintln!`, which the test
            // harness captures and would only show for failing tests.
            let _ = writeln!(
                std::io::stderr().lock(),
                "\n=== SKIPPED {test} ({reason}; run scripts/test.sh, \
                 or set {E2E_ENV}=required to make this a failure) ===\n"
            );
        }
    }
}

/// The environment variable that overrides where `name` is looked up:
/// `PROMENADE_PROMTOOL`, `PROMENADE_PROMETHEUS`, `PROMENADE_PUSHGATEWAY`,
/// `PROMENADE_PYTHON` (for [`PYTHON_PROMETHEUS_CLIENT`]), and in general
/// `PROMENADE_<NAME>` with `-` turned into `_` and upper-cased.
pub fn tool_env_var(name: &str) -> String {
    match name {
        PUSHGATEWAY => "PROMENADE_PUSHGATEWAY".to_owned(),
        PYTHON_PROMETHEUS_CLIENT => "PROMENADE_PYTHON".to_owned(),
        other => format!(
            "PROMENADE_{}",
            other.replace(['-', '.'], "_").to_ascii_uppercase()
        ),
    }
}

/// Finds tool `name` without printing anything or panicking; the result is cached for
/// the life of the test process.
///
/// Plain binaries are looked up via [`tool_env_var`], then `$PATH`, then `/usr/bin`,
/// `/usr/local/bin`, `/usr/sbin`, `/bin`. For [`PYTHON_PROMETHEUS_CLIENT`] the
/// candidates are `$PROMENADE_PYTHON`, `python3` on `$PATH` and `/usr/bin/python3`; the
/// first that can `import prometheus_client` (checked with a 20 s limit) wins.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<PathBuf>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(hit) = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(name)
    {
        return hit.clone();
    }
    let found = if name == PYTHON_PROMETHEUS_CLIENT {
        find_python_with_prometheus_client()
    } else {
        find_binary(name, &tool_env_var(name))
    };
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(name.to_owned(), found.clone());
    found
}

/// Finds tool `name` (see [`find_tool`]); when it is missing, applies the
/// [`e2e_unavailable`] policy and returns `None` (only in [`E2eMode::Optional`]; in
/// [`E2eMode::Required`] it panics). Use with `let Some(p) = … else { return };` or the
/// [`require_tool!`](crate::require_tool!) macro.
pub fn require_tool(name: &str) -> Option<PathBuf> {
    let found = find_tool(name);
    if found.is_none() {
        let what = if name == PYTHON_PROMETHEUS_CLIENT {
            "python3 with the prometheus_client package not installed".to_owned()
        } else {
            format!("{name} not installed")
        };
        e2e_unavailable(&what);
    }
    found
}

/// Returns early from the enclosing test (which must return `()`) when the tool is
/// missing and end-to-end tests are optional; evaluates to the tool's [`PathBuf`]
/// otherwise. In required mode a missing tool panics.
///
/// ```no_run
/// # fn demo() {
/// let promtool = promenade_tests::require_tool!(promenade_tests::PROMTOOL);
/// # let _ = promtool; }
/// ```
#[macro_export]
macro_rules! require_tool {
    ($name:expr) => {
        match $crate::require_tool($name) {
            ::std::option::Option::Some(path) => path,
            ::std::option::Option::None => return,
        }
    };
}

/// Unwraps an `Option` returned by a harness constructor that may skip (such as
/// [`PrometheusServer::start`](crate::PrometheusServer::start)), returning early from the
/// enclosing test (which must return `()`) on `None`.
///
/// ```no_run
/// # fn demo() {
/// let pg = promenade_tests::or_skip!(promenade_tests::PushgatewayServer::start());
/// # let _ = pg; }
/// ```
#[macro_export]
macro_rules! or_skip {
    ($opt:expr) => {
        match $opt {
            ::std::option::Option::Some(value) => value,
            ::std::option::Option::None => return,
        }
    };
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

fn search_path(binary: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in ["/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"] {
        dirs.push(PathBuf::from(extra));
    }
    dirs.into_iter()
        .map(|d| d.join(binary))
        .find(|p| is_executable(p))
}

fn find_binary(name: &str, env_var: &str) -> Option<PathBuf> {
    if let Some(explicit) = std::env::var_os(env_var) {
        let p = PathBuf::from(explicit);
        return is_executable(&p).then_some(p);
    }
    search_path(name)
}

fn find_python_with_prometheus_client() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(explicit) = std::env::var_os("PROMENADE_PYTHON") {
        candidates.push(PathBuf::from(explicit));
    } else {
        candidates.extend(search_path("python3"));
        candidates.push(PathBuf::from("/usr/bin/python3"));
    }
    candidates.into_iter().find(|py| {
        is_executable(py)
            && run_with_input(
                py,
                &["-c", "import prometheus_client"],
                b"",
                Duration::from_secs(20),
            )
            .map(|out| out.status_ok)
            .unwrap_or(false)
    })
}

//! A real Prometheus server, started per test on 127.0.0.1 and killed on drop.
//!
//! # Prometheus 2.42 (Debian bookworm) timing
//!
//! Readiness (`/-/ready` = 200) takes about 0.1–2 s. The **first scrape happens about
//! 5 s after start** even with a 1 s scrape interval, because Prometheus 2.x's
//! discovery manager hands new targets to the scrape manager at most every 5 s (not
//! configurable in 2.42). Budget ~10 s for the first sample; use
//! [`PrometheusServer::wait_for_up`] / [`PrometheusServer::wait_for`] rather than sleeps.
//! 2.42 sends this Accept header when scraping:
//! `application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`
//! (with `--enable-feature=native-histograms`, protobuf comes first).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::http::{free_port, http_get};
use crate::tools::{PROMETHEUS, e2e_unavailable, find_tool};

/// How long [`PrometheusServer::start`] waits for `/-/ready` by default.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// A reasonable timeout for "the first scrape of a new target has landed" with
/// Prometheus 2.x (first scrape ≈ 5 s after start, see the module docs).
pub const FIRST_SCRAPE_TIMEOUT: Duration = Duration::from_secs(15);
/// Poll period of the `wait_for*` methods.
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// One scrape job of the generated `prometheus.yml`: a single target `127.0.0.1:<port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrapeTarget {
    /// `job_name` (also the `job` label of the scraped series).
    pub job: String,
    /// Port on 127.0.0.1.
    pub port: u16,
    /// `metrics_path`; default `/metrics`.
    pub metrics_path: String,
    /// `honor_labels` (set it for a Pushgateway); default `false`.
    pub honor_labels: bool,
    /// Per-job `scrape_interval` (and `scrape_timeout`, set equal); default: the global one.
    pub scrape_interval: Option<Duration>,
    /// Raw YAML `key: value` lines added to the job, e.g. `scrape_timeout: 500ms` or
    /// `params: {format: [x]}`.
    pub extra_config: Vec<String>,
}

impl ScrapeTarget {
    /// A job named `job` scraping `http://127.0.0.1:<port>/metrics`.
    pub fn new(job: &str, port: u16) -> Self {
        Self {
            job: job.to_owned(),
            port,
            metrics_path: "/metrics".to_owned(),
            honor_labels: false,
            scrape_interval: None,
            extra_config: Vec::new(),
        }
    }

    /// Sets `metrics_path`.
    #[must_use]
    pub fn metrics_path(mut self, path: &str) -> Self {
        self.metrics_path = path.to_owned();
        self
    }

    /// Sets `honor_labels`.
    #[must_use]
    pub fn honor_labels(mut self, honor: bool) -> Self {
        self.honor_labels = honor;
        self
    }

    /// Sets this job's `scrape_interval` and `scrape_timeout`.
    #[must_use]
    pub fn scrape_interval(mut self, interval: Duration) -> Self {
        self.scrape_interval = Some(interval);
        self
    }

    /// Adds a raw YAML `key: value` line to the job.
    #[must_use]
    pub fn extra_config(mut self, yaml_line: &str) -> Self {
        self.extra_config.push(yaml_line.to_owned());
        self
    }
}

/// Server-wide options for [`PrometheusServer::start_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusOptions {
    /// `global.scrape_interval` (and `scrape_timeout`); default 1 s.
    pub scrape_interval: Duration,
    /// Feature flags, passed as `--enable-feature=a,b` (e.g. `native-histograms`).
    pub features: Vec<String>,
    /// Further command-line arguments (e.g. `--web.enable-admin-api`).
    pub extra_args: Vec<String>,
    /// Bound on waiting for `/-/ready`; default [`READY_TIMEOUT`].
    pub ready_timeout: Duration,
}

impl Default for PrometheusOptions {
    fn default() -> Self {
        Self {
            scrape_interval: Duration::from_secs(1),
            features: Vec::new(),
            extra_args: Vec::new(),
            ready_timeout: READY_TIMEOUT,
        }
    }
}

impl PrometheusOptions {
    /// Sets `global.scrape_interval`.
    #[must_use]
    pub fn scrape_interval(mut self, interval: Duration) -> Self {
        self.scrape_interval = interval;
        self
    }

    /// Adds a feature flag (`native-histograms`, `exemplar-storage`, …).
    #[must_use]
    pub fn enable_feature(mut self, feature: &str) -> Self {
        self.features.push(feature.to_owned());
        self
    }

    /// Adds a command-line argument.
    #[must_use]
    pub fn arg(mut self, arg: &str) -> Self {
        self.extra_args.push(arg.to_owned());
        self
    }
}

/// One sample of an instant-query result.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySample {
    /// Series labels, `__name__` included when the result keeps it.
    pub labels: BTreeMap<String, String>,
    /// Sample value (NaN for native-histogram samples; use [`PrometheusServer::query`]
    /// for their raw JSON).
    pub value: f64,
    /// Evaluation timestamp in seconds.
    pub timestamp: f64,
}

/// A Prometheus child process with its own config, TSDB and log in a temporary
/// directory, listening on `127.0.0.1:<port>`. Dropping it kills the process (by its
/// PID, via [`Child::kill`]) and deletes the directory.
#[derive(Debug)]
pub struct PrometheusServer {
    child: Child,
    port: u16,
    config: String,
    log_path: PathBuf,
    // Dropped last: the child is killed before its directory goes away.
    _dir: TempDir,
}

fn yaml_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn prom_duration(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

/// The `prometheus.yml` text [`PrometheusServer::start_with`] writes for these targets.
pub fn prometheus_config(targets: &[ScrapeTarget], options: &PrometheusOptions) -> String {
    let interval = prom_duration(options.scrape_interval);
    let mut y = format!(
        "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  \
         evaluation_interval: {interval}\nscrape_configs:\n"
    );
    if targets.is_empty() {
        y.push_str("  []\n");
    }
    for t in targets {
        let _ = writeln!(y, "  - job_name: {}", yaml_str(&t.job));
        let _ = writeln!(y, "    metrics_path: {}", yaml_str(&t.metrics_path));
        let _ = writeln!(y, "    honor_labels: {}", t.honor_labels);
        if let Some(i) = t.scrape_interval {
            let _ = writeln!(y, "    scrape_interval: {}", prom_duration(i));
            let _ = writeln!(y, "    scrape_timeout: {}", prom_duration(i));
        }
        for line in &t.extra_config {
            let _ = writeln!(y, "    {line}");
        }
        let _ = writeln!(y, "    static_configs:");
        let _ = writeln!(y, "      - targets: ['127.0.0.1:{}']", t.port);
    }
    y
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Parses a Prometheus API sample value (`"1"`, `"NaN"`, `"+Inf"`, `"-Inf"`, `"1e+06"`).
pub fn parse_prom_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Waits until `http://127.0.0.1:<port>/-/ready` answers 200, the child exits, or
/// `timeout` passes. `Ok(())` when ready; `Err(Some(status))` when the child exited;
/// `Err(None)` on timeout.
pub(crate) fn wait_ready(
    child: &mut Child,
    port: u16,
    timeout: Duration,
) -> Result<(), Option<String>> {
    let deadline = Instant::now() + timeout;
    let url = format!("http://127.0.0.1:{port}/-/ready");
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(Some(status.to_string()));
        }
        if http_get(&url, &[]).is_ok_and(|r| r.status == 200) {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(100));
    }
    Err(None)
}

/// Spawns `program args` with stdout and stderr appended to `log_path`.
pub(crate) fn spawn_logged(program: &Path, args: &[String], log_path: &Path) -> Child {
    let log = File::create(log_path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
    let log2 = log
        .try_clone()
        .unwrap_or_else(|e| panic!("cannot clone log handle: {e}"));
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()))
}

impl PrometheusServer {
    /// Starts Prometheus scraping `targets` with default [`PrometheusOptions`]
    /// (1 s scrape interval). `None` when `prometheus` is not installed and end-to-end
    /// tests are optional (a loud skip message has been printed); panics when it is not
    /// installed in required mode, or when it fails to start (the panic shows its log).
    pub fn start(targets: &[ScrapeTarget]) -> Option<Self> {
        Self::start_with(targets, &PrometheusOptions::default())
    }

    /// [`start`](Self::start) with explicit options.
    pub fn start_with(targets: &[ScrapeTarget], options: &PrometheusOptions) -> Option<Self> {
        let Some(binary) = find_tool(PROMETHEUS) else {
            e2e_unavailable("prometheus not installed");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("promenade-prometheus-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let config = prometheus_config(targets, options);
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, &config)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", config_path.display()));
        let log_path = dir.path().join("prometheus.log");

        // The port is free when picked but could be taken before Prometheus binds it:
        // retry a few times with a new port in that case.
        for attempt in 1..=3 {
            let port = free_port();
            let mut args = vec![
                format!("--config.file={}", config_path.display()),
                format!("--storage.tsdb.path={}", dir.path().join("data").display()),
                format!("--web.listen-address=127.0.0.1:{port}"),
            ];
            if !options.features.is_empty() {
                args.push(format!("--enable-feature={}", options.features.join(",")));
            }
            args.extend(options.extra_args.iter().cloned());
            let mut child = spawn_logged(&binary, &args, &log_path);
            match wait_ready(&mut child, port, options.ready_timeout) {
                Ok(()) => {
                    return Some(Self {
                        child,
                        port,
                        config,
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
                        "prometheus did not become ready on 127.0.0.1:{port} ({}).\n\
                         args: {args:?}\nconfig:\n{config}\nlog tail:\n{}",
                        exited.map_or_else(
                            || format!("not ready after {:?}", options.ready_timeout),
                            |s| format!("exited: {s}")
                        ),
                        tail(&log, 40)
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

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The generated `prometheus.yml`.
    pub fn config(&self) -> &str {
        &self.config
    }

    /// Everything Prometheus has logged so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// `GET /api/v1/<path>?<params>` and returns the response's `data` member, or `Err`
    /// with the API's error (or the transport error).
    pub fn api_get(&self, path: &str, params: &[(&str, &str)]) -> Result<Value, String> {
        let mut url = format!("{}/api/v1/{path}", self.url());
        for (i, (k, v)) in params.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&percent_encode(k));
            url.push('=');
            url.push_str(&percent_encode(v));
        }
        let resp = http_get(&url, &[])?;
        let json: Value = serde_json::from_slice(&resp.body).map_err(|e| {
            format!(
                "GET {url}: {} non-JSON body ({e}): {}",
                resp.status,
                resp.text()
            )
        })?;
        if json["status"] == "success" {
            Ok(json["data"].clone())
        } else {
            Err(format!(
                "GET {url}: HTTP {}: {}: {}",
                resp.status, json["errorType"], json["error"]
            ))
        }
    }

    /// Instant query (`/api/v1/query`) evaluated now; returns the `data` member
    /// (`{"resultType": …, "result": …}`).
    pub fn query(&self, promql: &str) -> Result<Value, String> {
        self.api_get("query", &[("query", promql)])
    }

    /// Instant query whose result is a vector (or a scalar, returned as one unlabelled
    /// sample).
    pub fn query_vector(&self, promql: &str) -> Result<Vec<QuerySample>, String> {
        let data = self.query(promql)?;
        let point = |v: &Value, labels: BTreeMap<String, String>| -> QuerySample {
            QuerySample {
                labels,
                timestamp: v[0].as_f64().unwrap_or(f64::NAN),
                value: v[1].as_str().and_then(parse_prom_float).unwrap_or(f64::NAN),
            }
        };
        match data["resultType"].as_str() {
            Some("vector") => Ok(data["result"]
                .as_array()
                .map(|a| a.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|s| {
                    let labels = s["metric"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| {
                                    (k.clone(), v.as_str().unwrap_or_default().to_owned())
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    point(&s["value"], labels)
                })
                .collect()),
            Some("scalar") => Ok(vec![point(&data["result"], BTreeMap::new())]),
            other => Err(format!(
                "query {promql:?}: unexpected result type {other:?}: {data}"
            )),
        }
    }

    /// The value of the first sample of an instant query, or `None` when the result is
    /// empty or the query failed.
    pub fn query_scalar(&self, promql: &str) -> Option<f64> {
        self.query_vector(promql)
            .ok()
            .and_then(|v| v.first().map(|s| s.value))
    }

    /// Polls `promql` every [`POLL_INTERVAL`] until `predicate` accepts the result vector,
    /// and returns that result; `Err` after `timeout`, with the last result or error, the
    /// targets' health and the tail of Prometheus's log.
    pub fn wait_for(
        &self,
        promql: &str,
        mut predicate: impl FnMut(&[QuerySample]) -> bool,
        timeout: Duration,
    ) -> Result<Vec<QuerySample>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let last = self.query_vector(promql);
            if let Ok(samples) = &last
                && predicate(samples)
            {
                return Ok(samples.clone());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "timed out after {timeout:?} waiting for {promql:?}; last result: {last:?}\n{}",
                    self.diagnostics()
                ));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Polls until the first sample of `promql` exists and satisfies `predicate`; returns
    /// its value. `Err` after `timeout` as for [`wait_for`](Self::wait_for).
    pub fn wait_for_value(
        &self,
        promql: &str,
        mut predicate: impl FnMut(f64) -> bool,
        timeout: Duration,
    ) -> Result<f64, String> {
        self.wait_for(
            promql,
            |s| s.first().is_some_and(|s| predicate(s.value)),
            timeout,
        )
        .map(|s| s[0].value)
    }

    /// Waits until `up{job="<job>"} == 1`, i.e. the job's target has been scraped
    /// successfully at least once.
    pub fn wait_for_up(&self, job: &str, timeout: Duration) -> Result<(), String> {
        let promql = format!(
            "up{{job=\"{}\"}}",
            job.replace('\\', "\\\\").replace('"', "\\\"")
        );
        self.wait_for_value(&promql, |v| v == 1.0, timeout)
            .map(|_| ())
    }

    /// `/api/v1/targets` `data` (`activeTargets` with `health`, `lastError`, `scrapeUrl`, …).
    pub fn targets(&self) -> Result<Value, String> {
        self.api_get("targets", &[])
    }

    /// `/api/v1/series?match[]=<matcher>`: the label sets of matching series.
    pub fn series(&self, matcher: &str) -> Result<Vec<BTreeMap<String, String>>, String> {
        let data = self.api_get("series", &[("match[]", matcher)])?;
        Ok(data
            .as_array()
            .map(|a| a.as_slice())
            .unwrap_or_default()
            .iter()
            .map(|s| {
                s.as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect())
    }

    /// `/api/v1/metadata?metric=<metric>` `data`: the TYPE, HELP and UNIT Prometheus
    /// stored for a metric family (e.g. `{"foo": [{"type": "counter", …}]}`).
    pub fn metadata(&self, metric: &str) -> Result<Value, String> {
        self.api_get("metadata", &[("metric", metric)])
    }

    /// Target health and the tail of the log, for failure messages.
    pub fn diagnostics(&self) -> String {
        let targets = match self.targets() {
            Ok(t) => t["activeTargets"]
                .as_array()
                .map(|a| a.as_slice())
                .unwrap_or_default()
                .iter()
                .map(|t| {
                    format!(
                        "  {} health={} lastError={} lastScrape={}",
                        t["scrapeUrl"], t["health"], t["lastError"], t["lastScrape"]
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("  (targets unavailable: {e})"),
        };
        format!(
            "prometheus targets:\n{targets}\nprometheus log tail:\n{}",
            tail(&self.log(), 20)
        )
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        // Kill by PID (our own Child handle), never by name.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! End-to-end test harness for Promenade.
//!
//! Tests in this crate (and in `tests/tests/*.rs`) check Promenade's output against the
//! real Prometheus tool chain, started by the tests themselves on 127.0.0.1:
//!
//! * [`promtool_check_metrics`] — `promtool check metrics` (text format 0.0.4 lint);
//! * [`python_openmetrics_parse`] / [`python_text_parse`] — the Python reference
//!   client's strict OpenMetrics parser and its 0.0.4 text parser;
//! * [`PrometheusServer`] — a real Prometheus scraping your servers, queried over its
//!   HTTP API;
//! * [`PushgatewayServer`] — a real Pushgateway;
//! * [`StaticServer`] — a fixed-response scrape target that records request headers;
//! * [`http_get`] / [`http_request`] / [`free_port`] — small blocking HTTP helpers.
//!
//! # Missing tools: skip loudly, or fail
//!
//! `scripts/test.sh` installs everything and sets `PROMENADE_E2E=required`, which turns
//! a missing tool into a test failure. Under plain `cargo test` a missing tool makes the
//! test print `=== SKIPPED … ===` to stderr and return early. See [`tools`] for the
//! policy, and guard each test:
//!
//! ```no_run
//! use promenade_tests::{PROMTOOL, promtool_check_metrics, require_tool};
//!
//! fn my_encoder_output_passes_promtool() {
//!     require_tool!(PROMTOOL); // returns early (skip) or panics (required mode)
//!     let text = "# HELP up Whether up.\n# TYPE up gauge\nup 1\n";
//!     promtool_check_metrics(text).unwrap();
//! }
//! ```
//!
//! ```no_run
//! use promenade_tests::{FIRST_SCRAPE_TIMEOUT, PrometheusServer, ScrapeTarget, StaticServer, or_skip};
//!
//! fn prometheus_scrapes_it() {
//!     let target = StaticServer::text("# TYPE x gauge\nx 42\n");
//!     let prom = or_skip!(PrometheusServer::start(&[ScrapeTarget::new("t", target.port())]));
//!     prom.wait_for_up("t", FIRST_SCRAPE_TIMEOUT).unwrap();
//!     assert_eq!(prom.query_scalar("x"), Some(42.0));
//! }
//! ```
//!
//! Everything here listens on and talks to 127.0.0.1 only, every wait is bounded, and
//! every child process is killed by its own handle (PID) when its guard drops.

// The repository's README.md: every Rust snippet in it compiles (and the runnable ones run)
// as a doctest of this crate, so the front page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;

pub mod http;
mod process;
pub mod prometheus;
pub mod promtool;
pub mod pushgateway;
pub mod python;
mod rng;
pub mod scrape_server;
pub mod static_server;
pub mod tools;

pub use http::{
    HTTP_TIMEOUT, HttpResponse, MAX_BODY, free_port, http_agent, http_get, http_request,
};
pub use prometheus::{
    FIRST_SCRAPE_TIMEOUT, POLL_INTERVAL, PrometheusOptions, PrometheusServer, QuerySample,
    READY_TIMEOUT, ScrapeTarget, parse_prom_float, percent_encode, prometheus_config,
};
pub use promtool::promtool_check_metrics;
pub use pushgateway::PushgatewayServer;
pub use python::{
    ParsedExemplar, ParsedFamily, ParsedSample, find_family, python_openmetrics_parse,
    python_text_parse,
};
pub use rng::Rng;
pub use scrape_server::ScrapeServer;
pub use static_server::{
    OPENMETRICS_CONTENT_TYPE, RecordedRequest, StaticResponse, StaticServer, TEXT_CONTENT_TYPE,
};
pub use tools::{
    E2E_ENV, E2eMode, PROMETHEUS, PROMTOOL, PUSHGATEWAY, PYTHON_PROMETHEUS_CLIENT, e2e_mode,
    e2e_unavailable, find_tool, require_tool, tool_env_var,
};

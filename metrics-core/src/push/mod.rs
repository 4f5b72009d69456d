//! A Pushgateway client for batch jobs (feature `push`).
//!
//! A [`Pushgateway`] is bound to one group, given by the job name and an optional grouping
//! key, and sends a [`Registry`](crate::Registry)'s metrics there:
//!
//! - [`Pushgateway::push`] (`PUT`) replaces every metric of the group;
//! - [`Pushgateway::push_add`] (`POST`) replaces only the families pushed;
//! - [`Pushgateway::delete`] (`DELETE`) removes the group.
//!
//! It runs on hyper 1 with hyper-util's client, over plain HTTP, or HTTPS with the feature
//! `push-tls` (rustls, no OpenSSL; the web's root certificates plus any given to
//! [`PushgatewayBuilder::tls_root_certificates_pem`]), inside a Tokio runtime with its time
//! driver enabled (`#[tokio::main]` has it). Outside async tasks (a plain `main`, a `spawn_blocking`
//! closure), [`BlockingPushgateway`] brings its own current-thread runtime.
//!
//! Grouping-key values that contain `/` or are empty are sent base64url-encoded with the
//! `@base64` suffix; other values are percent-encoded, like the Go client.
//! Every request has a time limit (10 s by default), so a gateway that is down or hangs
//! gives an error instead of blocking the job. Metrics that already carry `job` or a
//! grouping-key label are refused before anything is sent ([`PushError::LabelCollision`]):
//! the gateway would overwrite the label with the group's value.
//!
//! ```no_run
//! use promenade_core::Registry;
//! use promenade_core::push::Pushgateway;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::new();
//! registry.gauge("backup_last_success_unixtime", "Last successful backup.")?.set_to_current_time();
//!
//! let gateway = Pushgateway::builder("http://127.0.0.1:9091", "backup")
//!     .grouping("instance", "db-1")
//!     .build_blocking()?;
//! gateway.push(&registry)?;
//! # Ok(()) }
//! ```

// One concern per file:
// blocking.rs  BlockingPushgateway: the async client on a current-thread runtime of its own
mod blocking;
// builder.rs   PushgatewayBuilder, PushFormat, DEFAULT_TIMEOUT: the options and their checks
mod builder;
// client.rs    Pushgateway, the async client: encoded (and gzipped) body, HTTP exchange
mod client;
// error.rs     PushError
mod error;
// labels.rs    the check that no pushed series carries `job` or a grouping-key label
mod labels;
// path.rs      the group's URL path: grouping key, `@base64` values, UTF-8 name escaping
mod path;
// tls.rs       HTTPS through rustls (feature `push-tls`)
#[cfg(feature = "push-tls")]
mod tls;

pub use blocking::BlockingPushgateway;
pub use builder::{DEFAULT_TIMEOUT, PushFormat, PushgatewayBuilder};
pub use client::Pushgateway;
pub use error::PushError;
pub use path::grouping_key_path;

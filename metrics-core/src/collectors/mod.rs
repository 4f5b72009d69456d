//! Standard collectors: process metrics (feature `process`, Linux) and Tokio runtime metrics
//! (feature `tokio`). Each is a [`Collector`](crate::Collector) that reads its values at
//! scrape time; register it once with [`Registry::register`](crate::Registry::register).

#[cfg(feature = "process")]
mod process;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "process")]
#[cfg_attr(docsrs, doc(cfg(feature = "process")))]
pub use process::{ProcessCollector, register_process_collector};
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use tokio::TokioCollector;

//! The Tokio runtime collector: the runtime's stable metrics, read at scrape time.

use ::tokio::runtime::Handle;

use crate::collector::{Collector, Descriptor};
use crate::encoding::{FamilyHeader, LabelSet, MetricEncoder};
use crate::error::Result;
use crate::metric::MetricType;
use crate::name::check_metric_name;

/// Families in exposition (name) order: (suffix after `tokio_`, help, type, per worker).
/// Counters are named without `_total`.
const METRICS: &[(&str, &str, MetricType, bool)] = &[
    (
        "alive_tasks",
        "Number of alive tasks in the runtime.",
        MetricType::Gauge,
        false,
    ),
    (
        "global_queue_depth",
        "Number of tasks waiting in the runtime's global (injection) queue.",
        MetricType::Gauge,
        false,
    ),
    #[cfg(target_has_atomic = "64")]
    (
        "worker_busy_seconds",
        "Total time the worker thread has spent busy, in seconds.",
        MetricType::Counter,
        true,
    ),
    #[cfg(target_has_atomic = "64")]
    (
        "worker_park",
        "Total number of times the worker thread parked.",
        MetricType::Counter,
        true,
    ),
    #[cfg(target_has_atomic = "64")]
    (
        "worker_park_unpark",
        "Total number of times the worker thread parked or unparked (odd while parked).",
        MetricType::Counter,
        true,
    ),
    (
        "workers",
        "Number of worker threads of the runtime.",
        MetricType::Gauge,
        false,
    ),
];

/// Exposes the stable metrics of a Tokio runtime (no `tokio_unstable` needed), read from
/// [`Handle::metrics`] at every scrape:
///
/// | metric | type | Tokio source |
/// |---|---|---|
/// | `tokio_workers` | gauge | `num_workers()` |
/// | `tokio_alive_tasks` | gauge | `num_alive_tasks()` |
/// | `tokio_global_queue_depth` | gauge | `global_queue_depth()` |
/// | `tokio_worker_busy_seconds_total{worker}` | counter | `worker_total_busy_duration(i)` |
/// | `tokio_worker_park_total{worker}` | counter | `worker_park_count(i)` |
/// | `tokio_worker_park_unpark_total{worker}` | counter | `worker_park_unpark_count(i)` |
///
/// The per-worker counters need 64-bit atomics (Tokio's own condition) and are left out
/// elsewhere. `worker` is the worker index, `0..tokio_workers`. A current-thread runtime has
/// one worker.
///
/// ```
/// use promenade_core::{Format, Registry, collectors::TokioCollector};
///
/// let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
/// let registry = Registry::new();
/// registry.register(TokioCollector::new(rt.handle().clone())).unwrap();
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// assert!(text.contains("tokio_workers 2"));
/// assert!(text.contains("tokio_alive_tasks 0"));
/// ```
#[derive(Debug, Clone)]
pub struct TokioCollector {
    handle: Handle,
    names: Vec<String>,
}

impl TokioCollector {
    /// A collector for the runtime behind `handle`.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let c = promenade_core::collectors::TokioCollector::new(rt.handle().clone());
    /// ```
    pub fn new(handle: Handle) -> Self {
        Self {
            handle,
            names: METRICS.iter().map(|(n, ..)| format!("tokio_{n}")).collect(),
        }
    }

    /// A collector for the runtime the caller runs on; `None` outside a Tokio runtime.
    ///
    /// ```
    /// assert!(promenade_core::collectors::TokioCollector::current().is_none());
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// assert!(rt.block_on(async { promenade_core::collectors::TokioCollector::current() }).is_some());
    /// ```
    pub fn current() -> Option<Self> {
        Handle::try_current().ok().map(Self::new)
    }

    /// Puts `namespace_` in front of every name (`myapp_tokio_workers`), e.g. to tell
    /// several runtimes of one process apart. The namespace must be a valid metric name.
    ///
    /// ```
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// let c = promenade_core::collectors::TokioCollector::new(rt.handle().clone());
    /// assert!(c.clone().with_namespace("io").is_ok());
    /// assert!(c.with_namespace("a b").is_err());
    /// ```
    pub fn with_namespace(mut self, namespace: &str) -> Result<Self> {
        check_metric_name(namespace)?;
        for (name, (suffix, ..)) in self.names.iter_mut().zip(METRICS) {
            *name = format!("{namespace}_tokio_{suffix}");
        }
        Ok(self)
    }
}

impl Collector for TokioCollector {
    fn descriptors(&self) -> Vec<Descriptor> {
        METRICS
            .iter()
            .zip(&self.names)
            .map(|((_, help, ty, per_worker), name)| {
                let labels: &[&str] = if *per_worker { &["worker"] } else { &[] };
                Descriptor::new(name, help, *ty, labels)
            })
            .collect()
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        let m = self.handle.metrics();
        let workers = m.num_workers();
        let worker_labels: Vec<LabelSet<'static>> = if METRICS.iter().any(|(.., w)| *w) {
            (0..workers)
                .filter_map(|i| LabelSet::from_pairs(&[("worker", i.to_string())]).ok())
                .collect()
        } else {
            Vec::new()
        };
        for ((suffix, help, ty, per_worker), name) in METRICS.iter().zip(&self.names) {
            enc.family(&FamilyHeader {
                name,
                help,
                unit: None,
                metric_type: *ty,
            });
            if *per_worker {
                for (i, labels) in worker_labels.iter().enumerate() {
                    if let Some(v) = worker_value(&m, suffix, i) {
                        enc.counter(labels, v, None);
                    }
                }
            } else {
                let v = match *suffix {
                    "alive_tasks" => m.num_alive_tasks(),
                    "global_queue_depth" => m.global_queue_depth(),
                    _ => workers,
                };
                enc.gauge(&LabelSet::empty(), v as f64);
            }
        }
    }
}

#[cfg(target_has_atomic = "64")]
fn worker_value(m: &::tokio::runtime::RuntimeMetrics, suffix: &str, i: usize) -> Option<f64> {
    match suffix {
        "worker_busy_seconds" => Some(m.worker_total_busy_duration(i).as_secs_f64()),
        "worker_park" => Some(m.worker_park_count(i) as f64),
        "worker_park_unpark" => Some(m.worker_park_unpark_count(i) as f64),
        _ => None,
    }
}

#[cfg(not(target_has_atomic = "64"))]
fn worker_value(_: &::tokio::runtime::RuntimeMetrics, _: &str, _: usize) -> Option<f64> {
    None
}

//! The process collector: CPU time, memory, file descriptors, threads and start time of the
//! current process, read from `/proc` (through the `procfs` crate) at scrape time.

use crate::collector::{Collector, Descriptor};
use crate::encoding::{FamilyHeader, LabelSet, MetricEncoder};
use crate::error::Result;
use crate::metric::MetricType;
use crate::name::check_metric_name;
use crate::registry::Registry;

/// The metrics, in exposition (name) order: (name without namespace, help, type).
/// Counters are named without `_total`, as everywhere in this crate.
const METRICS: [(&str, &str, MetricType); 8] = [
    (
        "process_cpu_seconds",
        "Total user and system CPU time spent in seconds.",
        MetricType::Counter,
    ),
    (
        "process_max_fds",
        "Maximum number of open file descriptors.",
        MetricType::Gauge,
    ),
    (
        "process_open_fds",
        "Number of open file descriptors.",
        MetricType::Gauge,
    ),
    (
        "process_resident_memory_bytes",
        "Resident memory size in bytes.",
        MetricType::Gauge,
    ),
    (
        "process_start_time_seconds",
        "Start time of the process since unix epoch in seconds.",
        MetricType::Gauge,
    ),
    (
        "process_threads",
        "Number of OS threads in the process.",
        MetricType::Gauge,
    ),
    (
        "process_virtual_memory_bytes",
        "Virtual memory size in bytes.",
        MetricType::Gauge,
    ),
    (
        "process_virtual_memory_max_bytes",
        "Maximum amount of virtual memory available in bytes.",
        MetricType::Gauge,
    ),
];

// Indices into `METRICS` (only Linux reads values).
#[cfg(target_os = "linux")]
const CPU: usize = 0;
#[cfg(target_os = "linux")]
const MAX_FDS: usize = 1;
#[cfg(target_os = "linux")]
const OPEN_FDS: usize = 2;
#[cfg(target_os = "linux")]
const RSS: usize = 3;
#[cfg(target_os = "linux")]
const START_TIME: usize = 4;
#[cfg(target_os = "linux")]
const THREADS: usize = 5;
#[cfg(target_os = "linux")]
const VSIZE: usize = 6;
#[cfg(target_os = "linux")]
const VSIZE_MAX: usize = 7;

/// Exposes the standard `process_*` metrics of the current process (see
/// <https://prometheus.io/docs/instrumenting/writing_clientlibs/#standard-and-runtime-collectors>):
///
/// | metric | type | source |
/// |---|---|---|
/// | `process_cpu_seconds_total` | counter | `/proc/self/stat` utime + stime |
/// | `process_open_fds` | gauge | entries of `/proc/self/fd` |
/// | `process_max_fds` | gauge | soft "Max open files" of `/proc/self/limits` |
/// | `process_virtual_memory_bytes` | gauge | stat `vsize` |
/// | `process_virtual_memory_max_bytes` | gauge | soft "Max address space"; unlimited is 2^64 − 1 |
/// | `process_resident_memory_bytes` | gauge | stat `rss` × page size |
/// | `process_start_time_seconds` | gauge | `btime` of `/proc/stat` + stat `starttime` |
/// | `process_threads` | gauge | stat `num_threads` |
///
/// Values are read at every scrape. A value that cannot be read is left out (never sent as
/// 0 or NaN); on platforms other than Linux nothing is reported. `process_heap_bytes` is
/// not exported (Linux has no such figure; the Go client does not export it either).
///
/// ```
/// use promenade_core::{Format, Registry, collectors::ProcessCollector};
///
/// let registry = Registry::new();
/// registry.register(ProcessCollector::new()).unwrap();
/// let text = registry.encode_to_string(Format::Text).unwrap();
/// if cfg!(target_os = "linux") {
///     assert!(text.contains("# TYPE process_cpu_seconds_total counter"));
///     assert!(text.contains("process_resident_memory_bytes "));
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ProcessCollector {
    names: Vec<String>,
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessCollector {
    /// A collector with the standard names.
    ///
    /// ```
    /// let c = promenade_core::collectors::ProcessCollector::new();
    /// ```
    pub fn new() -> Self {
        Self {
            names: METRICS.iter().map(|(n, _, _)| (*n).to_owned()).collect(),
        }
    }

    /// A collector whose names start with `namespace_` (`myapp_process_open_fds`), as the
    /// Go client's `ProcessCollectorOpts.Namespace`. The namespace must be a valid metric
    /// name; an empty namespace means none.
    ///
    /// ```
    /// use promenade_core::collectors::ProcessCollector;
    /// let c = ProcessCollector::with_namespace("myapp").unwrap();
    /// assert!(c.names().iter().any(|n| n == "myapp_process_open_fds"));
    /// assert!(ProcessCollector::with_namespace("1x").is_err());
    /// ```
    pub fn with_namespace(namespace: &str) -> Result<Self> {
        if namespace.is_empty() {
            return Ok(Self::new());
        }
        check_metric_name(namespace)?;
        Ok(Self {
            names: METRICS
                .iter()
                .map(|(n, _, _)| format!("{namespace}_{n}"))
                .collect(),
        })
    }

    /// The family names this collector exposes (counters without `_total`).
    ///
    /// ```
    /// let names = promenade_core::collectors::ProcessCollector::new().names();
    /// assert_eq!(names.len(), 8);
    /// assert!(names.iter().any(|n| n == "process_cpu_seconds"));
    /// ```
    pub fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    fn write(&self, enc: &mut MetricEncoder<'_>, i: usize, value: Option<f64>) {
        // Left out, never 0 or NaN, when unknown: the client-library guidelines ask that a value
        // that cannot be obtained is omitted rather than sent as a bogus number.
        let Some(v) = value.filter(|v| v.is_finite()) else {
            return;
        };
        let (_, help, metric_type) = METRICS[i];
        enc.family(&FamilyHeader {
            name: &self.names[i],
            help,
            unit: None,
            metric_type,
        });
        match metric_type {
            MetricType::Counter => enc.counter(&LabelSet::empty(), v, None),
            _ => enc.gauge(&LabelSet::empty(), v),
        }
    }
}

/// Registers a [`ProcessCollector`] with the standard names in `registry`, unless the
/// registry already has them (from an earlier call, or from an adapter, which registers one
/// by default): so this one-liner works whatever else set the registry up.
/// `registry.register(ProcessCollector::new())` registers one unconditionally and returns
/// its id.
///
/// # Errors
///
/// When the registry holds other metrics under the process collector's names.
///
/// ```
/// let registry = promenade_core::Registry::new();
/// promenade_core::collectors::register_process_collector(&registry)?;
/// promenade_core::collectors::register_process_collector(&registry)?; // still fine
/// # Ok::<(), promenade_core::Error>(())
/// ```
pub fn register_process_collector(registry: &Registry) -> Result<()> {
    match registry.register(ProcessCollector::new()) {
        Ok(_) => Ok(()),
        // The clash is on the collector's own first family: a process collector is already
        // there (an earlier call, or an adapter). A clash elsewhere is someone else's metric.
        Err(crate::Error::AlreadyRegistered { name, existing }) if name == existing => Ok(()),
        Err(e) => Err(e),
    }
}

impl Collector for ProcessCollector {
    fn descriptors(&self) -> Vec<Descriptor> {
        METRICS
            .iter()
            .zip(&self.names)
            .map(|((_, help, ty), name)| Descriptor::new(name, help, *ty, &[] as &[&str]))
            .collect()
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        let values = read_values();
        for (i, v) in values.into_iter().enumerate() {
            self.write(enc, i, v);
        }
    }
}

/// Reads every value; `None` where it is unavailable.
#[cfg(target_os = "linux")]
fn read_values() -> [Option<f64>; 8] {
    use procfs::process::{LimitValue, Process};

    let mut out = [None; 8];
    let Ok(me) = Process::myself() else {
        return out;
    };
    let limit = |l: LimitValue| match l {
        LimitValue::Unlimited => u64::MAX as f64,
        LimitValue::Value(v) => v as f64,
    };
    let ticks = procfs::ticks_per_second();
    if let Ok(stat) = me.stat() {
        if ticks > 0 {
            let t = ticks as f64;
            out[CPU] = Some((stat.utime.saturating_add(stat.stime)) as f64 / t);
            if let Ok(btime) = procfs::boot_time_secs() {
                out[START_TIME] = Some(btime as f64 + stat.starttime as f64 / t);
            }
        }
        out[VSIZE] = Some(stat.vsize as f64);
        out[RSS] = Some(stat.rss.saturating_mul(procfs::page_size()) as f64);
        if stat.num_threads > 0 {
            out[THREADS] = Some(stat.num_threads as f64);
        }
    }
    if let Ok(limits) = me.limits() {
        out[MAX_FDS] = Some(limit(limits.max_open_files.soft_limit));
        out[VSIZE_MAX] = Some(limit(limits.max_address_space.soft_limit));
    }
    if let Ok(n) = me.fd_count() {
        out[OPEN_FDS] = Some(n as f64);
    }
    out
}

/// Nothing is available off Linux.
#[cfg(not(target_os = "linux"))]
fn read_values() -> [Option<f64>; 8] {
    [None; 8]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_and_valid() {
        let names = ProcessCollector::new().names();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let r = Registry::builder().prefix("x").build().unwrap();
        r.register(ProcessCollector::with_namespace("ns").unwrap())
            .unwrap();
    }

    /// Writes every metric as unavailable (None) or non-finite.
    struct Unavailable(ProcessCollector);
    impl Collector for Unavailable {
        fn descriptors(&self) -> Vec<Descriptor> {
            self.0.descriptors()
        }
        fn collect(&self, enc: &mut MetricEncoder<'_>) {
            for i in 0..METRICS.len() {
                self.0.write(enc, i, None);
                self.0.write(enc, i, Some(f64::NAN));
                self.0.write(enc, i, Some(f64::INFINITY));
            }
        }
    }

    #[test]
    fn unavailable_values_are_left_out() {
        let r = Registry::new();
        r.register(Unavailable(ProcessCollector::new())).unwrap();
        assert_eq!(r.encode_to_string(crate::Format::Text).unwrap(), "");
        assert_eq!(
            r.encode_to_string(crate::Format::OpenMetrics).unwrap(),
            "# EOF\n"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn every_value_is_read_on_linux() {
        let v = read_values();
        assert!(v.iter().all(Option::is_some), "{v:?}");
        assert!(v[START_TIME].unwrap() > 1.5e9);
    }
}

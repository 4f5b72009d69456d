//! # promenade-benches
//!
//! Criterion benchmarks for Promenade (not published). Each benchmark group runs the same
//! scenario against Promenade and against the established Rust Prometheus clients —
//! `prometheus-client`, `prometheus` (tikv) and `metrics` + `metrics-exporter-prometheus` —
//! in the same criterion run, so that the anchors suffer the same machine noise and the
//! ratios between libraries stay meaningful on a shared machine.
//!
//! - `benches/core.rs`: core hot paths (counter increment, labelled lookup, histogram
//!   observe, text and protobuf encoding); results and the command line are in
//!   `RESULTS-core.md` and `BENCHMARKS.md`.
//! - `src/bin/rss.rs`: resident memory of the 100,000-counter-series scenario, one library
//!   per process.
//!
//! This library holds what both share: the label values of the encoding scenarios and
//! builders that create the same series in every library and encode them to text.
//!
//! ```
//! use promenade_benches::{Library, build_counters};
//! let mut out = String::new();
//! for lib in Library::ALL {
//!     let scenario = build_counters(lib, 10);
//!     out.clear();
//!     scenario.encode(&mut out);
//!     assert!(out.contains("/api/resource_0/{id}"), "{}", lib.name());
//! }
//! ```

use std::fmt;
use std::str::FromStr;

/// Name of the counter family in the encoding scenarios.
pub const COUNTER_NAME: &str = "http_requests_total";
/// Name of the histogram family in the encoding scenarios.
pub const HISTOGRAM_NAME: &str = "http_request_duration_seconds";
/// The label names of every labelled scenario.
pub const LABEL_NAMES: [&str; 3] = ["method", "route", "status"];
/// The label values of the single hot series of the lookup benchmarks.
pub const HOT_LABELS: [&str; 3] = ["GET", "/users/{id}", "200"];

/// The default Prometheus buckets (identical in every library compared).
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Observed values, cycled through by the histogram benchmarks: they land in every bucket,
/// `+Inf` included, so the bucket search is not always the shortest one.
pub const OBSERVATIONS: [f64; 16] = [
    0.001, 0.007, 0.02, 0.04, 0.07, 0.2, 0.3, 0.8, 2.0, 4.0, 7.0, 12.0, 0.003, 0.09, 0.6, 0.015,
];

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const STATUSES: [&str; 5] = ["200", "201", "404", "500", "503"];

/// The label values `(method, route, status)` of series number `i` of an encoding scenario:
/// every `i` gives a distinct combination (20 per route).
///
/// ```
/// assert_ne!(promenade_benches::series_labels(0), promenade_benches::series_labels(1));
/// ```
pub fn series_labels(i: usize) -> [String; 3] {
    [
        METHODS[i % METHODS.len()].to_owned(),
        format!(
            "/api/resource_{}/{{id}}",
            i / (METHODS.len() * STATUSES.len())
        ),
        STATUSES[(i / METHODS.len()) % STATUSES.len()].to_owned(),
    ]
}

/// The libraries compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    /// `promenade-core`.
    Promenade,
    /// `prometheus-client` (the Prometheus organisation's Rust client).
    PrometheusClient,
    /// `prometheus` (tikv's client).
    Prometheus,
    /// `metrics` facade with the `metrics-exporter-prometheus` recorder.
    Metrics,
}

impl Library {
    /// Every library, Promenade first.
    pub const ALL: [Library; 4] = [
        Library::Promenade,
        Library::PrometheusClient,
        Library::Prometheus,
        Library::Metrics,
    ];

    /// The name used in benchmark ids and on the `rss` command line.
    pub fn name(self) -> &'static str {
        match self {
            Library::Promenade => "promenade",
            Library::PrometheusClient => "prometheus-client",
            Library::Prometheus => "prometheus",
            Library::Metrics => "metrics",
        }
    }
}

impl fmt::Display for Library {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Library {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Library::ALL
            .into_iter()
            .find(|l| l.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Library::ALL.iter().map(|l| l.name()).collect();
                format!(
                    "unknown library {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// A built set of series that can be encoded to the Prometheus text format.
pub trait Scenario {
    /// Appends the text exposition of every series to `out`.
    fn encode(&self, out: &mut String);

    /// Replaces `out` with the Prometheus protobuf exposition (length-delimited
    /// `io.prometheus.client.MetricFamily` messages, what Prometheus asks for first when it
    /// scrapes native histograms); `false` when the library has no protobuf encoder.
    fn encode_protobuf(&self, out: &mut Vec<u8>) -> bool {
        let _ = out;
        false
    }
}

/// Builds `n` counter series of one family (labels method/route/status, see
/// [`series_labels`]), each incremented once, in `lib`.
pub fn build_counters(lib: Library, n: usize) -> Box<dyn Scenario> {
    match lib {
        Library::Promenade => Box::new(promenade::counters(n)),
        Library::PrometheusClient => Box::new(prom_client::counters(n)),
        Library::Prometheus => Box::new(tikv::counters(n)),
        Library::Metrics => Box::new(metrics_rs::counters(n)),
    }
}

/// Builds `n` histogram series of one family (default buckets, labels as
/// [`build_counters`]), each observed once, in `lib`.
pub fn build_histograms(lib: Library, n: usize) -> Box<dyn Scenario> {
    match lib {
        Library::Promenade => Box::new(promenade::histograms(n)),
        Library::PrometheusClient => Box::new(prom_client::histograms(n)),
        Library::Prometheus => Box::new(tikv::histograms(n)),
        Library::Metrics => Box::new(metrics_rs::histograms(n)),
    }
}

fn observation(i: usize) -> f64 {
    OBSERVATIONS[i % OBSERVATIONS.len()]
}

/// The Promenade side of the scenarios.
pub mod promenade {
    use promenade_core::{Buckets, Format, Registry};

    use super::{COUNTER_NAME, HISTOGRAM_NAME, LABEL_NAMES, Scenario, observation, series_labels};

    /// A registry holding one family.
    #[derive(Debug)]
    pub struct Built(pub Registry);

    impl Scenario for Built {
        fn encode(&self, out: &mut String) {
            self.0
                .encode(Format::Text, out)
                .expect("text encoding into a String cannot fail");
        }

        fn encode_protobuf(&self, out: &mut Vec<u8>) -> bool {
            *out = self
                .0
                .encode_to_vec(Format::Protobuf)
                .expect("protobuf encoding into a Vec cannot fail");
            true
        }
    }

    pub(crate) fn counters(n: usize) -> Built {
        let registry = Registry::new();
        let family = registry
            .counter_family(COUNTER_NAME, "HTTP requests.", &LABEL_NAMES)
            .expect("valid counter family");
        for i in 0..n {
            family
                .get(&series_labels(i))
                .expect("three label values")
                .inc();
        }
        Built(registry)
    }

    pub(crate) fn histograms(n: usize) -> Built {
        let registry = Registry::new();
        let family = registry
            .histogram_family(
                HISTOGRAM_NAME,
                "HTTP request duration.",
                &LABEL_NAMES,
                Buckets::default(),
            )
            .expect("valid histogram family");
        for i in 0..n {
            family
                .get(&series_labels(i))
                .expect("three label values")
                .observe(observation(i));
        }
        Built(registry)
    }
}

/// The `prometheus-client` side of the scenarios.
pub mod prom_client {
    use prometheus_client::encoding::EncodeLabelSet;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::histogram::Histogram;
    use prometheus_client::registry::Registry;

    use super::{
        COUNTER_NAME, DEFAULT_BUCKETS, HISTOGRAM_NAME, Scenario, observation, series_labels,
    };

    /// Owned label values, the idiomatic label set for values only known at run time.
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct OwnedLabels {
        /// HTTP method.
        pub method: String,
        /// Route template.
        pub route: String,
        /// Status code.
        pub status: String,
    }

    impl OwnedLabels {
        fn of(i: usize) -> Self {
            let [method, route, status] = series_labels(i);
            Self {
                method,
                route,
                status,
            }
        }
    }

    /// A histogram with the default buckets.
    pub fn default_histogram() -> Histogram {
        Histogram::new(DEFAULT_BUCKETS)
    }

    /// A registry holding one family.
    #[derive(Debug)]
    pub struct Built(pub Registry);

    impl Scenario for Built {
        fn encode(&self, out: &mut String) {
            prometheus_client::encoding::text::encode(out, &self.0)
                .expect("text encoding into a String cannot fail");
        }

        fn encode_protobuf(&self, out: &mut Vec<u8>) -> bool {
            *out = prometheus_client::encoding::prometheus_protobuf::encode_to_vec(&self.0)
                .expect("prometheus-client protobuf encoding");
            true
        }
    }

    pub(crate) fn counters(n: usize) -> Built {
        let mut registry = Registry::default();
        let family = Family::<OwnedLabels, Counter>::default();
        // prometheus-client appends `_total` itself.
        let name = COUNTER_NAME.trim_end_matches("_total");
        registry.register(name, "HTTP requests.", family.clone());
        for i in 0..n {
            family.get_or_create(&OwnedLabels::of(i)).inc();
        }
        Built(registry)
    }

    pub(crate) fn histograms(n: usize) -> Built {
        let mut registry = Registry::default();
        let family = Family::<OwnedLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            default_histogram,
        );
        registry.register(HISTOGRAM_NAME, "HTTP request duration.", family.clone());
        for i in 0..n {
            family
                .get_or_create(&OwnedLabels::of(i))
                .observe(observation(i));
        }
        Built(registry)
    }
}

/// The `prometheus` (tikv) side of the scenarios.
pub mod tikv {
    use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

    use super::{COUNTER_NAME, HISTOGRAM_NAME, LABEL_NAMES, Scenario, observation, series_labels};

    /// A registry holding one family.
    #[derive(Debug)]
    pub struct Built(pub Registry);

    impl Scenario for Built {
        fn encode(&self, out: &mut String) {
            // `TextEncoder::encode_utf8` writes straight into a String.
            prometheus::TextEncoder::new()
                .encode_utf8(&self.0.gather(), out)
                .expect("text encoding into a String cannot fail");
        }

        fn encode_protobuf(&self, out: &mut Vec<u8>) -> bool {
            use prometheus::Encoder;
            out.clear();
            prometheus::ProtobufEncoder::new()
                .encode(&self.0.gather(), out)
                .expect("protobuf encoding into a Vec cannot fail");
            true
        }
    }

    pub(crate) fn counters(n: usize) -> Built {
        let registry = Registry::new();
        let vec = IntCounterVec::new(Opts::new(COUNTER_NAME, "HTTP requests."), &LABEL_NAMES)
            .expect("valid counter vec");
        registry
            .register(Box::new(vec.clone()))
            .expect("registered once");
        for i in 0..n {
            let [m, r, s] = series_labels(i);
            vec.with_label_values(&[m.as_str(), r.as_str(), s.as_str()])
                .inc();
        }
        Built(registry)
    }

    pub(crate) fn histograms(n: usize) -> Built {
        let registry = Registry::new();
        let vec = HistogramVec::new(
            HistogramOpts::new(HISTOGRAM_NAME, "HTTP request duration."),
            &LABEL_NAMES,
        )
        .expect("valid histogram vec");
        registry
            .register(Box::new(vec.clone()))
            .expect("registered once");
        for i in 0..n {
            let [m, r, s] = series_labels(i);
            vec.with_label_values(&[m.as_str(), r.as_str(), s.as_str()])
                .observe(observation(i));
        }
        Built(registry)
    }
}

/// The `metrics` + `metrics-exporter-prometheus` side of the scenarios.
pub mod metrics_rs {
    use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

    use super::{
        COUNTER_NAME, DEFAULT_BUCKETS, HISTOGRAM_NAME, Scenario, observation, series_labels,
    };

    /// A recorder that renders histograms as classic histograms with the default buckets
    /// (the exporter's own default is a summary), with no HTTP listener and no push.
    pub fn recorder() -> PrometheusRecorder {
        PrometheusBuilder::new()
            .set_buckets(&DEFAULT_BUCKETS)
            .expect("non-empty buckets")
            .build_recorder()
    }

    /// The recorder (kept alive) and its render handle.
    pub struct Built {
        /// The recorder the series were registered in.
        pub recorder: PrometheusRecorder,
        /// Renders the recorder's series.
        pub handle: PrometheusHandle,
    }

    impl std::fmt::Debug for Built {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Built").finish_non_exhaustive()
        }
    }

    impl Scenario for Built {
        fn encode(&self, out: &mut String) {
            // `render` returns a fresh String; there is no way to reuse a buffer.
            out.push_str(&self.handle.render());
        }
    }

    fn build(f: impl FnOnce()) -> Built {
        let recorder = recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, f);
        Built { recorder, handle }
    }

    pub(crate) fn counters(n: usize) -> Built {
        build(|| {
            for i in 0..n {
                let [method, route, status] = series_labels(i);
                metrics::counter!(COUNTER_NAME, "method" => method, "route" => route, "status" => status)
                    .increment(1);
            }
        })
    }

    pub(crate) fn histograms(n: usize) -> Built {
        build(|| {
            for i in 0..n {
                let [method, route, status] = series_labels(i);
                metrics::histogram!(HISTOGRAM_NAME, "method" => method, "route" => route, "status" => status)
                    .record(observation(i));
            }
        })
    }
}

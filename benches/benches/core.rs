//! Core hot paths of Promenade against the anchor crates, each case one criterion group so
//! that every library of a case runs in the same process under the same machine noise.
//!
//! Cases: `counter_inc` (with a raw `fetch_add` floor), `labelled_lookup_inc`,
//! `labelled_lookup_inc_2threads`, `histogram_observe`, `histogram_observe_2threads`,
//! `labelled_histogram_observe` and text encoding of 1,000 / 100,000 counter series and
//! 10,000 histogram series, and `remove_100000_series_one_by_one`. Two-thread cases report the time per operation of one thread
//! (wall time of both threads doing N operations each, divided by N).
//!
//! ```text
//! cargo bench -p promenade-benches --bench core -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;
use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, SamplingMode, criterion_group};
use promenade_benches::{
    DEFAULT_BUCKETS, HOT_LABELS, LABEL_NAMES, Library, OBSERVATIONS, Scenario, build_counters,
    build_histograms, metrics_rs, prom_client,
};
use promenade_core::{Buckets, Registry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family as PcFamily;
use prometheus_client::metrics::histogram::Histogram as PcHistogram;

/// The hot series' labels as a derived label-set struct of `&'static str`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StaticLabels {
    method: &'static str,
    route: &'static str,
    status: &'static str,
}

const HOT_STRUCT: StaticLabels = StaticLabels {
    method: HOT_LABELS[0],
    route: HOT_LABELS[1],
    status: HOT_LABELS[2],
};

/// The hot series' labels as an array of `(name, value)` pairs.
const HOT_PAIRS: [(&str, &str); 3] = [
    (LABEL_NAMES[0], HOT_LABELS[0]),
    (LABEL_NAMES[1], HOT_LABELS[1]),
    (LABEL_NAMES[2], HOT_LABELS[2]),
];

type PcHistogramFamily<L> = PcFamily<L, PcHistogram, fn() -> PcHistogram>;

/// `metrics` histograms append every observation to a buffer that only the exporter's upkeep
/// drains; runs are cut into chunks of this many operations with an (untimed) upkeep between.
const METRICS_CHUNK: u64 = 1 << 20;

/// The next value to observe: cycles through [`OBSERVATIONS`].
#[inline(always)]
fn next_value(i: &mut usize) -> f64 {
    *i = (*i + 1) % OBSERVATIONS.len();
    OBSERVATIONS[*i]
}

/// Runs `op` `iters` times on each of two threads started together; returns the wall time
/// from the first thread's start to the last thread's end, i.e. per-thread time × `iters`.
fn two_threads(iters: u64, op: impl Fn(u64) + Sync) -> Duration {
    let barrier = Barrier::new(2);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let start = Instant::now();
                    op(iters);
                    (start, Instant::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("benchmark thread panicked"))
            .collect()
    });
    let start = spans.iter().map(|s| s.0).min().expect("two spans");
    let end = spans.iter().map(|s| s.1).max().expect("two spans");
    end - start
}

/// Splits `iters` into chunks of at most `chunk`, times `run` on each and calls the untimed
/// `between` after each chunk.
fn chunked(
    iters: u64,
    chunk: u64,
    mut run: impl FnMut(u64) -> Duration,
    mut between: impl FnMut(),
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(chunk);
        total += run(n);
        between();
        left -= n;
    }
    total
}

/// Times `n` calls of `op` on this thread.
fn timed(n: u64, mut op: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..n {
        op();
    }
    start.elapsed()
}

fn counter_inc(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_inc");

    let floor = AtomicU64::new(0);
    g.bench_function("fetch_add", |b| {
        b.iter(|| {
            black_box(&floor).fetch_add(1, Ordering::Relaxed);
        })
    });

    let registry = Registry::new();
    let counter = registry
        .counter("requests_total", "Requests.")
        .expect("valid counter");
    g.bench_function(Library::Promenade.name(), |b| {
        b.iter(|| black_box(&counter).inc())
    });

    let pc = PcCounter::<u64>::default();
    let mut pc_registry = prometheus_client::registry::Registry::default();
    pc_registry.register("requests", "Requests.", pc.clone());
    g.bench_function(Library::PrometheusClient.name(), |b| {
        b.iter(|| {
            black_box(&pc).inc();
        })
    });

    let tikv = prometheus::IntCounter::new("requests_total", "Requests.").expect("valid counter");
    g.bench_function(Library::Prometheus.name(), |b| {
        b.iter(|| black_box(&tikv).inc())
    });

    let recorder = metrics_rs::recorder();
    let m = metrics::with_local_recorder(&recorder, || metrics::counter!("requests_total"));
    g.bench_function(Library::Metrics.name(), |b| {
        b.iter(|| black_box(&m).increment(1))
    });

    g.finish();
}

/// The labelled-lookup subjects, shared by the one- and two-thread cases.
struct Labelled {
    promenade: promenade_core::Family<promenade_core::Counter>,
    pc_struct: PcFamily<StaticLabels, PcCounter>,
    pc_pairs: PcFamily<[(&'static str, &'static str); 3], PcCounter>,
    tikv: prometheus::IntCounterVec,
    recorder: metrics_exporter_prometheus::PrometheusRecorder,
}

impl Labelled {
    fn new() -> Self {
        let s = Self {
            promenade: Registry::new()
                .counter_family("http_requests_total", "Requests.", &LABEL_NAMES)
                .expect("valid family"),
            pc_struct: PcFamily::default(),
            pc_pairs: PcFamily::default(),
            tikv: prometheus::IntCounterVec::new(
                prometheus::Opts::new("http_requests_total", "Requests."),
                &LABEL_NAMES,
            )
            .expect("valid counter vec"),
            recorder: metrics_rs::recorder(),
        };
        // Every case works on an existing series: create it first.
        s.op(Variant::Promenade);
        s.op(Variant::PcStruct);
        s.op(Variant::PcPairs);
        s.op(Variant::Prometheus);
        metrics::with_local_recorder(&s.recorder, || s.op(Variant::Metrics));
        s
    }

    /// One lookup + increment (for `metrics`, inside `with_local_recorder`).
    #[inline(always)]
    fn op(&self, v: Variant) {
        match v {
            Variant::Promenade => black_box(&self.promenade)
                .get(black_box(&HOT_LABELS))
                .expect("three values")
                .inc(),
            Variant::PcStruct => {
                black_box(&self.pc_struct)
                    .get_or_create(black_box(&HOT_STRUCT))
                    .inc();
            }
            Variant::PcPairs => {
                black_box(&self.pc_pairs)
                    .get_or_create(black_box(&HOT_PAIRS))
                    .inc();
            }
            Variant::Prometheus => black_box(&self.tikv)
                .with_label_values(black_box(&HOT_LABELS))
                .inc(),
            Variant::Metrics => metrics::counter!(
                "http_requests_total",
                "method" => "GET",
                "route" => "/users/{id}",
                "status" => "200"
            )
            .increment(1),
        }
    }

    /// `n` operations of variant `v` on this thread.
    fn run(&self, v: Variant, n: u64) {
        if v == Variant::Metrics {
            metrics::with_local_recorder(&self.recorder, || {
                for _ in 0..n {
                    self.op(v);
                }
            });
        } else {
            for _ in 0..n {
                self.op(v);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    Promenade,
    PcStruct,
    PcPairs,
    Prometheus,
    Metrics,
}

impl Variant {
    const ALL: [Variant; 5] = [
        Variant::Promenade,
        Variant::PcStruct,
        Variant::PcPairs,
        Variant::Prometheus,
        Variant::Metrics,
    ];

    fn name(self) -> &'static str {
        match self {
            Variant::Promenade => "promenade",
            Variant::PcStruct => "prometheus-client/struct",
            Variant::PcPairs => "prometheus-client/array",
            Variant::Prometheus => "prometheus",
            Variant::Metrics => "metrics",
        }
    }
}

fn labelled_lookup_inc(c: &mut Criterion) {
    let subjects = Labelled::new();
    let mut g = c.benchmark_group("labelled_lookup_inc");
    for v in Variant::ALL {
        if v == Variant::Metrics {
            metrics::with_local_recorder(&subjects.recorder, || {
                g.bench_function(v.name(), |b| b.iter(|| subjects.op(v)));
            });
        } else {
            g.bench_function(v.name(), |b| b.iter(|| subjects.op(v)));
        }
    }
    g.finish();

    let mut g = c.benchmark_group("labelled_lookup_inc_2threads");
    for v in Variant::ALL {
        g.bench_function(v.name(), |b| {
            b.iter_custom(|iters| two_threads(iters, |n| subjects.run(v, n)))
        });
    }
    g.finish();
}

/// A family that already holds 12 series (4 routes × 3 statuses) per library, looked up
/// with label values that are owned `String`s made at run time: not the pointers the series
/// were created with, so no library can win by comparing pointers. (`metrics` is left out:
/// its `counter!` with run-time values clones them into the key.)
struct Lookups12 {
    keys: Vec<[String; 3]>,
    owned: Vec<promenade_benches::prom_client::OwnedLabels>,
    promenade: promenade_core::Family<promenade_core::Counter>,
    pc: PcFamily<promenade_benches::prom_client::OwnedLabels, PcCounter>,
    tikv: prometheus::IntCounterVec,
}

impl Lookups12 {
    fn new() -> Self {
        const ROUTES: [&str; 4] = ["/users/{id}", "/orders/{id}", "/cart", "/search"];
        const STATUSES: [&str; 3] = ["200", "404", "500"];
        let keys: Vec<[String; 3]> = ROUTES
            .iter()
            .flat_map(|r| {
                STATUSES
                    .iter()
                    .map(move |s| ["GET".to_owned(), (*r).to_owned(), (*s).to_owned()])
            })
            .collect();
        let owned = keys
            .iter()
            .map(|[m, r, s]| promenade_benches::prom_client::OwnedLabels {
                method: m.clone(),
                route: r.clone(),
                status: s.clone(),
            })
            .collect();
        let t = Self {
            keys,
            owned,
            promenade: Registry::new()
                .counter_family("http_requests_total", "Requests.", &LABEL_NAMES)
                .expect("valid family"),
            pc: PcFamily::default(),
            tikv: prometheus::IntCounterVec::new(
                prometheus::Opts::new("http_requests_total", "Requests."),
                &LABEL_NAMES,
            )
            .expect("valid counter vec"),
        };
        for lib in [
            Library::Promenade,
            Library::PrometheusClient,
            Library::Prometheus,
        ] {
            for i in 0..t.keys.len() {
                t.op(lib, i);
            }
        }
        t
    }

    /// One lookup + increment of series `i` by `lib` (not `metrics`).
    #[inline(always)]
    fn op(&self, lib: Library, i: usize) {
        match lib {
            Library::Promenade => black_box(&self.promenade)
                .get(black_box(&self.keys[i]))
                .expect("three values")
                .inc(),
            Library::PrometheusClient => {
                black_box(&self.pc)
                    .get_or_create(black_box(&self.owned[i]))
                    .inc();
            }
            Library::Prometheus => {
                let [m, r, st] = &self.keys[i];
                black_box(&self.tikv)
                    .with_label_values(black_box(&[m.as_str(), r.as_str(), st.as_str()]))
                    .inc();
            }
            Library::Metrics => unreachable!("the 12-series case has no `metrics` variant"),
        }
    }
}

/// Lookup + increment cycling through the 12 series of [`Lookups12`].
fn labelled_lookup_inc_12series(c: &mut Criterion) {
    let t = Lookups12::new();
    let mut g = c.benchmark_group("labelled_lookup_inc_12series");
    for lib in [
        Library::Promenade,
        Library::PrometheusClient,
        Library::Prometheus,
    ] {
        let mut i = 0usize;
        g.bench_function(lib.name(), |b| {
            b.iter(|| {
                i = (i + 1) % t.keys.len();
                t.op(lib, i);
            })
        });
    }
    g.finish();
}

/// Unlabelled histograms with the default buckets, one per library.
struct Histograms {
    promenade: promenade_core::Series<promenade_core::Histogram>,
    pc: PcHistogram,
    tikv: prometheus::Histogram,
    recorder: metrics_exporter_prometheus::PrometheusRecorder,
    handle: metrics_exporter_prometheus::PrometheusHandle,
    metrics: metrics::Histogram,
}

impl Histograms {
    fn new() -> Self {
        let recorder = metrics_rs::recorder();
        let handle = recorder.handle();
        let metrics = metrics::with_local_recorder(&recorder, || {
            metrics::histogram!("http_request_duration_seconds")
        });
        Self {
            promenade: Registry::new()
                .histogram(
                    "http_request_duration_seconds",
                    "Latency.",
                    Buckets::default(),
                )
                .expect("valid histogram"),
            pc: prom_client::default_histogram(),
            tikv: prometheus::Histogram::with_opts(prometheus::HistogramOpts::new(
                "http_request_duration_seconds",
                "Latency.",
            ))
            .expect("valid histogram"),
            recorder,
            handle,
            metrics,
        }
    }

    /// `n` observations by library `lib` on this thread, timed.
    fn run(&self, lib: Library, n: u64) -> Duration {
        let mut i = 0;
        match lib {
            Library::Promenade => {
                timed(n, || black_box(&self.promenade).observe(next_value(&mut i)))
            }
            Library::PrometheusClient => {
                timed(n, || black_box(&self.pc).observe(next_value(&mut i)))
            }
            Library::Prometheus => timed(n, || black_box(&self.tikv).observe(next_value(&mut i))),
            Library::Metrics => timed(n, || black_box(&self.metrics).record(next_value(&mut i))),
        }
    }
}

fn histogram_observe(c: &mut Criterion) {
    let h = Histograms::new();
    assert_eq!(
        *prometheus::DEFAULT_BUCKETS,
        DEFAULT_BUCKETS,
        "same default buckets everywhere"
    );
    assert_eq!(promenade_core::DEFAULT_BUCKETS, DEFAULT_BUCKETS);
    let mut g = c.benchmark_group("histogram_observe");
    for lib in Library::ALL {
        g.bench_function(lib.name(), |b| {
            b.iter_custom(|iters| {
                chunked(
                    iters,
                    METRICS_CHUNK,
                    |n| h.run(lib, n),
                    || h.handle.run_upkeep(),
                )
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("histogram_observe_2threads");
    for lib in Library::ALL {
        g.bench_function(lib.name(), |b| {
            b.iter_custom(|iters| {
                chunked(
                    iters,
                    METRICS_CHUNK,
                    |n| {
                        two_threads(n, |n| {
                            h.run(lib, n);
                        })
                    },
                    || h.handle.run_upkeep(),
                )
            })
        });
    }
    g.finish();
    drop(h.recorder);
}

fn labelled_histogram_observe(c: &mut Criterion) {
    let promenade = Registry::new()
        .histogram_family(
            "http_request_duration_seconds",
            "Latency.",
            &LABEL_NAMES,
            Buckets::default(),
        )
        .expect("valid family");
    let pc_struct: PcHistogramFamily<StaticLabels> =
        PcFamily::new_with_constructor(prom_client::default_histogram);
    let tikv = prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("http_request_duration_seconds", "Latency."),
        &LABEL_NAMES,
    )
    .expect("valid histogram vec");
    let recorder = metrics_rs::recorder();
    let handle = recorder.handle();

    let mut g = c.benchmark_group("labelled_histogram_observe");
    g.bench_function(Library::Promenade.name(), |b| {
        let mut i = 0;
        b.iter(|| {
            black_box(&promenade)
                .get(black_box(&HOT_LABELS))
                .expect("three values")
                .observe(next_value(&mut i))
        })
    });
    g.bench_function("prometheus-client/struct", |b| {
        let mut i = 0;
        b.iter(|| {
            black_box(&pc_struct)
                .get_or_create(black_box(&HOT_STRUCT))
                .observe(next_value(&mut i))
        })
    });
    g.bench_function(Library::Prometheus.name(), |b| {
        let mut i = 0;
        b.iter(|| {
            black_box(&tikv)
                .with_label_values(black_box(&HOT_LABELS))
                .observe(next_value(&mut i))
        })
    });
    g.bench_function(Library::Metrics.name(), |b| {
        b.iter_custom(|iters| {
            let mut i = 0;
            chunked(
                iters,
                METRICS_CHUNK,
                |n| {
                    metrics::with_local_recorder(&recorder, || {
                        timed(n, || {
                            metrics::histogram!(
                                "http_request_duration_seconds",
                                "method" => "GET",
                                "route" => "/users/{id}",
                                "status" => "200"
                            )
                            .record(next_value(&mut i))
                        })
                    })
                },
                || handle.run_upkeep(),
            )
        })
    });
    g.finish();
}

/// One encoding group: builds each library's series outside the timing (on the first call
/// only, so a benchmark filtered out on the command line builds nothing), then times
/// encoding into a reused buffer. Each library's series are dropped before the next's are built.
fn encode_group(
    g: &mut BenchmarkGroup<'_, WallTime>,
    build: fn(Library, usize) -> Box<dyn Scenario>,
    n: usize,
) {
    for lib in Library::ALL {
        let mut scenario: Option<Box<dyn Scenario>> = None;
        let mut out = String::new();
        g.bench_function(lib.name(), |b| {
            let scenario = scenario.get_or_insert_with(|| build(lib, n));
            b.iter(|| {
                out.clear();
                scenario.encode(&mut out);
                black_box(out.len())
            })
        });
    }
}

/// The same scenarios in the Prometheus protobuf format (libraries without a protobuf
/// encoder are left out).
fn encode_protobuf_group(
    g: &mut BenchmarkGroup<'_, WallTime>,
    build: fn(Library, usize) -> Box<dyn Scenario>,
    n: usize,
) {
    for lib in Library::ALL {
        let scenario = build(lib, n);
        let mut out = Vec::new();
        if !scenario.encode_protobuf(&mut out) {
            continue;
        }
        g.bench_function(lib.name(), |b| {
            b.iter(|| {
                scenario.encode_protobuf(&mut out);
                black_box(out.len())
            })
        });
    }
}

fn encode_protobuf(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_protobuf_counters_100000");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    encode_protobuf_group(&mut g, build_counters, 100_000);
    g.finish();

    let mut g = c.benchmark_group("encode_protobuf_histograms_10000");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    encode_protobuf_group(&mut g, build_histograms, 10_000);
    g.finish();
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_counters_1000");
    encode_group(&mut g, build_counters, 1_000);
    g.finish();

    let mut g = c.benchmark_group("encode_counters_100000");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    encode_group(&mut g, build_counters, 100_000);
    g.finish();

    let mut g = c.benchmark_group("encode_histograms_10000");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    encode_group(&mut g, build_histograms, 10_000);
    g.finish();
}

/// Native (sparse) buckets against classic ones, same values, same run. Neither
/// `prometheus-client` 0.26 nor `prometheus` 0.14 has native histograms, so the anchor is our
/// own classic histogram (target: native within 2×).
fn native_histogram_observe(c: &mut Criterion) {
    let registry = Registry::new();
    let classic = registry
        .histogram("classic_seconds", "Classic.", Buckets::default())
        .expect("register");
    let native = registry
        .histogram(
            "native_seconds",
            "Native.",
            Buckets::native_only(promenade_core::NativeBuckets::default()),
        )
        .expect("register");
    let both = registry
        .histogram(
            "both_seconds",
            "Classic and native.",
            Buckets::default().with_native(promenade_core::NativeBuckets::default()),
        )
        .expect("register");
    let mut g = c.benchmark_group("native_histogram_observe");
    for (name, h) in [
        ("classic", &classic),
        ("native", &native),
        ("classic+native", &both),
    ] {
        g.bench_function(name, |b| {
            let mut i = 0usize;
            b.iter(|| {
                i = i.wrapping_add(1);
                h.observe(OBSERVATIONS[i % OBSERVATIONS.len()]);
            })
        });
    }
    g.finish();
}

/// Series lifecycle: 100,000 series removed one by one (the series exist before the timer
/// starts), for Promenade and the anchors that can remove a series.
fn remove_series(c: &mut Criterion) {
    const N: usize = 100_000;
    let keys: Vec<String> = (0..N).map(|i| format!("user-{i}")).collect();
    let mut g = c.benchmark_group("remove_100000_series_one_by_one");
    g.sampling_mode(SamplingMode::Flat);
    g.sample_size(10);
    g.bench_function(Library::Promenade.name(), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let family = promenade_core::Family::<promenade_core::Counter>::builder(
                    "users_total",
                    "Users.",
                )
                .labels(&["user"])
                .build()
                .expect("valid family");
                for k in &keys {
                    family.get(&[k]).expect("one value").inc();
                }
                let start = Instant::now();
                for k in &keys {
                    black_box(family.remove(&[k]));
                }
                total += start.elapsed();
            }
            total
        })
    });
    g.bench_function(Library::PrometheusClient.name(), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let family = PcFamily::<[(&'static str, String); 1], PcCounter>::default();
                for k in &keys {
                    family.get_or_create(&[("user", k.clone())]).inc();
                }
                let start = Instant::now();
                for k in &keys {
                    black_box(family.remove(&[("user", k.clone())]));
                }
                total += start.elapsed();
            }
            total
        })
    });
    g.bench_function(Library::Prometheus.name(), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let family = prometheus::IntCounterVec::new(
                    prometheus::Opts::new("users_total", "Users."),
                    &["user"],
                )
                .expect("valid counter vec");
                for k in &keys {
                    family.with_label_values(&[k.as_str()]).inc();
                }
                let start = Instant::now();
                for k in &keys {
                    black_box(family.remove_label_values(&[k.as_str()]).is_ok());
                }
                total += start.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    counter_inc,
    remove_series,
    labelled_lookup_inc,
    labelled_lookup_inc_12series,
    histogram_observe,
    labelled_histogram_observe,
    native_histogram_observe,
    encode,
    encode_protobuf
);
/// Runs `n` histogram observations of one library: the loop `CORE_COUNT` mode hands to
/// callgrind (`--toggle-collect='core::counted_observations'`).
#[inline(never)]
fn counted_observations(h: &Histograms, lib: Library, n: u64) {
    black_box(h.run(lib, n));
}

/// Runs `n` observations of a Promenade histogram with native buckets.
#[inline(never)]
fn counted_native_observations(h: &promenade_core::Histogram, n: usize) {
    for i in 0..n {
        h.observe(black_box(OBSERVATIONS[i % OBSERVATIONS.len()]));
    }
}

/// Runs `n` lookups + increments of the 12-series case (owned run-time values) by `lib`.
#[inline(never)]
fn counted_lookups(t: &Lookups12, lib: Library, n: u64) {
    for i in 0..n {
        t.op(lib, (i % 12) as usize);
    }
}

/// `CORE_COUNT=library[:n]`: instead of timing, runs `n` classic histogram observations
/// (default 1,000,000) after 1,000 warm-up ones, for an instruction count that does not
/// depend on the machine's load. `native` instead of a library name: Promenade's native
/// histogram (`--toggle-collect='core::counted_native_observations'`). `lookup-library`:
/// lookups + increments of the 12-series labelled case (`--toggle-collect='core::counted_lookups'`).
///
/// ```text
/// CORE_COUNT=promenade:1000000 valgrind --tool=callgrind --collect-atstart=no \
///     --toggle-collect='core::counted_observations' target/release/deps/core-<hash>
/// ```
fn count(spec: &str) {
    let (name, n) = spec.split_once(':').unwrap_or((spec, "1000000"));
    let n: u64 = n.parse().expect("CORE_COUNT: n is a number");
    if name == "native" {
        let h = promenade_core::Histogram::new(Buckets::native_only(
            promenade_core::NativeBuckets::default(),
        ));
        counted_native_observations(&h, 1_000);
        counted_native_observations(&h, usize::try_from(n).unwrap_or(usize::MAX));
        return;
    }
    let library = |name: &str| {
        Library::ALL
            .into_iter()
            .find(|l| l.name() == name)
            .expect("CORE_COUNT: a library name, as in the benchmark ids")
    };
    if let Some(name) = name.strip_prefix("lookup-") {
        let (lib, t) = (library(name), Lookups12::new());
        counted_lookups(&t, lib, 1_000);
        counted_lookups(&t, lib, n);
        return;
    }
    let lib = library(name);
    let h = Histograms::new();
    counted_observations(&h, lib, 1_000);
    counted_observations(&h, lib, n);
}

fn main() {
    if let Ok(spec) = std::env::var("CORE_COUNT") {
        count(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

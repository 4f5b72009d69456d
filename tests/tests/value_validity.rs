//! Arbitrary values never make an invalid page.
//!
//! A property test: arbitrary sequences of `inc`/`inc_by`/`set`/`add`/`observe`/`unobserve`
//! (with and without exemplars) with arbitrary `f64` values — NaN, ±Inf, negatives,
//! subnormals, ±1e308, -0.0 and anything else — on every metric type (counter, gauge,
//! classic, native, and classic+native histograms, gauge histogram, summary, quantile
//! summary), with arbitrary bucket bounds on both sides of zero, always give pages that
//!
//! * the real `promtool check metrics` accepts (text 0.0.4),
//! * the Python reference client's strict OpenMetrics 1.0 parser accepts, and its 0.0.4
//!   parser too,
//! * prost decodes as delimited protobuf, with non-decreasing buckets and native deltas
//!   that never add up to a negative count.
//!
//! Starting `python3` costs about 0.3 s, so the generated registries are checked in one
//! batch: each case is a registry with its own prefix (`case<N>_…`), and the pages are
//! concatenated (OpenMetrics with one `# EOF` at the end) into a single page per tool. When
//! the batch is rejected, the first failing case is found with one tool run per case and
//! shrunk the way proptest shrinks, then reported with its page and the tool's output.
//!
//! The tools are required as by every end-to-end test: missing, the test is skipped loudly,
//! or fails under `PROMENADE_E2E=required` (what `scripts/test.sh` sets). Set
//! `PROMENADE_PROPTEST_SEED=<u64>` to replay a run; `PROMENADE_PROPTEST_CASES` to change the
//! number of cases (default 64).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use promenade_core::encoding::protobuf::{decode_delimited, model};
use promenade_core::{
    Buckets, Counter, Family, Format, Gauge, GaugeHistogram, Histogram, NativeBuckets,
    QuantileOptions, QuantileSummary, Registry, Summary,
};
use promenade_tests::{
    PROMTOOL, PYTHON_PROMETHEUS_CLIENT, promtool_check_metrics, python_openmetrics_parse,
    python_text_parse, require_tool,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Which histogram-like series an observation goes to.
#[derive(Debug, Clone, Copy)]
enum Target {
    Classic,
    Native,
    ClassicAndNative,
    GaugeHistogram,
    Summary,
    QuantileSummary,
}

#[derive(Debug, Clone)]
enum Op {
    Inc,
    IncBy(f64),
    IncByU64(u64),
    IncByWithExemplar(f64),
    Set(f64),
    Add(f64),
    Observe(Target, f64),
    ObserveWithExemplar(Target, f64),
    Unobserve(f64),
}

/// One generated registry: bucket layouts, native configuration, objectives and the updates,
/// each on series `k="a"` or `k="b"`.
#[derive(Debug, Clone)]
struct Case {
    classic: Vec<f64>,
    gauge_bounds: Vec<f64>,
    native_factor: f64,
    zero_threshold: f64,
    max_buckets: u32,
    objectives: Vec<(f64, f64)>,
    /// `_created` samples on (OpenMetrics and protobuf).
    created: bool,
    ops: Vec<(bool, Op)>,
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => prop_oneof![
            Just(f64::NAN),
            Just(-f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(-0.0),
            Just(0.0),
            Just(1e308),
            Just(-1e308),
            Just(f64::MAX),
            Just(5e-324),
            Just(-5e-324),
            Just(f64::MIN_POSITIVE / 3.0),
            Just(1e19),
        ],
        3 => -1e3f64..1e3,
        2 => proptest::num::f64::ANY,
    ]
}

/// Strictly increasing finite bounds, on both sides of zero (`-0.0` and subnormals too).
fn bounds() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(
        prop_oneof![
            4 => -1e3f64..1e3,
            1 => Just(-0.0),
            1 => Just(5e-324),
            1 => Just(-1e300),
            1 => Just(1e300),
        ],
        0..6,
    )
    .prop_map(|mut b| {
        b.sort_by(f64::total_cmp);
        b.dedup_by(|a, b| a == b);
        b
    })
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        Just(Target::Classic),
        Just(Target::Native),
        Just(Target::ClassicAndNative),
        Just(Target::GaugeHistogram),
        Just(Target::Summary),
        Just(Target::QuantileSummary),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => Just(Op::Inc),
        2 => value().prop_map(Op::IncBy),
        1 => prop_oneof![Just(u64::MAX), Just(1u64 << 63), any::<u64>()].prop_map(Op::IncByU64),
        1 => value().prop_map(Op::IncByWithExemplar),
        2 => value().prop_map(Op::Set),
        1 => value().prop_map(Op::Add),
        6 => (target(), value()).prop_map(|(t, v)| Op::Observe(t, v)),
        1 => (target(), value()).prop_map(|(t, v)| Op::ObserveWithExemplar(t, v)),
        2 => value().prop_map(Op::Unobserve),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        bounds(),
        bounds(),
        prop_oneof![Just(1.1), Just(2.0), Just(65536.0), 1.001f64..10.0],
        prop_oneof![Just(0.0), Just(2.938_735_877_055_719e-39), Just(0.5)],
        0u32..8,
        proptest::collection::vec((0.0f64..=1.0, 0.0f64..0.2), 1..4),
        any::<bool>(),
        proptest::collection::vec((any::<bool>(), op()), 0..60),
    )
        .prop_map(
            |(
                classic,
                gauge_bounds,
                native_factor,
                zero_threshold,
                max_buckets,
                mut objectives,
                created,
                ops,
            )| {
                objectives.sort_by(|a, b| a.0.total_cmp(&b.0));
                objectives.dedup_by(|a, b| a.0 == b.0);
                Case {
                    classic,
                    gauge_bounds,
                    native_factor,
                    zero_threshold,
                    max_buckets,
                    objectives,
                    created,
                    ops,
                }
            },
        )
}

fn family<M: promenade_core::Metric>(r: &Registry, name: &str, options: M::Options) -> Family<M> {
    let f = Family::<M>::builder_with_options(name, "Help.", options)
        .labels(&["k"])
        .build()
        .unwrap();
    r.register(f.clone()).unwrap();
    f
}

/// Builds the registry of case `index` (sample names start with `case<index>_`) and applies
/// its updates; `Err` when a counter went down on the way.
fn registry(index: usize, c: &Case) -> Result<Registry, String> {
    let r = Registry::builder()
        .prefix(&format!("case{index}"))
        .created_samples(c.created)
        .build()
        .unwrap();
    let native = NativeBuckets::with_factor(c.native_factor)
        .unwrap()
        .zero_threshold(c.zero_threshold)
        .max_buckets(c.max_buckets);
    let classic = Buckets::new(c.classic.clone()).unwrap();
    let counter = family::<Counter>(&r, "events", ());
    let gauge = family::<Gauge>(&r, "level", ());
    let hist = family::<Histogram>(&r, "classic", classic.clone());
    let native_only = family::<Histogram>(&r, "native", Buckets::native_only(native.clone()));
    let both = family::<Histogram>(&r, "both", classic.with_native(native));
    let gauge_hist =
        family::<GaugeHistogram>(&r, "queue", Buckets::new(c.gauge_bounds.clone()).unwrap());
    let summary = family::<Summary>(&r, "plain", ());
    let ranked =
        family::<QuantileSummary>(&r, "ranked", QuantileOptions::new(&c.objectives).unwrap());
    let exemplar = [("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736")];
    // Counters never decrease and never wrap (OpenMetrics 1.0): checked after every update.
    let mut totals = [0.0f64; 2];
    for (second, op) in &c.ops {
        let k = [if *second { "b" } else { "a" }];
        let observe = |t: Target, v: f64, with_exemplar: bool| match t {
            Target::Classic | Target::Native | Target::ClassicAndNative => {
                let f = match t {
                    Target::Classic => &hist,
                    Target::Native => &native_only,
                    _ => &both,
                };
                let h = f.get(&k).unwrap();
                if with_exemplar {
                    h.observe_with_exemplar(v, &exemplar).unwrap();
                } else {
                    h.observe(v);
                }
            }
            Target::GaugeHistogram => gauge_hist.get(&k).unwrap().observe(v),
            Target::Summary => summary.get(&k).unwrap().observe(v),
            Target::QuantileSummary => ranked.get(&k).unwrap().observe(v),
        };
        match *op {
            Op::Inc => counter.get(&k).unwrap().inc(),
            // Refused increments (NaN, negative) are part of the test: they must change nothing.
            Op::IncBy(v) => {
                let _ = counter.get(&k).unwrap().inc_by(v);
            }
            Op::IncByU64(v) => counter.get(&k).unwrap().inc_by_u64(v),
            Op::IncByWithExemplar(v) => {
                let _ = counter.get(&k).unwrap().inc_by_with_exemplar(v, &exemplar);
            }
            Op::Set(v) => gauge.get(&k).unwrap().set(v),
            Op::Add(v) => gauge.get(&k).unwrap().add(v),
            Op::Observe(t, v) => observe(t, v, false),
            Op::ObserveWithExemplar(t, v) => observe(t, v, true),
            Op::Unobserve(v) => gauge_hist.get(&k).unwrap().unobserve(v),
        }
        let total = counter.get(&k).unwrap().get();
        let last = &mut totals[usize::from(*second)];
        if total.is_nan() || total < *last {
            return Err(format!(
                "counter k={} went from {last} to {total} after {op:?}",
                k[0]
            ));
        }
        *last = total;
    }
    Ok(r)
}

/// The three pages of one registry; OpenMetrics without its final `# EOF`.
struct Pages {
    text: String,
    openmetrics: String,
    protobuf: Vec<u8>,
}

fn pages(r: &Registry) -> Pages {
    let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    Pages {
        text: r.encode_to_string(Format::Text).unwrap(),
        openmetrics: om
            .strip_suffix("# EOF\n")
            .expect("ends with # EOF")
            .to_owned(),
        protobuf: r.encode_to_vec(Format::Protobuf).unwrap(),
    }
}

/// Decodes the protobuf page and checks what no external tool checks for us here.
fn check_protobuf(bytes: &[u8]) -> Result<(), String> {
    let families = decode_delimited(bytes).map_err(|e| format!("protobuf: {e}"))?;
    for f in &families {
        for m in &f.metric {
            if let Some(c) = &m.counter {
                let v = c.value.unwrap_or(0.0);
                if v.is_nan() || v < 0.0 {
                    return Err(format!("protobuf: counter {:?} = {v}", f.name));
                }
            }
            if let Some(h) = &m.histogram {
                check_histogram(h).map_err(|e| format!("protobuf: {:?}: {e}", f.name))?;
            }
        }
    }
    Ok(())
}

fn check_histogram(h: &model::Histogram) -> Result<(), String> {
    let count = h.sample_count.unwrap_or(0);
    let mut last = 0;
    for b in &h.bucket {
        let c = b.cumulative_count.unwrap_or(0);
        if c < last || c > count {
            return Err(format!("classic buckets not cumulative: {:?}", h.bucket));
        }
        last = c;
    }
    let mut native_total = h.zero_count.unwrap_or(0);
    for (spans, deltas) in [
        (&h.positive_span, &h.positive_delta),
        (&h.negative_span, &h.negative_delta),
    ] {
        let length: u32 = spans.iter().map(|s| s.length.unwrap_or(0)).sum();
        if length as usize != deltas.len() {
            return Err(format!("span lengths {length} != {} deltas", deltas.len()));
        }
        let mut running = 0i64;
        for d in deltas {
            running += d;
            if running < 0 {
                return Err(format!("native deltas go negative: {deltas:?}"));
            }
            native_total += running as u64;
        }
    }
    // NaN observations are counted but in no native bucket, so the buckets may hold fewer.
    if h.schema.is_some() && native_total > count {
        return Err(format!(
            "native buckets hold {native_total} > count {count}"
        ));
    }
    Ok(())
}

/// Runs every tool on the concatenation of `pages`; `Err` names the tool and its complaint.
fn check_batch(pages: &[Pages]) -> Result<(), String> {
    let mut text = String::new();
    let mut om = String::new();
    for p in pages {
        check_protobuf(&p.protobuf)?;
        text.push_str(&p.text);
        om.push_str(&p.openmetrics);
    }
    om.push_str("# EOF\n");
    promtool_check_metrics(&text)?;
    python_openmetrics_parse(&om)?;
    python_text_parse(&text)?;
    Ok(())
}

fn check_case(c: &Case) -> Result<(), String> {
    check_batch(&[pages(&registry(0, c)?)])
}

fn seed() -> u64 {
    std::env::var("PROMENADE_PROPTEST_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        })
}

fn cases() -> usize {
    std::env::var("PROMENADE_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(64)
}

/// Shrinks a failing case as proptest would (simplify while it still fails, else
/// complicate), within a time budget since every step runs the tools.
fn shrink(mut tree: impl ValueTree<Value = Case>, mut failure: String) -> (Case, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last_failing = tree.current();
    let mut step = tree.simplify();
    while step && Instant::now() < deadline {
        let candidate = tree.current();
        match check_case(&candidate) {
            Err(e) => {
                last_failing = candidate;
                failure = e;
                step = tree.simplify();
            }
            Ok(()) => step = tree.complicate(),
        }
    }
    (last_failing, failure)
}

#[test]
fn arbitrary_values_give_pages_every_parser_accepts() {
    require_tool!(PROMTOOL);
    require_tool!(PYTHON_PROMETHEUS_CLIENT);
    let seed = seed();
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    );
    let strategy = case();
    let mut trees = Vec::new();
    let mut batch = Vec::new();
    let mut model_error = None;
    for i in 0..cases() {
        let tree = strategy.new_tree(&mut runner).unwrap();
        match registry(i, &tree.current()) {
            Ok(r) => batch.push(pages(&r)),
            Err(e) => model_error = model_error.or(Some(e)),
        }
        trees.push(tree);
    }
    let batch_error = match model_error {
        Some(e) => e,
        None => match check_batch(&batch) {
            Ok(()) => return,
            Err(e) => e,
        },
    };
    // Find the first case that fails alone, and shrink it.
    for tree in trees {
        if let Err(first) = check_case(&tree.current()) {
            let (minimal, failure) = shrink(tree, first);
            let (text, om) = match registry(0, &minimal) {
                Ok(r) => {
                    let p = pages(&r);
                    (p.text, p.openmetrics)
                }
                Err(_) => Default::default(),
            };
            panic!(
                "PROMENADE_PROPTEST_SEED={seed}: an invalid page or a counter that went down.\n\
                 minimal case: {minimal:#?}\n{failure}\n\
                 --- text 0.0.4 ---\n{text}\n--- OpenMetrics ---\n{om}# EOF\n"
            );
        }
    }
    panic!(
        "PROMENADE_PROPTEST_SEED={seed}: the batch was rejected but no case alone is:\n{batch_error}"
    );
}

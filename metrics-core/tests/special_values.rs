//! NaN, ±Inf, negative values, subnormals, -0.0 and huge increments on every metric type:
//! the exact lines each format writes (the decision table is in CHANGELOG.md and in each
//! type's "Special values" docs).
//!
//! OpenMetrics 1.0 treats `_total`, `_sum`, `_count`, `_bucket`, `_gcount` and `_gsum` as
//! counter-like (never NaN; never negative, except `_gsum` next to a negative bucket), forbids
//! `_sum` when a bucket threshold is negative, wants `_count` exactly when `_sum` is there,
//! and quantile values that are not negative. Text 0.0.4 and protobuf carry any float, and
//! Prometheus ingests them, so they write the values as they are (as the Go client does).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

use promenade_core::quantile::DEFAULT_OBJECTIVES;
use promenade_core::{
    Buckets, Counter, Family, Format, GaugeHistogram, NativeBuckets, QuantileOptions, Registry,
    Series,
};

fn page(r: &Registry, format: Format) -> String {
    r.encode_to_string(format).unwrap()
}

/// Asserts that `page` has every line of `want` and none of `absent` (whole lines).
#[track_caller]
fn lines(page: &str, want: &[&str], absent: &[&str]) {
    let have: Vec<&str> = page.lines().collect();
    for w in want {
        assert!(have.contains(w), "missing line {w:?} in:\n{page}");
    }
    for a in absent {
        assert!(
            !have.iter().any(|l| l.starts_with(a)),
            "unexpected {a:?} in:\n{page}"
        );
    }
}

fn gauge_histogram(r: &Registry, name: &str, bounds: Vec<f64>) -> Series<GaugeHistogram> {
    let f =
        Family::<GaugeHistogram>::builder_with_options(name, "G.", Buckets::new(bounds).unwrap())
            .build()
            .unwrap();
    r.register(f.clone()).unwrap();
    f.series(&[] as &[&str]).unwrap()
}

// ---- Counter -------------------------------------------------------------------------

#[test]
fn counter_does_not_wrap_on_huge_float_increments() {
    let c = Counter::default();
    c.inc_by(1e19).unwrap();
    c.inc_by(1e19).unwrap();
    assert_eq!(c.get(), 2e19);
}

#[test]
fn counter_does_not_wrap_on_huge_integer_increments() {
    let c = Counter::default();
    c.inc_by_u64(u64::MAX);
    let before = c.get();
    c.inc();
    assert!(c.get() >= before, "{} then {}", before, c.get());
    assert_eq!(c.get(), 18_446_744_073_709_551_616.0);
}

#[test]
fn counter_never_decreases_across_two_to_the_64() {
    // 2^53 at a time: the integer cell passes 2^63 and then 2^64 on the way.
    let c = Counter::default();
    let step = 1u64 << 53;
    let mut last = 0.0;
    for i in 1..=2050u64 {
        c.inc_by_u64(step);
        let v = c.get();
        assert!(v >= last, "step {i}: {v} < {last}");
        assert_eq!(v, i as f64 * step as f64, "step {i}");
        last = v;
    }
    c.inc();
    assert!(c.get() >= last);
    // Whole float increments take the same integer path.
    let c = Counter::default();
    for _ in 0..3000 {
        c.inc_by(9_007_199_254_740_992.0).unwrap();
    }
    assert_eq!(c.get(), 3000.0 * 9_007_199_254_740_992.0);
}

#[test]
fn counter_special_increments() {
    let r = Registry::new();
    let c = r.counter("c", "C.").unwrap();
    assert!(c.inc_by(f64::NAN).is_err());
    assert!(c.inc_by(f64::NEG_INFINITY).is_err());
    assert!(c.inc_by(-1e-300).is_err());
    c.inc_by(-0.0).unwrap(); // zero, whatever its sign
    assert_eq!(c.get(), 0.0);
    assert!(c.get().is_sign_positive());
    c.inc_by(5e-324).unwrap();
    lines(&page(&r, Format::Text), &["c_total 5e-324"], &[]);
    lines(&page(&r, Format::OpenMetrics), &["c_total 5e-324"], &[]);
    c.inc_by(f64::INFINITY).unwrap();
    c.inc_by(1.0).unwrap();
    c.inc();
    lines(&page(&r, Format::Text), &["c_total +Inf"], &[]);
    lines(&page(&r, Format::OpenMetrics), &["c_total +Inf"], &[]);
}

#[test]
fn counter_huge_value_lines() {
    let r = Registry::new();
    let c = r.counter("c", "C.").unwrap();
    c.inc_by(1e19).unwrap();
    c.inc_by(1e19).unwrap();
    lines(&page(&r, Format::Text), &["c_total 2e+19"], &[]);
    lines(&page(&r, Format::OpenMetrics), &["c_total 2e+19"], &[]);
}

// ---- Gauge ---------------------------------------------------------------------------

#[test]
fn gauge_carries_any_value() {
    let r = Registry::new();
    let g = r.gauge("g", "G.").unwrap();
    for (v, text, om) in [
        (f64::NAN, "g NaN", "g NaN"),
        (f64::INFINITY, "g +Inf", "g +Inf"),
        (f64::NEG_INFINITY, "g -Inf", "g -Inf"),
        (-0.0, "g -0", "g -0.0"),
        (5e-324, "g 5e-324", "g 5e-324"),
        (-1e308, "g -1e+308", "g -1e+308"),
    ] {
        g.set(v);
        lines(&page(&r, Format::Text), &[text], &[]);
        lines(&page(&r, Format::OpenMetrics), &[om], &[]);
    }
    g.set(f64::INFINITY);
    g.add(f64::NEG_INFINITY);
    assert!(g.get().is_nan());
}

// ---- Histogram -----------------------------------------------------------------------

#[test]
fn histogram_negative_sum_is_left_out_of_openmetrics_only() {
    let r = Registry::new();
    let h = r
        .histogram("h", "H.", Buckets::new(vec![1.0, 2.0]).unwrap())
        .unwrap();
    h.observe(-5.0);
    lines(
        &page(&r, Format::OpenMetrics),
        &[
            "h_bucket{le=\"1.0\"} 1",
            "h_bucket{le=\"2.0\"} 1",
            "h_bucket{le=\"+Inf\"} 1",
        ],
        &["h_sum", "h_count"],
    );
    lines(
        &page(&r, Format::Text),
        &["h_bucket{le=\"+Inf\"} 1", "h_sum -5", "h_count 1"],
        &[],
    );
    // Once the sum is back at zero or above, `_sum` and `_count` return.
    h.observe(6.0);
    lines(
        &page(&r, Format::OpenMetrics),
        &["h_count 2", "h_sum 1.0"],
        &[],
    );
}

#[test]
fn histogram_nan_and_infinite_sums() {
    let r = Registry::new();
    let h = r
        .histogram("h", "H.", Buckets::new(vec![1.0]).unwrap())
        .unwrap();
    h.observe(f64::INFINITY);
    // +Inf is not negative and not NaN: a valid OpenMetrics sum.
    lines(
        &page(&r, Format::OpenMetrics),
        &["h_bucket{le=\"+Inf\"} 1", "h_count 1", "h_sum +Inf"],
        &[],
    );
    h.observe(f64::NEG_INFINITY); // sum +Inf + -Inf = NaN
    lines(
        &page(&r, Format::OpenMetrics),
        &["h_bucket{le=\"1.0\"} 1", "h_bucket{le=\"+Inf\"} 2"],
        &["h_sum", "h_count"],
    );
    lines(&page(&r, Format::Text), &["h_sum NaN", "h_count 2"], &[]);
    // NaN lands in the +Inf bucket (as in the Go client) and is counted.
    let h2 = r
        .histogram("h2", "H.", Buckets::new(vec![1.0]).unwrap())
        .unwrap();
    h2.observe(f64::NAN);
    lines(
        &page(&r, Format::OpenMetrics),
        &["h2_bucket{le=\"1.0\"} 0", "h2_bucket{le=\"+Inf\"} 1"],
        &["h2_sum", "h2_count"],
    );
    lines(&page(&r, Format::Text), &["h2_sum NaN", "h2_count 1"], &[]);
}

#[test]
fn histogram_with_negative_bound_never_has_openmetrics_sum() {
    let r = Registry::new();
    let h = r
        .histogram("h", "H.", Buckets::new(vec![-1.0, 1.0]).unwrap())
        .unwrap();
    // Even an empty histogram, and even with a positive sum.
    lines(
        &page(&r, Format::OpenMetrics),
        &["h_bucket{le=\"-1.0\"} 0", "h_bucket{le=\"+Inf\"} 0"],
        &["h_sum", "h_count"],
    );
    h.observe(0.5);
    h.observe(3.0);
    lines(
        &page(&r, Format::OpenMetrics),
        &[
            "h_bucket{le=\"-1.0\"} 0",
            "h_bucket{le=\"1.0\"} 1",
            "h_bucket{le=\"+Inf\"} 2",
        ],
        &["h_sum", "h_count"],
    );
    lines(&page(&r, Format::Text), &["h_sum 3.5", "h_count 2"], &[]);
    // A -0.0 bound is not negative.
    let r = Registry::new();
    r.histogram("z", "Z.", Buckets::new(vec![-0.0, 1.0]).unwrap())
        .unwrap()
        .observe(0.5);
    lines(
        &page(&r, Format::OpenMetrics),
        &["z_bucket{le=\"-0.0\"} 0", "z_count 1", "z_sum 0.5"],
        &[],
    );
}

#[test]
fn histogram_created_stays_without_sum() {
    let r = Registry::builder().created_samples(true).build().unwrap();
    r.histogram("h", "H.", Buckets::new(vec![-1.0]).unwrap())
        .unwrap()
        .observe(1.0);
    let om = page(&r, Format::OpenMetrics);
    lines(&om, &["h_bucket{le=\"+Inf\"} 1"], &["h_sum", "h_count"]);
    assert!(om.lines().any(|l| l.starts_with("h_created ")), "{om}");
}

#[test]
fn native_histogram_special_values() {
    let r = Registry::new();
    let h = r
        .histogram(
            "n",
            "N.",
            Buckets::native_only(NativeBuckets::with_factor(2.0).unwrap()),
        )
        .unwrap();
    h.observe(-2.0);
    lines(
        &page(&r, Format::OpenMetrics),
        &["n_bucket{le=\"+Inf\"} 1"],
        &["n_sum", "n_count"],
    );
    lines(
        &page(&r, Format::Text),
        &["n_bucket{le=\"+Inf\"} 1", "n_sum -2", "n_count 1"],
        &[],
    );
    // NaN counts, makes the sum NaN and goes in no native bucket; ±Inf go to the overflow
    // buckets; a subnormal and -0.0 go to the zero bucket (as in the Go client).
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 5e-324, -0.0] {
        h.observe(v);
    }
    let s = h.snapshot();
    assert_eq!(s.count, 6);
    assert!(s.sum.is_nan());
    let native = s.native.unwrap();
    assert_eq!(native.zero_count, 2);
    assert_eq!(native.positive, vec![(1025, 1)]);
    assert_eq!(native.negative, vec![(1, 1), (1025, 1)]);
    lines(&page(&r, Format::Text), &["n_sum NaN", "n_count 6"], &[]);

    #[cfg(feature = "protobuf")]
    {
        use promenade_core::encoding::protobuf::decode_delimited;
        let families = decode_delimited(&r.encode_to_vec(Format::Protobuf).unwrap()).unwrap();
        let hist = families[0].metric[0].histogram.as_ref().unwrap();
        assert_eq!(hist.sample_count, Some(6));
        assert!(
            hist.sample_sum.unwrap().is_nan(),
            "protobuf keeps the NaN sum"
        );
    }
}

#[test]
fn classic_and_native_histogram_negative_sum() {
    let r = Registry::new();
    let h = r
        .histogram(
            "b",
            "B.",
            Buckets::new(vec![0.5, 1.0])
                .unwrap()
                .with_native(NativeBuckets::default()),
        )
        .unwrap();
    h.observe(-1e308);
    h.observe(-1e308); // the sum overflows to -Inf
    lines(
        &page(&r, Format::OpenMetrics),
        &["b_bucket{le=\"0.5\"} 2", "b_bucket{le=\"+Inf\"} 2"],
        &["b_sum", "b_count"],
    );
    lines(&page(&r, Format::Text), &["b_sum -Inf", "b_count 2"], &[]);
}

// ---- Gauge histogram -----------------------------------------------------------------

#[test]
fn gauge_histogram_gsum_rules() {
    let r = Registry::new();
    let g = gauge_histogram(&r, "g", vec![1.0]);
    g.observe(-3.0);
    // Negative _gsum needs a negative bucket threshold; _gcount goes with it.
    lines(
        &page(&r, Format::OpenMetrics),
        &["g_bucket{le=\"1.0\"} 1", "g_bucket{le=\"+Inf\"} 1"],
        &["g_gsum", "g_gcount"],
    );
    lines(&page(&r, Format::Text), &["g_sum -3", "g_count 1"], &[]);

    let r = Registry::new();
    let n = gauge_histogram(&r, "n", vec![-5.0, 1.0]);
    n.observe(-3.0);
    lines(
        &page(&r, Format::OpenMetrics),
        &["n_gcount 1", "n_gsum -3.0"],
        &[],
    );
    n.observe(f64::NAN);
    lines(
        &page(&r, Format::OpenMetrics),
        &["n_bucket{le=\"+Inf\"} 2"],
        &["n_gsum", "n_gcount"],
    );
    // Taking the NaN item away brings the sum back.
    n.unobserve(f64::NAN);
    lines(
        &page(&r, Format::OpenMetrics),
        &["n_gcount 1", "n_gsum -3.0"],
        &[],
    );
}

#[test]
fn gauge_histogram_infinite_items_come_and_go() {
    let r = Registry::new();
    let g = gauge_histogram(&r, "g", vec![1.0]);
    g.observe(2.0);
    g.observe(f64::INFINITY);
    lines(
        &page(&r, Format::OpenMetrics),
        &["g_gcount 2", "g_gsum +Inf"],
        &[],
    );
    g.unobserve(f64::INFINITY);
    lines(
        &page(&r, Format::OpenMetrics),
        &["g_gcount 1", "g_gsum 2.0"],
        &[],
    );
    g.observe(f64::INFINITY);
    g.observe(f64::NEG_INFINITY);
    assert!(g.snapshot().sum.is_nan());
    g.unobserve(f64::NEG_INFINITY);
    assert_eq!(g.snapshot().sum, f64::INFINITY);
    g.unobserve(f64::INFINITY);
    assert_eq!(g.snapshot().sum, 2.0);
    // Rounding never leaves a non-zero sum behind once everything is taken away.
    g.unobserve(2.0);
    for v in [0.1, 0.2, 0.3] {
        g.observe(v);
    }
    for v in [0.3, 0.1, 0.2] {
        g.unobserve(v);
    }
    let s = g.snapshot();
    assert_eq!((s.count, s.sum), (0, 0.0));
    lines(
        &page(&r, Format::OpenMetrics),
        &["g_gcount 0", "g_gsum 0.0"],
        &[],
    );
}

#[test]
fn gauge_histogram_rounding_never_makes_a_nonnegative_sum_negative() {
    let r = Registry::new();
    let g = gauge_histogram(&r, "g", vec![1.0]);
    // 0.0 stays while the other items leave; float rounding could leave -2.8e-17 behind.
    g.observe(0.0);
    for v in [0.1, 0.2, 0.6] {
        g.observe(v);
    }
    for v in [0.2, 0.6, 0.1] {
        g.unobserve(v);
    }
    assert_eq!(g.snapshot().sum, 0.0);
    lines(
        &page(&r, Format::OpenMetrics),
        &["g_gcount 1", "g_gsum 0.0"],
        &[],
    );
}

// ---- Summaries -----------------------------------------------------------------------

#[test]
fn summary_negative_and_nan_sums() {
    let r = Registry::new();
    let s = r.summary("s", "S.").unwrap();
    s.observe(-1.0);
    // The count stays: it is a count of observations, valid whatever the values.
    lines(&page(&r, Format::OpenMetrics), &["s_count 1"], &["s_sum"]);
    lines(&page(&r, Format::Text), &["s_sum -1", "s_count 1"], &[]);
    s.observe(f64::NAN);
    lines(&page(&r, Format::OpenMetrics), &["s_count 2"], &["s_sum"]);
    lines(&page(&r, Format::Text), &["s_sum NaN", "s_count 2"], &[]);
    let p = r.summary("p", "P.").unwrap();
    p.observe(f64::INFINITY);
    lines(
        &page(&r, Format::OpenMetrics),
        &["p_count 1", "p_sum +Inf"],
        &[],
    );
}

#[test]
fn quantile_summary_special_values() {
    let r = Registry::new();
    let q = r
        .quantile_summary(
            "q",
            "Q.",
            QuantileOptions::new(&[(0.0, 0.0), (0.5, 0.05), (1.0, 0.0)]).unwrap(),
        )
        .unwrap();
    // No recent observations: NaN, which OpenMetrics allows for quantiles.
    lines(
        &page(&r, Format::OpenMetrics),
        &[
            "q{quantile=\"0.0\"} NaN",
            "q{quantile=\"0.5\"} NaN",
            "q{quantile=\"1.0\"} NaN",
            "q_count 0",
            "q_sum 0.0",
        ],
        &[],
    );
    q.observe(f64::NEG_INFINITY);
    q.observe(-2.0);
    q.observe(f64::INFINITY);
    // Negative quantile values are left out of OpenMetrics; +Inf stays.
    lines(
        &page(&r, Format::OpenMetrics),
        &["q{quantile=\"1.0\"} +Inf", "q_count 3"],
        &["q{quantile=\"0.0\"}", "q{quantile=\"0.5\"}", "q_sum"],
    );
    lines(
        &page(&r, Format::Text),
        &[
            "q{quantile=\"0\"} -Inf",
            "q{quantile=\"0.5\"} -2",
            "q{quantile=\"1\"} +Inf",
            "q_sum NaN",
            "q_count 3",
        ],
        &[],
    );
    #[cfg(feature = "protobuf")]
    {
        use promenade_core::encoding::protobuf::decode_delimited;
        let families = decode_delimited(&r.encode_to_vec(Format::Protobuf).unwrap()).unwrap();
        let s = families[0].metric[0].summary.as_ref().unwrap();
        assert_eq!(s.quantile[0].value, Some(f64::NEG_INFINITY));
        assert!(s.sample_sum.unwrap().is_nan());
    }
    // NaN observations are counted but not ranked.
    let r = Registry::new();
    let q = r
        .quantile_summary(
            "q",
            "Q.",
            QuantileOptions::new(&DEFAULT_OBJECTIVES).unwrap(),
        )
        .unwrap();
    q.observe(f64::NAN);
    lines(
        &page(&r, Format::OpenMetrics),
        &["q{quantile=\"0.5\"} NaN", "q_count 1"],
        &["q_sum"],
    );
}

// ---- Every type at once, with arbitrary values ---------------------------------------

/// The OpenMetrics value rules of the Python reference parser, checked line by line: no
/// NaN or negative counter-like sample (a negative `_gsum` only next to a negative bucket),
/// no `_sum` with a negative bucket, `_count`/`_gcount` exactly when `_sum`/`_gsum`, no
/// negative quantile value.
fn check_openmetrics_values(page: &str) -> Result<(), String> {
    #[derive(Default)]
    struct Series {
        negative_le: bool,
        sum: Option<f64>,
        count: bool,
        gauge: bool,
        summary: bool,
    }
    let mut series: std::collections::BTreeMap<String, Series> = Default::default();
    let mut gauge_families = std::collections::BTreeSet::new();
    let mut summaries = std::collections::BTreeSet::new();
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or(line)?;
            match kind {
                "gaugehistogram" => {
                    gauge_families.insert(name.to_owned());
                }
                "summary" => {
                    summaries.insert(name.to_owned());
                }
                _ => {}
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (head, value) = line.rsplit_once(' ').ok_or(line)?;
        let value: f64 = value.parse().map_err(|_| format!("bad value: {line}"))?;
        let name = head.split('{').next().unwrap_or(head);
        let (base, suffix) = ["_total", "_bucket", "_gcount", "_gsum", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s).map(|b| (b, *s)))
            .unwrap_or((name, ""));
        if summaries.contains(name) && head.contains("quantile=") && value < 0.0 {
            return Err(format!("negative quantile value: {line}"));
        }
        if suffix.is_empty() {
            continue;
        }
        if value.is_nan() {
            return Err(format!("counter-like sample is NaN: {line}"));
        }
        if value < 0.0 && suffix != "_gsum" {
            return Err(format!("counter-like sample is negative: {line}"));
        }
        // One entry per (family, labels without le).
        let labels = head
            .split_once('{')
            .map(|(_, l)| {
                l.trim_end_matches('}')
                    .split(',')
                    .filter(|p| !p.starts_with("le="))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let s = series.entry(format!("{base}{{{labels}}}")).or_default();
        s.gauge = gauge_families.contains(base);
        s.summary = summaries.contains(base);
        match suffix {
            "_bucket" => {
                let le = head
                    .split("le=\"")
                    .nth(1)
                    .and_then(|x| x.split('"').next())
                    .ok_or(line)?;
                if le != "+Inf" && le.parse::<f64>().map_err(|_| line)? < 0.0 {
                    s.negative_le = true;
                }
            }
            "_sum" | "_gsum" => s.sum = Some(value),
            "_count" | "_gcount" => s.count = true,
            _ => {}
        }
    }
    for (key, s) in &series {
        // Summaries may keep `_count` without `_sum`; histograms may not (OpenMetrics 1.0).
        if s.count != s.sum.is_some() && !s.summary {
            return Err(format!("{key}: _count without _sum or the reverse\n{page}"));
        }
        match s.sum {
            Some(_) if s.negative_le && !s.gauge => {
                return Err(format!("{key}: _sum next to a negative bucket\n{page}"));
            }
            Some(v) if s.gauge && v < 0.0 && !s.negative_le => {
                return Err(format!("{key}: negative _gsum without a negative bucket"));
            }
            _ => {}
        }
    }
    Ok(())
}

mod arbitrary {
    use super::*;
    use proptest::prelude::*;

    fn value() -> impl Strategy<Value = f64> {
        prop_oneof![
            3 => prop_oneof![
                Just(f64::NAN),
                Just(f64::INFINITY),
                Just(f64::NEG_INFINITY),
                Just(-0.0),
                Just(0.0),
                Just(1e308),
                Just(-1e308),
                Just(5e-324),
                Just(-5e-324),
                Just(f64::MIN_POSITIVE / 3.0),
            ],
            2 => -1e3f64..1e3,
            1 => proptest::num::f64::ANY,
        ]
    }

    fn bounds() -> impl Strategy<Value = Buckets> {
        proptest::collection::vec(prop_oneof![-1e3f64..1e3, Just(-0.0), Just(5e-324)], 0..6)
            .prop_map(|mut b| {
                b.sort_by(f64::total_cmp);
                b.dedup_by(|a, b| a == b);
                Buckets::new(b).expect("sorted, unique, finite")
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn openmetrics_pages_keep_the_value_rules(
            ops in proptest::collection::vec((0usize..9, value()), 0..40),
            classic in bounds(),
            gauge_bounds in bounds(),
        ) {
            let r = Registry::new();
            let c = r.counter("c", "C.").unwrap();
            let g = r.gauge("g", "G.").unwrap();
            let h = r.histogram("h", "H.", classic.clone()).unwrap();
            let n = r.histogram("n", "N.", Buckets::native_only(NativeBuckets::default())).unwrap();
            let b = r.histogram("b", "B.", classic.with_native(NativeBuckets::with_factor(2.0).unwrap().max_buckets(4))).unwrap();
            let gh = gauge_histogram(&r, "gh", gauge_bounds.bounds().to_vec());
            let s = r.summary("s", "S.").unwrap();
            let q = r.quantile_summary("q", "Q.", QuantileOptions::new(&[(0.0, 0.0), (0.5, 0.05), (1.0, 0.0)]).unwrap()).unwrap();
            for (op, v) in ops {
                match op {
                    0 => { let _ = c.inc_by(v); }
                    1 => g.set(v),
                    2 => h.observe(v),
                    3 => n.observe(v),
                    4 => b.observe(v),
                    5 => gh.observe(v),
                    6 => gh.unobserve(v),
                    7 => s.observe(v),
                    _ => q.observe(v),
                }
            }
            let om = page(&r, Format::OpenMetrics);
            if let Err(e) = check_openmetrics_values(&om) {
                return Err(TestCaseError::fail(format!("{e}\n{om}")));
            }
        }
    }
}

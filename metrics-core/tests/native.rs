//! Native histograms: exposition in every format and decoded invariants (see
//! <https://prometheus.io/docs/specs/native_histograms/>).
#![cfg(feature = "protobuf")]

use promenade_core::encoding::protobuf::{decode_delimited, model};
use promenade_core::{Buckets, Format, NativeBuckets, Registry, native_bucket_index};
use proptest::prelude::*;

fn native_registry(
    buckets: Buckets,
) -> (Registry, promenade_core::Series<promenade_core::Histogram>) {
    let r = Registry::new();
    let h = r.histogram("lat_seconds", "Latency.", buckets).unwrap();
    (r, h)
}

fn decode_histogram(r: &Registry) -> model::Histogram {
    let families = decode_delimited(&r.encode_to_vec(Format::Protobuf).unwrap()).unwrap();
    families[0].metric[0].histogram.clone().unwrap()
}

/// Rebuilds `(index, count)` pairs from spans and deltas.
fn expand(spans: &[model::BucketSpan], deltas: &[i64]) -> Vec<(i32, i64)> {
    let mut out = Vec::new();
    let (mut index, mut count, mut d) = (0i32, 0i64, deltas.iter());
    // The first offset is absolute, later ones count the skipped indices.
    for span in spans {
        index += span.offset.unwrap_or(0);
        for _ in 0..span.length.unwrap_or(0) {
            count += d.next().copied().unwrap_or(0);
            out.push((index, count));
            index += 1;
        }
    }
    out
}

#[test]
fn native_only_in_text_shows_count_sum_and_inf() {
    let (r, h) = native_registry(Buckets::native_only(NativeBuckets::default()));
    h.observe(0.5);
    h.observe(2.0);
    let text = r.encode_to_string(Format::Text).unwrap();
    assert!(
        text.contains("lat_seconds_bucket{le=\"+Inf\"} 2\n"),
        "{text}"
    );
    assert!(text.contains("lat_seconds_sum 2.5\n"));
    assert!(text.contains("lat_seconds_count 2\n"));
    assert_eq!(text.matches("_bucket").count(), 1);
    let om = r.encode_to_string(Format::OpenMetrics).unwrap();
    assert!(om.contains("lat_seconds_bucket{le=\"+Inf\"} 2\n"));
}

#[test]
fn protobuf_carries_native_and_classic_together() {
    let (r, h) = native_registry(
        Buckets::new(vec![1.0])
            .unwrap()
            .with_native(NativeBuckets::default()),
    );
    for v in [0.5, 1.0, 1.05, 3.0, -2.0, 0.0] {
        h.observe(v);
    }
    let m = decode_histogram(&r);
    assert_eq!(m.sample_count, Some(6));
    assert_eq!(m.schema, Some(3));
    assert_eq!(
        m.zero_threshold,
        Some(promenade_core::NativeBuckets::default().zero_threshold_value())
    );
    assert_eq!(m.zero_count, Some(1));
    assert_eq!(m.bucket.len(), 1, "classic bucket le=1");
    assert_eq!(
        m.bucket[0].cumulative_count,
        Some(4),
        "0.5, 1.0, -2.0, 0.0 are <= 1"
    );
    let positive = expand(&m.positive_span, &m.positive_delta);
    let nonzero: Vec<(i32, i64)> = positive.into_iter().filter(|(_, c)| *c > 0).collect();
    assert_eq!(
        nonzero,
        vec![
            (native_bucket_index(0.5, 3), 1),
            (native_bucket_index(1.0, 3), 1),
            (native_bucket_index(1.05, 3), 1),
            (native_bucket_index(3.0, 3), 1)
        ]
    );
    let negative = expand(&m.negative_span, &m.negative_delta);
    assert_eq!(negative, vec![(native_bucket_index(2.0, 3), 1)]);
}

#[test]
fn empty_native_with_zero_threshold_zero_has_noop_span() {
    let (r, _h) = native_registry(Buckets::native_only(
        NativeBuckets::default().zero_threshold(0.0),
    ));
    let m = decode_histogram(&r);
    assert_eq!(m.positive_span.len(), 1);
    assert_eq!(
        (m.positive_span[0].offset, m.positive_span[0].length),
        (Some(0), Some(0))
    );
    // With the default (non-zero) threshold the threshold itself marks it as native.
    let (r, _h) = native_registry(Buckets::native_only(NativeBuckets::default()));
    assert!(decode_histogram(&r).positive_span.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn decoded_native_counts_add_up(values in proptest::collection::vec(-1e6f64..1e6, 0..300), max in 0u32..40, factor in 1.001f64..4.0) {
        let cfg = NativeBuckets::with_factor(factor).unwrap().max_buckets(max);
        let (r, h) = native_registry(Buckets::native_only(cfg));
        for v in &values {
            h.observe(*v);
        }
        let m = decode_histogram(&r);
        let mut total = m.zero_count.unwrap_or(0) as i64;
        for (spans, deltas) in [(&m.positive_span, &m.positive_delta), (&m.negative_span, &m.negative_delta)] {
            let span_len: u32 = spans.iter().map(|s| s.length.unwrap_or(0)).sum();
            prop_assert_eq!(span_len as usize, deltas.len());
            let mut running = 0i64;
            for d in deltas.iter() {
                running += d;
                prop_assert!(running >= 0, "negative bucket count");
                total += running;
            }
            // Only the coarsest schema may stay above the limit (nothing left to merge).
            if max > 0 && m.schema.unwrap() > -4 {
                prop_assert!(expand(spans, deltas).iter().filter(|(_, c)| *c > 0).count() <= max as usize);
            }
        }
        prop_assert_eq!(total, values.len() as i64);
        prop_assert_eq!(m.sample_count, Some(values.len() as u64));
        let schema = m.schema.unwrap();
        prop_assert!((-4..=8).contains(&schema));
    }
}

/// Four threads observe while a reader snapshots: every reading's count equals its zero,
/// positive and negative buckets' total and its sum (the writers observe ±1 and 0, so the
/// sum is the positive minus the negative count), and no observation is lost.
#[test]
fn concurrent_observations_and_readings_stay_consistent() {
    let h = std::sync::Arc::new(promenade_core::Histogram::new(Buckets::native_only(
        NativeBuckets::with_factor(2.0).unwrap(),
    )));
    let writers: Vec<_> = (0..4)
        .map(|t| {
            let h = std::sync::Arc::clone(&h);
            std::thread::spawn(move || {
                let v = [1.0, -1.0, 0.0, 1.0][t];
                for _ in 0..100_000 {
                    h.observe(v);
                }
            })
        })
        .collect();
    let check = |s: &promenade_core::HistogramSnapshot| {
        let n = s.native.as_ref().unwrap();
        let pos: u64 = n.positive.iter().map(|b| b.1).sum();
        let neg: u64 = n.negative.iter().map(|b| b.1).sum();
        assert_eq!(
            s.count,
            n.zero_count + pos + neg,
            "count and buckets from different sets"
        );
        assert_eq!(
            s.sum,
            pos as f64 - neg as f64,
            "sum and buckets from different sets"
        );
    };
    let mut readings = 0u32;
    while writers.iter().any(|w| !w.is_finished()) && readings < 200_000 {
        check(&h.snapshot());
        readings += 1;
    }
    for w in writers {
        w.join().unwrap();
    }
    let s = h.snapshot();
    check(&s);
    assert_eq!(s.count, 400_000);
    assert_eq!(s.sum, 100_000.0);
}

/// A minimum reset duration too long to add to the clock (`Duration::MAX`: "never reset")
/// keeps the histogram within its bucket limit by widening and halving, without panicking.
#[test]
fn a_reset_duration_past_the_clocks_range_means_never() {
    let h = promenade_core::Histogram::new(Buckets::native_only(
        NativeBuckets::with_factor(2.0)
            .unwrap()
            .max_buckets(2)
            .min_reset_duration(std::time::Duration::MAX),
    ));
    for v in [1.0, 10.0, 100.0, 1000.0, 1e4] {
        h.observe(v);
    }
    let s = h.snapshot();
    assert_eq!(s.count, 5, "no reset");
    let n = s.native.unwrap();
    assert!(n.positive.len() + n.negative.len() <= 2, "{n:?}");
}

//! OpenTelemetry exponential histograms as Prometheus native histograms.
//!
//! Both use buckets whose boundaries are powers of `2^(2^-scale)` (OpenTelemetry calls it the
//! scale, Prometheus the schema), but they number them differently: OpenTelemetry bucket `i`
//! covers `(base^i, base^(i+1)]`, Prometheus bucket `i` covers `(base^(i-1), base^i]`, so a
//! bucket keeps its bounds and its index grows by one
//! (<https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/#exponential-histograms>).
//! Prometheus schemas run from -4 to 8: a finer OpenTelemetry scale is brought down to 8 by
//! merging each `2^(scale-8)` neighbouring buckets into one (index `i >> (scale-8)`, as the
//! OpenTelemetry data model's downscaling does); a coarser scale than -4 cannot be made
//! finer, and such a histogram is exposed without native buckets (count and sum only).

/// The finest schema Prometheus accepts.
pub(super) const MAX_SCHEMA: i32 = 8;
/// The coarsest schema Prometheus accepts.
pub(super) const MIN_SCHEMA: i32 = -4;

/// The native-bucket part of one data point, ready for
/// [`NativeValue`](crate::encoding::NativeValue).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Native {
    pub(super) schema: i32,
    pub(super) zero_threshold: f64,
    pub(super) zero_count: u64,
    /// `(Prometheus bucket index, count)`, increasing index, no zero counts.
    pub(super) positive: Vec<(i32, u64)>,
    pub(super) negative: Vec<(i32, u64)>,
}

/// Converts one exponential-histogram data point; `None` when its scale is coarser than
/// Prometheus's coarsest schema. `positive`/`negative` are the OpenTelemetry bucket offset and
/// the counts from it.
pub(super) fn to_native(
    scale: i8,
    zero_threshold: f64,
    zero_count: u64,
    positive: (i32, impl Iterator<Item = u64>),
    negative: (i32, impl Iterator<Item = u64>),
) -> Option<Native> {
    let scale = i32::from(scale);
    if scale < MIN_SCHEMA {
        return None;
    }
    let schema = scale.min(MAX_SCHEMA);
    // `scale - schema` is at most 20 - 8 (the SDK's finest scale), never negative.
    let shift = u32::try_from(scale - schema).unwrap_or(0);
    Some(Native {
        schema,
        // A negative or NaN threshold is no threshold; Prometheus refuses both.
        zero_threshold: if zero_threshold >= 0.0 {
            zero_threshold
        } else {
            0.0
        },
        zero_count,
        positive: buckets(positive.0, positive.1, shift),
        negative: buckets(negative.0, negative.1, shift),
    })
}

/// `(Prometheus index, count)` from OpenTelemetry's offset and counts, `shift` scales down.
fn buckets(offset: i32, counts: impl Iterator<Item = u64>, shift: u32) -> Vec<(i32, u64)> {
    let mut out: Vec<(i32, u64)> = Vec::new();
    for (k, count) in counts.enumerate() {
        if count == 0 {
            continue;
        }
        let Ok(k) = i64::try_from(k) else { break };
        let otel = i64::from(offset) + k;
        // Arithmetic shift: floor division by 2^shift, also for negative indices.
        let Ok(index) = i32::try_from((otel >> shift) + 1) else {
            // Beyond i32: past any f64 at every schema; nothing real lands here.
            continue;
        };
        match out.last_mut() {
            Some((last, total)) if *last == index => *total = total.saturating_add(count),
            _ => out.push((index, count)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_scale_shifts_indices_by_one() {
        // Scale 0: OTel bucket 0 is (1, 2], Prometheus bucket 1 is (1, 2].
        let n = to_native(0, 0.0, 2, (0, [3, 0, 1].into_iter()), (-1, [4].into_iter())).unwrap();
        assert_eq!(n.schema, 0);
        assert_eq!(n.zero_count, 2);
        assert_eq!(n.positive, vec![(1, 3), (3, 1)]);
        assert_eq!(n.negative, vec![(0, 4)]);
    }

    #[test]
    fn finer_scales_are_merged_down_to_schema_8() {
        // Scale 10 → 8: four neighbouring buckets become one; -1 >> 2 is -1 (floor).
        let n = to_native(
            10,
            0.0,
            0,
            (-1, [1, 1, 1, 1, 1, 1].into_iter()),
            (0, std::iter::empty()),
        )
        .unwrap();
        assert_eq!(n.schema, MAX_SCHEMA);
        // OTel indices -1..=4 → -1, 0, 0, 0, 0, 1 → Prometheus 0, 1, 2.
        assert_eq!(n.positive, vec![(0, 1), (1, 4), (2, 1)]);
    }

    #[test]
    fn too_coarse_scales_have_no_native_buckets() {
        assert_eq!(
            to_native(-5, 0.0, 0, (0, [1].into_iter()), (0, std::iter::empty())),
            None
        );
        let n = to_native(
            -4,
            f64::NAN,
            0,
            (0, [1].into_iter()),
            (0, std::iter::empty()),
        )
        .unwrap();
        assert_eq!(n.schema, MIN_SCHEMA);
        assert_eq!(n.zero_threshold, 0.0);
    }
}

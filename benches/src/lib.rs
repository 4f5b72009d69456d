//! Criterion benchmarks for Promenade; see `benches/`.

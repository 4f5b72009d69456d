//! Promenade benchmarks live in `benches/`.

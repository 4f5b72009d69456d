//! Criterion benchmarks for Promenade live in `benches/benches/`; this library is empty.

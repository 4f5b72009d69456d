//! Fuzz targets for promenade-core; the checks are in [`checks`], shared with the stable
//! replay test `tests/tests/fuzz_replay.rs` (crate `promenade-tests`).

#![forbid(unsafe_code)]

pub mod checks;

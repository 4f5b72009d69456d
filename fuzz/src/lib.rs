//! Fuzz targets for promenade-core; the checks are in [`checks`], shared with the stable
//! replay test `metrics-core/tests/fuzz_replay.rs`.

#![forbid(unsafe_code)]

pub mod checks;

//! Fuzz target `encode`: see `promenade_fuzz::checks::encode`.
//!
//! No `#![forbid(unsafe_code)]` here: `fuzz_target!` expands to an
//! `#[unsafe(no_mangle)] extern "C"` entry point for libFuzzer. All checking code lives in the
//! library crate (`src/checks.rs`), which forbids unsafe code.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| promenade_fuzz::checks::encode(data));

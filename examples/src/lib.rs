//! Runnable Promenade examples. Each demo's application is a library function so tests can
//! run it in-process; the binaries in `src/bin/` only parse arguments and serve it.

pub mod actix_demo;
pub mod axum_demo;

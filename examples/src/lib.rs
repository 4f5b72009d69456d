//! Runnable Promenade examples. The binaries live in `src/bin/`; the modules here hold the
//! pieces the end-to-end tests run in process.

pub mod actix_demo;

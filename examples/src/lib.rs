//! Runnable Promenade examples. Each demo's application is a library function so tests can
//! run it in-process; the binaries in `src/bin/` only parse arguments and serve it.

pub mod actix_demo;
pub mod axum_demo;

/// Options shared by the axum and actix demos (`--native` on their command lines).
///
/// ```
/// let options = promenade_examples::DemoOptions { native: true };
/// let app = promenade_examples::axum_demo::axum_app_with(&promenade_core::Registry::new(), &options);
/// assert!(app.is_ok());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoOptions {
    /// Native (sparse) buckets next to the classic ones in the request-duration histogram.
    pub native: bool,
}

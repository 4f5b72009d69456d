//! The blocking client: the async client driven by its own current-thread Tokio runtime.

use super::{PushError, Pushgateway};
use crate::registry::Registry;

/// A blocking Pushgateway client for plain `main`s: the async client plus its own
/// current-thread Tokio runtime. Do not use (or drop) it inside an async context.
///
/// ```no_run
/// let registry = promenade_core::Registry::new();
/// let gateway = promenade_core::push::Pushgateway::builder("http://127.0.0.1:9091", "nightly")
///     .build_blocking()
///     .unwrap();
/// gateway.push(&registry).unwrap();
/// ```
#[derive(Debug)]
pub struct BlockingPushgateway {
    inner: Pushgateway,
    runtime: tokio::runtime::Runtime,
}

impl BlockingPushgateway {
    /// `inner` with a current-thread runtime of its own.
    pub(super) fn new(inner: Pushgateway) -> Result<Self, PushError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| PushError::Runtime(format!("cannot start a Tokio runtime: {e}")))?;
        Ok(Self { inner, runtime })
    }

    /// The group's URL.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://gw:9091", "j").build_blocking().unwrap();
    /// assert_eq!(g.url(), "http://gw:9091/metrics/job/j");
    /// ```
    pub fn url(&self) -> &str {
        self.inner.url()
    }

    /// Blocking [`Pushgateway::push`] (`PUT`).
    ///
    /// ```no_run
    /// # fn demo(g: promenade_core::push::BlockingPushgateway, r: promenade_core::Registry) {
    /// g.push(&r).unwrap();
    /// # }
    /// ```
    pub fn push(&self, registry: &Registry) -> Result<(), PushError> {
        refuse_inside_runtime()?;
        self.runtime.block_on(self.inner.push(registry))
    }

    /// Blocking [`Pushgateway::push_add`] (`POST`).
    ///
    /// ```no_run
    /// # fn demo(g: promenade_core::push::BlockingPushgateway, r: promenade_core::Registry) {
    /// g.push_add(&r).unwrap();
    /// # }
    /// ```
    pub fn push_add(&self, registry: &Registry) -> Result<(), PushError> {
        refuse_inside_runtime()?;
        self.runtime.block_on(self.inner.push_add(registry))
    }

    /// Blocking [`Pushgateway::delete`] (`DELETE`).
    ///
    /// ```no_run
    /// # fn demo(g: promenade_core::push::BlockingPushgateway) {
    /// g.delete().unwrap();
    /// # }
    /// ```
    pub fn delete(&self) -> Result<(), PushError> {
        refuse_inside_runtime()?;
        self.runtime.block_on(self.inner.delete())
    }

    /// The async client inside.
    ///
    /// ```
    /// let g = promenade_core::push::Pushgateway::builder("http://gw:9091", "j").build_blocking().unwrap();
    /// let _async_client = g.as_async().clone();
    /// ```
    pub fn as_async(&self) -> &Pushgateway {
        &self.inner
    }
}

pub(super) fn refuse_inside_runtime() -> Result<(), PushError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(PushError::Runtime(
            "called inside a Tokio runtime; use the async Pushgateway there".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn down_gateway_is_a_quick_connect_error() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let g = Pushgateway::builder(&format!("http://127.0.0.1:{port}"), "j")
            .timeout(Duration::from_secs(5))
            .build_blocking()
            .unwrap();
        let start = std::time::Instant::now();
        let err = g.push(&Registry::new()).unwrap_err();
        assert!(matches!(err, PushError::Connect { .. }), "{err}");
        assert!(err.to_string().contains("could not reach the Pushgateway"));
        assert!(err.to_string().contains("onnection refused"), "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn hanging_gateway_times_out() {
        // Accepts connections but never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let g = Pushgateway::builder(&format!("http://127.0.0.1:{port}"), "j")
            .timeout(Duration::from_millis(300))
            .build_blocking()
            .unwrap();
        let start = std::time::Instant::now();
        let err = g.delete().unwrap_err();
        assert!(matches!(err, PushError::Timeout { .. }), "{err}");
        assert!(start.elapsed() < Duration::from_secs(3));
        drop(listener);
    }

    #[test]
    fn blocking_client_refuses_to_run_inside_a_runtime() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            assert!(matches!(
                Pushgateway::builder("http://127.0.0.1:1", "j").build_blocking(),
                Err(PushError::Runtime(_))
            ));
        });
    }
}

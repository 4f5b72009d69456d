//! Runnable Promenade examples. Each demo's application is a library function so tests can
//! run it in-process; the binaries in `src/bin/` only parse arguments and serve it.

pub mod actix_demo;
pub mod axum_demo;
pub mod facade_demo;
pub mod hyper_demo;
pub mod otel_demo;

use std::process::ExitCode;
use std::sync::Arc;

use promenade_core::http_metrics::HttpMetricsBuilder;

/// Serves an axum app on `addr` until it fails, for the small demo binaries: prints where it
/// listens and what to try, and turns every failure into a message and an exit code.
///
/// ```no_run
/// # async fn run() -> std::process::ExitCode {
/// let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
/// promenade_examples::serve_axum("127.0.0.1:3000", Ok::<_, std::convert::Infallible>(app), "try GET /").await
/// # }
/// ```
pub async fn serve_axum<E: std::fmt::Display>(
    addr: &str,
    app: Result<axum::Router, E>,
    try_this: &str,
) -> ExitCode {
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("cannot build the app: {e}");
            return ExitCode::FAILURE;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on http://{addr} ({try_this})");
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The tenant that both demos' auth-like layer (outside the metrics layer) puts into the
/// request's extensions, from the request header [`TIER_HEADER`]; requests without the
/// header get none. What labels from the application read (`request_extension_label`).
///
/// ```
/// let tenant = promenade_examples::DemoTenant { tier: "pro".into() };
/// assert_eq!(tenant.tier(), "pro");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoTenant {
    /// The tenant's tier, as sent.
    pub tier: String,
}

impl DemoTenant {
    /// The tier, the value a label takes.
    ///
    /// ```
    /// assert_eq!(promenade_examples::DemoTenant { tier: "free".into() }.tier(), "free");
    /// ```
    pub fn tier(&self) -> &str {
        &self.tier
    }
}

/// The request header both demos read a [`DemoTenant`] from.
///
/// ```
/// assert_eq!(promenade_examples::TIER_HEADER, "x-tier");
/// ```
pub const TIER_HEADER: &str = "x-tier";

/// The business outcome both demos' `/users/{id}` handler puts into its response's
/// extensions and the [`OUTCOME_HEADER`] response header: `found` for a numeric id,
/// `invalid` otherwise.
///
/// ```
/// assert_eq!(promenade_examples::DemoOutcome::of_user("7").0, "found");
/// assert_eq!(promenade_examples::DemoOutcome::of_user("abc").0, "invalid");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoOutcome(pub &'static str);

impl DemoOutcome {
    /// The outcome of looking up user `id`.
    ///
    /// ```
    /// assert_eq!(promenade_examples::DemoOutcome::of_user("").0, "invalid");
    /// ```
    pub fn of_user(id: &str) -> Self {
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
            Self("found")
        } else {
            Self("invalid")
        }
    }
}

/// The response header carrying a [`DemoOutcome`].
///
/// ```
/// assert_eq!(promenade_examples::OUTCOME_HEADER, "x-outcome");
/// ```
pub const OUTCOME_HEADER: &str = "x-outcome";

/// More HTTP metrics options for a demo, applied after its own (see [`DemoOptions::metrics`]).
pub type MetricsHook = Arc<dyn Fn(HttpMetricsBuilder) -> HttpMetricsBuilder + Send + Sync>;

/// Options shared by the axum and actix demos (`--native` on their command lines).
///
/// ```
/// let options = promenade_examples::DemoOptions { native: true, ..Default::default() };
/// let app = promenade_examples::axum_demo::axum_app_with(&promenade_core::Registry::new(), &options);
/// assert!(app.is_ok());
/// ```
#[derive(Clone, Default)]
pub struct DemoOptions {
    /// Native (sparse) buckets next to the classic ones in the request-duration histogram.
    pub native: bool,
    /// HTTP metrics options applied to the demo's builder, the same for both demos (the tests
    /// use it to compare the adapters under non-default options).
    pub metrics: Option<MetricsHook>,
}

impl DemoOptions {
    /// Applies these options to an HTTP metrics builder: what both demos pass to their
    /// adapter's `.metrics(..)` hook.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use promenade_core::http_metrics::HttpMetrics;
    /// let options = promenade_examples::DemoOptions {
    ///     metrics: Some(Arc::new(|m| m.status_classes(true))),
    ///     ..Default::default()
    /// };
    /// let registry = promenade_core::Registry::new();
    /// let m = options.apply(HttpMetrics::builder(&registry)).build().unwrap();
    /// # drop(m);
    /// ```
    pub fn apply(&self, mut builder: HttpMetricsBuilder) -> HttpMetricsBuilder {
        if self.native {
            builder = builder.native_histograms(promenade_core::NativeBuckets::default());
        }
        match &self.metrics {
            Some(hook) => hook(builder),
            None => builder,
        }
    }
}

impl std::fmt::Debug for DemoOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoOptions")
            .field("native", &self.native)
            .field(
                "metrics",
                &self.metrics.as_ref().map(|_| "Fn(HttpMetricsBuilder)"),
            )
            .finish()
    }
}

//! [`HttpMetricsBuilder::build`]: checks the options together (label names against each
//! other, labels from the application, the series cap, exclusions, route policies), then
//! registers the families, so a configuration mistake is an error before anything is
//! recorded.

use std::sync::Arc;

use super::{HttpMetrics, HttpMetricsBuilder, Inner};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::http_metrics::KNOWN_METHODS;
use crate::http_metrics::collector::{HttpCollector, OTEL_NAMES};
use crate::http_metrics::route_policy::RoutePolicies;
use crate::http_metrics::series::{MethodSlot, RequestSeries, RequestSeriesOptions, RouteEntry};
use crate::labels::render_labels;
use crate::metric::Gauge;
use crate::name::check_label_names;

impl HttpMetricsBuilder {
    /// Validates the configuration and registers the metrics in the registry.
    ///
    /// ```
    /// use promenade_core::http_metrics::HttpMetrics;
    /// use promenade_core::{Error, Registry};
    /// let registry = Registry::new();
    /// assert!(HttpMetrics::builder(&registry).const_label("bad-name", "x").build().is_err());
    /// assert!(matches!(HttpMetrics::builder(&registry).max_series(0).build(), Err(Error::InvalidConfig(_))));
    /// let metrics = HttpMetrics::builder(&registry).build().unwrap();
    /// // The names are now taken in this registry.
    /// assert!(matches!(HttpMetrics::builder(&registry).build(), Err(Error::AlreadyRegistered { .. })));
    /// assert!(registry.encode_to_string(promenade_core::Format::Text).unwrap().contains("# TYPE http_requests_total counter"));
    /// # drop(metrics);
    /// ```
    pub fn build(self) -> Result<HttpMetrics> {
        // The clock's one-time calibration, here rather than in the first request.
        crate::clock::calibrate();
        let derived_names: Vec<&str> = self
            .derived_labels
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        let const_names: Vec<&str> = self.const_labels.iter().map(|(n, _)| n.as_str()).collect();
        let mut all: Vec<&str> = vec!["method", "route", "status"];
        all.extend(&derived_names);
        all.extend(&const_names);
        all.extend(OTEL_NAMES);
        check_label_names(&all)?;
        let taken: Vec<(&str, &str)> = ["method", "route", "status"]
            .iter()
            .map(|n| (*n, "a built-in HTTP label"))
            .chain(
                OTEL_NAMES
                    .iter()
                    .map(|n| (*n, "a built-in OpenTelemetry label")),
            )
            .chain(derived_names.iter().map(|n| (*n, "derived_label")))
            .chain(const_names.iter().map(|n| (*n, "const_label")))
            .collect();
        let app = self.app_labels.compile(&taken)?;
        if self.max_series == 0 {
            return Err(Error::InvalidConfig("max_series must be at least 1".into()));
        }
        let exclusions = self.exclusions.build()?;
        let route_policies =
            RoutePolicies::build(self.route_policies, self.duration_end, &self.buckets)?;
        let mut request_labels = vec!["method", "route", "status"];
        request_labels.extend(&derived_names);
        request_labels.extend(app.names());
        let options = Arc::new(RequestSeriesOptions {
            sizes: self.body_sizes.clone(),
        });
        let requests = Family::<RequestSeries>::builder_with_options("http_requests", "", options)
            .labels(&request_labels)
            .max_series(self.max_series)
            .build()?;
        let routes = Family::<RouteEntry>::builder("http_requests_in_flight", "")
            .labels(&["method", "route"])
            .max_series(self.max_series)
            .build()?;
        // Bounded by the method labels: no cap needed.
        let in_flight = Family::<Gauge>::builder("http_requests_in_flight", "")
            .labels(&["method"])
            .build()?;
        let methods = (0..=KNOWN_METHODS.len() + self.extra_methods.len())
            .map(|_| MethodSlot::default())
            .collect();
        let mut const_rendered = String::new();
        let const_values: Vec<&str> = self.const_labels.iter().map(|(_, v)| v.as_str()).collect();
        render_labels(&mut const_rendered, &const_names, &const_values);
        let inner = Arc::new(Inner {
            naming: self.naming,
            extra_methods: self
                .extra_methods
                .into_iter()
                .map(String::into_boxed_str)
                .collect(),
            status_classes: self.status_classes,
            sizes: self.body_sizes.is_some(),
            duration_end: self.duration_end,
            buckets: self.buckets,
            exclusions,
            route_policies,
            derived_labels: self.derived_labels,
            const_rendered,
            requests,
            routes,
            in_flight,
            methods,
            in_flight_by_route: self.in_flight_by_route,
            app,
        });
        let metrics = HttpMetrics { inner };
        self.registry
            .register(HttpCollector(Arc::clone(&metrics.inner)))?;
        Ok(metrics)
    }
}

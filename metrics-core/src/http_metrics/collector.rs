//! Exposition of the HTTP series: the Prometheus and OpenTelemetry views (family names,
//! help, units, label names) over the one storage, so [`Naming::Both`] doubles the output
//! but not the recording.

use std::sync::Arc;

use super::builder::{Inner, Naming};
use crate::collector::{Collector, Descriptor};
use crate::encoding::{FamilyHeader, LabelSet, MetricEncoder};
use crate::labels::rename_rendered_labels;
use crate::metric::{Metric, MetricType};

/// Exposes one [`HttpMetrics`](super::HttpMetrics)'s series under the names of its
/// [`Naming`].
pub(super) struct HttpCollector(pub(super) Arc<Inner>);

#[derive(Clone, Copy)]
enum View {
    Prometheus,
    OpenTelemetry,
}

/// The label names of the OpenTelemetry view, in the order of the request labels they
/// rename (method, route, status).
pub(super) const OTEL_NAMES: [&str; 3] = [
    "http_request_method",
    "http_route",
    "http_response_status_code",
];

impl HttpCollector {
    fn views(&self) -> &'static [View] {
        match self.0.naming {
            Naming::Prometheus => &[View::Prometheus],
            Naming::OpenTelemetry => &[View::OpenTelemetry],
            Naming::Both => &[View::Prometheus, View::OpenTelemetry],
        }
    }

    fn families(
        &self,
        view: View,
    ) -> Vec<(
        &'static str,
        &'static str,
        MetricType,
        Option<&'static str>,
        Part,
    )> {
        let mut v = match view {
            View::Prometheus => vec![
                (
                    "http_requests",
                    "Total number of HTTP requests completed.",
                    MetricType::Counter,
                    None,
                    Part::Count,
                ),
                (
                    "http_request_duration_seconds",
                    "Duration of HTTP requests in seconds.",
                    MetricType::Histogram,
                    Some("seconds"),
                    Part::Duration,
                ),
                (
                    "http_requests_in_flight",
                    "Number of HTTP requests currently being served.",
                    MetricType::Gauge,
                    None,
                    Part::InFlight,
                ),
            ],
            View::OpenTelemetry => vec![
                (
                    "http_server_request_duration_seconds",
                    "Duration of HTTP server requests.",
                    MetricType::Histogram,
                    Some("seconds"),
                    Part::Duration,
                ),
                (
                    "http_server_active_requests",
                    "Number of active HTTP server requests.",
                    MetricType::Gauge,
                    None,
                    Part::InFlight,
                ),
            ],
        };
        if self.0.sizes {
            match view {
                View::Prometheus => {
                    v.push((
                        "http_request_size_bytes",
                        "Size of HTTP request bodies in bytes.",
                        MetricType::Histogram,
                        Some("bytes"),
                        Part::RequestSize,
                    ));
                    v.push((
                        "http_response_size_bytes",
                        "Size of HTTP response bodies in bytes.",
                        MetricType::Histogram,
                        Some("bytes"),
                        Part::ResponseSize,
                    ));
                }
                View::OpenTelemetry => {
                    v.push((
                        "http_server_request_body_size_bytes",
                        "Size of HTTP server request bodies.",
                        MetricType::Histogram,
                        Some("bytes"),
                        Part::RequestSize,
                    ));
                    v.push((
                        "http_server_response_body_size_bytes",
                        "Size of HTTP server response bodies.",
                        MetricType::Histogram,
                        Some("bytes"),
                        Part::ResponseSize,
                    ));
                }
            }
        }
        v
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Count,
    Duration,
    InFlight,
    RequestSize,
    ResponseSize,
}

/// Writes `const,labels` into `out`, renaming the first label names for the OpenTelemetry view.
fn view_labels(out: &mut String, const_rendered: &str, rendered: &str, view: View) {
    out.clear();
    out.push_str(const_rendered);
    if !const_rendered.is_empty() && !rendered.is_empty() {
        out.push(',');
    }
    match view {
        View::Prometheus => out.push_str(rendered),
        View::OpenTelemetry => rename_rendered_labels(out, rendered, &OTEL_NAMES),
    }
}

impl Collector for HttpCollector {
    fn series_unique_by_construction(&self) -> bool {
        true
    }

    fn descriptors(&self) -> Vec<Descriptor> {
        let derived: Vec<&str> = self
            .0
            .derived_labels
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        let mut out = Vec::new();
        for view in self.views() {
            let base: &[&str] = match view {
                View::Prometheus => &["method", "route", "status"],
                View::OpenTelemetry => &OTEL_NAMES,
            };
            for (name, help, ty, unit, part) in self.families(*view) {
                // In-flight: method only (OpenTelemetry's `http.server.active_requests`
                // has no route: it is unknown when a request starts), unless asked.
                let mut labels: Vec<&str> = if part == Part::InFlight {
                    let n = if self.0.in_flight_by_route { 2 } else { 1 };
                    base[..n].to_vec()
                } else {
                    base.to_vec()
                };
                if part != Part::InFlight {
                    labels.extend(&derived);
                    labels.extend(self.0.app.names());
                }
                let mut d = Descriptor::new(name, help, ty, &labels);
                d.unit = unit.map(str::to_owned);
                out.push(d);
            }
        }
        out
    }

    fn collect(&self, enc: &mut MetricEncoder<'_>) {
        let inner = &self.0;
        let mut scratch = String::new();
        for view in self.views() {
            for (name, help, ty, unit, part) in self.families(*view) {
                enc.family(&FamilyHeader {
                    name,
                    help,
                    unit,
                    metric_type: ty,
                });
                if part == Part::InFlight {
                    if inner.in_flight_by_route {
                        inner.routes.for_each_series(|rendered, entry| {
                            view_labels(&mut scratch, &inner.const_rendered, rendered, *view);
                            entry.encode(&LabelSet::pre_rendered(&scratch), enc);
                        });
                    } else {
                        inner.in_flight.for_each_series(|rendered, gauge| {
                            view_labels(&mut scratch, &inner.const_rendered, rendered, *view);
                            gauge.encode(&LabelSet::pre_rendered(&scratch), enc);
                        });
                    }
                    continue;
                }
                inner.requests.for_each_series(|rendered, series| {
                    view_labels(&mut scratch, &inner.const_rendered, rendered, *view);
                    let labels = LabelSet::pre_rendered(&scratch);
                    match part {
                        Part::Count => {
                            enc.counter(&labels, series.requests() as f64, None);
                        }
                        // A series of a route whose duration is not recorded has none.
                        Part::Duration => series.encode(&labels, enc),
                        Part::RequestSize => {
                            if let Some((req, _)) = &series.sizes {
                                req.encode(&labels, enc);
                            }
                        }
                        Part::ResponseSize => {
                            if let Some((_, resp)) = &series.sizes {
                                resp.encode(&labels, enc);
                            }
                        }
                        Part::InFlight => {}
                    }
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otel_view_renames() {
        let mut out = String::new();
        view_labels(
            &mut out,
            "env=\"p\"",
            r#"method="GET",route="/a\"b",status="200",tenant="t""#,
            View::OpenTelemetry,
        );
        assert_eq!(
            out,
            r#"env="p",http_request_method="GET",http_route="/a\"b",http_response_status_code="200",tenant="t""#
        );
    }
}

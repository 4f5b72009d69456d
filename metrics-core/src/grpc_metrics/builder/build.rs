//! [`GrpcMetricsBuilder::build`]: checks the options (side, labels from the application,
//! series cap, method paths), then registers every family or, on an error, none.

use std::sync::Arc;

use super::{
    BUILT_IN, DEFAULT_APP_LABEL_MAX_SERIES, GrpcMetricsBuilder, MAX_DISCOVERED_METHODS, Side,
};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::grpc_metrics::code::GrpcCode;
use crate::grpc_metrics::messages::{CLIENT_MSG_HELP, msg_histogram};
use crate::grpc_metrics::series::{Discovery, Families, MethodMap, MethodSeries, MethodTable};
use crate::grpc_metrics::tracker::GrpcMetrics;
use crate::grpc_metrics::wire::{UNKNOWN, split_method};
use crate::metric::{Counter, Histogram};

impl GrpcMetricsBuilder {
    /// Validates the methods and registers the families in the registry.
    ///
    /// ```
    /// use promenade_core::grpc_metrics::{GrpcMetrics, GrpcType, Side};
    /// let r = promenade_core::Registry::new();
    /// assert!(GrpcMetrics::builder(&r, Side::Server).method("not a path", GrpcType::Unary).build().is_err());
    /// assert!(GrpcMetrics::builder(&r, Side::Server).build().is_ok());
    /// assert!(GrpcMetrics::builder(&r, Side::Server).build().is_err()); // already registered
    /// ```
    pub fn build(mut self) -> Result<GrpcMetrics> {
        // The clock's one-time calibration, here rather than in the first call.
        crate::clock::calibrate();
        let (prefix, help) = match self.side {
            Side::Server => ("grpc_server", &SERVER_HELP),
            Side::Client => ("grpc_client", &CLIENT_HELP),
        };
        let base = ["grpc_type", "grpc_service", "grpc_method"];
        let with_code = BUILT_IN;
        if self.client_msg_histograms && self.side == Side::Server {
            return Err(Error::InvalidConfig(
                "client_msg_histograms(true) on a Side::Server builder: the per-message \
                 latency histograms are the client's (grpc_client_msg_*_handling_seconds); \
                 build the client's metrics with Side::Client"
                    .into(),
            ));
        }
        let app = self.compile_app_labels()?;
        let cap = match self.max_series {
            Some(0) => {
                return Err(Error::InvalidConfig(
                    "max_series(0): the cap must be at least 1 series".into(),
                ));
            }
            Some(n) => Some(n),
            None => (!app.is_empty()).then_some(DEFAULT_APP_LABEL_MAX_SERIES),
        };
        // Request labels come first: `started_total` takes them, the end-of-call series all.
        let app_request = app.request_len();
        let app_names: Vec<&str> = app.names().collect();
        let labels_with = |base: &[&'static str], n_app: usize| -> Vec<String> {
            base.iter()
                .map(|n| (*n).to_owned())
                .chain(app_names.iter().take(n_app).map(|n| (*n).to_owned()))
                .collect()
        };
        let started_labels = labels_with(&base, app_request);
        let handled_labels = labels_with(&with_code, app_names.len());
        let handling_labels = if self.handling_by_code {
            labels_with(&with_code, app_names.len())
        } else {
            labels_with(&base, app_names.len())
        };
        let counter = |name: &str, help: &str, labels: &[String], capped: bool| {
            let b = Family::<Counter>::builder(&format!("{prefix}_{name}"), help).labels(labels);
            match cap.filter(|_| capped) {
                Some(n) => b.max_series(n).build(),
                None => b.build(),
            }
        };
        let base_owned = labels_with(&base, 0);
        let families = Arc::new(Families {
            started: counter("started_total", help[0], &started_labels, true)?,
            handled: counter("handled_total", help[1], &handled_labels, true)?,
            received: counter("msg_received_total", help[2], &base_owned, false)?,
            sent: counter("msg_sent_total", help[3], &base_owned, false)?,
            handling: match self.handling_seconds {
                Some(buckets) => {
                    let b = Family::<Histogram>::builder_with_options(
                        &format!("{prefix}_handling_seconds"),
                        help[4],
                        buckets,
                    )
                    .labels(&handling_labels);
                    Some(match cap {
                        Some(n) => b.max_series(n).build()?,
                        None => b.build()?,
                    })
                }
                None => None,
            },
            handling_by_code: self.handling_by_code,
            msg_recv: msg_histogram(
                self.client_msg_histograms,
                "grpc_client_msg_recv_handling_seconds",
                CLIENT_MSG_HELP[0],
            )?,
            msg_send: msg_histogram(
                self.client_msg_histograms,
                "grpc_client_msg_send_handling_seconds",
                CLIENT_MSG_HELP[1],
            )?,
            app_request,
            app,
        });
        let mut methods = MethodMap::default();
        for (path, grpc_type) in &self.methods {
            let Some((service, method)) = split_method(path) else {
                return Err(Error::InvalidConfig(format!(
                    "invalid gRPC method path {path:?} (expected /pkg.Service/Method)"
                )));
            };
            if let Some(existing) = methods.get(path.as_str())
                && let Some(existing) = existing.grpc_type
                && existing != *grpc_type
            {
                return Err(Error::InvalidConfig(format!(
                    "gRPC method {path} registered as both {existing} and {grpc_type}"
                )));
            }
            methods.insert(
                path.as_str().into(),
                Arc::new(MethodSeries::new(
                    &families,
                    Some(*grpc_type),
                    service,
                    method,
                )),
            );
        }
        let mut ids = Vec::new();
        let mut register = |r: Result<crate::CollectorId>| -> Result<()> {
            match r {
                Ok(id) => {
                    ids.push(id);
                    Ok(())
                }
                Err(e) => {
                    // Leave the registry as it was.
                    for id in ids.drain(..) {
                        let _ = self.registry.unregister(id);
                    }
                    Err(e)
                }
            }
        };
        register(self.registry.register(families.started.clone()))?;
        register(self.registry.register(families.handled.clone()))?;
        register(self.registry.register(families.received.clone()))?;
        register(self.registry.register(families.sent.clone()))?;
        if let Some(h) = &families.handling {
            register(self.registry.register(h.clone()))?;
        }
        for h in [&families.msg_recv, &families.msg_send]
            .into_iter()
            .flatten()
        {
            register(self.registry.register(h.clone()))?;
        }
        let table = MethodTable {
            side: self.side,
            unknown: Arc::new(MethodSeries::new(&families, None, UNKNOWN, UNKNOWN)),
            discovery: (self.discover && methods.is_empty())
                .then(|| Discovery::new(MAX_DISCOVERED_METHODS)),
            methods,
        };
        if self.initialize {
            for m in table.methods.values() {
                m.counter(&m.received, &families.received);
                m.counter(&m.sent, &families.sent);
                // With labels from the application, the values of a call are not known
                // before it starts: those series are created by the calls.
                if !families.app.is_empty() {
                    continue;
                }
                m.started();
                // With codes on the histogram, only the OK one: 17 histograms per method
                // would be mostly empty buckets.
                m.handling(GrpcCode::Ok);
                for c in GrpcCode::ALL {
                    m.handled(c);
                }
            }
        }
        Ok(GrpcMetrics::from_table(table))
    }
}

/// Help texts of the Go middleware (server side).
const SERVER_HELP: [&str; 5] = [
    "Total number of RPCs started on the server.",
    "Total number of RPCs completed on the server, regardless of success or failure.",
    "Total number of RPC stream messages received on the server.",
    "Total number of gRPC stream messages sent by the server.",
    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
];

/// Help texts of the Go middleware (client side).
const CLIENT_HELP: [&str; 5] = [
    "Total number of RPCs started on the client.",
    "Total number of RPCs completed by the client, regardless of success or failure.",
    "Total number of RPC stream messages received by the client.",
    "Total number of gRPC stream messages sent by the client.",
    "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grpc_metrics::GrpcType;
    use crate::{Format, Registry};

    #[test]
    fn unknown_methods_share_fixed_labels() {
        let r = Registry::new();
        let m = GrpcMetrics::builder(&r, Side::Server)
            .method("/a.B/C", GrpcType::BidiStream)
            .build()
            .unwrap();
        for i in 0..100 {
            m.start(&format!("/random.Svc{i}/M{i}"))
                .finish(GrpcCode::Unimplemented);
        }
        let text = r.encode_to_string(Format::Text).unwrap();
        assert!(text.contains(r#"grpc_server_started_total{grpc_type="unknown",grpc_service="unknown",grpc_method="unknown"} 100"#));
        assert_eq!(text.matches("grpc_server_started_total{").count(), 1);
    }

    #[test]
    fn conflicting_registration_is_refused() {
        let r = Registry::new();
        let e = GrpcMetrics::builder(&r, Side::Server)
            .method("/a.B/C", GrpcType::Unary)
            .method("/a.B/C", GrpcType::BidiStream)
            .build();
        assert!(e.is_err());
        // Nothing was left registered by the failed build.
        assert!(GrpcMetrics::builder(&r, Side::Server).build().is_ok());
        // Server and client families coexist in one registry.
        assert!(GrpcMetrics::builder(&r, Side::Client).build().is_ok());
    }
}

//! What a newcomer runs into in the first hour, across the three adapters: every misuse gets
//! an error that names what the user did, the defaults are the same everywhere, and the
//! README's process-collector recipe works whatever adapter set the registry up.

#![allow(clippy::unwrap_used, missing_docs)]

use axum::Router;
use axum::routing::get;
use promenade_core::collectors::register_process_collector;
use promenade_core::{Format, Registry};
use promenade_tower::{Prometheus, PrometheusRouterExt};

fn has_process_metrics(registry: &Registry) -> bool {
    registry
        .encode_to_string(Format::Text)
        .unwrap()
        .contains("process_start_time_seconds")
}

#[test]
fn with_prometheus_on_a_router_without_routes_is_an_error() {
    let registry = Registry::new();
    let err = Router::<()>::new()
        .with_prometheus(Prometheus::new(&registry).unwrap())
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no routes"), "{message}");
    assert!(message.contains("call it last"), "{message}");
    // With routes it works.
    let registry = Registry::new();
    let _app: Router = Router::<()>::new()
        .route("/", get(|| async { "hi" }))
        .with_prometheus(Prometheus::new(&registry).unwrap())
        .unwrap();
}

#[test]
fn a_second_adapter_on_one_registry_says_so() {
    let registry = Registry::new();
    Prometheus::new(&registry).unwrap();
    let axum = Prometheus::new(&registry).unwrap_err().to_string();
    let actix = promenade_actix::PrometheusMetrics::builder(&registry)
        .build()
        .unwrap_err()
        .to_string();
    for message in [axum, actix] {
        assert!(message.contains("\"http_requests\""), "{message}");
        assert!(message.contains("already registered"), "{message}");
        assert!(message.contains("same registry"), "{message}");
    }
}

#[test]
fn an_invalid_scrape_path_is_named_in_every_adapter() {
    let axum = Prometheus::builder(&Registry::new())
        .scrape(|s| s.path("metrics"))
        .build()
        .unwrap_err()
        .to_string();
    let actix = promenade_actix::PrometheusMetrics::builder(&Registry::new())
        .scrape(|s| s.path("/metrics/{id}"))
        .build()
        .unwrap_err()
        .to_string();
    let tonic = promenade_tonic::ScrapeHandler::builder(&Registry::new())
        .path("/metrics?x")
        .build()
        .unwrap_err()
        .to_string();
    for (message, path) in [
        (axum, "\"metrics\""),
        (actix, "\"/metrics/{id}\""),
        (tonic, "\"/metrics?x\""),
    ] {
        assert!(message.contains(path), "{message}");
        assert!(message.contains("must start with '/'"), "{message}");
    }
}

#[test]
fn errors_convert_into_io_errors_for_the_usual_main() {
    fn actix_like_main() -> std::io::Result<()> {
        let registry = Registry::new();
        promenade_actix::PrometheusMetrics::builder(&registry).build()?;
        promenade_actix::PrometheusMetrics::builder(&registry).build()?;
        Ok(())
    }
    let err = actix_like_main().unwrap_err();
    assert!(err.to_string().contains("already registered"), "{err}");
}

/// The process collector is on by default in all three adapters (tonic's through the scrape
/// handler it serves), off with the same option everywhere.
#[cfg(target_os = "linux")]
#[test]
fn process_metrics_are_on_by_default_everywhere() {
    let axum = Registry::new();
    Prometheus::new(&axum).unwrap();
    let actix = Registry::new();
    promenade_actix::PrometheusMetrics::builder(&actix)
        .build()
        .unwrap();
    let tonic = Registry::new();
    promenade_tonic::ScrapeHandler::builder(&tonic)
        .build()
        .unwrap();
    for registry in [&axum, &actix, &tonic] {
        assert!(has_process_metrics(registry));
    }

    let axum = Registry::new();
    Prometheus::builder(&axum)
        .scrape(|s| s.process_collector(false))
        .build()
        .unwrap();
    let actix = Registry::new();
    promenade_actix::PrometheusMetrics::builder(&actix)
        .scrape(|s| s.process_collector(false))
        .build()
        .unwrap();
    let tonic = Registry::new();
    promenade_tonic::ScrapeHandler::builder(&tonic)
        .process_collector(false)
        .build()
        .unwrap();
    for registry in [&axum, &actix, &tonic] {
        assert!(!has_process_metrics(registry));
    }
}

/// The README's recipe, before or after any adapter registered the process collector.
#[cfg(target_os = "linux")]
#[test]
fn the_process_collector_recipe_works_with_every_adapter() {
    let after_axum = Registry::new();
    Prometheus::new(&after_axum).unwrap();
    register_process_collector(&after_axum).unwrap();

    let after_actix = Registry::new();
    promenade_actix::PrometheusMetrics::builder(&after_actix)
        .build()
        .unwrap();
    register_process_collector(&after_actix).unwrap();

    let before_tonic = Registry::new();
    register_process_collector(&before_tonic).unwrap();
    promenade_tonic::ScrapeHandler::builder(&before_tonic)
        .build()
        .unwrap();

    for registry in [&after_axum, &after_actix, &before_tonic] {
        let text = registry.encode_to_string(Format::Text).unwrap();
        assert_eq!(
            text.matches("# TYPE process_start_time_seconds gauge")
                .count(),
            1,
            "{text}"
        );
    }

    // Another metric under a process collector name is still a clash.
    let taken = Registry::new();
    taken.gauge("process_start_time_seconds", "Mine.").unwrap();
    assert!(register_process_collector(&taken).is_err());
}

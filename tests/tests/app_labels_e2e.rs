//! Labels from the application, end to end: the axum and actix demos (an auth-like layer
//! outside the metrics layer puts a tenant into the request's extensions; `/users/{id}`
//! puts its outcome into the response's extensions and a header) served on 127.0.0.1 and
//! driven by a real HTTP client, with exact counts; then hostile traffic, random values in
//! every input a label reads, in process (100,000 requests per adapter, through
//! `tower::ServiceExt::oneshot` and `actix_web::test`) and over TCP, adding no series beyond
//! the declared values and the series cap.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use promenade_core::http_metrics::{HttpMetricsBuilder, LabelValues};
use promenade_core::testutil::{sample_values, series_count};
use promenade_core::{Format, Registry};
use promenade_examples::{DemoOptions, DemoOutcome, DemoTenant, OUTCOME_HEADER, TIER_HEADER};
use promenade_tests::{Rng, http_request};

const SETTLE: Duration = Duration::from_secs(5);

/// The declared tiers; anything else is `other`, no tenant is `none`.
const TIERS: [&str; 2] = ["free", "pro"];

/// Cap of the hostile configurations: the `client` header label accepts any value.
const CAP: usize = 40;

/// Tier from the request's extensions, outcome from the response's extensions.
fn labelled(m: HttpMetricsBuilder) -> HttpMetricsBuilder {
    m.request_extension_label(
        "tier",
        LabelValues::one_of(&TIERS, "other").when_absent("none"),
        |t: &DemoTenant| t.tier(),
    )
    .response_extension_label(
        "outcome",
        LabelValues::one_of(&["found"], "other").when_absent("none"),
        |o: &DemoOutcome| o.0,
    )
}

/// [`labelled`], plus the outcome header (declared list) and a request header that takes
/// any value, bounded by the series cap.
fn hostile(m: HttpMetricsBuilder) -> HttpMetricsBuilder {
    labelled(m)
        .response_header_label(
            "outcome_header",
            OUTCOME_HEADER,
            LabelValues::one_of(&["found", "invalid"], "other").when_absent("none"),
        )
        .request_header_label("client", "x-client", LabelValues::any("none"))
        .max_series(CAP)
}

fn options(hook: fn(HttpMetricsBuilder) -> HttpMetricsBuilder) -> DemoOptions {
    DemoOptions {
        native: false,
        metrics: Some(Arc::new(hook)),
    }
}

/// Sends a known mix of tenants and users to a demo and checks every count exactly.
fn tenants_and_outcomes_are_counted_exactly<D: Demo>() {
    let demo = D::start_with(options(labelled));
    // (tier header, path, count, expected tier label, expected outcome label)
    let mix: &[(Option<&str>, &str, u32, &str, &str)] = &[
        (Some("pro"), "/users/1", 5, "pro", "found"),
        (Some("free"), "/users/2", 3, "free", "found"),
        (Some("platinum"), "/users/3", 2, "other", "found"),
        (Some("pro"), "/users/abc", 4, "pro", "other"),
        (None, "/users/4", 2, "none", "found"),
        (Some("free"), "/", 3, "free", "none"),
    ];
    let mut sent = 0.0;
    for (tier, path, n, _, _) in mix {
        let headers: Vec<(&str, &str)> = tier.iter().map(|t| (TIER_HEADER, *t)).collect();
        for _ in 0..*n {
            let resp = http_request("GET", &demo.url(path), &headers, b"").unwrap();
            assert_eq!(resp.status, 200, "{path}");
            sent += 1.0;
        }
    }
    let text = demo.scrape_until(SETTLE, |t| {
        total_in_flight(t) == 0.0
            && all_samples(t, "http_requests_total")
                .iter()
                .map(|s| s.1)
                .sum::<f64>()
                == sent
    });
    let mut expected: std::collections::BTreeMap<String, f64> = Default::default();
    for (_, path, n, tier, outcome) in mix {
        let route = if path.starts_with("/users/") {
            "/users/{id}"
        } else {
            "/"
        };
        *expected
            .entry(format!(
                r#"method="GET",route="{route}",status="200",tier="{tier}",outcome="{outcome}""#
            ))
            .or_default() += f64::from(*n);
    }
    let got: std::collections::BTreeMap<String, f64> = sample_values(&text, "http_requests_total")
        .into_iter()
        .collect();
    assert_eq!(got, expected, "{}\n{text}", D::ADAPTER);
    // In-flight is labelled by method only: response labels are unknown when it is counted.
    for (labels, _) in all_samples(&text, "http_requests_in_flight") {
        assert!(
            !labels.contains("tier") && !labels.contains("outcome"),
            "{labels}"
        );
    }
}

#[test]
fn axum_counts_tenants_and_outcomes_exactly() {
    tenants_and_outcomes_are_counted_exactly::<AxumDemoServer>();
}

#[test]
fn actix_counts_tenants_and_outcomes_exactly() {
    tenants_and_outcomes_are_counted_exactly::<ActixDemoServer>();
}

/// A hostile request: random tier, client and user id (so a random outcome).
fn hostile_request(rng: &mut Rng) -> (String, String, String) {
    let tier = match rng.below(4) {
        0 => "pro".to_owned(),
        1 => "free".to_owned(),
        _ => format!("t{:x}", rng.next()),
    };
    let client = format!("c{:x}", rng.next());
    let id = if rng.below(2) == 0 {
        rng.next().to_string()
    } else {
        format!("x{:x}", rng.next())
    };
    (tier, client, format!("/users/{id}"))
}

/// What hostile traffic may leave behind: the request series stay within the cap (plus its
/// one overflow series), every tier and outcome value is a declared, fallback or absent one,
/// and every request is counted.
fn assert_bounded(text: &str, requests: f64, what: &str) {
    let samples = sample_values(text, "http_requests_total");
    assert!(
        samples.len() <= CAP + 1,
        "{what}: {} series\n{text}",
        samples.len()
    );
    let total: f64 = samples.iter().map(|s| s.1).sum();
    assert_eq!(total, requests, "{what}");
    for (labels, _) in &samples {
        if labels.contains("__overflow__") {
            continue;
        }
        let value = |k: &str| {
            let start = labels.find(&format!(",{k}=\"")).unwrap() + k.len() + 3;
            labels[start..].split('"').next().unwrap().to_owned()
        };
        assert!(
            ["free", "pro", "other"].contains(&value("tier").as_str()),
            "{labels}"
        );
        assert!(
            ["found", "other"].contains(&value("outcome").as_str()),
            "{labels}"
        );
        assert!(
            ["found", "invalid"].contains(&value("outcome_header").as_str()),
            "{labels}"
        );
    }
    assert_eq!(
        series_count(text, "http_requests_in_flight"),
        1,
        "{what}\n{text}"
    );
}

const HOSTILE_IN_PROCESS: u32 = 100_000;
const HOSTILE_TCP: u32 = 1_000;

#[test]
fn axum_hostile_values_in_process_add_no_series_beyond_the_bounds() {
    use tower::ServiceExt as _;
    let registry = Registry::new();
    let app = promenade_examples::axum_demo::axum_app_with(&registry, &options(hostile)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut rng = Rng(0x5eed_0001);
    rt.block_on(async {
        for _ in 0..HOSTILE_IN_PROCESS {
            let (tier, client, path) = hostile_request(&mut rng);
            let req = http::Request::get(path)
                .header(TIER_HEADER, tier)
                .header("x-client", client)
                .body(axum::body::Body::empty())
                .unwrap();
            let resp = app.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            // Ending the body records the request.
            drop(resp);
        }
    });
    let text = registry.encode_to_string(Format::Text).unwrap();
    assert_bounded(&text, f64::from(HOSTILE_IN_PROCESS), "axum in process");
}

#[test]
fn actix_hostile_values_in_process_add_no_series_beyond_the_bounds() {
    use actix_web::{App, test};
    let registry = Registry::new();
    let metrics =
        promenade_examples::actix_demo::metrics_with(&registry, &options(hostile)).unwrap();
    actix_rt::System::new().block_on(async {
        let app = test::init_service(
            App::new()
                .wrap(metrics)
                .wrap_fn(promenade_examples::actix_demo::insert_tenant)
                .configure(promenade_examples::actix_demo::routes),
        )
        .await;
        let mut rng = Rng(0x5eed_0001);
        for _ in 0..HOSTILE_IN_PROCESS {
            let (tier, client, path) = hostile_request(&mut rng);
            let req = test::TestRequest::get()
                .uri(&path)
                .insert_header((TIER_HEADER, tier))
                .insert_header(("x-client", client))
                .to_request();
            let resp = test::call_service(&app, req).await;
            assert_eq!(resp.status(), 200);
            drop(resp);
        }
    });
    let text = registry.encode_to_string(Format::Text).unwrap();
    assert_bounded(&text, f64::from(HOSTILE_IN_PROCESS), "actix in process");
}

fn hostile_values_over_tcp_add_no_series_beyond_the_bounds<D: Demo>() {
    let demo = D::start_with(options(hostile));
    let mut rng = Rng(0x5eed_0002);
    for _ in 0..HOSTILE_TCP {
        let (tier, client, path) = hostile_request(&mut rng);
        let headers = [(TIER_HEADER, tier.as_str()), ("x-client", client.as_str())];
        let resp = http_request("GET", &demo.url(&path), &headers, b"").unwrap();
        assert_eq!(resp.status, 200);
    }
    let text = demo.scrape_until(SETTLE, |t| {
        total_in_flight(t) == 0.0
            && all_samples(t, "http_requests_total")
                .iter()
                .map(|s| s.1)
                .sum::<f64>()
                == f64::from(HOSTILE_TCP)
    });
    assert_bounded(&text, f64::from(HOSTILE_TCP), D::ADAPTER);
}

#[test]
fn axum_hostile_values_over_tcp_add_no_series_beyond_the_bounds() {
    hostile_values_over_tcp_add_no_series_beyond_the_bounds::<AxumDemoServer>();
}

#[test]
fn actix_hostile_values_over_tcp_add_no_series_beyond_the_bounds() {
    hostile_values_over_tcp_add_no_series_beyond_the_bounds::<ActixDemoServer>();
}

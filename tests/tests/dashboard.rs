//! The Grafana dashboard in `examples/grafana/` works for every adapter: each PromQL
//! expression parses (checked by `promtool check rules`) and names only metrics that the
//! axum, actix and tonic demos actually expose (scraped from the running demos).

use std::collections::BTreeSet;

mod common;

use common::{ActixDemoServer, AxumDemoServer, Demo, TonicDemoServer};
use promenade_examples::DemoOptions;
use promenade_tests::{PROMTOOL, http_get, require_tool};

fn dashboard_expressions() -> Vec<String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/grafana/promenade-dashboard.json"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    for panel in json["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(exprs.len() >= 10, "the dashboard lost its panels");
    // Grafana's variables, as Grafana substitutes them.
    exprs
        .iter()
        .map(|e| e.replace("$__rate_interval", "5m").replace("$job", ".*"))
        .collect()
}

/// The family and sample names in a text exposition.
fn names_in(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            names.insert(rest.split(' ').next().unwrap().to_owned());
        } else if !line.starts_with('#') && !line.is_empty() {
            names.insert(line.split(['{', ' ']).next().unwrap().to_owned());
        }
    }
    names
}

/// What a demo exposes after serving a request, as Prometheus would scrape it.
fn demo_names<D: Demo>(warm_up: impl FnOnce(&D)) -> BTreeSet<String> {
    let demo = D::start_with(DemoOptions {
        native: true,
        ..Default::default()
    });
    warm_up(&demo);
    names_in(&demo.scrape())
}

fn http_warm_up<D: Demo>(demo: &D) {
    assert_eq!(http_get(&demo.url("/users/1"), &[]).unwrap().status, 200);
}

#[test]
fn every_expression_names_exposed_metrics_only() {
    let axum = demo_names::<AxumDemoServer>(http_warm_up);
    let actix = demo_names::<ActixDemoServer>(http_warm_up);
    // tonic-server's series exist from the start (pre-initialised at zero).
    let tonic = demo_names::<TonicDemoServer>(|_| {});
    // One dashboard for every adapter: the HTTP names must be the same in both HTTP demos.
    let http_only = |n: &BTreeSet<String>| -> BTreeSet<String> {
        n.iter()
            .filter(|n| n.starts_with("http_"))
            .cloned()
            .collect()
    };
    assert_eq!(http_only(&axum), http_only(&actix));
    assert!(tonic.contains("grpc_server_handled_total"), "{tonic:?}");
    let exposed: BTreeSet<String> = axum.iter().chain(&actix).chain(&tonic).cloned().collect();
    let mut used = BTreeSet::new();
    for expr in dashboard_expressions() {
        // A metric selector is an identifier directly followed by `{`.
        let bytes = expr.as_bytes();
        for (i, _) in expr.match_indices('{') {
            let start = expr[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .map_or(0, |p| p + 1);
            let name = &expr[start..i];
            if !name.is_empty() && bytes[start].is_ascii_alphabetic() {
                used.insert(name.to_owned());
            }
        }
    }
    assert!(used.len() >= 6, "{used:?}");
    for name in &used {
        assert!(
            exposed.contains(name),
            "dashboard uses {name}, which nothing exposes; exposed: {exposed:?}"
        );
    }
}

#[test]
fn every_expression_parses_with_promtool() {
    let promtool = require_tool!(PROMTOOL);
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, expr) in dashboard_expressions().iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard:expr_{i}\n        expr: {}\n",
            serde_json::to_string(expr).unwrap()
        ));
    }
    let file = dir.path().join("dashboard.rules.yml");
    std::fs::write(&file, &rules).unwrap();
    let out = std::process::Command::new(promtool)
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool rejected the dashboard's expressions:\n{}\n{}\n{rules}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And promtool does fail on a broken expression, so the check above means something.
    std::fs::write(
        &file,
        "groups:\n  - name: x\n    rules:\n      - record: x:y\n        expr: \"sum(rate(\"\n",
    )
    .unwrap();
    let bad = std::process::Command::new(require_tool!(PROMTOOL))
        .arg("check")
        .arg("rules")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

//! The Grafana dashboard in `examples/grafana/` works for every adapter: each PromQL
//! expression parses (checked by `promtool check rules`) and names only metrics that the
//! axum, actix and tonic demos actually expose (scraped from the running demos).

use std::collections::{BTreeMap, BTreeSet};

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

/// The label names of each sample name in a text exposition.
fn label_names_in(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let Some((name, mut rest)) = line.split_once('{') else {
            continue;
        };
        let labels = out.entry(name.to_owned()).or_default();
        // `key="value",...}`: skip each value, escapes included.
        while let Some((key, after)) = rest.split_once("=\"") {
            labels.insert(key.trim_start_matches(',').to_owned());
            let mut escaped = false;
            let end = after
                .char_indices()
                .find(|&(_, c)| {
                    let close = c == '"' && !escaped;
                    escaped = c == '\\' && !escaped;
                    close
                })
                .map_or(after.len(), |(i, _)| i + 1);
            rest = &after[end..];
            if rest.starts_with('}') {
                break;
            }
        }
    }
    out
}

/// What a demo exposes after serving a request, as Prometheus would scrape it.
fn demo_text<D: Demo>(warm_up: impl FnOnce(&D)) -> String {
    let demo = D::start_with(DemoOptions {
        native: true,
        ..Default::default()
    });
    warm_up(&demo);
    demo.scrape()
}

/// The names a demo exposes after serving a request.
fn demo_names<D: Demo>(warm_up: impl FnOnce(&D)) -> BTreeSet<String> {
    names_in(&demo_text(warm_up))
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

/// Every `by (..)` grouping names labels that the metrics of its expression carry: a panel
/// grouping by a label the series lack (say in-flight by `route`, labelled by method only)
/// would show one unlabelled line and no error.
#[test]
fn every_grouping_label_exists_on_the_grouped_metrics() {
    let mut labels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for text in [
        demo_text::<AxumDemoServer>(http_warm_up),
        demo_text::<ActixDemoServer>(http_warm_up),
        demo_text::<TonicDemoServer>(|_| {}),
    ] {
        for (name, set) in label_names_in(&text) {
            labels.entry(name).or_default().extend(set);
        }
    }
    let mut checked = 0;
    for expr in dashboard_expressions() {
        let metrics: Vec<&str> = labels
            .keys()
            .map(String::as_str)
            .filter(|name| {
                expr.match_indices(name).any(|(i, _)| {
                    let after = expr[i + name.len()..].chars().next();
                    let before = expr[..i].chars().next_back();
                    !matches!(after, Some(c) if c.is_ascii_alphanumeric() || c == '_')
                        && !matches!(before, Some(c) if c.is_ascii_alphanumeric() || c == '_')
                })
            })
            .collect();
        for (i, _) in expr.match_indices("by (") {
            let group = &expr[i + 4..];
            let group = &group[..group.find(')').unwrap()];
            for label in group.split(',').map(str::trim).filter(|l| !l.is_empty()) {
                assert!(
                    metrics.iter().any(|m| labels[*m].contains(label)),
                    "`by ({group})` in `{expr}`: no metric of {metrics:?} has label `{label}`"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "only {checked} grouping labels checked");
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

//! The Pushgateway client against a real Pushgateway (Debian's `prometheus-pushgateway`),
//! started by each test on 127.0.0.1 and read back through `/metrics` and
//! `/api/v1/metrics` (the Pushgateway API: <https://github.com/prometheus/pushgateway#api>).

use std::time::{Duration, Instant};

use promenade_core::push::{PushError, PushFormat, Pushgateway};
use promenade_core::{Buckets, Format, QuantileOptions, Registry};
use promenade_tests::{
    FIRST_SCRAPE_TIMEOUT, PUSHGATEWAY, PrometheusServer, PushgatewayServer, ScrapeTarget,
    StaticResponse, StaticServer, free_port, http_get, or_skip, require_tool,
};
use serde_json::Value;

fn gateway_metrics(gw: &PushgatewayServer) -> String {
    let r = http_get(&format!("{}/metrics", gw.url()), &[]).unwrap();
    assert_eq!(r.status, 200);
    r.text()
}

/// The groups of `/api/v1/metrics`: (group labels, the whole group object).
fn gateway_groups(gw: &PushgatewayServer) -> Vec<(serde_json::Map<String, Value>, Value)> {
    let r = http_get(&format!("{}/api/v1/metrics", gw.url()), &[]).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["labels"].as_object().unwrap().clone(), g.clone()))
        .collect()
}

/// Waits (bounded) until `cond` holds for the gateway's `/metrics`; DELETE is queued.
fn wait_for(gw: &PushgatewayServer, what: &str, cond: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = gateway_metrics(gw);
        if cond(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn registry_with(gauges: &[(&str, f64)]) -> Registry {
    let r = Registry::new();
    for (name, v) in gauges {
        r.gauge(name, "A test gauge.").unwrap().set(*v);
    }
    r
}

#[test]
fn push_push_add_and_delete_round_trip() {
    let gw = or_skip!(PushgatewayServer::start());
    let client = Pushgateway::builder(&gw.url(), "batch")
        .grouping("instance", "host-1")
        .build_blocking()
        .unwrap();

    // PUT: the group holds exactly what was pushed.
    let r = registry_with(&[("alpha", 1.0), ("beta", 2.0)]);
    r.counter("records_processed_total", "Records.")
        .unwrap()
        .inc_by(42.0)
        .unwrap();
    client.push(&r).unwrap();
    let text = gateway_metrics(&gw);
    assert!(
        text.contains(r#"alpha{instance="host-1",job="batch"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"beta{instance="host-1",job="batch"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"records_processed_total{instance="host-1",job="batch"} 42"#),
        "{text}"
    );
    assert!(text.contains(r#"push_time_seconds{instance="host-1",job="batch"} "#));
    assert!(text.contains(r#"push_failure_time_seconds{instance="host-1",job="batch"} 0"#));

    // POST: only the pushed families are replaced.
    client.push_add(&registry_with(&[("beta", 20.0)])).unwrap();
    let text = gateway_metrics(&gw);
    assert!(
        text.contains(r#"alpha{instance="host-1",job="batch"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"beta{instance="host-1",job="batch"} 20"#),
        "{text}"
    );

    // The JSON API sees the same group.
    let groups = gateway_groups(&gw);
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].0["job"], "batch");
    assert_eq!(groups[0].0["instance"], "host-1");
    assert_eq!(groups[0].1["beta"]["metrics"][0]["value"], "20");
    assert_eq!(groups[0].1["records_processed_total"]["type"], "COUNTER");
    assert_eq!(groups[0].1["last_push_successful"], true);

    // PUT again: everything else is gone.
    client.push(&registry_with(&[("gamma", 3.0)])).unwrap();
    let text = gateway_metrics(&gw);
    assert!(
        text.contains(r#"gamma{instance="host-1",job="batch"} 3"#),
        "{text}"
    );
    assert!(!text.contains("alpha{"), "{text}");
    assert!(!text.contains("beta{"), "{text}");

    // A second group is independent of the first.
    let other = Pushgateway::builder(&gw.url(), "batch")
        .grouping("instance", "host-2")
        .build_blocking()
        .unwrap();
    other.push(&registry_with(&[("gamma", 4.0)])).unwrap();

    // DELETE removes only this group (queued: bounded wait).
    client.delete().unwrap();
    let text = wait_for(&gw, "group deletion", |t| !t.contains("host-1"));
    assert!(
        text.contains(r#"gamma{instance="host-2",job="batch"} 4"#),
        "{text}"
    );
    other.delete().unwrap();
    wait_for(&gw, "second deletion", |t| !t.contains("gamma{"));
    assert!(gateway_groups(&gw).is_empty());
}

#[test]
fn grouping_keys_with_slash_empty_and_non_ascii_values() {
    let gw = or_skip!(PushgatewayServer::start());
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("directory_cleaner", &[("path", "/var/tmp")]),
        (
            "example",
            &[("first_label", ""), ("second_label", "foobar")],
        ),
        ("unicode", &[("name", "Προμηθεύς")]),
        ("job/with/slashes", &[("a", "x y+z&?%#é")]),
        ("spaces in job", &[("empty", ""), ("slash", "a/b/")]),
    ];
    for (i, (job, grouping)) in cases.iter().enumerate() {
        for always_base64 in [false, true] {
            let mut b = Pushgateway::builder(&gw.url(), job).always_base64(always_base64);
            for (n, v) in grouping.iter() {
                b = b.grouping(n, v);
            }
            let client = b.build_blocking().unwrap();
            let metric = format!("case_{i}");
            client
                .push(&registry_with(&[(&metric, i as f64 + 1.0)]))
                .unwrap();

            let groups = gateway_groups(&gw);
            let (labels, group) = groups
                .iter()
                .find(|(_, g)| g.get(&metric).is_some())
                .unwrap_or_else(|| panic!("{metric} not found via {}: {groups:?}", client.url()));
            assert_eq!(labels["job"], *job, "{}", client.url());
            for (n, v) in grouping.iter() {
                let got = labels.get(*n).and_then(Value::as_str).unwrap_or("");
                assert_eq!(got, *v, "label {n} via {}", client.url());
            }
            assert_eq!(labels.len(), 1 + grouping.len(), "{labels:?}");
            assert_eq!(group[&metric]["metrics"][0]["value"], format!("{}", i + 1));

            // Readable through /metrics with the same label values.
            let text = gateway_metrics(&gw);
            assert!(text.contains(&format!("{metric}{{")), "{text}");

            client.delete().unwrap();
            wait_for(&gw, "deletion", |t| !t.contains(&format!("{metric}{{")));
        }
    }
}

#[test]
fn gzip_bodies_and_gateway_errors() {
    let gw = or_skip!(PushgatewayServer::start());
    let client = Pushgateway::builder(&gw.url(), "zipped")
        .gzip(true)
        .build_blocking()
        .unwrap();
    let r = registry_with(&[("compressed", 5.0)]);
    client.push(&r).unwrap();
    let text = gateway_metrics(&gw);
    assert!(
        text.contains(r#"compressed{instance="",job="zipped"} 5"#),
        "{text}"
    );

    // A push inconsistent with another group (same name, other type) is a 400, reported
    // with the gateway's explanation.
    let bad = Registry::new();
    bad.summary("compressed", "Clash.").unwrap().observe(1.0);
    let plain = Pushgateway::builder(&gw.url(), "clash")
        .build_blocking()
        .unwrap();
    let err = plain.push(&bad).unwrap_err();
    match &err {
        PushError::Status { status, body, .. } => {
            assert_eq!(status.as_u16(), 400, "{err}");
            assert!(body.contains("inconsistent"), "{err}");
        }
        other => panic!("expected a status error, got {other}"),
    }

    // Metrics carrying a grouping label are refused before anything is sent (as the Go client
    // does: the gateway would otherwise overwrite them with the grouping key).
    let labelled = Registry::builder().const_label("job", "x").build().unwrap();
    labelled.gauge("g", "G.").unwrap();
    assert!(matches!(
        plain.push(&labelled),
        Err(PushError::LabelCollision { .. })
    ));
}

#[test]
fn protobuf_bodies() {
    let gw = or_skip!(PushgatewayServer::start());
    let client = Pushgateway::builder(&gw.url(), "proto")
        .grouping("path", "/srv/data")
        .format(PushFormat::Protobuf)
        .gzip(true)
        .build_blocking()
        .unwrap();
    let r = Registry::new();
    r.counter("files_removed_total", "Files removed.")
        .unwrap()
        .inc_by(17.0)
        .unwrap();
    let h = r
        .histogram(
            "file_age_seconds",
            "File ages.",
            Buckets::new(vec![1.0, 10.0]).unwrap(),
        )
        .unwrap();
    h.observe(0.5);
    h.observe(5.0);
    client.push(&r).unwrap();
    let text = gateway_metrics(&gw);
    assert!(
        text.contains(r#"files_removed_total{instance="",job="proto",path="/srv/data"} 17"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"file_age_seconds_bucket{instance="",job="proto",path="/srv/data",le="10"} 2"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"file_age_seconds_sum{instance="",job="proto",path="/srv/data"} 5.5"#));
    client.delete().unwrap();
}

#[test]
fn accepts_202_from_a_gateway_without_consistency_check() {
    let gw = or_skip!(PushgatewayServer::start_with_args(&[
        "--push.disable-consistency-check"
    ]));
    let client = Pushgateway::builder(&gw.url(), "fast")
        .build_blocking()
        .unwrap();
    client.push(&registry_with(&[("quick", 1.0)])).unwrap();
    client.push_add(&registry_with(&[("quick", 2.0)])).unwrap();
    wait_for(&gw, "queued push", |t| {
        t.contains(r#"quick{instance="",job="fast"} 2"#)
    });
    client.delete().unwrap();
}

#[test]
fn async_client_inside_tokio() {
    let gw = or_skip!(PushgatewayServer::start());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = gw.url();
    rt.block_on(async move {
        let client = Pushgateway::builder(&url, "async").build().unwrap();
        let r = registry_with(&[("from_async", 9.0)]);
        client.push(&r).await.unwrap();
        client.push_add(&r).await.unwrap();
        client.delete().await.unwrap();
    });
}

#[test]
fn blocking_client_inside_spawn_blocking() {
    let gw = or_skip!(PushgatewayServer::start());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let url = gw.url();
    let text = rt.block_on(async move {
        tokio::task::spawn_blocking(move || {
            // Built, used and dropped on a blocking thread of the runtime.
            let client = Pushgateway::builder(&url, "from_spawn_blocking")
                .grouping("instance", "worker-1")
                .build_blocking()
                .unwrap();
            client
                .push(&registry_with(&[("blocking_pushed", 11.0)]))
                .unwrap();
            client
                .push_add(&registry_with(&[("blocking_added", 12.0)]))
                .unwrap();
            http_get(&format!("{url}/metrics"), &[]).unwrap().text()
        })
        .await
        .unwrap()
    });
    assert!(
        text.contains(r#"blocking_pushed{instance="worker-1",job="from_spawn_blocking"} 11"#),
        "{text}"
    );
    assert!(
        text.contains(r#"blocking_added{instance="worker-1",job="from_spawn_blocking"} 12"#),
        "{text}"
    );
    let url = gw.url();
    rt.block_on(async move {
        tokio::task::spawn_blocking(move || {
            Pushgateway::builder(&url, "from_spawn_blocking")
                .grouping("instance", "worker-1")
                .build_blocking()
                .unwrap()
                .delete()
                .unwrap();
        })
        .await
        .unwrap();
    });
    wait_for(&gw, "deletion", |t| !t.contains("from_spawn_blocking"));
}

#[test]
fn down_gateway_is_a_quick_clear_error() {
    let port = promenade_tests::free_port();
    let client = Pushgateway::builder(&format!("http://127.0.0.1:{port}"), "nobody")
        .timeout(Duration::from_secs(3))
        .build_blocking()
        .unwrap();
    let start = Instant::now();
    let err = client.push(&registry_with(&[("x", 1.0)])).unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "took {:?}",
        start.elapsed()
    );
    assert!(matches!(err, PushError::Connect { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("could not reach the Pushgateway"), "{msg}");
    assert!(msg.contains(&port.to_string()), "{msg}");
}

#[test]
fn headers_auth_content_type_and_paths_on_the_wire() {
    let server = StaticServer::start(StaticResponse {
        status: 202,
        content_type: "text/plain".into(),
        headers: vec![],
        body: Vec::new(),
    });
    let base = format!("http://127.0.0.1:{}/gw/", server.port());
    let client = Pushgateway::builder(&base, "wire")
        .grouping("path", "/var/tmp")
        .basic_auth("alice", "s3cret")
        .header("X-Scope-OrgID", "tenant-1")
        .gzip(true)
        .build_blocking()
        .unwrap();
    let r = registry_with(&[("w", 1.0)]);
    client.push(&r).unwrap();
    client.push_add(&r).unwrap();
    client.delete().unwrap();
    let reqs = server.requests();
    let methods: Vec<&str> = reqs.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["PUT", "POST", "DELETE"]);
    for req in &reqs {
        assert_eq!(req.target, "/gw/metrics/job/wire/path@base64/L3Zhci90bXA");
        // base64("alice:s3cret")
        assert_eq!(req.header("authorization"), Some("Basic YWxpY2U6czNjcmV0"));
        assert_eq!(req.header("x-scope-orgid"), Some("tenant-1"));
    }
    assert_eq!(
        reqs[0].header("content-type"),
        Some(Format::Text.content_type())
    );
    assert_eq!(reqs[0].header("content-encoding"), Some("gzip"));
    assert_eq!(reqs[2].header("content-type"), None);

    // Any other status is an error carrying the status.
    server.set_response(StaticResponse {
        status: 500,
        content_type: "text/plain".into(),
        headers: vec![],
        body: b"storage full".to_vec(),
    });
    let err = client.push(&r).unwrap_err();
    assert!(err.to_string().contains("500"), "{err}");
    assert!(err.to_string().contains("storage full"), "{err}");
}

/// A Pushgateway behind basic authentication (`--web.config.file`), started here because the
/// harness's readiness probe has no credentials. Killed by PID on drop.
struct AuthGateway {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for AuthGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// bcrypt (cost 4) of `promenade-s3cret`.
const AUTH_HASH: &str = "$2b$04$W7ottsvBawfedpOOkbfzCOqAuFz1jg2w4s9Omxt2ZL3nRuNwxuh9G";
/// `Basic base64("pusher:promenade-s3cret")`.
const AUTH_HEADER: &str = "Basic cHVzaGVyOnByb21lbmFkZS1zM2NyZXQ=";

fn start_auth_gateway(binary: &std::path::Path) -> AuthGateway {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("web.yml");
    std::fs::write(
        &config,
        format!("basic_auth_users:\n  pusher: {AUTH_HASH}\n"),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let port = free_port();
    let child = std::process::Command::new(binary)
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--persistence.file=")
        .arg(format!("--web.config.file={}", config.display()))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let gw = AuthGateway {
        child,
        port,
        _dir: dir,
    };
    let ready = format!("http://127.0.0.1:{port}/-/ready");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !http_get(&ready, &[("Authorization", AUTH_HEADER)]).is_ok_and(|r| r.status == 200) {
        assert!(
            Instant::now() < deadline,
            "authenticated pushgateway not ready"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    gw
}

#[test]
fn basic_auth_against_a_protected_gateway() {
    let binary = require_tool!(PUSHGATEWAY);
    let gw = start_auth_gateway(&binary);
    let url = format!("http://127.0.0.1:{}", gw.port);
    let r = registry_with(&[("authed", 1.0)]);

    let anonymous = Pushgateway::builder(&url, "secure")
        .build_blocking()
        .unwrap();
    match anonymous.push(&r) {
        Err(PushError::Status { status, .. }) => assert_eq!(status.as_u16(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
    let wrong = Pushgateway::builder(&url, "secure")
        .basic_auth("pusher", "nope")
        .build_blocking()
        .unwrap();
    assert!(matches!(wrong.push(&r), Err(PushError::Status { .. })));

    let client = Pushgateway::builder(&url, "secure")
        .basic_auth("pusher", "promenade-s3cret")
        .build_blocking()
        .unwrap();
    client.push(&r).unwrap();
    let text = http_get(&format!("{url}/metrics"), &[("Authorization", AUTH_HEADER)])
        .unwrap()
        .text();
    assert!(
        text.contains(r#"authed{instance="",job="secure"} 1"#),
        "{text}"
    );
    client.delete().unwrap();
}

#[test]
fn prometheus_scrapes_pushed_metrics_with_honor_labels() {
    let gw = or_skip!(PushgatewayServer::start());
    let r = Registry::new();
    r.counter("files_deleted_total", "Files deleted.")
        .unwrap()
        .inc_by(12.0)
        .unwrap();
    let sizes = r
        .quantile_summary(
            "file_size_bytes",
            "Sizes of deleted files.",
            QuantileOptions::new(&[(0.5, 0.05)]).unwrap(),
        )
        .unwrap();
    for v in 1..=99 {
        sizes.observe(f64::from(v));
    }
    Pushgateway::builder(&gw.url(), "directory_cleaner")
        .grouping("path", "/var/tmp")
        .build_blocking()
        .unwrap()
        .push(&r)
        .unwrap();

    let prom = or_skip!(PrometheusServer::start(&[ScrapeTarget::new(
        "pushgateway",
        gw.port()
    )
    .honor_labels(true)]));
    prom.wait_for_up("pushgateway", FIRST_SCRAPE_TIMEOUT)
        .unwrap();
    let v = prom
        .wait_for_value(
            r#"files_deleted_total{job="directory_cleaner",path="/var/tmp"}"#,
            |v| v == 12.0,
            FIRST_SCRAPE_TIMEOUT,
        )
        .unwrap();
    assert_eq!(v, 12.0);
    let median = prom
        .query_scalar(r#"file_size_bytes{job="directory_cleaner",quantile="0.5"}"#)
        .unwrap();
    assert!((median - 50.0).abs() <= 5.0, "median {median}");
    assert_eq!(
        prom.query_scalar(r#"file_size_bytes_count{job="directory_cleaner"}"#),
        Some(99.0)
    );
}

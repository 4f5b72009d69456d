//! The Tokio runtime collector on live runtimes.

#![cfg(feature = "tokio")]

use std::time::Duration;

use promenade_core::collectors::TokioCollector;
use promenade_core::{Format, Registry};

fn sample(text: &str, name: &str) -> Option<f64> {
    promenade_core::testutil::sample_value(text, name, "")
}

#[test]
fn alive_tasks_and_workers() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .unwrap();
    let r = Registry::new();
    r.register(TokioCollector::new(rt.handle().clone()))
        .unwrap();

    let n = 20;
    let (tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let mut rx = tx.subscribe();
            rt.spawn(async move {
                let _ = rx.recv().await;
            })
        })
        .collect();
    // Let the workers run a little so they park at least once.
    std::thread::sleep(Duration::from_millis(100));
    let text = r.encode_to_string(Format::Text).unwrap();
    assert_eq!(sample(&text, "tokio_workers"), Some(3.0), "{text}");
    let alive = sample(&text, "tokio_alive_tasks").unwrap();
    assert!(alive >= n as f64, "alive {alive}\n{text}");
    assert!(sample(&text, "tokio_global_queue_depth").is_some());
    assert!(
        text.contains("# TYPE tokio_worker_park_total counter\n"),
        "{text}"
    );
    for w in 0..3 {
        assert!(text.contains(&format!("tokio_worker_park_total{{worker=\"{w}\"}} ")));
        assert!(text.contains(&format!(
            "tokio_worker_busy_seconds_total{{worker=\"{w}\"}} "
        )));
        assert!(text.contains(&format!(
            "tokio_worker_park_unpark_total{{worker=\"{w}\"}} "
        )));
    }

    tx.send(()).unwrap();
    for t in tasks {
        rt.block_on(t).unwrap();
    }
    // Tasks are gone once finished (bounded wait).
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let text = r.encode_to_string(Format::Text).unwrap();
        if sample(&text, "tokio_alive_tasks") == Some(0.0) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{text}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn current_thread_runtime_and_namespace() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let r = Registry::new();
    rt.block_on(async {
        let c = TokioCollector::current()
            .unwrap()
            .with_namespace("bg")
            .unwrap();
        r.register(c).unwrap();
        let _t = tokio::spawn(std::future::pending::<()>());
        let text = r.encode_to_string(Format::Text).unwrap();
        assert!(text.contains("bg_tokio_workers 1\n"), "{text}");
        assert!(text.contains("bg_tokio_alive_tasks 1\n"), "{text}");
        assert!(
            text.contains("bg_tokio_worker_park_total{worker=\"0\"} "),
            "{text}"
        );
    });
}

//! Unit tests of the scrape handler.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

#[test]
fn auth_scheme_is_case_insensitive_credentials_are_not() {
    let expected = b"Bearer s3cret";
    assert!(credentials_match(b"Bearer s3cret", expected));
    assert!(credentials_match(b"bearer s3cret", expected));
    assert!(credentials_match(b"BEARER s3cret", expected));
    assert!(!credentials_match(b"Bearer S3CRET", expected));
    assert!(!credentials_match(b"Basic s3cret", expected));
    assert!(!credentials_match(b"Bearers3cret", expected));
    assert!(!credentials_match(b"", expected));
    assert!(!credentials_match(b"Bearer s3cret ", expected));
}

#[test]
fn gzip_detection() {
    let mut h = HeaderMap::new();
    assert!(!accepts_gzip(&h));
    h.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("deflate, gzip;q=0"),
    );
    assert!(!accepts_gzip(&h));
    h.insert(
        header::ACCEPT_ENCODING,
        HeaderValue::from_static("identity, gzip"),
    );
    assert!(accepts_gzip(&h));
}

#[test]
fn gzip_body_decodes() {
    let r = Registry::new();
    r.gauge("g", "G.").unwrap().set(5.0);
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    let resp = ScrapeHandler::new(r).respond(&Method::GET, &h);
    assert_eq!(resp.headers()[header::CONTENT_ENCODING], "gzip");
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&resp.body()[..]),
        &mut text,
    )
    .unwrap();
    assert!(text.contains("g 5\n"));
}

#[cfg(feature = "protobuf")]
#[test]
fn protobuf_and_escaping_are_negotiated() {
    let r = Registry::new();
    r.gauge("g", "G.").unwrap().set(1.0);
    let mut h = HeaderMap::new();
    h.insert(
        header::ACCEPT,
        HeaderValue::from_static(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;escaping=values",
        ),
    );
    let resp = ScrapeHandler::new(r.clone()).respond(&Method::GET, &h);
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=values"
    );
    let families = crate::encoding::protobuf::decode_delimited(resp.body()).unwrap();
    assert_eq!(families[0].name.as_deref(), Some("g"));
}

fn counting(registry: &Registry) -> Arc<AtomicUsize> {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = Arc::clone(&calls);
    registry
        .gauge_fn("calls", "Calls.", move || {
            c.fetch_add(1, Ordering::SeqCst) as f64
        })
        .unwrap();
    calls
}

#[test]
fn head_has_the_get_headers_and_runs_no_collector() {
    let registry = Registry::new();
    let calls = counting(&registry);
    let handler = ScrapeHandler::new(registry);
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    h.insert(
        header::ACCEPT,
        HeaderValue::from_static("application/openmetrics-text;version=1.0.0"),
    );
    let get = handler.respond(&Method::GET, &h);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let head = handler.respond(&Method::HEAD, &h);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "HEAD ran a collector");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers(), get.headers());
    assert!(head.headers().get(header::CONTENT_LENGTH).is_none());
    assert!(head.body().is_empty());
}

#[test]
fn auth_is_checked_before_head_and_the_limit() {
    let handler = ScrapeHandler::builder(&Registry::new())
        .auth(ScrapeAuth::Bearer("t".into()))
        .max_concurrent_scrapes(1)
        .build()
        .unwrap();
    let _held = handler.prepare(&Method::GET, &{
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        h
    });
    for method in [Method::GET, Method::HEAD] {
        let r = handler.respond(&method, &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{method}");
    }
}

#[test]
fn concurrency_slots_are_shared_by_clones_and_released_after_the_work() {
    let handler = ScrapeHandler::builder(&Registry::new())
        .max_concurrent_scrapes(2)
        .build()
        .unwrap();
    let clone = handler.clone();
    let a = handler.prepare(&Method::GET, &HeaderMap::new());
    let b = clone.prepare(&Method::GET, &HeaderMap::new());
    assert!(matches!(a, Prepared::Encode(_)) && matches!(b, Prepared::Encode(_)));
    let busy = handler.respond(&Method::GET, &HeaderMap::new());
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
    assert!(busy.body().starts_with(b"too many concurrent scrapes"));
    // HEAD, 405 and 401 take no slot.
    assert_eq!(
        handler.respond(&Method::HEAD, &HeaderMap::new()).status(),
        200
    );
    assert_eq!(
        handler.respond(&Method::PUT, &HeaderMap::new()).status(),
        405
    );
    if let Prepared::Encode(job) = a {
        assert_eq!(job.run().status(), StatusCode::OK);
    }
    assert!(matches!(
        clone.prepare(&Method::GET, &HeaderMap::new()),
        Prepared::Encode(_)
    ));
    drop(b);
    // Zero is taken as one.
    let one = ScrapeHandler::builder(&Registry::new())
        .max_concurrent_scrapes(0)
        .build()
        .unwrap();
    assert_eq!(one.max_concurrent_scrapes(), Some(1));
    assert_eq!(one.respond(&Method::GET, &HeaderMap::new()).status(), 200);
}

#[test]
fn a_panic_while_encoding_is_a_500_and_frees_the_slot() {
    let registry = Registry::new();
    registry
        .gauge_fn("boom", "Boom.", || panic!("collector exploded"))
        .unwrap();
    let handler = ScrapeHandler::builder(&registry)
        .max_concurrent_scrapes(1)
        .build()
        .unwrap();
    for _ in 0..2 {
        let r = handler.respond(&Method::GET, &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!String::from_utf8_lossy(r.body()).contains("# TYPE"));
    }
}

#[test]
fn panic_messages_are_read_and_shortened() {
    assert_eq!(panic_message(&"static"), "static");
    assert_eq!(panic_message(&String::from("owned")), "owned");
    assert_eq!(panic_message(&42u8), "(no message)");
    let long = "é".repeat(300);
    assert_eq!(panic_message(&long).chars().count(), 201);
}

#[test]
fn the_sleep_fires_in_order_without_a_runtime_timer() {
    // A current-thread runtime without `enable_time`: the scrape timer does not need it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    rt.block_on(async {
        let long = timer::Sleep::new(Duration::from_millis(200));
        let short = timer::Sleep::new(Duration::from_millis(50));
        short.await;
        let after_short = started.elapsed();
        assert!(after_short >= Duration::from_millis(50));
        assert!(after_short < Duration::from_millis(190), "{after_short:?}");
        long.await;
    });
    assert!(started.elapsed() >= Duration::from_millis(200));
    // A duration past any Instant does not panic.
    drop(timer::Sleep::new(Duration::MAX));
}

#[test]
fn spawn_with_times_out_keeps_the_slot_then_releases_it() {
    let registry = Registry::new();
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let wait = std::sync::Mutex::new(wait);
    let (entered, entered_rx) = std::sync::mpsc::channel::<()>();
    let entered = std::sync::Mutex::new(entered);
    registry
        .gauge_fn("slow", "Slow.", move || {
            let _ = entered.lock().unwrap().send(());
            let _ = wait.lock().unwrap().recv_timeout(Duration::from_secs(10));
            1.0
        })
        .unwrap();
    let handler = ScrapeHandler::builder(&registry)
        .max_concurrent_scrapes(1)
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let scrape = |handler: &ScrapeHandler| {
        let handle = rt.handle().clone();
        rt.block_on(async {
            match handler.prepare(&Method::GET, &HeaderMap::new()) {
                Prepared::Answer(r) => r,
                Prepared::Encode(job) => job.spawn_with(move |w| handle.spawn_blocking(w)).await,
            }
        })
    };
    let timed_out = scrape(&handler);
    assert_eq!(timed_out.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        timed_out
            .body()
            .starts_with(b"scrape timed out after 100 ms")
    );
    entered_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let busy = scrape(&handler);
    assert!(busy.body().starts_with(b"too many concurrent scrapes"));
    release.send(()).unwrap();
    // The abandoned work ends and frees the slot; then a scrape goes through.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while handler
        .limit
        .as_ref()
        .unwrap()
        .running
        .load(Ordering::SeqCst)
        != 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the slot was never freed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    release.send(()).unwrap();
    assert_eq!(scrape(&handler).status(), StatusCode::OK);
}

#[test]
fn spawn_with_turns_a_failed_task_into_a_500() {
    let handler = ScrapeHandler::new(Registry::new());
    let Prepared::Encode(job) = handler.prepare(&Method::GET, &HeaderMap::new()) else {
        panic!("GET must encode");
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let r = rt.block_on(job.spawn_with(|work| {
        drop(work); // the pool refused the work
        std::future::ready(Err::<Response<Bytes>, _>("pool shut down"))
    }));
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(r.body().ends_with(b"pool shut down\n"));
}

#[test]
fn debug_does_not_print_secrets() {
    let h = ScrapeHandler::builder(&Registry::new())
        .auth(ScrapeAuth::Bearer("s3cret".into()))
        .build()
        .unwrap();
    assert!(!format!("{h:?}").contains("s3cret"));
}

#[test]
fn basic_auth() {
    let h = ScrapeHandler::builder(&Registry::new())
        .auth(ScrapeAuth::Basic {
            username: "prom".into(),
            password: "pw".into(),
        })
        .build()
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Basic cHJvbTpwdw=="),
    );
    assert_eq!(h.respond(&Method::GET, &headers).status(), StatusCode::OK);
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_static("Basic cHJvbTp4eA=="),
    );
    let denied = h.respond(&Method::GET, &headers);
    assert_eq!(denied.status(), StatusCode::UNAUTHORIZED);
    assert!(!String::from_utf8_lossy(denied.body()).contains("# TYPE"));
    assert_eq!(
        denied.headers()[header::WWW_AUTHENTICATE],
        "Basic realm=\"metrics\""
    );
}

//! The process collector against values read independently from /proc (the standard
//! `process_*` metrics of the client-library guidelines).
//!
//! One test function on purpose: the fd and thread deltas need no other test of this binary
//! opening files or starting threads at the same time.

#![cfg(all(target_os = "linux", feature = "process"))]

use std::fs::File;
use std::sync::{Arc, Barrier};

use promenade_core::collectors::{ProcessCollector, register_process_collector};
use promenade_core::{Format, Registry};

fn sample(text: &str, name: &str) -> Option<f64> {
    promenade_core::testutil::sample_value(text, name, "")
}

fn scrape(r: &Registry, name: &str) -> f64 {
    let text = r.encode_to_string(Format::Text).unwrap();
    sample(&text, name).unwrap_or_else(|| panic!("{name} missing in:\n{text}"))
}

/// A `Key:  value kB` line of /proc/self/status.
fn status_field(key: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/self/status"))
}

/// Fields of /proc/self/stat after the command name; index 0 is field 3 (state).
fn stat_fields() -> Vec<String> {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn process_metrics_match_proc() {
    let r = Registry::new();
    register_process_collector(&r).unwrap();
    let text = r.encode_to_string(Format::Text).unwrap();

    // Help strings and types, as the client-library guidelines list them.
    for (name, help, ty) in [
        (
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            "counter",
        ),
        (
            "process_open_fds",
            "Number of open file descriptors.",
            "gauge",
        ),
        (
            "process_max_fds",
            "Maximum number of open file descriptors.",
            "gauge",
        ),
        (
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            "gauge",
        ),
        (
            "process_virtual_memory_max_bytes",
            "Maximum amount of virtual memory available in bytes.",
            "gauge",
        ),
        (
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            "gauge",
        ),
        (
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            "gauge",
        ),
        (
            "process_threads",
            "Number of OS threads in the process.",
            "gauge",
        ),
    ] {
        // Text 0.0.4 names counter families with `_total`.
        assert!(
            text.contains(&format!("# HELP {name} {help}\n")),
            "{name} help:\n{text}"
        );
        assert!(
            text.contains(&format!("# TYPE {name} {ty}\n")),
            "{name} type:\n{text}"
        );
        let v = sample(&text, name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(v.is_finite() && v >= 0.0, "{name} = {v}");
    }
    assert!(!text.contains("NaN"));

    // Resident memory against VmRSS (kB), within 10 % or 8 MiB.
    let rss = scrape(&r, "process_resident_memory_bytes");
    let vm_rss = status_field("VmRSS") * 1024.0;
    assert!(
        (rss - vm_rss).abs() <= (vm_rss * 0.1).max(8.0 * 1024.0 * 1024.0),
        "rss {rss} vs VmRSS {vm_rss}"
    );
    // Virtual memory against VmSize (kB).
    let vsize = scrape(&r, "process_virtual_memory_bytes");
    let vm_size = status_field("VmSize") * 1024.0;
    assert!(
        (vsize - vm_size).abs() <= (vm_size * 0.1).max(64.0 * 1024.0 * 1024.0),
        "vsize {vsize} vs VmSize {vm_size}"
    );

    // Open fds: exactly N more after opening N files.
    let before = scrape(&r, "process_open_fds");
    let files: Vec<File> = (0..25).map(|_| File::open("/dev/null").unwrap()).collect();
    let after = scrape(&r, "process_open_fds");
    assert_eq!(after - before, 25.0, "open fds {before} -> {after}");
    let independent = std::fs::read_dir("/proc/self/fd").unwrap().count() as f64;
    assert!(
        (after - independent).abs() <= 1.0,
        "{after} vs {independent}"
    );
    drop(files);
    assert_eq!(scrape(&r, "process_open_fds"), before);

    // Threads: at least N more while N threads are alive.
    let before = scrape(&r, "process_threads");
    let n = 6;
    let start = Arc::new(Barrier::new(n + 1));
    let stop = Arc::new(Barrier::new(n + 1));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (start, stop) = (Arc::clone(&start), Arc::clone(&stop));
            std::thread::spawn(move || {
                start.wait();
                stop.wait();
            })
        })
        .collect();
    start.wait();
    let during = scrape(&r, "process_threads");
    let independent = status_field("Threads");
    stop.wait();
    handles.into_iter().for_each(|h| h.join().unwrap());
    assert!(during - before >= n as f64, "threads {before} -> {during}");
    assert!(during >= independent - 2.0 && during <= independent + 2.0);

    // Max fds against the soft limit of /proc/self/limits.
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l["Max open files".len()..].split_whitespace().next())
        .unwrap();
    let max_fds = scrape(&r, "process_max_fds");
    match soft {
        "unlimited" => assert_eq!(max_fds, u64::MAX as f64),
        v => assert_eq!(max_fds, v.parse::<f64>().unwrap()),
    }
    let max_as = limits
        .lines()
        .find(|l| l.starts_with("Max address space"))
        .and_then(|l| l["Max address space".len()..].split_whitespace().next())
        .unwrap();
    if max_as == "unlimited" {
        assert!(text.contains("process_virtual_memory_max_bytes 1.8446744073709552e+19\n"));
    }

    // Start time: btime + starttime / USER_HZ (100 on Linux), and not in the future.
    let btime: f64 = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse().ok())
        .unwrap();
    let starttime: f64 = stat_fields()[19].parse().unwrap();
    let start_time = scrape(&r, "process_start_time_seconds");
    assert!((start_time - (btime + starttime / 100.0)).abs() < 1.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(start_time <= now + 1.0 && start_time > now - 3600.0);

    // CPU time grows with work.
    let cpu0 = scrape(&r, "process_cpu_seconds_total");
    let t = std::time::Instant::now();
    let mut x = 0u64;
    while t.elapsed() < std::time::Duration::from_millis(300) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    std::hint::black_box(x);
    let cpu1 = scrape(&r, "process_cpu_seconds_total");
    assert!(cpu1 >= cpu0 + 0.1, "cpu {cpu0} -> {cpu1}");

    // Namespaced names.
    let r2 = Registry::new();
    r2.register(ProcessCollector::with_namespace("app").unwrap())
        .unwrap();
    let text = r2.encode_to_string(Format::OpenMetrics).unwrap();
    assert!(text.contains("app_process_open_fds "));
    assert!(text.contains("app_process_cpu_seconds_total "));
}

//! Resident memory of the 100,000-counter-series scenario for one library.
//!
//! `rss <promenade|prometheus-client|prometheus|metrics> [series] [counters|histograms]`
//! builds the series (one family, labels method/route/status; counters unless told
//! otherwise), encodes them once to text, and prints `VmRSS` from
//! `/proc/self/status` at start, after building and after encoding (output buffer dropped),
//! plus the peak `VmHWM`. Run it once per library, each in its own process.

use promenade_benches::{Library, build_counters, build_histograms};

/// A `Vm*` line of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let lib: Library = match args.next().map(|a| a.parse()) {
        Some(Ok(lib)) => lib,
        Some(Err(e)) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
        None => {
            eprintln!(
                "usage: rss <promenade|prometheus-client|prometheus|metrics> [series] [counters|histograms]"
            );
            std::process::exit(2);
        }
    };
    let n: usize = args
        .next()
        .map_or(100_000, |a| a.parse().expect("series count is a number"));
    let (kind, build): (&str, fn(Library, usize) -> _) = match args.next().as_deref() {
        None | Some("counters") => ("counters", build_counters),
        Some("histograms") => ("histograms", build_histograms),
        Some(other) => {
            eprintln!("unknown kind {other:?}: expected counters or histograms");
            std::process::exit(2);
        }
    };

    let start = status_kib("VmRSS");
    let scenario = build(lib, n);
    let built = status_kib("VmRSS");
    let mut out = String::new();
    scenario.encode(&mut out);
    let bytes = out.len();
    drop(out);
    let encoded = status_kib("VmRSS");
    let peak = status_kib("VmHWM");
    println!(
        "library={lib} kind={kind} series={n} text_bytes={bytes} rss_start_kib={start} rss_built_kib={built} rss_after_encode_kib={encoded} hwm_kib={peak}"
    );
    // Keep the series alive until after the last reading.
    drop(scenario);
}

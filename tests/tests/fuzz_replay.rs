//! The fuzz targets on the stable toolchain (CI has no nightly, so libFuzzer cannot run
//! there): replays every committed input in `fuzz/corpus/<target>/` and
//! `fuzz/artifacts/<target>/`, then feeds the same checks seeded pseudo-random inputs and
//! mutations of the corpus for a bounded time. The checks are `fuzz/src/checks.rs`, compiled
//! here unchanged, so a corpus file means the same program on both sides. See fuzz/README.md.
//!
//! It lives in `promenade-tests` (not published) rather than in `promenade-core` because it
//! reads files outside the core's package (`fuzz/`). The checks need the core's `protobuf`
//! feature, a default one, which this crate's `promenade-core` dependency keeps.

// Its items are `pub` for the fuzz crate, which exports the module as `promenade_fuzz::checks`.
#[allow(unreachable_pub)]
#[path = "../../fuzz/src/checks.rs"]
mod checks;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use promenade_tests::Rng;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 3] = [
    ("encode", checks::encode),
    ("accept", checks::accept),
    ("names", checks::names),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, sorted (none if the directory does not exist).
fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(dir) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = dir
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn run(target: Target, input: &[u8], what: &dyn Fn() -> String) {
    if catch_unwind(AssertUnwindSafe(|| target(input))).is_err() {
        panic!("fuzz check failed on {} (input {:02x?})", what(), input);
    }
}

#[test]
fn replay_committed_corpus_and_artifacts() {
    for (name, target) in TARGETS {
        let corpus = inputs("corpus", name);
        assert!(
            !corpus.is_empty(),
            "no corpus committed for fuzz target {name}"
        );
        for kind in ["corpus", "artifacts"] {
            for (path, bytes) in inputs(kind, name) {
                run(target, &bytes, &|| path.display().to_string());
            }
        }
    }
}

/// Random bytes, or a corpus file with a few bytes overwritten, inserted or removed.
fn random_input(rng: &mut Rng, corpus: &[(PathBuf, Vec<u8>)]) -> Vec<u8> {
    if corpus.is_empty() || rng.below(3) == 0 {
        let len = rng.below(256);
        return (0..len).map(|_| rng.next() as u8).collect();
    }
    let mut v = corpus[rng.below(corpus.len())].1.clone();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(3) {
            0 if at < v.len() => v[at] = rng.next() as u8,
            1 => v.insert(at, rng.next() as u8),
            _ if at < v.len() => {
                v.remove(at);
            }
            _ => {}
        }
    }
    v
}

#[test]
fn seeded_random_inputs() {
    // Per target: stop after this many inputs or this much time, whichever comes first
    // (about 15 s in all for a debug build on a slow machine; far fewer on a fast one).
    const MAX_INPUTS: usize = 20_000;
    const MAX_TIME: Duration = Duration::from_secs(5);
    for (i, (name, target)) in TARGETS.into_iter().enumerate() {
        let corpus = inputs("corpus", name);
        let seed = 0x5eed_0000_0000_0001 ^ (i as u64) << 32;
        let mut rng = Rng(seed);
        let start = Instant::now();
        let mut n = 0;
        while n < MAX_INPUTS && start.elapsed() < MAX_TIME {
            let input = random_input(&mut rng, &corpus);
            run(target, &input, &|| {
                format!("{name}, seed {seed:#x}, input #{n}")
            });
            n += 1;
        }
        eprintln!("{name}: {n} seeded inputs in {:?}", start.elapsed());
    }
}

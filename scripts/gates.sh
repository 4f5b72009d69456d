#!/usr/bin/env bash
# Promenade's CI gates: the checks besides the test suite. `scripts/test.sh` runs them before
# the tests (CI: .ci/run -> scripts/test.sh); they also run alone:
#
#   bash scripts/gates.sh                  # every gate, in the order below
#   bash scripts/gates.sh fmt clippy       # only these
#   bash scripts/test.sh --gates-only      # the same as the first line
#
# Needs: cargo (with rustfmt and clippy), python3 (reads `cargo metadata`). Nothing is
# downloaded except crates from crates.io when the registry cache lacks one.
#
# Cost on the 2-core machine, target dir warm from a full test run (cold: first build of the
# check/package artifacts, see the report in the commit that added this):
#   fmt        ~1 s     cargo fmt --all -- --check
#   clippy     ~40 s    cargo clippy --workspace --all-targets --all-features -- -D warnings
#   doc        ~40 s    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps
#   package    ~25 s    the published crates' file lists, then `cargo package` (verify: builds
#                       each packaged crate against the others' packages), warm
#   features   ~35 s    clippy -D warnings on each published crate's library with its default
#                       features, with none, and with each feature alone (warm)
#   msrv       ~1 s     scripts/msrv-deps.py: no dependency needs a newer Rust than rust-version
# (measured values: see the numbers printed at the end of a run.)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Compile everything with the toolchain that runs this script. When cargo is not started
# through rustup's proxy (which sets RUSTUP_TOOLCHAIN), rustup's `rustc` proxy honours a
# rust-toolchain.toml in the directory rustc runs in, and a dependency may ship one
# (convert_case 0.10, under actix-web, pins 1.83.0): the package gate's verify builds then
# fail with "toolchain '1.83.0' is not installed".
if [ -z "${RUSTUP_TOOLCHAIN:-}" ] && command -v rustup >/dev/null 2>&1; then
    RUSTUP_TOOLCHAIN=$(rustup show active-toolchain | awk '{print $1}')
    export RUSTUP_TOOLCHAIN
fi

PUBLISHED=(promenade-core promenade-tower promenade-actix promenade-tonic)
ALL_GATES=(fmt clippy doc package features msrv)

section() { printf '\n==== %s ====\n' "$*"; }

gate_fmt() {
    cargo fmt --all -- --check
}

gate_clippy() {
    cargo clippy --workspace --all-targets --all-features -- -D warnings
}

gate_doc() {
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps
}

# What a published package may contain: the manifest (and cargo's generated files), the
# license, the README, and Rust sources of the crate's own targets. Anything else (profiler
# output, fixtures read from outside the package, editor files) fails the gate.
ALLOWED_FILE='^(\.cargo_vcs_info\.json|Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|LICENSE|README\.md|build\.rs|(src|tests|examples|benches)/.+\.rs|tests/[a-z_]+\.proptest-regressions)$'

gate_package() {
    local p list bad rc=0 dir ok
    for p in "${PUBLISHED[@]}"; do
        ok=1
        list=$(cargo package --list --allow-dirty -p "$p" 2>/dev/null)
        bad=$(grep -Ev "$ALLOWED_FILE" <<<"$list" || true)
        if [ -n "$bad" ]; then
            echo "error: $p would ship files that are not its own sources, README or LICENSE:" >&2
            sed 's/^/    /' <<<"$bad" >&2
            ok=0
        fi
        for f in LICENSE README.md; do
            if ! grep -qx "$f" <<<"$list"; then
                echo "error: $p does not ship $f" >&2
                ok=0
            fi
        done
        dir=$(cargo metadata --no-deps --format-version 1 |
            python3 -c "import json,sys,os; print(next(os.path.dirname(p['manifest_path']) for p in json.load(sys.stdin)['packages'] if p['name']=='$p'))")
        if ! cmp -s LICENSE "$dir/LICENSE"; then
            echo "error: $dir/LICENSE differs from the root LICENSE" >&2
            ok=0
        fi
        if [ "$ok" = 1 ]; then
            echo "$p: $(wc -l <<<"$list") files, only sources, README.md and LICENSE"
        else
            rc=1
        fi
    done
    if [ "$rc" != 0 ]; then return "$rc"; fi
    # cargo >= 1.90 packages interdependent workspace crates together (a local registry of the
    # new .crate files) and verifies each: builds it from its .crate alone, so a missing file,
    # a path-only dependency or a feature that only the workspace turned on fails here.
    local args=()
    for p in "${PUBLISHED[@]}"; do args+=(-p "$p"); done
    local target version
    target=$(cargo metadata --no-deps --format-version 1 |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
    # The verify builds take our crates from a local registry, and cargo treats registry
    # crates as immutable: it neither re-extracts a version it has unpacked before (under
    # $CARGO_HOME/registry/src) nor rebuilds one it has compiled, so a second run on the same
    # machine would verify the adapters against a stale core. Our crates' unpacked and
    # compiled copies are dropped first (only ours: the dependencies stay warm).
    rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/promenade-* \
        "$target"/debug/.fingerprint/promenade-* "$target"/debug/deps/libpromenade_* \
        "$target"/debug/deps/promenade_* "$target"/debug/build/promenade-*
    cargo package --allow-dirty "${args[@]}"
    for p in "${PUBLISHED[@]}"; do
        version=$(cargo pkgid -p "$p" | sed 's/.*[@#]//')
        if grep -q 'example\.invalid' "$target/package/$p-$version/Cargo.toml"; then
            # Not fatal while grpc/Cargo.toml still inherits the placeholder (see Cargo.toml).
            echo "warning: $p's packaged manifest has a placeholder URL (example.invalid)" >&2
        fi
    done
}

# Each published crate's library with its default features, with no features, and with each
# feature alone, under clippy -D warnings (so an import left unused by a combination fails
# too). A loop over `cargo metadata` rather than cargo-hack: nothing to install or build
# first, and the matrix is small (1 + 1 + one per feature, per crate). `-p` resolves the
# features of that crate alone (resolver 3), so the workspace's other members do not turn
# anything on behind its back; dev-dependencies are not built (--lib).
gate_features() {
    local p f feats rc=0 failed=()
    for p in "${PUBLISHED[@]}"; do
        feats=$(cargo metadata --no-deps --format-version 1 | python3 -c "
import json, sys
pkg = next(p for p in json.load(sys.stdin)['packages'] if p['name'] == '$p')
print(' '.join(sorted(f for f in pkg['features'] if f != 'default')))")
        for f in default none $feats; do
            local args=(-p "$p" --lib)
            case "$f" in
            default) ;;
            none) args+=(--no-default-features) ;;
            *) args+=(--no-default-features --features "$f") ;;
            esac
            echo "-- $p [$f]"
            if ! cargo clippy --quiet "${args[@]}" -- -D warnings; then
                failed+=("$p [$f]")
                rc=1
            fi
        done
    done
    if [ "$rc" != 0 ]; then
        echo "error: these feature combinations do not build cleanly: ${failed[*]}" >&2
        return "$rc"
    fi
}

gate_msrv() {
    python3 scripts/msrv-deps.py
}

gates=("$@")
[ "${#gates[@]}" -gt 0 ] || gates=("${ALL_GATES[@]}")
for g in "${gates[@]}"; do
    if ! declare -F "gate_$g" >/dev/null; then
        echo "error: unknown gate '$g' (gates: ${ALL_GATES[*]})" >&2
        exit 2
    fi
done
if ! command -v python3 >/dev/null 2>&1; then
    echo "error: the gates need python3 (to read cargo metadata)" >&2
    exit 1
fi

# A gate runs as a plain command, not in an `if`: bash ignores `set -e` inside a function
# called as a condition, so a failing step would not stop it. On failure `set -e` ends the
# script and this trap names the gate.
current="" start=$SECONDS
trap 'rc=$?; if [ "$rc" != 0 ] && [ -n "$current" ]; then echo "error: gate $current failed (exit $rc) after $((SECONDS - start)) s" >&2; fi' EXIT
# CPU seconds (user + system) of this shell's finished child processes, steadier than wall
# time on a shared machine. `times` must run in this shell (a subshell has its own children).
times_file=$(mktemp)
cpu_seconds() { awk 'END { split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }' "$times_file"; }
timings=()
for g in "${gates[@]}"; do
    section "gate: $g"
    current=$g start=$SECONDS
    times >"$times_file"
    cpu_start=$(cpu_seconds)
    "gate_$g"
    times >"$times_file"
    timings+=("$(printf '%-9s %4d s wall %5d s CPU' "$g" $((SECONDS - start)) $(($(cpu_seconds) - cpu_start)))")
done
rm -f "$times_file"
current=""
section "gates passed"
printf '  %s\n' "${timings[@]}"

#!/usr/bin/env bash
# Promenade's test command: installs what the end-to-end tests need (only when it is
# missing), runs the gates (scripts/gates.sh: fmt, clippy, doc, package, feature matrix,
# MSRV of dependencies), then the whole test suite with end-to-end tests REQUIRED, so a
# missing tool is a failure instead of a silent skip.
#
#   bash scripts/test.sh                      # everything: gates, then tests (CI)
#   bash scripts/test.sh --gates-only         # only the gates (same as scripts/gates.sh)
#   bash scripts/test.sh --no-gates           # only the tests
#   bash scripts/test.sh -p promenade-tests   # one package, no gates (extra args go to cargo test)
#   bash scripts/test.sh -- --nocapture       # args after -- go to the test binaries
#
# Time on the 2-core machine: gates about 4 min with a warm target dir (see gates.sh), tests
# about 15 min; CI's limit is 90 min.
#
# Needs: cargo; apt-get (Debian) and root or sudo when prometheus/promtool/pushgateway are
# missing; python3 (pip) when the prometheus_client module is missing.
# The tests start their own Prometheus/Pushgateway on free 127.0.0.1 ports; they never
# use the system services or the default ports 9090/9091.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

run_gates=1
case "${1:-}" in
--gates-only) exec bash scripts/gates.sh ;;
--no-gates)
    run_gates=0
    shift
    ;;
esac

section() { printf '\n==== %s ====\n' "$*"; }

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi

APT_UPDATED=0
apt_install() {
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: apt-get not available; install these yourself: $*" >&2
        exit 1
    fi
    # Never start system services from package maintainer scripts: if the machine has no
    # policy-rc.d, put a temporary one in place that forbids service starts.
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# temporary, from promenade scripts/test.sh\nexit 101\n' |
            $SUDO tee "$policy" >/dev/null
        $SUDO chmod 755 "$policy"
        created_policy=1
    fi
    if [ "$APT_UPDATED" = 0 ]; then
        $SUDO apt-get update
        APT_UPDATED=1
    fi
    local rc=0
    $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y --no-install-recommends "$@" || rc=$?
    if [ "$created_policy" = 1 ]; then
        $SUDO rm -f "$policy"
    fi
    return "$rc"
}

section "Checking end-to-end test prerequisites"
missing_pkgs=()
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    missing_pkgs+=(prometheus)
fi
if ! command -v prometheus-pushgateway >/dev/null 2>&1; then
    missing_pkgs+=(prometheus-pushgateway)
fi
if ! command -v python3 >/dev/null 2>&1; then
    missing_pkgs+=(python3 python3-pip)
fi

if [ "${#missing_pkgs[@]}" -gt 0 ]; then
    section "Installing Debian packages: ${missing_pkgs[*]}"
    apt_install "${missing_pkgs[@]}"
else
    echo "prometheus, promtool, prometheus-pushgateway and python3 are installed"
fi
for tool in promtool prometheus prometheus-pushgateway python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is still not on PATH after installing packages" >&2
        exit 1
    fi
done

py_has_client() { python3 -c 'import prometheus_client' >/dev/null 2>&1; }
if ! py_has_client; then
    section "Installing the Python package prometheus_client"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        apt_install python3-pip
    fi
    # A Debian system python refuses plain pip installs (PEP 668); fall back to
    # --break-system-packages, then to Debian's own package.
    python3 -m pip install prometheus_client ||
        python3 -m pip install --break-system-packages prometheus_client ||
        apt_install python3-prometheus-client
    if ! py_has_client; then
        echo "error: python3 still cannot import prometheus_client" >&2
        exit 1
    fi
else
    echo "python3 can import prometheus_client"
fi

section "Tool versions"
promtool --version 2>&1 | head -n 1
prometheus --version 2>&1 | head -n 1
prometheus-pushgateway --version 2>&1 | head -n 1
python3 -c 'import sys, prometheus_client.metrics as m; print("python", sys.version.split()[0], "prometheus_client at", m.__file__)'
cargo --version

export PROMENADE_E2E=required

# `--workspace` would override `-p`/`--package`, so only add it when no package is named.
# The benchmark crate (anchor crates, criterion) is left out: benchmarks are not tests.
scope=(--workspace --exclude promenade-benches)
for arg in "$@"; do
    case "$arg" in
    --) break ;;
    -p | -p* | --package | --package=*)
        scope=()
        run_gates=0 # a one-package run is a developer's quick loop
        ;;
    esac
done

if [ "$run_gates" = 1 ]; then
    section "Gates (scripts/gates.sh)"
    bash scripts/gates.sh
fi

cmd=(cargo test "${scope[@]}" --all-features "$@")
section "${cmd[*]}  (PROMENADE_E2E=required)"
"${cmd[@]}"
section "All tests passed"

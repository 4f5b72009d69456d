#!/usr/bin/env python3
"""Gate: no published crate depends on a crate whose declared rust-version is newer than its own.

For each published workspace crate, walks its normal (non-dev, non-build) dependencies over
the versions locked in Cargo.lock, every target platform, with the features `cargo metadata
--all-features` resolves for the whole workspace (a superset of any one crate's), and compares
each dependency's `rust-version` with the crate's own. Exits 1 naming the offenders.

This checks the dependency side of the `rust-version` fields (Cargo.toml explains the values).
The code side is covered elsewhere: clippy's `incompatible_msrv` lint (in the clippy gate)
flags std APIs stabilised after the declared version; language features (let-chains need
1.88) are not checked automatically. No older toolchain is installed here.

    python3 scripts/msrv-deps.py            # every package with publish != false
    python3 scripts/msrv-deps.py -v         # also list each crate's newest dependencies
"""

import json
import subprocess
import sys


def version_key(v):
    return tuple(int(x) for x in v.split(".")) + (0,) * (3 - len(v.split(".")))


def main():
    verbose = "-v" in sys.argv[1:]
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--format-version", "1", "--all-features", "--locked"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    pkgs = {p["id"]: p for p in meta["packages"]}
    nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
    members = set(meta["workspace_members"])
    failed = False
    for mid in sorted(members, key=lambda i: pkgs[i]["name"]):
        pkg = pkgs[mid]
        if pkg.get("publish") == []:  # publish = false
            continue
        own = pkg.get("rust_version")
        if own is None:
            print(f"{pkg['name']}: no rust-version declared")
            failed = True
            continue
        # Normal dependencies, transitively.
        seen, stack = set(), [mid]
        while stack:
            for dep in nodes[stack.pop()]["deps"]:
                if any(k["kind"] is None for k in dep["dep_kinds"]) and dep["pkg"] not in seen:
                    seen.add(dep["pkg"])
                    stack.append(dep["pkg"])
        deps = sorted(
            (pkgs[d] for d in seen if pkgs[d].get("rust_version")),
            key=lambda p: version_key(p["rust_version"]),
            reverse=True,
        )
        too_new = [p for p in deps if version_key(p["rust_version"]) > version_key(own)]
        newest = ", ".join(f"{p['name']} {p['version']} ({p['rust_version']})" for p in deps[:3])
        status = "FAIL" if too_new else "ok"
        print(f"{pkg['name']}: rust-version {own}, {len(seen)} normal dependencies; {status}")
        if verbose or too_new:
            print(f"  newest: {newest}")
        for p in too_new:
            print(f"  {p['name']} {p['version']} needs Rust {p['rust_version']} > {own}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

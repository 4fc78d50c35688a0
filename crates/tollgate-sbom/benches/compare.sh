#!/usr/bin/env bash
# Side-by-side SBOM generation: `tollgate sbom` against cargo-cyclonedx (a 2,000-package Cargo
# workspace) and cdxgen (a 5,000-package npm lockfile), timed with hyperfine on trees generated
# by examples/gen_bench_trees.rs (the generators the criterion benchmark uses).
#
# Not part of the test suite; run it by hand:
#
#   crates/tollgate-sbom/benches/compare.sh [WORKDIR]
#
# Needs hyperfine (apt-get install hyperfine), cargo-cyclonedx (cargo install cargo-cyclonedx
# --locked) and cdxgen (npm install -g @cyclonedx/cdxgen). A missing peer tool skips its
# comparison. Settings from the environment:
#   WARMUP=2        hyperfine --warmup
#   CARGO_MIN_RUNS=10  hyperfine --min-runs for the Cargo comparison
#   NPM_MIN_RUNS=5     hyperfine --min-runs for the npm one (cdxgen takes about a minute a run)
#   ONLY=cargo|npm  run one comparison
#   TOLLGATE=PATH   the tollgate binary (default: built with cargo build --release)
#
# Everything stays offline: the Cargo tree has only path packages (CARGO_NET_OFFLINE=true for
# cargo-cyclonedx's `cargo metadata`), cdxgen runs with FETCH_LICENSE=false and
# --no-install-deps so that it only reads the lockfile.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
work=${1:-$(mktemp -d -t tollgate-sbom-compare.XXXXXX)}
warmup=${WARMUP:-2}
cargo_min_runs=${CARGO_MIN_RUNS:-10}
npm_min_runs=${NPM_MIN_RUNS:-5}
only=${ONLY:-all}
mkdir -p "$work/out"

command -v hyperfine >/dev/null || { echo "compare.sh: hyperfine is not installed" >&2; exit 2; }
command -v python3 >/dev/null || { echo "compare.sh: python3 is needed to read the results" >&2; exit 2; }

if [[ -z ${TOLLGATE:-} ]]; then
    (cd "$repo" && cargo build --quiet --release -p tollgate-cli)
    TOLLGATE=$repo/target/release/tollgate
fi
(cd "$repo" && cargo build --quiet --release -p tollgate-sbom --example gen_bench_trees)
gen=$repo/target/release/examples/gen_bench_trees

echo "== trees in $work"
if [[ ! -f $work/cargo/Cargo.lock ]]; then
    rm -rf "$work/cargo" "$work/cargo-cc"
    "$gen" --cargo "$work/cargo"
fi
if [[ ! -f $work/npm/package-lock.json ]]; then
    rm -rf "$work/npm"
    "$gen" --npm "$work/npm"
fi

echo "== versions"
"$TOLLGATE" --version || true
hyperfine --version
have_cc=false; have_cdxgen=false
if cargo cyclonedx --version >/dev/null 2>&1; then have_cc=true; cargo cyclonedx --version; fi
if command -v cdxgen >/dev/null; then have_cdxgen=true; cdxgen --version | head -1; fi

# The cargo-cyclonedx command: every member, all features, all targets, transitive dependencies
# (--all), JSON, its newest specification version; one SBOM per member is all it writes.
cc_flags="-f json --all --all-features --target all --spec-version 1.5 -q"
cdxgen_flags="-t js --no-install-deps --spec-version 1.6"

if [[ $only != npm ]]; then
    if $have_cc; then
        # cargo-cyclonedx writes its SBOMs next to each member's Cargo.toml: give it a copy of
        # its own, so that Tollgate does not walk them.
        rm -rf "$work/cargo-cc"
        cp -r "$work/cargo" "$work/cargo-cc"
        echo "== Cargo: tollgate vs cargo-cyclonedx ($cc_flags)"
        hyperfine --warmup "$warmup" --min-runs "$cargo_min_runs" --export-json "$work/cargo.json" \
            -n tollgate "'$TOLLGATE' sbom '$work/cargo' -o '$work/out/tollgate-cargo.json'" \
            -n cargo-cyclonedx "CARGO_NET_OFFLINE=true cargo cyclonedx --manifest-path '$work/cargo-cc/Cargo.toml' $cc_flags"
    else
        echo "== Cargo: cargo-cyclonedx not installed, skipped"
    fi
fi
if [[ $only != cargo ]]; then
    if $have_cdxgen; then
        echo "== npm: tollgate vs cdxgen ($cdxgen_flags)"
        hyperfine --warmup "$warmup" --min-runs "$npm_min_runs" --export-json "$work/npm.json" \
            -n tollgate "'$TOLLGATE' sbom '$work/npm' -o '$work/out/tollgate-npm.json'" \
            -n cdxgen "FETCH_LICENSE=false cdxgen $cdxgen_flags -o '$work/out/cdxgen-npm.json' '$work/npm'"
    else
        echo "== npm: cdxgen not installed, skipped"
    fi
fi

echo "== summary"
python3 - "$work" <<'EOF'
import glob, json, os, sys

work = sys.argv[1]

def components(pattern):
    files = sorted(glob.glob(os.path.join(work, pattern)))
    total, unique = 0, set()
    for f in files:
        with open(f) as fh:
            doc = json.load(fh)
        comps = doc.get("components", [])
        total += len(comps)
        unique.update(c.get("purl") or c.get("bom-ref") for c in comps)
    return len(files), total, len(unique)

outputs = {
    ("cargo", "tollgate"): "out/tollgate-cargo.json",
    ("cargo", "cargo-cyclonedx"): "cargo-cc/crates/*/*.cdx.json",
    ("npm", "tollgate"): "out/tollgate-npm.json",
    ("npm", "cdxgen"): "out/cdxgen-npm.json",
}
print(f"{'tree':6} {'tool':16} {'median s':>9} {'mean s':>8} {'stddev':>7} {'min s':>7} {'max s':>7} {'runs':>4} {'vs tollgate':>11}  output")
for tree in ("cargo", "npm"):
    path = os.path.join(work, f"{tree}.json")
    if not os.path.exists(path):
        continue
    with open(path) as fh:
        results = json.load(fh)["results"]
    base = next(r["median"] for r in results if r["command"] == "tollgate")
    for r in results:
        files, total, unique = components(outputs[(tree, r["command"])])
        print(
            f"{tree:6} {r['command']:16} {r['median']:9.3f} {r['mean']:8.3f} {r['stddev']:7.3f} "
            f"{r['min']:7.3f} {r['max']:7.3f} {len(r['times']):4} {r['median'] / base:10.1f}x"
            f"  {files} file(s), {total} components ({unique} distinct)"
        )
EOF

#!/usr/bin/env bash
# Evidence bundles at the issue's size: 10,000 files / 2 GB, built and verified with the release
# `tollgate` binary, side by side with `sha256sum` over the same files (hyperfine), plus the
# maximum resident set size of build and verify (/usr/bin/time -v) at 200 MB and at 2 GB to
# show that memory stays flat. Target: verify at >= 70% of sha256sum's throughput.
#
# Usage: crates/tollgate-evidence/benches/compare.sh
# Environment: FILES (10000), TOTAL_MB (2000), SMALL_FILES (1000), SMALL_MB (200), RUNS (5,
# verify and sha256sum), BUILD_RUNS (2), WARMUP (1). The data lives in target/evidence-bench and
# is deleted on exit, also on failure; the figures are kept in target/evidence-bench-results.md.
set -euo pipefail

FILES=${FILES:-10000}
TOTAL_MB=${TOTAL_MB:-2000}
SMALL_FILES=${SMALL_FILES:-1000}
SMALL_MB=${SMALL_MB:-200}
RUNS=${RUNS:-5}
BUILD_RUNS=${BUILD_RUNS:-2}
WARMUP=${WARMUP:-1}

ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
WORK="$ROOT/target/evidence-bench"
RESULTS="$ROOT/target/evidence-bench-results.md"
TG="$ROOT/target/release/tollgate"

for tool in hyperfine sha256sum openssl python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || {
        echo "compare.sh: $tool is missing (hyperfine: apt-get install -y hyperfine; /usr/bin/time: apt-get install -y time)" >&2
        exit 2
    }
done

rm -rf "$WORK"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT

echo "== cargo build --release -p tollgate-cli" >&2
(cd "$ROOT" && cargo build --release -p tollgate-cli)

# generate DIR FILES MB: a run directory of FILES files totalling MB megabytes (10^6 bytes).
# Sizes from a fixed seed: 90% small (1-64 KiB, reports and logs), the rest large artifacts
# sharing what is left. Data is an AES-128-CTR keystream with a fixed key: incompressible and
# the same on every run.
generate() {
    python3 - "$1" "$2" "$3" <<'EOF'
import os, random, subprocess, sys
out, files, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) * 1_000_000
rng = random.Random(20231114)
small = files * 9 // 10
sizes = [rng.randint(1024, 64 * 1024) for _ in range(small)]
rest = max(total - sum(sizes), 0)
weights = [rng.randint(1, 1000) for _ in range(files - small)]
sizes += [rest * w // sum(weights) for w in weights]
stream = subprocess.Popen(
    ["openssl", "enc", "-aes-128-ctr", "-K", "00" * 16, "-iv", "00" * 16, "-nosalt"],
    stdin=open("/dev/zero", "rb"), stdout=subprocess.PIPE)
os.makedirs(out)
with open(os.path.join(out, "release.json"), "w") as f:
    f.write('{"runId": "bench", "verdict": "go"}\n')
for i, size in enumerate(sizes):
    sub = os.path.join(out, "d%02d" % (i % 100))
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, "f%05d.bin" % i), "wb") as f:
        while size > 0:
            chunk = stream.stdout.read(min(size, 1 << 20))
            f.write(chunk)
            size -= len(chunk)
stream.kill()
EOF
}

# max_rss LABEL COMMAND...: runs COMMAND under /usr/bin/time -v, prints "LABEL seconds max_rss_kb".
max_rss() {
    local label=$1
    shift
    /usr/bin/time -v -o "$WORK/time.txt" "$@" >/dev/null
    local rss secs
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt")
    echo "$label $secs $rss"
}

"$TG" keys generate --output-dir "$WORK/keys" >/dev/null
KEY="$WORK/keys/tollgate.key"
PUB="$WORK/keys/tollgate.pub"

{
    echo "# Evidence bundle benchmark ($(date -u +%Y-%m-%dT%H:%M:%SZ))"
    echo
    echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
        "$(free -g | awk '/Mem:/ {print $2}') GB RAM; files in the page cache (warm)."
    echo
    # sha256sum may or may not use the CPU's SHA extensions; OpenSSL's figures show what the
    # hardware can do, for reading the ratios below.
    echo "openssl speed (256 KiB blocks, one core):" \
        "$(openssl speed -seconds 1 -bytes 262144 sha256 sha512 2>/dev/null | awk '/^sha(256|512) / {printf "%s %.0f MB/s; ", $1, $2 / 1000}')"
    echo
    echo "## Max RSS (/usr/bin/time -v)"
    echo
    echo "| size | step | wall | max RSS (KB) |"
    echo "| --- | --- | --- | --- |"
} >"$RESULTS"

for case in "small $SMALL_FILES $SMALL_MB" "large $FILES $TOTAL_MB"; do
    set -- $case
    name=$1 files=$2 mb=$3
    run="$WORK/$name/run"
    echo "== generating $files files / $mb MB in $run" >&2
    generate "$run" "$files" "$mb"
    for fmt in tar.gz tar.zst; do
        bundle="$WORK/$name/bundle.$fmt"
        read -r label secs rss < <(max_rss build "$TG" evidence build "$run" --key "$KEY" --output "$bundle")
        echo "| $files files / $mb MB | build .$fmt | $secs | $rss |" >>"$RESULTS"
        read -r label secs rss < <(max_rss verify "$TG" evidence verify --key "$PUB" "$bundle")
        echo "| $files files / $mb MB | verify .$fmt | $secs | $rss |" >>"$RESULTS"
    done
    read -r label secs rss < <(max_rss sha256sum sh -c "cd '$run' && find . -type f -print0 | sort -z | xargs -0 sha256sum")
    echo "| $files files / $mb MB | sha256sum | $secs | $rss |" >>"$RESULTS"
done

large="$WORK/large"
echo "== hyperfine: $FILES files / $TOTAL_MB MB" >&2
hyperfine --warmup "$WARMUP" --runs "$RUNS" --export-json "$WORK/verify.json" \
    -n sha256sum "cd '$large/run' && find . -type f -print0 | sort -z | xargs -0 sha256sum > /dev/null" \
    -n "verify .tar.gz" "'$TG' evidence verify --key '$PUB' '$large/bundle.tar.gz'" \
    -n "verify .tar.zst" "'$TG' evidence verify --key '$PUB' '$large/bundle.tar.zst'" >&2
hyperfine --warmup 0 --runs "$BUILD_RUNS" --export-json "$WORK/build.json" \
    -n "build .tar.gz" "'$TG' evidence build '$large/run' --key '$KEY' --output '$large/b.tar.gz'" \
    -n "build .tar.zst" "'$TG' evidence build '$large/run' --key '$KEY' --output '$large/b.tar.zst'" >&2

python3 - "$WORK/verify.json" "$WORK/build.json" "$(du -sb "$large/run" | cut -f1)" >>"$RESULTS" <<'EOF'
import json, sys
verify, build, size = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), int(sys.argv[3])
rows = verify["results"] + build["results"]
base = next(r["median"] for r in rows if r["command"] == "sha256sum")
print("\n## hyperfine (%d bytes of files)\n" % size)
print("| command | median (s) | min (s) | max (s) | runs | MB/s | throughput vs sha256sum |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    print("| %s | %.2f | %.2f | %.2f | %d | %.0f | %.0f%% |" % (
        r["command"], r["median"], r["min"], r["max"], len(r["times"]),
        size / r["median"] / 1e6, 100 * base / r["median"]))
for r in verify["results"]:
    if r["command"].startswith("verify"):
        ratio = base / r["median"]
        print("\n%s: %.0f%% of sha256sum's throughput: %s the 70%% target" % (
            r["command"], 100 * ratio, "meets" if ratio >= 0.7 else "MISSES"), end="")
print()
EOF

cat "$RESULTS"

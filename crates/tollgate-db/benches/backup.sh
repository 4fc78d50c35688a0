#!/usr/bin/env bash
# Benchmark `tollgate db backup` against plain `pg_dump -Fc` (issue #4, "Speed").
#
# Not run by the test suite. Needs root (it runs PostgreSQL as the `postgres` user through
# `runuser`), the Debian PostgreSQL server packages (/usr/lib/postgresql/*/bin), and installs
# hyperfine, time and age with apt-get when they are missing.
#
# What it does:
#   1. starts a throwaway PostgreSQL cluster in a temp dir on a free port (stopped by a trap);
#   2. generates a database of SIZE_MB (default 1024) from `pgbench -i` plus a `docs` table of
#      text and jsonb, and a second one of SMALL_MB (default 256) for the memory comparison;
#   3. builds target/release/tollgate (unless TOLLGATE points at a binary);
#   4. hyperfine: `pg_dump -Fc -f FILE` vs `pg_dump -Fc | tee FILE | sha256sum` vs
#      `tollgate db backup --store file://DIR` vs the same with `--recipient` (age);
#      prints medians, spread and the ratio tollgate / pg_dump (target <= 1.15);
#   5. peak RSS of tollgate (`/usr/bin/time -v`, plus VmHWM sampled from /proc so pg_dump's own
#      RSS, which time(1) folds in, is separated) at both sizes;
#   6. times `tollgate db verify --tier restore` once (and a plain pg_restore for reference).
#
# Knobs (environment): SIZE_MB=1024 SMALL_MB=256 RUNS=3 WARMUP=1 TOLLGATE=path
#   WORKDIR=dir (default: mktemp under /var/tmp) KEEP=1 (keep WORKDIR) SKIP_AGE=1 SKIP_SMALL=1
#   SKIP_PG_RESTORE=1
#
# Usage: crates/tollgate-db/benches/backup.sh            # from anywhere in the workspace
set -euo pipefail

SIZE_MB=${SIZE_MB:-1024}
SMALL_MB=${SMALL_MB:-256}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}

log() { printf '\n== %s [%s]\n' "$*" "$(date +%H:%M:%S)" >&2; }
die() { printf 'backup.sh: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (PostgreSQL is started as the postgres user via runuser)"
id postgres >/dev/null 2>&1 || die "no postgres user (install postgresql)"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$PGBIN" ] && [ -x "$PGBIN/postgres" ] || die "no PostgreSQL server in /usr/lib/postgresql/*/bin"
export TOLLGATE_PG_BINDIR=$PGBIN   # tollgate uses the same pg_dump/pg_restore/psql as the baseline

need() { # need BINARY PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; }
}
need hyperfine hyperfine
need jq jq
[ -x /usr/bin/time ] || need /usr/bin/time time
if [ -z "${SKIP_AGE:-}" ]; then need age-keygen age || SKIP_AGE=1; fi

# ---------------------------------------------------------------- work dir and server
WORKDIR=${WORKDIR:-$(mktemp -d /var/tmp/tollgate-bench.XXXXXX)}
mkdir -p "$WORKDIR"
chmod 755 "$WORKDIR"
PGDATA=$WORKDIR/pgdata SOCK=$WORKDIR/sock STORE=$WORKDIR/store OUT=$WORKDIR/out
mkdir -p "$SOCK" "$STORE" "$OUT" "$PGDATA"
chown postgres: "$SOCK" "$PGDATA"; chmod 700 "$PGDATA"

cleanup() {
    local rc=$?
    if [ -f "$PGDATA/postmaster.pid" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ -n "${SAMPLER_PID:-}" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    if [ -z "${KEEP:-}" ]; then rm -rf "$WORKDIR"; else echo "kept $WORKDIR" >&2; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log "initdb + start PostgreSQL on 127.0.0.1:$PORT ($PGBIN)"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 --no-sync >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$SOCK/server.log" -w -t 60 \
    -o "-p $PORT -k $SOCK -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB -c max_wal_size=8GB -c maintenance_work_mem=256MB" \
    start >/dev/null

url() { echo "postgresql://postgres@127.0.0.1:$PORT/$1"; }
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1)
sql() { "${PSQL[@]}" -At -d "$(url "$1")" -c "$2"; }

# ---------------------------------------------------------------- data
make_db() { # make_db NAME SIZE_MB
    local db=$1 mb=$2 target scale rows=0 size
    target=$((mb * 1024 * 1024))
    sql postgres "CREATE DATABASE $db"
    # ~60% pgbench (≈15.5 MB per scale unit with indexes), the rest text/jsonb documents.
    scale=$(( mb * 6 / 10 / 15 )); [ "$scale" -ge 1 ] || scale=1
    log "generating $db: pgbench -i -s $scale, then docs up to ${mb} MB"
    "$PGBIN/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "$PORT" -U postgres "$db" >/dev/null 2>&1
    sql "$db" "CREATE TABLE docs (id bigserial PRIMARY KEY, created timestamptz NOT NULL,
        title text NOT NULL, body text NOT NULL, attrs jsonb NOT NULL)"
    while :; do
        size=$(sql "$db" "SELECT pg_database_size(current_database())")
        [ "$size" -lt "$target" ] || break
        sql "$db" "INSERT INTO docs (created, title, body, attrs)
            SELECT timestamptz '2026-01-01' + g * interval '37 seconds',
                   'document ' || g || ' ' || md5(g::text),
                   array_to_string(ARRAY(SELECT md5(g::text || ':' || i)
                                         FROM generate_series(1, 4 + g % 24) i), ' '),
                   jsonb_build_object('id', g, 'owner', 'user' || (g % 997),
                       'tags', jsonb_build_array('t' || g % 17, 't' || g % 31, 't' || g % 101),
                       'score', (g * 7919 % 10000) / 100.0, 'active', g % 3 = 0,
                       'meta', jsonb_build_object('rev', g % 50, 'hash', md5((g * 31)::text)))
            FROM generate_series($rows::bigint + 1, $rows::bigint + 25000) g"
        rows=$((rows + 25000))
    done
    sql "$db" "CREATE INDEX ON docs (created)"
    sql "$db" "VACUUM ANALYZE docs"
    size=$(sql "$db" "SELECT pg_size_pretty(pg_database_size(current_database()))")
    echo "$db: $size (pgbench scale $scale, $rows docs)" | tee -a "$WORKDIR/summary.txt" >&2
}

BIG=bench_big SMALL=bench_small
make_db "$BIG" "$SIZE_MB"
[ -n "${SKIP_SMALL:-}" ] || make_db "$SMALL" "$SMALL_MB"
sql postgres "CHECKPOINT"

# ---------------------------------------------------------------- tollgate binary
if [ -z "${TOLLGATE:-}" ]; then
    log "cargo build --release -p tollgate-cli"
    (cd "$ROOT" && cargo build --release -q -p tollgate-cli)
    TOLLGATE=$ROOT/target/release/tollgate
fi
[ -x "$TOLLGATE" ] || die "TOLLGATE=$TOLLGATE is not executable"

RECIPIENT=""
if [ -z "${SKIP_AGE:-}" ]; then
    age-keygen -o "$WORKDIR/age.key" 2>/dev/null
    RECIPIENT=$(age-keygen -y "$WORKDIR/age.key")
fi

# ---------------------------------------------------------------- versions, load
{
    echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GiB RAM"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "pg_dump: $("$PGBIN/pg_dump" --version)"
    echo "server: $(sql postgres 'SHOW server_version')"
    echo "hyperfine: $(hyperfine --version)"
    echo "age: $(age --version 2>/dev/null || echo none)"
    echo "tollgate: $TOLLGATE ($(stat -c %y "$TOLLGATE" | cut -d. -f1))"
} | tee -a "$WORKDIR/summary.txt" >&2

# ---------------------------------------------------------------- throughput
BIGURL=$(url "$BIG")
CLEAN="rm -rf $STORE/* $OUT/*"
cmds=(
    -n pg_dump "$PGBIN/pg_dump -Fc -d $BIGURL -f $OUT/plain.dump"
    -n pg_dump+tee+sha256 "$PGBIN/pg_dump -Fc -d $BIGURL | tee $OUT/plain.dump | sha256sum >/dev/null"
    -n tollgate "$TOLLGATE db backup --database-url $BIGURL --store file://$STORE"
)
[ -z "$RECIPIENT" ] || cmds+=(
    -n tollgate+age "$TOLLGATE db backup --database-url $BIGURL --store file://$STORE --recipient $RECIPIENT"
)
log "hyperfine ($WARMUP warmup, $RUNS runs each)"
hyperfine --style basic --warmup "$WARMUP" --runs "$RUNS" --prepare "$CLEAN" \
    --export-json "$WORKDIR/hyperfine.json" "${cmds[@]}" >&2
echo "load after hyperfine: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$WORKDIR/summary.txt" >&2

jq -r '
  (.results[] | select(.command == "pg_dump") | .median) as $base
  | ["command", "median_s", "mean_s", "stddev_s", "min_s", "max_s", "user_s", "sys_s", "ratio_vs_pg_dump"],
    (.results[] | [.command, .median, .mean, (.stddev // 0), .min, .max, .user, .system, (.median / $base)]
      | [.[0]] + (.[1:] | map(. * 1000 | round / 1000)))
  | @tsv' "$WORKDIR/hyperfine.json" | column -t | tee -a "$WORKDIR/summary.txt" >&2

# ---------------------------------------------------------------- memory
# time(1) reports the max RSS over tollgate and its waited-for child pg_dump, so VmHWM of the
# tollgate process itself is also sampled from /proc every 100 ms.
peak_rss() { # peak_rss LABEL DB [extra args]
    local label=$1 db=$2; shift 2
    rm -rf "${STORE:?}"/*
    /usr/bin/time -v -o "$WORKDIR/time-$label.txt" \
        "$TOLLGATE" db backup --database-url "$(url "$db")" --store "file://$STORE" "$@" \
        >"$WORKDIR/report-$label.json" &
    local tpid=$! pid="" hwm=0 v
    while kill -0 "$tpid" 2>/dev/null; do
        [ -n "$pid" ] || pid=$(pgrep -P "$tpid" | head -1 || true)
        if [ -n "$pid" ] && v=$(awk '/VmHWM/{print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$v" ]; then
            hwm=$v
        fi
        sleep 0.1
    done
    wait "$tpid"
    local maxrss elapsed dump
    maxrss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$WORKDIR/time-$label.txt")
    elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$WORKDIR/time-$label.txt")
    dump=$(du -b "$STORE" | tail -1 | cut -f1)
    printf '%-22s db=%-9s dump=%6d MiB  elapsed=%-8s time-v maxrss=%6d KiB  tollgate VmHWM=%6d KiB\n' \
        "$label" "$(sql "$db" "SELECT pg_size_pretty(pg_database_size(current_database()))" | tr -d ' ')" \
        $((dump / 1048576)) "$elapsed" "$maxrss" "$hwm" | tee -a "$WORKDIR/summary.txt" >&2
}
log "peak RSS"
/usr/bin/time -v -o "$WORKDIR/time-pgdump.txt" "$PGBIN/pg_dump" -Fc -d "$BIGURL" -f "$OUT/plain.dump"
echo "pg_dump alone ($BIG): maxrss=$(awk -F': ' '/Maximum resident set size/{print $2}' "$WORKDIR/time-pgdump.txt") KiB" \
    | tee -a "$WORKDIR/summary.txt" >&2
[ -n "${SKIP_SMALL:-}" ] || peak_rss "tollgate-$SMALL" "$SMALL"
[ -z "$RECIPIENT" ] || { [ -n "${SKIP_SMALL:-}" ] || peak_rss "tollgate+age-$SMALL" "$SMALL" --recipient "$RECIPIENT"; }
[ -z "$RECIPIENT" ] || peak_rss "tollgate+age-$BIG" "$BIG" --recipient "$RECIPIENT"
peak_rss "tollgate-$BIG" "$BIG"

# ---------------------------------------------------------------- restore-verify
ID=$("$TOLLGATE" db list --store "file://$STORE" --json | jq -r '[.[] | select(.status == "complete")][0].id')
[ -n "$ID" ] && [ "$ID" != null ] || die "no backup found in $STORE"
log "tollgate db verify --tier restore $ID"
start=$(date +%s.%N)
/usr/bin/time -v -o "$WORKDIR/time-verify.txt" "$TOLLGATE" db verify --store "file://$STORE" "$ID" \
    --database-url "$(url postgres)" --tier restore >"$WORKDIR/verify.json"
end=$(date +%s.%N)
printf 'restore-verify (%s): %.1f s, tollgate maxrss (incl. children) %s KiB\n' "$BIG" "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" \
    "$(awk -F': ' '/Maximum resident set size/{print $2}' "$WORKDIR/time-verify.txt")" | tee -a "$WORKDIR/summary.txt" >&2
if [ -z "${SKIP_PG_RESTORE:-}" ]; then
    sql postgres "CREATE DATABASE bench_restore"
    start=$(date +%s.%N)
    "$PGBIN/pg_restore" --no-owner --exit-on-error -d "$(url bench_restore)" "$OUT/plain.dump"
    end=$(date +%s.%N)
    printf 'reference: plain pg_restore of the same database: %.1f s\n' "$(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}')" \
        | tee -a "$WORKDIR/summary.txt" >&2
    sql postgres "DROP DATABASE bench_restore"
fi
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$WORKDIR/summary.txt" >&2
log "summary ($WORKDIR/summary.txt)"
cat "$WORKDIR/summary.txt"

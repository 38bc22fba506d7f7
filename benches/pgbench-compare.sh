#!/usr/bin/env bash
# Whole-proxy benchmark: pgbench straight to PostgreSQL ("direct"), through
# pgward, and through pgbouncer (session pooling), on one throwaway cluster.
#
#   benches/pgbench-compare.sh
#   TARGETS="direct pgbouncer" DURATION=2 ROUNDS=1 benches/pgbench-compare.sh
#
# For every scenario (select-only `-S` and the default TPC-B-like script) x
# protocol mode (-M simple|extended|prepared) x client count (-c, with
# -j = min(c,2)), each round runs the targets back to back in TARGETS order.
# The report holds the median TPS and average latency over the rounds; it is
# printed as a Markdown table and written to $OUT, every single run to
# ${OUT%.md}.csv.
#
# Environment (defaults in brackets):
#   SCALE [10]                      pgbench -i scale factor
#   DURATION [10]                   seconds per run (pgbench -T)
#   ROUNDS [3]                      rounds per scenario
#   CLIENTS ["1 8"]                 client counts
#   MODES ["simple extended prepared"]
#   SCENARIOS ["select tpcb"]       select = pgbench -S, tpcb = built-in TPC-B-like,
#                                   large = SELECT * of a 1M-row, 5-column table
#   TARGETS ["direct pgward pgbouncer"]  also: guard (pgward with benches/guard-policy.yaml,
#                                   so every statement is analyzed and decided) and
#                                   masked (pgward with benches/mask-policy.yaml: results
#                                   followed, and 2 of 5 columns masked in "large") and
#                                   audited (guard + an audit trail to a local JSONL spool,
#                                   no sink: every statement followed to completion and
#                                   recorded; with guard and pgward in the same run it
#                                   shows what audit and stamping cost) and
#                                   governed (the production setup: benches/governed-policy.yaml,
#                                   deny rules, stamp, masks on a table pgbench does not read,
#                                   audit to a spool and over OTLP/gRPC to a local receiver,
#                                   usage metrics on the admin listener and pushed over OTLP)
#   MEMORY_SESSIONS [1000]          idle sessions held open per proxy target after the runs,
#                                   to report memory per idle session and after they close
#                                   (0: skip)
#   PGWARD_BIN [target/release/pgward, built with cargo build --release]
#   OTLP_SINK_BIN [target/release/examples/otlp_sink, built with it]  receiver for governed
#   EXTRA_PGWARD_ARGS []            appended to `pgward serve ...`
#   OUT [target/pgbench-compare.md]
#   PG_BIN                          PostgreSQL binaries (default: newest installed)
#
# Proxy CPU per transaction: the proxy process's user + system time
# (/proc/PID/stat, every thread) over the run, divided by the transactions
# pgbench completed; for pgward targets and pgbouncer. Host CPU per
# transaction: every core's busy time (/proc/stat, all but idle, iowait and steal)
# over the same run, so what pgbench, PostgreSQL, the proxy and the kernel
# spend together; on a saturated host it is cores ÷ tps. Receiver CPU per
# transaction: the OTLP receiver's own time during governed runs, which
# shares the cores here and would not in a deployment. Context switches per
# transaction: the proxy's, voluntary and involuntary (/proc/PID/task/*/status),
# and the whole host's (/proc/stat), over the same run.
#
# Everything runs on 127.0.0.1 and is removed on exit. Client, proxy and
# server share the machine's cores, so compare ratios, not absolute numbers.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/common.sh"
cd "$PGW_ROOT"

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    pgw_usage "$0"
    exit 0
fi

SCALE=${SCALE:-10}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-1 8}
MODES=${MODES:-simple extended prepared}
SCENARIOS=${SCENARIOS:-select tpcb}
TARGETS=${TARGETS:-direct pgward pgbouncer}
OUT=${OUT:-target/pgbench-compare.md}
EXTRA_PGWARD_ARGS=${EXTRA_PGWARD_ARGS:-}
MEMORY_SESSIONS=${MEMORY_SESSIONS:-1000}
CSV="${OUT%.md}.csv"

read -ra CLIENT_LIST <<<"$CLIENTS"
read -ra MODE_LIST <<<"$MODES"
read -ra SCENARIO_LIST <<<"$SCENARIOS"
read -ra TARGET_LIST <<<"$TARGETS"
read -ra EXTRA_ARGS <<<"$EXTRA_PGWARD_ARGS"

# --- validate --------------------------------------------------------------
[[ $MEMORY_SESSIONS =~ ^[0-9]+$ && $MEMORY_SESSIONS -le 5000 ]] || pgw_die "MEMORY_SESSIONS must be an integer 0..5000 (got '$MEMORY_SESSIONS')"
for v in SCALE DURATION ROUNDS; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || pgw_die "$v must be a positive integer (got '${!v}')"
done
for c in "${CLIENT_LIST[@]}"; do
    [[ $c =~ ^[1-9][0-9]*$ && $c -le 150 ]] || pgw_die "CLIENTS entries must be integers 1..150 (got '$c')"
done
for m in "${MODE_LIST[@]}"; do
    [[ $m =~ ^(simple|extended|prepared)$ ]] || pgw_die "unknown mode '$m' (simple, extended, prepared)"
done
for s in "${SCENARIO_LIST[@]}"; do
    [[ $s =~ ^(select|tpcb|large)$ ]] || pgw_die "unknown scenario '$s' (select, tpcb, large)"
done
for t in "${TARGET_LIST[@]}"; do
    [[ $t =~ ^(direct|pgward|guard|masked|audited|governed|pgbouncer)$ ]] || pgw_die "unknown target '$t' (direct, pgward, guard, masked, audited, governed, pgbouncer)"
done
[[ ${#CLIENT_LIST[@]} -gt 0 && ${#MODE_LIST[@]} -gt 0 && ${#SCENARIO_LIST[@]} -gt 0 && ${#TARGET_LIST[@]} -gt 0 ]] ||
    pgw_die "CLIENTS, MODES, SCENARIOS and TARGETS must not be empty"

want() { [[ " $TARGETS " == *" $1 "* ]]; }
# The guard target is a second pgward, so it needs the binary too.
want_pgward() { want pgward || want guard || want masked || want audited || want governed; }

# --- prerequisites ---------------------------------------------------------
pgw_section "prerequisites"
pkgs=(postgresql)
want pgbouncer && pkgs+=(pgbouncer)
if want_pgward && [[ -z ${PGWARD_BIN:-} ]]; then
    pkgs+=(build-essential pkg-config libclang-dev)
fi
pgw_ensure_packages "${pkgs[@]}"
PG_BIN=$(pgw_pg_bindir)
[[ -n $PG_BIN ]] || pgw_die "PostgreSQL server binaries not found (set PG_BIN)"
PGBENCH="$PG_BIN/pgbench"
[[ -x $PGBENCH ]] || PGBENCH=$(command -v pgbench) || pgw_die "pgbench not found"
PSQL="$PG_BIN/psql"
[[ -x $PSQL ]] || PSQL=$(command -v psql) || pgw_die "psql not found"
PGBOUNCER=""
if want pgbouncer; then
    PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
fi

if want_pgward; then
    if [[ -z ${PGWARD_BIN:-} ]]; then
        pgw_ensure_rust
        pgw_section "build (cargo build --release)"
        cargo build --release
        PGWARD_BIN="${CARGO_TARGET_DIR:-$PGW_ROOT/target}/release/pgward"
    fi
    [[ -x $PGWARD_BIN ]] || pgw_die "PGWARD_BIN '$PGWARD_BIN' is not an executable file"
fi
if want governed; then
    if [[ -z ${OTLP_SINK_BIN:-} ]]; then
        pgw_ensure_rust
        pgw_section "build (cargo build --release --example otlp_sink)"
        cargo build --release --example otlp_sink
        OTLP_SINK_BIN="${CARGO_TARGET_DIR:-$PGW_ROOT/target}/release/examples/otlp_sink"
    fi
    [[ -x $OTLP_SINK_BIN ]] || pgw_die "OTLP_SINK_BIN '$OTLP_SINK_BIN' is not an executable file"
fi
if [[ $MEMORY_SESSIONS -gt 0 ]]; then
    command -v python3 >/dev/null 2>&1 || pgw_die "python3 is needed for the idle-session memory measurement (or MEMORY_SESSIONS=0)"
fi

SVC_USER=$(pgw_service_user)
# as_svc CMD... — run as the user PostgreSQL and pgbouncer run as.
as_svc() {
    if [[ $EUID -eq 0 ]]; then
        # From /: the current directory may be closed to that user.
        (cd / && runuser -u "$SVC_USER" -- "$@")
    else
        "$@"
    fi
}

# --- cleanup ---------------------------------------------------------------
WORK=""
# pgward processes by target name (pgward, guard, masked, audited, governed).
declare -A PGWARD_PIDS=()
SINK_PID=""
PG_STARTED=0
cleanup() {
    local rc=$?
    set +e
    for t in "${!PGWARD_PIDS[@]}"; do
        pgw_stop_pid "${PGWARD_PIDS[$t]}" "pgward ($t)" 10
        wait "${PGWARD_PIDS[$t]}" 2>/dev/null
    done
    if [[ -n $SINK_PID ]]; then
        pgw_stop_pid "$SINK_PID" otlp_sink 10
        wait "$SINK_PID" 2>/dev/null
    fi
    if [[ -n $WORK && -f $WORK/pgbouncer.pid ]]; then
        pgw_stop_pid "$(cat "$WORK/pgbouncer.pid")" pgbouncer 10
    fi
    if [[ $PG_STARTED -eq 1 ]]; then
        pgw_info "stopping PostgreSQL"
        as_svc "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate -w stop >/dev/null 2>&1
    fi
    if [[ -n $WORK && -d $WORK ]]; then
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgward-bench.XXXXXX")
chmod 755 "$WORK"
[[ $EUID -eq 0 ]] && chown "$SVC_USER:" "$WORK"

# --- PostgreSQL ------------------------------------------------------------
pgw_section "PostgreSQL"
PG_PORT=$(pgw_free_port)
# Room for the idle sessions of the memory measurement.
PG_MAX_CONN=$((MEMORY_SESSIONS + 50 > 200 ? MEMORY_SESSIONS + 50 : 200))
as_svc "$PG_BIN/initdb" -D "$WORK/data" -U postgres -A trust -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 || {
    cat "$WORK/initdb.log" >&2
    pgw_die "initdb failed"
}
as_svc tee -a "$WORK/data/postgresql.conf" >/dev/null <<EOF

# --- benches/pgbench-compare.sh ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$WORK'
max_connections = $PG_MAX_CONN
shared_buffers = 256MB
fsync = off
synchronous_commit = off
max_wal_size = 2GB
EOF
as_svc "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/postgres.log" -w -t 60 start >/dev/null || {
    tail -n 30 "$WORK/postgres.log" >&2
    pgw_die "PostgreSQL did not start"
}
PG_STARTED=1
PG_VERSION=$("$PSQL" -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc 'SHOW server_version')
pgw_info "PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT"
"$PSQL" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c 'CREATE DATABASE bench'
pgw_info "pgbench -i -s $SCALE"
"$PGBENCH" -i -q -s "$SCALE" -h 127.0.0.1 -p "$PG_PORT" -U postgres bench >"$WORK/init.log" 2>&1 || {
    cat "$WORK/init.log" >&2
    pgw_die "pgbench -i failed"
}
if [[ " $SCENARIOS " == *" large "* ]]; then
    pgw_info "large scenario: 1,000,000-row table big"
    "$PSQL" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bench -c \
        "CREATE TABLE big AS SELECT g AS id, 'name ' || g AS name, 'user' || g || '@example.com' AS email, 'city' || (g % 100) AS city, md5(g::text) AS note FROM generate_series(1, 1000000) g"
    echo 'SELECT * FROM big;' >"$WORK/large.sql"
fi
if want governed; then
    # The governed target's masks are on this table; pgbench never reads it.
    "$PSQL" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bench -c \
        "CREATE TABLE customers AS SELECT g AS id, 'c' || g || '@example.com' AS email, '+1 555 01' || lpad(g::text, 2, '0') AS phone FROM generate_series(1, 100) g"
fi
"$PSQL" -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bench -c 'VACUUM ANALYZE' -c 'CHECKPOINT'

declare -A PORT
PORT[direct]=$PG_PORT
USED_PORTS=("$PG_PORT")

# --- pgward targets ----------------------------------------------------------
# start_pgward TARGET [ARGS...] — pgward on a free port in front of the
# cluster, with ARGS added to `serve`; waits for its listening line.
start_pgward() {
    local t=$1
    shift
    PORT[$t]=$(pgw_free_port "${USED_PORTS[@]}")
    USED_PORTS+=("${PORT[$t]}")
    "$PGWARD_BIN" serve --listen "127.0.0.1:${PORT[$t]}" --upstream "127.0.0.1:$PG_PORT" \
        --upstream-tls disable --log-level warn "$@" "${EXTRA_ARGS[@]}" \
        >"$WORK/$t.out" 2>"$WORK/$t.log" </dev/null &
    PGWARD_PIDS[$t]=$!
    if ! pgw_wait_for_line "$WORK/$t.out" '^pgward listening on ' 30 "${PGWARD_PIDS[$t]}"; then
        cat "$WORK/$t.out" "$WORK/$t.log" >&2
        pgw_die "pgward ($t) did not start"
    fi
    pgw_info "$t: $(grep -m1 '^pgward listening on ' "$WORK/$t.out") (pid ${PGWARD_PIDS[$t]})"
}

PGWARD_VERSION=""
want_pgward && PGWARD_VERSION=$("$PGWARD_BIN" --version 2>/dev/null | head -n1 || true)
if want pgward; then
    pgw_section "pgward"
    start_pgward pgward
fi

# The guard on every statement.
GUARD_POLICY="$PGW_ROOT/benches/guard-policy.yaml"
if want guard; then
    pgw_section "pgward with policy"
    start_pgward guard --policy "$GUARD_POLICY"
fi

# Results followed and rewritten. The catalog connection logs in as
# postgres (trust: the password is not asked).
MASK_POLICY="$PGW_ROOT/benches/mask-policy.yaml"
if want masked; then
    pgw_section "pgward with masks"
    printf 'catalog:\n  user: postgres\n  password_env: PGWARD_BENCH_CATALOG_PW\n' >"$WORK/masked.yaml"
    export PGWARD_BENCH_CATALOG_PW=unused
    start_pgward masked --config "$WORK/masked.yaml" --policy "$MASK_POLICY"
fi

# A policy and an audit trail to a local spool.
if want audited; then
    pgw_section "pgward with policy and audit"
    printf 'audit:\n  spool_dir: %s\n  statement_text: fingerprint\n' "$WORK/audit-spool" >"$WORK/audited.yaml"
    start_pgward audited --config "$WORK/audited.yaml" --policy "$GUARD_POLICY"
fi

# The production setup: a policy with deny rules and masks, the stamp, the
# audit trail to a spool and over OTLP/gRPC to a local receiver, usage
# metrics on the admin listener and pushed over OTLP.
GOVERNED_POLICY="$PGW_ROOT/benches/governed-policy.yaml"
if want governed; then
    pgw_section "pgward governed"
    SINK_PORT=$(pgw_free_port "${USED_PORTS[@]}")
    USED_PORTS+=("$SINK_PORT")
    "$OTLP_SINK_BIN" "127.0.0.1:$SINK_PORT" >"$WORK/sink.out" 2>"$WORK/sink.log" </dev/null &
    SINK_PID=$!
    pgw_wait_for_line "$WORK/sink.out" '^otlp-sink listening on ' 30 "$SINK_PID" ||
        pgw_die "otlp_sink did not start: $(cat "$WORK/sink.log")"
    ADMIN_PORT=$(pgw_free_port "${USED_PORTS[@]}")
    USED_PORTS+=("$ADMIN_PORT")
    export PGWARD_BENCH_CATALOG_PW=unused
    cat >"$WORK/governed.yaml" <<EOF
catalog:
  user: postgres
  password_env: PGWARD_BENCH_CATALOG_PW
audit:
  spool_dir: $WORK/governed-spool
  statement_text: fingerprint
  sinks:
    - otlp_grpc: {endpoint: "http://127.0.0.1:$SINK_PORT"}
admin:
  listen: "127.0.0.1:$ADMIN_PORT"
metrics:
  otlp:
    endpoint: "http://127.0.0.1:$SINK_PORT"
    interval: 5s
EOF
    start_pgward governed --config "$WORK/governed.yaml" --policy "$GOVERNED_POLICY"
fi

# --- pgbouncer -------------------------------------------------------------
PGBOUNCER_VERSION=""
if want pgbouncer; then
    pgw_section "pgbouncer"
    PORT[pgbouncer]=$(pgw_free_port "${USED_PORTS[@]}")
    USED_PORTS+=("${PORT[pgbouncer]}")
    PGBOUNCER_VERSION=$("$PGBOUNCER" --version 2>/dev/null | head -n1)
    as_svc tee "$WORK/userlist.txt" >/dev/null <<<'"postgres" ""'
    as_svc tee "$WORK/pgbouncer.ini" >/dev/null <<EOF
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PORT[pgbouncer]}
unix_socket_dir =
auth_type = trust
auth_file = $WORK/userlist.txt
pool_mode = session
max_client_conn = $PG_MAX_CONN
default_pool_size = 20
server_tls_sslmode = disable
logfile = $WORK/pgbouncer.log
pidfile = $WORK/pgbouncer.pid
EOF
    as_svc "$PGBOUNCER" -d -q "$WORK/pgbouncer.ini" || {
        cat "$WORK/pgbouncer.log" >&2 2>/dev/null
        pgw_die "pgbouncer did not start"
    }
    for ((i = 0; i < 100; i++)); do
        pgw_port_in_use "${PORT[pgbouncer]}" && break
        sleep 0.1
    done
    pgw_port_in_use "${PORT[pgbouncer]}" || {
        cat "$WORK/pgbouncer.log" >&2 2>/dev/null
        pgw_die "pgbouncer is not listening on 127.0.0.1:${PORT[pgbouncer]}"
    }
    pgw_info "$PGBOUNCER_VERSION on 127.0.0.1:${PORT[pgbouncer]}"
fi

# Every target must answer before anything is measured.
for t in "${TARGET_LIST[@]}"; do
    "$PSQL" -X -h 127.0.0.1 -p "${PORT[$t]}" -U postgres -d bench -tAc 'SELECT count(*) FROM pgbench_branches' >/dev/null ||
        pgw_die "$t (127.0.0.1:${PORT[$t]}) does not answer queries"
done

# --- runs ------------------------------------------------------------------
scenario_label() { # SCENARIO MODE CLIENTS
    local name
    case $1 in
    select) name="select-only (-S)" ;;
    tpcb) name="tpcb-like" ;;
    large) name="1M-row SELECT *" ;;
    esac
    printf '%s, -M %s, -c %s' "$name" "$2" "$3"
}

# target_pid TARGET — the proxy process whose CPU is counted (none for direct).
target_pid() {
    case $1 in
    direct) ;;
    pgbouncer) cat "$WORK/pgbouncer.pid" 2>/dev/null ;;
    *) printf '%s' "${PGWARD_PIDS[$1]}" ;;
    esac
}
# cpu_ticks PID — user + system clock ticks of every thread of PID so far.
cpu_ticks() {
    # Fields after the parenthesised command name: utime and stime are the
    # 12th and 13th of them (fields 14 and 15 of proc(5)).
    sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
CLK_TCK=$(getconf CLK_TCK)
# host_ticks — busy clock ticks of every core so far: user, nice, system,
# irq and softirq (the first line of /proc/stat; not idle, iowait, or steal,
# the time a hypervisor gave the cores to someone else).
host_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
}
# ctx_switches PID — voluntary and involuntary context switches of every
# live thread of PID so far (a thread that ends during a run takes its
# count with it: the proxies' session threads live as long as the process).
# A proxy thread that runs out of work sleeps
# (voluntary) and is woken by the kernel when a socket has data; one that is
# preempted while it still has work is switched out involuntarily. Each
# costs a trip through the scheduler, and on a host whose cores are shared
# with the client and the server that trip is a large part of a small
# transaction's cost.
ctx_switches() {
    { cat /proc/"$1"/task/*/status 2>/dev/null || true; } |
        awk '/^voluntary_ctxt_switches:/ { v += $2 } /^nonvoluntary_ctxt_switches:/ { n += $2 } END { print v + 0, n + 0 }'
}
# host_switches — context switches on every core so far (the ctxt line of
# /proc/stat).
host_switches() {
    awk '$1 == "ctxt" { print $2; exit }' /proc/stat
}
# per_txn_count BEFORE AFTER TRANSACTIONS — a count per transaction.
per_txn_count() {
    awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.3f", (b - a) / n }'
}
# per_txn TICKS_BEFORE TICKS_AFTER TRANSACTIONS — µs per transaction.
per_txn() {
    awk -v a="$1" -v b="$2" -v hz="$CLK_TCK" -v n="$3" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }'
}

# --- memory per idle session ----------------------------------------------
# For each proxy target, freshly started (before any pgbench run has grown
# its allocator's pools): RSS before, with MEMORY_SESSIONS idle sessions
# logged in (7 s after the last one), and 10 s after they closed and the
# server saw them go.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
# The anonymous part of the RSS: what the process allocated, without the
# pages of its own binary that running new code paths faulted in.
anon_kib() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"; }
client_backends() {
    "$PSQL" -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
        "SELECT count(*) FROM pg_stat_activity WHERE datname = 'bench' AND backend_type = 'client backend'"
}
declare -A MEM_BEFORE=() MEM_OPEN=() MEM_AFTER=() ANON_BEFORE=() ANON_OPEN=() ANON_AFTER=()
if [[ $MEMORY_SESSIONS -gt 0 ]]; then
    pgw_section "memory: $MEMORY_SESSIONS idle sessions per proxy"
    for t in "${TARGET_LIST[@]}"; do
        [[ $t == direct ]] && continue
        pid=$(target_pid "$t")
        base=$(client_backends)
        MEM_BEFORE[$t]=$(rss_kib "$pid")
        ANON_BEFORE[$t]=$(anon_kib "$pid")
        coproc IDLE { exec python3 "$PGW_ROOT/benches/idle-sessions.py" 127.0.0.1 "${PORT[$t]}" postgres bench "$MEMORY_SESSIONS"; }
        line=""
        read -r -t 600 line <&"${IDLE[0]}" || true
        if [[ $line != "open $MEMORY_SESSIONS" ]]; then
            pgw_warn "$t: idle sessions did not all open (${line:-no answer})"
            kill "$IDLE_PID" 2>/dev/null || true
            wait "$IDLE_PID" 2>/dev/null || true
            continue
        fi
        # Idle means idle a while: pgward gives a session's read buffers back
        # after a second of quiet, and hands released memory to the system on
        # its 5-second check (src/session/relay/settle.rs, src/memory.rs).
        sleep 7
        MEM_OPEN[$t]=$(rss_kib "$pid")
        ANON_OPEN[$t]=$(anon_kib "$pid")
        echo close >&"${IDLE[1]}"
        read -r -t 120 line <&"${IDLE[0]}" || true
        wait "$IDLE_PID" 2>/dev/null || true
        # The proxy closes its server connections after its clients go.
        for ((i = 0; i < 600; i++)); do
            [[ $(client_backends) -le $base ]] && break
            sleep 0.1
        done
        # pgward hands freed memory back on a 5-second check (src/memory.rs).
        sleep 10
        MEM_AFTER[$t]=$(rss_kib "$pid")
        ANON_AFTER[$t]=$(anon_kib "$pid")
        pgw_info "$t: RSS ${MEM_BEFORE[$t]} KiB, ${MEM_OPEN[$t]} KiB with $MEMORY_SESSIONS idle sessions, ${MEM_AFTER[$t]} KiB 10 s after they closed"
    done
fi

mkdir -p "$(dirname "$OUT")"
echo "round,scenario,mode,clients,target,tps,latency_ms,cpu_us_per_txn,host_cpu_us_per_txn,receiver_cpu_us_per_txn,voluntary_switches_per_txn,involuntary_switches_per_txn,host_switches_per_txn" >"$CSV"

total=$((ROUNDS * ${#SCENARIO_LIST[@]} * ${#MODE_LIST[@]} * ${#CLIENT_LIST[@]} * ${#TARGET_LIST[@]}))
pgw_section "running $total pgbench runs of ${DURATION}s (about $((total * (DURATION + 1) / 60 + 1)) min)"
n=0
FAILED_RUNS=0
for ((round = 1; round <= ROUNDS; round++)); do
    for s in "${SCENARIO_LIST[@]}"; do
        for m in "${MODE_LIST[@]}"; do
            for c in "${CLIENT_LIST[@]}"; do
                j=$((c < 2 ? c : 2))
                for t in "${TARGET_LIST[@]}"; do
                    n=$((n + 1))
                    args=(-h 127.0.0.1 -p "${PORT[$t]}" -U postgres -T "$DURATION" -c "$c" -j "$j" -M "$m")
                    [[ $s == select ]] && args+=(-S)
                    [[ $s == large ]] && args+=(-f "$WORK/large.sql")
                    tps="" lat="" cpu="" host="" recv="" vcs="" ics="" hcs=""
                    pid=$(target_pid "$t")
                    ticks0="" recv0="" cs0=""
                    [[ -n $pid ]] && ticks0=$(cpu_ticks "$pid") && cs0=$(ctx_switches "$pid")
                    [[ $t == governed && -n $SINK_PID ]] && recv0=$(cpu_ticks "$SINK_PID")
                    host0=$(host_ticks)
                    hsw0=$(host_switches)
                    if "$PGBENCH" "${args[@]}" bench >"$WORK/run.out" 2>&1; then
                        host1=$(host_ticks)
                        hsw1=$(host_switches)
                        tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$WORK/run.out" | head -n1)
                        lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$WORK/run.out" | head -n1)
                        txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$WORK/run.out" | head -n1)
                        if [[ -n $txns && $txns -gt 0 ]]; then
                            host=$(per_txn "$host0" "$host1" "$txns")
                            [[ -n $ticks0 ]] && cpu=$(per_txn "$ticks0" "$(cpu_ticks "$pid")" "$txns")
                            [[ -n $recv0 ]] && recv=$(per_txn "$recv0" "$(cpu_ticks "$SINK_PID")" "$txns")
                            hcs=$(per_txn_count "$hsw0" "$hsw1" "$txns")
                            if [[ -n $cs0 ]]; then
                                read -r v0 i0 <<<"$cs0"
                                read -r v1 i1 <<<"$(ctx_switches "$pid")"
                                vcs=$(per_txn_count "$v0" "$v1" "$txns")
                                ics=$(per_txn_count "$i0" "$i1" "$txns")
                            fi
                        fi
                    fi
                    if [[ -z $tps || -z $lat ]]; then
                        FAILED_RUNS=$((FAILED_RUNS + 1))
                        pgw_warn "run failed: pgbench ${args[*]} bench"
                        tail -n 15 "$WORK/run.out" >&2
                        tps="" lat=""
                    fi
                    shown=FAIL
                    [[ -n $tps ]] && shown=$(printf '%.1f' "$tps")
                    printf '[%3d/%d] round %d  %-38s %-9s %10s tps  %8s ms  %8s cpu us/txn  %8s host us/txn\n' \
                        "$n" "$total" "$round" "$(scenario_label "$s" "$m" "$c")" "$t" "$shown" "${lat:--}" "${cpu:--}" "${host:--}"
                    echo "$round,$s,$m,$c,$t,$tps,$lat,$cpu,$host,$recv,$vcs,$ics,$hcs" >>"$CSV"
                done
            done
        done
    done
done

# --- report ----------------------------------------------------------------
# median SCENARIO MODE CLIENTS TARGET COLUMN(6=tps,7=latency,8=cpu,9=host,10=receiver,
# 11=voluntary switches,12=involuntary switches,13=host switches) — empty if no data.
median() {
    awk -F, -v s="$1" -v m="$2" -v c="$3" -v t="$4" -v col="$5" \
        'NR > 1 && $2 == s && $3 == m && $4 == c && $5 == t && $col != "" { print $col }' "$CSV" |
        sort -g |
        awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) printf "%s", v[(NR + 1) / 2]; else printf "%.6f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
fmt_num() { # VALUE DECIMALS TARGET
    if [[ -z $1 ]]; then
        if want "$3"; then printf 'fail'; else printf '–'; fi
    else
        printf "%.${2}f" "$1"
    fi
}
ratio() {
    if [[ -n $1 && -n $2 ]]; then
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "–" }'
    else
        printf '–'
    fi
}
# report_rows CELL... — a table's rows, one per scenario x mode x client count
# in the order of the runs: the scenario, then each CELL. A cell holds one or
# more values separated by " / ", shown the same way: METRIC:TARGET:DECIMALS
# is the target's median (METRIC tps, lat, cpu, host, recv, vcs, ics or hcs), METRIC:A/B the ratio of
# the medians of targets A and B.
report_rows() {
    local s m c cell row
    for s in "${SCENARIO_LIST[@]}"; do
        for m in "${MODE_LIST[@]}"; do
            for c in "${CLIENT_LIST[@]}"; do
                row="| $(scenario_label "$s" "$m" "$c") |"
                for cell in "$@"; do
                    add_cell "$s" "$m" "$c" "$cell"
                done
                echo "$row"
            done
        done
    done
}
# add_cell SCENARIO MODE CLIENTS CELL — appends the cell to report_rows' row.
add_cell() {
    local value metric target decimals col a b
    local -a values
    read -ra values <<<"$4"
    for value in "${values[@]}"; do
        IFS=: read -r metric target decimals <<<"$value"
        case $metric in
        /) # between the values of a cell
            row+=" /"
            continue
            ;;
        tps) col=6 ;;
        lat) col=7 ;;
        cpu) col=8 ;;
        host) col=9 ;;
        recv) col=10 ;;
        vcs) col=11 ;;
        ics) col=12 ;;
        hcs) col=13 ;;
        *) pgw_die "report: unknown value '$value'" ;;
        esac
        if [[ $target == */* ]]; then
            a=$(median "$1" "$2" "$3" "${target%/*}" "$col")
            b=$(median "$1" "$2" "$3" "${target#*/}" "$col")
            row+=" $(ratio "$a" "$b")"
        else
            a=$(median "$1" "$2" "$3" "$target" "$col")
            row+=" $(fmt_num "$a" "$decimals" "$target")"
        fi
    done
    row+=" |"
}

# The per-target tables: start_table, then add_columns for each kind of
# column, then print_table.
start_table() {
    TABLE_HEAD="| scenario |" TABLE_RULE="|---|" TABLE_CELLS=()
}
# add_columns WHICH HEAD CELL — a column per target (WHICH: all, or proxies
# to leave out direct), headed HEAD and filled with the report_rows CELL,
# "@T" in both standing for the target.
add_columns() {
    local t
    for t in "${TARGET_LIST[@]}"; do
        [[ $1 == proxies && $t == direct ]] && continue
        TABLE_HEAD+=" ${2//@T/$t} |" TABLE_RULE+="---:|" TABLE_CELLS+=("${3//@T/$t}")
    done
}
print_table() {
    echo "$TABLE_HEAD"
    echo "$TABLE_RULE"
    report_rows "${TABLE_CELLS[@]}"
}

GIT_REV=$(git rev-parse --short HEAD 2>/dev/null || echo "uncommitted")
if [[ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    GIT_REV="$GIT_REV (modified)"
fi

{
    echo "## pgbench: direct vs pgward vs pgbouncer"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); host: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)"
    echo "- PostgreSQL $PG_VERSION (max_connections=$PG_MAX_CONN, shared_buffers=256MB, fsync=off, synchronous_commit=off)"
    want pgward && echo "- pgward: ${PGWARD_VERSION:-$PGWARD_BIN} at $GIT_REV; args: --upstream-tls disable --log-level warn${EXTRA_PGWARD_ARGS:+ $EXTRA_PGWARD_ARGS}"
    want pgbouncer && echo "- $PGBOUNCER_VERSION: pool_mode=session, default_pool_size=20, max_client_conn=$PG_MAX_CONN"
    echo "- pgbench -s $SCALE, -T $DURATION per run, -j min(c,2); median of $ROUNDS round(s), targets run back to back in the order: $TARGETS"
    echo "- all on 127.0.0.1; client, proxies and server share the cores"
    echo
    echo "| scenario | direct tps | pgward tps | pgbouncer tps | pgward/direct | pgward/pgbouncer | latency ms (d/w/b) |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    report_rows tps:direct:0 tps:pgward:0 tps:pgbouncer:0 tps:pgward/direct tps:pgward/pgbouncer \
        "lat:direct:3 / lat:pgward:3 / lat:pgbouncer:3"
    if want guard; then
        echo
        echo "### The guard's cost: pgward with a policy ($GUARD_POLICY) against pgward without one"
        echo
        echo "| scenario | pgward tps | pgward+policy tps | policy/no policy | pgward+policy/direct | latency ms (w / w+policy) |"
        echo "|---|---:|---:|---:|---:|---:|"
        report_rows tps:pgward:0 tps:guard:0 tps:guard/pgward tps:guard/direct "lat:pgward:3 / lat:guard:3"
    fi
    if want audited; then
        echo
        echo "### Audit and stamping: pgward with policy + audit (JSONL spool, no sink) against pgward with policy only and without"
        echo
        echo "\"pgward\" has neither stamp nor audit (no policy); \"guard\" stamps every statement; \"audited\" stamps and records every statement."
        echo
        echo "| scenario | pgward tps | guard tps | audited tps | audited/guard | audited/pgward | latency ms (w / g / a) |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        report_rows tps:pgward:0 tps:guard:0 tps:audited:0 tps:audited/guard tps:audited/pgward \
            "lat:pgward:3 / lat:guard:3 / lat:audited:3"
    fi
    echo
    echo "### Proxy CPU per transaction (µs, user + system of the proxy process)"
    echo
    start_table
    add_columns proxies "@T" "cpu:@T:1"
    print_table
    echo
    echo "### Host CPU per transaction (µs, every core's busy time: pgbench, PostgreSQL, the proxy, the kernel)"
    echo
    start_table
    add_columns all "@T" "host:@T:1"
    want governed && TABLE_HEAD+=" of which the OTLP receiver (governed) |" TABLE_RULE+="---:|" TABLE_CELLS+=("recv:governed:1")
    print_table
    echo
    echo "### Context switches per transaction"
    echo
    echo "Per proxy, every thread: voluntary (it ran out of work and slept until a socket woke it) / involuntary (preempted with work left). Host: every switch on every core (/proc/stat), what the whole run costs the scheduler."
    echo
    start_table
    add_columns proxies "@T (vol / invol)" "vcs:@T:2 / ics:@T:2"
    add_columns all "host, @T" "hcs:@T:2"
    print_table
    if want governed; then
        echo
        echo "### Governed (the production setup, $GOVERNED_POLICY) against pgbouncer and direct"
        echo
        echo "Deny rules, stamp, masks on a table pgbench does not read, audit to a spool and over OTLP/gRPC to a local receiver, usage metrics."
        echo
        echo "| scenario | direct tps | pgward tps | governed tps | pgbouncer tps | pgward/pgbouncer | governed/pgbouncer | governed/direct | CPU µs/txn (w / g / b) | governed CPU / pgbouncer CPU |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        report_rows tps:direct:0 tps:pgward:0 tps:governed:0 tps:pgbouncer:0 \
            tps:pgward/pgbouncer tps:governed/pgbouncer tps:governed/direct \
            "cpu:pgward:1 / cpu:governed:1 / cpu:pgbouncer:1" cpu:governed/pgbouncer
    fi
    if [[ ${#MEM_OPEN[@]} -gt 0 ]]; then
        echo
        echo "### Memory: $MEMORY_SESSIONS idle sessions (RSS of the proxy process)"
        echo
        echo "Anonymous: the part of the RSS the process allocated (RssAnon), without its binary's code pages."
        echo
        echo "| target | RSS before | RSS with the sessions open | per idle session | RSS 10 s after they closed | anonymous: before / open / after |"
        echo "|---|---:|---:|---:|---:|---:|"
        for t in "${TARGET_LIST[@]}"; do
            [[ -n ${MEM_OPEN[$t]:-} ]] || continue
            printf '| %s | %s KiB | %s KiB | %s KiB | %s KiB | %s / %s / %s KiB |\n' "$t" "${MEM_BEFORE[$t]}" "${MEM_OPEN[$t]}" \
                "$(awk -v a="${MEM_BEFORE[$t]}" -v b="${MEM_OPEN[$t]}" -v n="$MEMORY_SESSIONS" 'BEGIN { printf "%.1f", (b - a) / n }')" \
                "${MEM_AFTER[$t]}" "${ANON_BEFORE[$t]}" "${ANON_OPEN[$t]}" "${ANON_AFTER[$t]}"
        done
    fi
    if want masked; then
        echo
        echo "### Masking's cost: pgward with masks ($MASK_POLICY) against pgward without, and against direct"
        echo
        echo "In \"large\", 2 of the 5 columns of each of the 1M rows are rewritten; elsewhere results are followed but nothing is masked."
        echo
        echo "| scenario | direct tps | pgward tps | pgward+masks tps | pgward/direct | masks/direct | masks/no masks |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        report_rows tps:direct:2 tps:pgward:2 tps:masked:2 tps:pgward/direct tps:masked/direct tps:masked/pgward
    fi
} >"$OUT"

# What the OTLP receiver got from the governed target, once pgward has
# stopped (and shipped what its spool still held).
if want governed && [[ -n $SINK_PID ]]; then
    pgw_stop_pid "${PGWARD_PIDS[governed]}" "pgward (governed)" 60
    wait "${PGWARD_PIDS[governed]}" 2>/dev/null || true
    unset 'PGWARD_PIDS[governed]'
    pgw_stop_pid "$SINK_PID" otlp_sink 10
    wait "$SINK_PID" 2>/dev/null || true
    SINK_PID=""
    {
        echo
        echo "OTLP receiver totals for the governed target: \`$(grep -m1 '^otlp-sink logs=' "$WORK/sink.out" || echo 'none printed')\`; audit spool after the stop: $(du -sk "$WORK/governed-spool" 2>/dev/null | cut -f1) KiB."
    } >>"$OUT"
fi

pgw_section "results"
cat "$OUT"
echo
pgw_info "report written to $OUT; every run in $CSV"
if [[ $FAILED_RUNS -gt 0 ]]; then
    pgw_die "$FAILED_RUNS pgbench run(s) failed"
fi

#!/usr/bin/env bash
# Run every check CI runs: formatting, clippy, the test suite (unit,
# integration, benches in test mode, doc tests) and, when there are policy
# files, `pgward check` on them. Installs missing system packages first.
#
#   scripts/test.sh
#
# Environment:
#   PGWARD_TEST_TIMEOUT   hang guard for the test step (default 45m)
#   PGWARD_FUZZ_SECONDS   run time of each fuzz target in the fuzz step (default 4)
#   CI                    when set: --locked builds, no incremental compilation
#
# All steps run even when an earlier one fails; the script exits non-zero if
# any failed, after a summary.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$PGW_ROOT"

case ${1:-} in
"") ;;
-h | --help)
    pgw_usage "$0"
    exit 0
    ;;
*) pgw_die "unknown argument: $1 (try --help)" ;;
esac

START=$SECONDS
STEP_NAMES=()
STEP_RESULTS=()

# run_step NAME CMD... — run one check, record pass/fail and its duration.
run_step() {
    local name=$1
    shift
    pgw_section "$name"
    printf '$ %s\n' "$*"
    local t0=$SECONDS rc=0
    "$@" || rc=$?
    local took=$((SECONDS - t0))
    STEP_NAMES+=("$name")
    if [[ $rc -eq 0 ]]; then
        STEP_RESULTS+=("ok      ${took}s")
    else
        STEP_RESULTS+=("FAILED  ${took}s (exit $rc)")
    fi
    return 0
}

skip_step() {
    pgw_section "$1"
    printf 'skipped: %s\n' "$2"
    STEP_NAMES+=("$1")
    STEP_RESULTS+=("skipped ($2)")
}

# --- prerequisites ---------------------------------------------------------
pgw_section "prerequisites"
pgw_ensure_packages build-essential pkg-config libclang-dev postgresql pgbouncer
pgw_ensure_rust
for comp in rustfmt clippy; do
    sub=${comp/rustfmt/fmt}
    if ! cargo "$sub" --version >/dev/null 2>&1; then
        command -v rustup >/dev/null 2>&1 || pgw_die "cargo $sub is missing and rustup is not available to add $comp"
        pgw_info "adding rustup component $comp"
        rustup component add "$comp"
    fi
done
# The integration tests start throwaway clusters with the server binaries in
# $PG_BIN (initdb, pg_ctl, postgres); pin it to the ones checked here.
PG_BIN=$(pgw_pg_bindir)
[[ -n $PG_BIN ]] || pgw_die "PostgreSQL server binaries not found (set PG_BIN)"
export PG_BIN
# The MCP tests drive pgward with the official MCP Python SDK, and the
# Kubernetes example is checked against the API schemas; both from PyPI.
PGWARD_TEST_PYTHON=$(pgw_ensure_venv "${CARGO_TARGET_DIR:-$PGW_ROOT/target}/mcp-venv" scripts/requirements-mcp.txt)
export PGWARD_TEST_PYTHON
cargo --version
rustc --version
cargo fmt --version
cargo clippy --version
printf 'postgres:  %s\n' "$("$PG_BIN/postgres" --version)"
printf 'pgbouncer: %s\n' "$( (pgbouncer --version 2>/dev/null || /usr/sbin/pgbouncer --version) | head -n1)"
printf 'python:    %s (mcp %s)\n' "$("$PGWARD_TEST_PYTHON" --version 2>&1)" "$("$PGWARD_TEST_PYTHON" -c 'import importlib.metadata as m; print(m.version("mcp"))')"
printf 'disk:      %s free in %s\n' "$(pgw_free_space .)" "$PGW_ROOT"

CARGO_FLAGS=()
if [[ -n ${CI:-} ]]; then
    CARGO_FLAGS+=(--locked)
    export CARGO_INCREMENTAL=0
    # Line tables keep file:line in backtraces at a fraction of the disk of
    # full debug info: every test binary links the parser's C library, and
    # the build and the fuzz build together must fit a small CI disk.
    export CARGO_PROFILE_DEV_DEBUG=${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}
    export CARGO_PROFILE_TEST_DEBUG=${CARGO_PROFILE_TEST_DEBUG:-line-tables-only}
fi
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
if [[ -t 1 ]]; then
    export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-auto}
else
    export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
fi

# --- checks ----------------------------------------------------------------
run_step "rustfmt" cargo fmt --all -- --check --color "$CARGO_TERM_COLOR"
run_step "clippy" cargo clippy "${CARGO_FLAGS[@]}" --all-targets -- -D warnings

TEST_LOG=$(mktemp "${TMPDIR:-/tmp}/pgward-test.XXXXXX")
trap 'rm -f "$TEST_LOG"' EXIT

# shellcheck disable=SC2317  # called through run_step
cargo_tests() {
    timeout --signal=INT --kill-after=60s "${PGWARD_TEST_TIMEOUT:-45m}" \
        cargo test "${CARGO_FLAGS[@]}" --all-targets --no-fail-fast 2>&1 | tee -a "$TEST_LOG"
    local rc=${PIPESTATUS[0]}
    if [[ $rc -eq 124 ]]; then
        pgw_warn "cargo test exceeded ${PGWARD_TEST_TIMEOUT:-45m} and was stopped"
    fi
    return "$rc"
}
run_step "cargo test --all-targets" cargo_tests

# The transparency suites again, governed: a policy that allows every effect
# but analyzes every statement, refuses what it cannot analyze, stamps,
# follows results for a mask and audits to a spool (tests/common/proxy.rs).
# shellcheck disable=SC2317  # called through run_step
governed_tests() {
    PGWARD_TEST_MODE=governed timeout --signal=INT --kill-after=60s "${PGWARD_TEST_TIMEOUT:-45m}" \
        cargo test "${CARGO_FLAGS[@]}" --no-fail-fast \
        --test proxy_protocol --test proxy_tools --test proxy_tls \
        --test proxy_lifecycle --test proxy_hostile 2>&1 | tee -a "$TEST_LOG"
    return "${PIPESTATUS[0]}"
}
run_step "transparency suites, governed" governed_tests

# PostgreSQL's own regression suite (installcheck, parallel schedule) for the
# installed server version, directly and through governed pgward: every test
# that passes directly must pass governed (scripts/pg-regress.sh).
run_step "pg_regress, direct and governed" scripts/pg-regress.sh "${CARGO_TARGET_DIR:-target}/debug/pgward"

# --all-targets leaves out doc tests; run them separately.
# shellcheck disable=SC2317  # called through run_step
doc_tests() {
    cargo test "${CARGO_FLAGS[@]}" --doc --no-fail-fast 2>&1 | tee -a "$TEST_LOG"
    return "${PIPESTATUS[0]}"
}
if grep -q '^\[lib\]' Cargo.toml || [[ -f src/lib.rs ]]; then
    run_step "cargo test --doc" doc_tests
fi

# --- deployment examples -----------------------------------------------------
shopt -s nullglob
MANIFESTS=(deploy/kubernetes/*.yaml)
shopt -u nullglob
if [[ ${#MANIFESTS[@]} -eq 0 ]]; then
    skip_step "kubernetes manifests" "no deploy/kubernetes/*.yaml"
else
    run_step "kubernetes manifests" "$(dirname "$PGWARD_TEST_PYTHON")/kubernetes-validate" --strict --quiet "${MANIFESTS[@]}"
fi
# --- policy files ----------------------------------------------------------
shopt -s nullglob
POLICIES=(policies/*.yaml)
shopt -u nullglob
if [[ ${#POLICIES[@]} -eq 0 ]]; then
    skip_step "pgward check" "no policies/*.yaml"
else
    pgw_section "build pgward (debug) for policy check"
    PGWARD_DEBUG="${CARGO_TARGET_DIR:-target}/debug/pgward"
    if cargo build "${CARGO_FLAGS[@]}" --bin pgward && "$PGWARD_DEBUG" check --help >/dev/null 2>&1; then
        run_step "pgward check" "$PGWARD_DEBUG" check "${POLICIES[@]}"
    else
        skip_step "pgward check" "this pgward build has no 'check' subcommand"
    fi
fi

# --- the benchmark script ---------------------------------------------------
# benches/pgbench-compare.sh once over, as small as it goes (every target,
# one 1-second run, 20 idle sessions), with the debug build: figures from it
# mean nothing, but a bench that no longer runs, or reports a failed cell or
# an empty receiver, fails here instead of on the next measurement.
# shellcheck disable=SC2317  # called through run_step
bench_smoke() {
    local out rc=0
    out=$(mktemp -d "${TMPDIR:-/tmp}/pgward-bench-smoke.XXXXXX")
    cargo build "${CARGO_FLAGS[@]}" --bin pgward --example otlp_sink || return 1
    local bin="${CARGO_TARGET_DIR:-target}/debug"
    PGWARD_BIN="$bin/pgward" OTLP_SINK_BIN="$bin/examples/otlp_sink" \
        TARGETS="direct pgward governed pgbouncer" SCENARIOS=select MODES=prepared CLIENTS=1 \
        ROUNDS=1 DURATION=1 SCALE=1 MEMORY_SESSIONS=20 OUT="$out/bench.md" \
        benches/pgbench-compare.sh || rc=1
    if [[ $rc -eq 0 ]]; then
        if grep -q '| fail ' "$out/bench.md"; then
            pgw_warn "the report has failed cells"
            rc=1
        fi
        if ! grep -q 'otlp-sink logs=[1-9]' "$out/bench.md"; then
            pgw_warn "the OTLP receiver got no audit records from the governed target"
            rc=1
        fi
        if ! grep -q '^### Host CPU per transaction' "$out/bench.md" ||
            ! grep -q '^### Context switches per transaction' "$out/bench.md" ||
            ! grep -q '^| governed | .* KiB' "$out/bench.md"; then
            pgw_warn "the report lacks the host CPU, the context switch or the memory table"
            rc=1
        fi
    fi
    rm -rf "$out"
    return "$rc"
}
run_step "pgbench-compare (smoke)" bench_smoke

# --- fuzzing ---------------------------------------------------------------
# Every fuzz target's committed corpus is replayed, then each target runs for
# a few seconds (PGWARD_FUZZ_SECONDS), from the cheaper build (no ASan,
# opt-level 1). Needs `cargo +nightly`; without it the step fails and says
# why. See docs/fuzzing.md.
# shellcheck disable=SC2317  # called through run_step
fuzz_step() {
    FUZZ_PROFILE=dev FUZZ_SANITIZER=none fuzz/run.sh --ci "${PGWARD_FUZZ_SECONDS:-4}"
}
# The fuzz build is a second full build (other flags, other target
# directory); in CI nothing after this step needs the test build, so its
# space goes back first.
if [[ -n ${CI:-} ]]; then
    rm -rf "${CARGO_TARGET_DIR:-target}/debug"
    printf 'disk: %s free before the fuzz build\n' "$(pgw_free_space .)"
fi
run_step "fuzz (replay + ${PGWARD_FUZZ_SECONDS:-4}s per target)" fuzz_step

# --- summary ---------------------------------------------------------------
pgw_section "summary"
passed=0 failed=0 ignored=0
while read -r p f i; do
    passed=$((passed + p))
    failed=$((failed + f))
    ignored=$((ignored + i))
done < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$TEST_LOG")
for i in "${!STEP_NAMES[@]}"; do
    printf '  %-28s %s\n' "${STEP_NAMES[$i]}" "${STEP_RESULTS[$i]}"
done
printf '  %-28s %ss\n' "total time" "$((SECONDS - START))"
# cargo's --no-fail-fast report of which test targets failed, if any.
awk '/^error: [0-9]+ targets? failed/ { on = 1; print "  " $0; next }
     on && /^[[:space:]]+`/ { print "  " $0; next } { on = 0 }' "$TEST_LOG"
echo
printf 'tests: %d passed, %d failed, %d skipped\n' "$passed" "$failed" "$ignored"

for r in "${STEP_RESULTS[@]}"; do
    [[ $r == FAILED* ]] && exit 1
done
exit 0

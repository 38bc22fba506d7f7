#!/usr/bin/env bash
# Runs pgward's fuzz targets (cargo-fuzz / libFuzzer). Needs `cargo +nightly`
# and cargo-fuzz (installed here if missing).
#
#   fuzz/run.sh TARGET SECONDS [LIBFUZZER_ARGS...]   one target, for a while
#   fuzz/run.sh --replay [TARGET...]                 run every committed corpus input once
#   fuzz/run.sh --ci SECONDS                         build, replay all, run each target SECONDS
#   fuzz/run.sh --list                               the targets
#
# Every run ends with one line per target, ready for docs/fuzzing.md:
#   fuzz-summary target=T execs=N cov=C ft=F corpus=K crashes=X seconds=S
#
# New inputs go to fuzz/corpus-work/TARGET (not committed); the committed,
# minimised seeds in fuzz/corpus/TARGET are only read. Crashes are written
# to fuzz/artifacts/TARGET/; reproduce one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/TARGET fuzz/artifacts/TARGET/crash-...
#
# Environment:
#   FUZZ_TOOLCHAIN   the nightly toolchain to use (default nightly)
#   FUZZ_SANITIZER   address (default) or none: see docs/fuzzing.md
#   FUZZ_PROFILE     release (default) or dev (cheaper build, slower runs)
#   FUZZ_CODEGEN_UNITS  codegen units of the release build (default 16)
#   FUZZ_NO_BUILD    set to skip the build (binaries already built)
#   FUZZ_JOBS        extra libFuzzer -fork=N workers for long runs (default none)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE"
# A nightly toolchain: sanitizer coverage is nightly-only.
TOOLCHAIN=${FUZZ_TOOLCHAIN:-nightly}
SANITIZER=${FUZZ_SANITIZER:-address}
# 16 units build in a fraction of the time of cargo-fuzz's default of 1, at
# the cost of somewhat slower runs (docs/fuzzing.md has the figures).
UNITS=${FUZZ_CODEGEN_UNITS:-16}
# release (default), or dev: opt-level 1, less than half the build time,
# several times slower runs (docs/fuzzing.md has the figures).
PROFILE=${FUZZ_PROFILE:-release}
TRIPLE=$(rustc "+$TOOLCHAIN" -vV 2>/dev/null | sed -n 's/^host: //p' || true)
case $PROFILE in
release) BUILD_ARGS=(--codegen-units "$UNITS") DIR=release ;;
dev) BUILD_ARGS=(--dev) DIR=debug ;;
*) printf 'fuzz: FUZZ_PROFILE is release or dev, not %s\n' "$PROFILE" >&2 && exit 2 ;;
esac
BIN=$HERE/target/${TRIPLE:-x86_64-unknown-linux-gnu}/$DIR

die() {
    printf 'fuzz: %s\n' "$*" >&2
    exit 2
}

targets() {
    sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^pgward-fuzz$'
}

need_nightly() {
    # The fuzz targets need libFuzzer's sanitizer coverage, which stable
    # Rust does not offer.
    if ! cargo "+$TOOLCHAIN" --version >/dev/null 2>&1; then
        command -v rustup >/dev/null 2>&1 ||
            die "cargo +$TOOLCHAIN is not available and rustup is not there to install it"
        printf 'fuzz: installing the %s toolchain\n' "$TOOLCHAIN"
        rustup toolchain install "$TOOLCHAIN" --profile minimal >/dev/null 2>&1 ||
            die "rustup could not install the $TOOLCHAIN toolchain"
    fi
    if ! cargo "+$TOOLCHAIN" fuzz --version >/dev/null 2>&1; then
        printf 'fuzz: installing cargo-fuzz\n'
        cargo "+$TOOLCHAIN" install cargo-fuzz --locked >/dev/null 2>&1 ||
            cargo install cargo-fuzz >/dev/null 2>&1 ||
            die "cargo-fuzz could not be installed"
    fi
}

build() {
    [[ -n ${FUZZ_NO_BUILD:-} ]] && return 0
    need_nightly
    local t0=$SECONDS log
    log=$(mktemp)
    if ! cargo "+$TOOLCHAIN" fuzz build --sanitizer "$SANITIZER" "${BUILD_ARGS[@]}" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        rm -f "$log"
        die "build failed"
    fi
    rm -f "$log"
    printf 'fuzz: built %d targets (%s, sanitizer %s) in %ds\n' "$(targets | wc -l)" "$PROFILE" "$SANITIZER" $((SECONDS - t0))
}

# summary TARGET LOG SECONDS CRASHES: the final libFuzzer figures of a run.
summary() {
    local t=$1 log=$2 secs=$3 crashes=$4 execs cov ft corp
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -n1 | cut -d' ' -f2)
    printf 'fuzz-summary target=%s execs=%s cov=%s ft=%s corpus=%s crashes=%s seconds=%s\n' \
        "$t" "${execs:-0}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes" "$secs"
}

# fuzz_one TARGET SECONDS [ARGS...]: one time-bounded run; 1 if it crashed.
fuzz_one() {
    local t=$1 secs=$2
    shift 2
    [[ -x $BIN/$t ]] || die "no target $t (fuzz/run.sh --list)"
    local work=$HERE/corpus-work/$t art=$HERE/artifacts/$t log
    mkdir -p "$work" "$art" "$HERE/corpus/$t"
    log=$(mktemp)
    local before
    before=$(find "$art" -type f | wc -l)
    local fork=()
    [[ -n ${FUZZ_JOBS:-} ]] && fork=(-fork="$FUZZ_JOBS" -ignore_crashes=1)
    local rc=0
    "$BIN/$t" "$work" "$HERE/corpus/$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
        -artifact_prefix="$art/" -print_final_stats=1 "${fork[@]}" "$@" >"$log" 2>&1 || rc=$?
    local crashes
    crashes=$(($(find "$art" -type f | wc -l) - before))
    summary "$t" "$log" "$secs" "$crashes"
    if [[ $rc -ne 0 || $crashes -gt 0 ]]; then
        grep -m1 -A12 -E 'panicked|ERROR: (libFuzzer|AddressSanitizer)' "$log" >&2 || tail -n 20 "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

# replay TARGET: every committed input once; 1 if any fails.
replay() {
    local t=$1 dir=$HERE/corpus/$t log n
    [[ -d $dir ]] || return 0
    n=$(find "$dir" -type f | wc -l)
    [[ $n -gt 0 ]] || return 0
    log=$(mktemp)
    mkdir -p "$HERE/artifacts/$t"
    if ! "$BIN/$t" -runs=0 -timeout=20 -rss_limit_mb=4096 -artifact_prefix="$HERE/artifacts/$t/" "$dir" >"$log" 2>&1; then
        printf 'fuzz: %s: a committed corpus input fails\n' "$t" >&2
        grep -m1 -A12 -E 'panicked|ERROR:' "$log" >&2 || tail -n 20 "$log" >&2
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
    printf 'fuzz: replayed %4d inputs of %s\n' "$n" "$t"
}

case ${1:-} in
"" | -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p'
    ;;
--list)
    targets
    ;;
--replay)
    shift
    build
    list=("$@")
    [[ ${#list[@]} -gt 0 ]] || mapfile -t list < <(targets)
    failed=0
    for t in "${list[@]}"; do
        replay "$t" || failed=1
    done
    exit $failed
    ;;
--ci)
    secs=${2:?--ci SECONDS}
    build
    failed=0
    for t in $(targets); do
        replay "$t" || failed=1
    done
    for t in $(targets); do
        fuzz_one "$t" "$secs" || failed=1
    done
    exit $failed
    ;;
*)
    t=$1
    secs=${2:?usage: fuzz/run.sh TARGET SECONDS}
    shift 2
    build
    fuzz_one "$t" "$secs" "$@"
    ;;
esac

#!/usr/bin/env bash
# Rebuilds the committed corpora: seeds from the test suites (seeds.py),
# the current corpus and, with --with-work, what long runs found
# (fuzz/corpus-work), merged by libFuzzer into the smallest set of inputs
# that keeps all their coverage.
#
#   fuzz/minimise.sh [--with-work] [TARGET...]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE"
with_work=
if [[ ${1:-} == --with-work ]]; then
    with_work=1
    shift
fi
FUZZ_NO_BUILD=${FUZZ_NO_BUILD:-} ./run.sh --list >/dev/null
[[ -n ${FUZZ_NO_BUILD:-} ]] || ./run.sh --replay >/dev/null || true
TRIPLE=$(rustc +nightly -vV | sed -n 's/^host: //p')
BIN=$HERE/target/$TRIPLE/release
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
python3 "$HERE/seeds.py" "$seeds" >/dev/null
list=("$@")
[[ ${#list[@]} -gt 0 ]] || mapfile -t list < <(./run.sh --list)
for t in "${list[@]}"; do
    old=$(mktemp -d)
    mkdir -p "corpus/$t"
    cp -r "corpus/$t/." "$old/" 2>/dev/null || true
    sources=("$old" "$seeds/$t")
    [[ -n $with_work && -d corpus-work/$t ]] && sources+=("corpus-work/$t")
    rm -rf "corpus/$t"
    mkdir -p "corpus/$t"
    "$BIN/$t" -merge=1 -timeout=20 -rss_limit_mb=4096 "corpus/$t" "${sources[@]}" >/dev/null 2>&1
    rm -rf "$old"
    printf '%-18s %5d inputs, %7d bytes\n' "$t" "$(find "corpus/$t" -type f | wc -l)" \
        "$(find "corpus/$t" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')"
done

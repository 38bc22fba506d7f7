#!/usr/bin/env bash
# PostgreSQL's own regression suite (installcheck, parallel schedule) against
# a throwaway cluster of the installed server version: once directly, once
# through pgward governed (a policy that allows every effect but analyzes
# every statement, refuses what it cannot analyze, stamps, follows results
# for a mask and audits to a spool). Fails if a test that passes directly
# fails governed.
#
#   scripts/pg-regress.sh [PGWARD_BINARY]
#
# Tests whose expected output prints statement text the server stored
# (pg_prepared_statements, pg_cursors, pg_stat_activity) run under a
# profile with the stamp off (matched by pg_regress's application_name).
# The sources come from the Debian source package of the installed server
# (deb-src is added if missing) and are cached in target/pg-regress.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$PGW_ROOT"

case ${1:-} in
-h | --help)
    pgw_usage "$0"
    exit 0
    ;;
esac
PGWARD=${1:-target/debug/pgward}
[[ -x $PGWARD ]] || pgw_die "no pgward binary at $PGWARD (cargo build first)"

PG_BIN=$(pgw_pg_bindir)
[[ -n $PG_BIN ]] || pgw_die "PostgreSQL server binaries not found"
PG_MAJOR=$("$PG_BIN/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')
PKG="postgresql-$PG_MAJOR"
# Installing the server's development package can upgrade the server
# itself: its version is read after.
pgw_ensure_packages dpkg-dev gcc "postgresql-server-dev-$PG_MAJOR"
PKG_VERSION=$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null) ||
    pgw_die "$PKG is not installed as a Debian package (the suite must match the server)"
PG_REGRESS=/usr/lib/postgresql/$PG_MAJOR/lib/pgxs/src/test/regress/pg_regress
[[ -x $PG_REGRESS ]] || pgw_die "pg_regress not found at $PG_REGRESS"

CACHE=$PGW_ROOT/target/pg-regress
# fetch_source VERSION — the Debian source of $PKG VERSION, in
# $CACHE/src-VERSION; false when apt cannot get it.
fetch_source() {
    local src=$CACHE/src-$1
    [[ -f $src/.ready ]] && return 0
    rm -rf "$src" && mkdir -p "$src"
    if ! (cd "$src" && apt-get source -qq "$PKG=$1" >/dev/null 2>&1); then
        rm -rf "$src"
        return 1
    fi
    touch "$src/.ready"
}
SRC_VERSION=""
if [[ -f $CACHE/src-$PKG_VERSION/.ready ]]; then
    SRC_VERSION=$PKG_VERSION
else
    pgw_section "source of $PKG $PKG_VERSION"
    if ! grep -rqs '^Types:.*deb-src' /etc/apt/sources.list.d/ && ! grep -qs '^deb-src' /etc/apt/sources.list; then
        pgw_info "adding deb-src entries for apt-get source"
        sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
            pgw_as_root tee /etc/apt/sources.list.d/pgward-deb-src.sources >/dev/null
        pgw_as_root apt-get update -qq
    fi
    if fetch_source "$PKG_VERSION"; then
        SRC_VERSION=$PKG_VERSION
    else
        # A mirror can list a security release's source before it serves
        # it. Another release of the same major version has the same
        # suite; a test whose expected output changed between them fails
        # directly as well, and only tests that pass directly count.
        pgw_warn "apt-get source $PKG=$PKG_VERSION failed; trying the other source releases of $PKG"
        while read -r v; do
            [[ $v == "$PKG_VERSION" ]] && continue
            if fetch_source "$v"; then
                SRC_VERSION=$v
                break
            fi
        done < <(apt-cache showsrc "$PKG" 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -Vru)
    fi
    [[ -n $SRC_VERSION ]] || pgw_die "apt-get source $PKG failed for $PKG_VERSION and every other release apt lists"
    [[ $SRC_VERSION == "$PKG_VERSION" ]] || pgw_warn "regression suite of $PKG $SRC_VERSION against the installed $PKG_VERSION"
fi
SRC=$CACHE/src-$SRC_VERSION
TREE=$(find "$SRC" -maxdepth 1 -type d -name "$PKG-*" | head -n1)
REGRESS=$TREE/src/test/regress
[[ -f $REGRESS/parallel_schedule ]] || pgw_die "no regression suite in $TREE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pgward-regress.XXXXXX")
SVC=$(pgw_service_user)
chown "$SVC" "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do pgw_stop_pid "$p" pgward 10; done
    [[ -d $WORK/data ]] && pgw_run_as_owner "$WORK" "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# The C functions the suite loads (regress.so; autoinc and refint from contrib/spi).
LIB=$WORK/lib
mkdir -p "$LIB"
INC=$(/usr/lib/postgresql/"$PG_MAJOR"/bin/pg_config --includedir-server 2>/dev/null || echo "/usr/include/postgresql/$PG_MAJOR/server")
for f in "$REGRESS/regress.c" "$TREE/contrib/spi/autoinc.c" "$TREE/contrib/spi/refint.c"; do
    gcc -O2 -fPIC -shared -I"$INC" -o "$LIB/$(basename "$f" .c).so" "$f"
done
chmod -R a+rX "$LIB" "$CACHE"

pgw_section "throwaway cluster"
PORT=$(pgw_free_port)
pgw_run_as_owner "$WORK" "$PG_BIN/initdb" -D "$WORK/data" -U postgres --auth=trust --no-instructions -E UTF8 --locale=C >/dev/null
cat >>"$WORK/data/postgresql.conf" <<EOF
port = $PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK'
max_connections = 100
max_prepared_transactions = 10
fsync = off
EOF
pgw_run_as_owner "$WORK" "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w start >/dev/null

# PGW_REGRESS_TESTS="test_setup boolean ...": run these tests only (debugging).
if [[ -n ${PGW_REGRESS_TESTS:-} ]]; then
    read -r -a SCHEDULE <<<"$PGW_REGRESS_TESTS"
else
    SCHEDULE=(--schedule="$REGRESS/parallel_schedule")
fi

run_suite() { # NAME PORT MAX_CONNECTIONS
    local name=$1 port=$2 conns=$3 out=$WORK/$1
    mkdir -p "$out" && chown "$SVC" "$out"
    pgw_section "regression suite, $name"
    local t0=$SECONDS
    pgw_run_as_owner "$WORK" env PGUSER=postgres "$PG_REGRESS" \
        --inputdir="$REGRESS" --bindir="$PG_BIN" --dlpath="$LIB" \
        --host=127.0.0.1 --port="$port" --user=postgres \
        "${SCHEDULE[@]}" --outputdir="$out" \
        --max-connections="$conns" >"$out/summary.txt" 2>&1 || true
    # Lines look like "test name ... ok 12 ms" or "     name ... FAILED".
    sed -nE 's/^[ ]*(test )?([a-z0-9_]+)[ ]+\.\.\. (ok|FAILED|failed \(ignored\)).*/\2 \3/p' "$out/summary.txt" |
        sed 's/failed (ignored)/ignored/' | sort >"$out/results.txt"
    printf '%s: %d tests, %d ok, %d failed (%ss)\n' "$name" \
        "$(wc -l <"$out/results.txt")" "$(grep -c ' ok$' "$out/results.txt" || true)" \
        "$(grep -vc ' ok$' "$out/results.txt" || true)" "$((SECONDS - t0))"
}

run_suite direct "$PORT" 20

pgw_section "pgward, governed"
PGW_PORT=$(pgw_free_port "$PORT")
cat >"$WORK/policy.yaml" <<'EOF'
version: 1
default_profile: governed
identities:
  # Expected output that prints statement text the server stored.
  - name: stored-statement-text
    match: { application: ["pg_regress/prepare", "pg_regress/portals", "pg_regress/plancache", "pg_regress/sysviews", "pg_regress/stats"] }
    profile: governed_unstamped
profiles:
  governed:
    allow: all
    on_unparseable: deny
  governed_unstamped:
    inherits: governed
    stamp: false
masks:
  - name: sentinel
    columns: ["pgward_governed.sentinel.secret"]
    function: redact
EOF
PGWARD_CATALOG_PASSWORD=trust-auth "$PGWARD" serve --listen "127.0.0.1:$PGW_PORT" --upstream "127.0.0.1:$PORT" --upstream-tls disable \
    --policy "$WORK/policy.yaml" --audit-spool "$WORK/spool" --catalog-user postgres \
    --max-connections 200 --log-level "${PGW_REGRESS_LOG:-warn}" >"$WORK/pgward.out" 2>"$WORK/pgward.log" &
PIDS+=($!)
pgw_wait_for_line "$WORK/pgward.out" 'pgward listening on' 60 "${PIDS[0]}" ||
    pgw_die "pgward did not start: $(cat "$WORK/pgward.log")"

# The same parallel schedule as the direct run: other sessions' DDL
# interleaves with every test, as it does in production
# (PGW_REGRESS_GOVERNED_CONNECTIONS=1 runs one test at a time).
run_suite governed "$PGW_PORT" "${PGW_REGRESS_GOVERNED_CONNECTIONS:-20}"

pgw_section "comparison"
all_regressions=$(join <(grep ' ok$' "$WORK/direct/results.txt") "$WORK/governed/results.txt" | awk '$3 != "ok" { print $1 }')
# Known differences (scripts/pg-regress-known.txt, each with its reason).
KNOWN=$(sed -e 's/#.*//' "$PGW_ROOT/scripts/pg-regress-known.txt" | awk 'NF { print $1 }' | sort)
regressions=$(comm -23 <(printf '%s\n' "$all_regressions" | sed '/^$/d' | sort) <(printf '%s\n' "$KNOWN"))
known_seen=$(comm -12 <(printf '%s\n' "$all_regressions" | sed '/^$/d' | sort) <(printf '%s\n' "$KNOWN") | tr '\n' ' ')
[[ -n ${known_seen// /} ]] && printf 'known differences (scripts/pg-regress-known.txt): %s\n' "$known_seen"
fixed=$(comm -13 <(printf '%s\n' "$all_regressions" | sed '/^$/d' | sort) <(printf '%s\n' "$KNOWN") | tr '\n' ' ')
[[ -z ${PGW_REGRESS_TESTS:-} && -n ${fixed// /} ]] && printf 'listed as known but passing now (remove them from the list): %s\n' "$fixed"
passed_direct=$(grep -c ' ok$' "$WORK/direct/results.txt" || true)
passed_both=$(join <(grep ' ok$' "$WORK/direct/results.txt") <(grep ' ok$' "$WORK/governed/results.txt") | wc -l)
printf 'passing directly: %s; of those passing governed: %s\n' "$passed_direct" "$passed_both"
if [[ -n $(grep -v ' ok$' "$WORK/direct/results.txt" || true) ]]; then
    printf 'failing directly too (environment, not pgward): %s\n' "$(grep -v ' ok$' "$WORK/direct/results.txt" | cut -d' ' -f1 | tr '\n' ' ')"
fi
if [[ -n $regressions ]]; then
    for t in $regressions; do
        printf '\n---- %s: governed differs ----\n' "$t"
        head -c 4000 "$WORK/governed/results/$t.out" | diff "$REGRESS/expected/$t.out" - | head -60 || true
    done
    printf '\npgward log (last lines):\n'
    tail -n 20 "$WORK/pgward.log"
    [[ -n ${PGW_REGRESS_KEEP:-} ]] && cp -r "$WORK" "$PGW_REGRESS_KEEP"
    pgw_die "passing directly, failing governed: $regressions"
fi
[[ -n ${PGW_REGRESS_TESTS:-} || $passed_direct -gt 150 ]] || pgw_die "only $passed_direct tests passed directly: the suite did not really run"
echo "governed: every test that passes directly passes, but for the known differences listed"

#!/usr/bin/env bash
# Stop what scripts/dev-up.sh started: pgward (foreground or --background) and
# the throwaway PostgreSQL cluster in .pgward-dev/pg.
#
#   scripts/dev-down.sh          stop both; the cluster's data is kept
#   scripts/dev-down.sh --purge  stop both and delete .pgward-dev entirely
#                                (the next dev-up.sh recreates and reloads it)
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$PGW_ROOT"

PURGE=0
case ${1:-} in
"") ;;
--purge) PURGE=1 ;;
-h | --help)
    pgw_usage "$0"
    exit 0
    ;;
*) pgw_die "unknown argument: $1 (try --help)" ;;
esac

DEV_DIR="$PGW_ROOT/.pgward-dev"
PGDATA_DIR="$DEV_DIR/pg"
# dev-up.sh may keep the cluster elsewhere behind a symlink; use the real path.
[[ -L $PGDATA_DIR ]] && PGDATA_DIR=$(readlink -f "$PGDATA_DIR")

if [[ -f $DEV_DIR/pgward.pid ]]; then
    pid=$(cat "$DEV_DIR/pgward.pid")
    if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q pgward; then
        pgw_stop_pid "$pid" pgward 40
    else
        pgw_info "pgward is not running"
    fi
    rm -f "$DEV_DIR/pgward.pid"
else
    pgw_info "pgward is not running (no .pgward-dev/pgward.pid)"
fi

if [[ -f $PGDATA_DIR/PG_VERSION ]]; then
    pgbin=$(pgw_pg_bindir)
    if [[ -z $pgbin ]]; then
        pgw_warn "PostgreSQL binaries not found; cannot stop the cluster in $PGDATA_DIR"
    elif pgw_run_as_owner "$PGDATA_DIR/" "$pgbin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
        pgw_info "stopping throwaway PostgreSQL cluster"
        pgw_run_as_owner "$PGDATA_DIR/" "$pgbin/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >/dev/null
    else
        pgw_info "throwaway PostgreSQL cluster is not running"
    fi
fi

if [[ $PURGE -eq 1 && -e $DEV_DIR ]]; then
    pgw_info "removing .pgward-dev"
    # The cluster (and its log) may live outside, behind symlinks.
    for link in "$DEV_DIR/pg" "$DEV_DIR/postgres.log"; do
        if [[ -L $link ]]; then
            rm -rf "$(readlink -f "$link")"
        fi
    done
    rm -rf "$DEV_DIR"
fi

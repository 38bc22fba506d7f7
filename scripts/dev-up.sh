#!/usr/bin/env bash
# Bring up a local pgward development environment.
#
#   scripts/dev-up.sh               build pgward, start a throwaway PostgreSQL,
#                                   run pgward in the foreground (Ctrl-C stops it)
#                                   with config/quickstart.yaml; a Python venv
#                                   with the MCP SDK for scripts/mcp-client.py
#   scripts/dev-up.sh --background  same, but pgward runs in the background;
#                                   scripts/dev-down.sh stops everything
#
# Environment:
#   PGWARD_UPSTREAM=host:port   use this PostgreSQL instead of a throwaway one
#   PGWARD_DEV_PG_PORT=N        port of the throwaway cluster (default 54329)
#   PGWARD_LISTEN=addr:port     where pgward listens (default: config file's)
#
# Safe to re-run: the throwaway cluster in .pgward-dev/pg is created and loaded
# with scripts/sample.sql only once, restarted if it is stopped, and a pgward
# previously started by this script is replaced by the fresh build.
set -euo pipefail

# shellcheck source=scripts/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$PGW_ROOT"

usage() { pgw_usage "$0"; }

BACKGROUND=0
while [[ $# -gt 0 ]]; do
    case $1 in
    --background | -b) BACKGROUND=1 ;;
    -h | --help)
        usage
        exit 0
        ;;
    *)
        usage >&2
        pgw_die "unknown argument: $1"
        ;;
    esac
    shift
done

DEV_DIR="$PGW_ROOT/.pgward-dev"
PGDATA_DIR="$DEV_DIR/pg"
PG_LOG="$DEV_DIR/postgres.log"
PG_PORT="${PGWARD_DEV_PG_PORT:-54329}"
PG_PASSWORD=postgres
CONFIG=config/quickstart.yaml
SAMPLE_MARKER="$DEV_DIR/sample-loaded"
# When the cluster had to live elsewhere (see below), these are symlinks; use
# the real paths, which the postgres user can reach.
[[ -L $PGDATA_DIR ]] && PGDATA_DIR=$(readlink -f "$PGDATA_DIR")
[[ -L $PG_LOG ]] && PG_LOG=$(readlink -f "$PG_LOG")

# --- prerequisites ---------------------------------------------------------
pgw_section "prerequisites"
pkgs=(build-essential pkg-config libclang-dev)
if [[ -n ${PGWARD_UPSTREAM:-} ]]; then
    pkgs+=(postgresql-client)
else
    pkgs+=(postgresql)
fi
pgw_ensure_packages "${pkgs[@]}"
pgw_ensure_rust
pgw_info "$(cargo --version)"

# --- build -----------------------------------------------------------------
pgw_section "build (cargo build --release)"
cargo build --release
PGWARD_BIN="${CARGO_TARGET_DIR:-$PGW_ROOT/target}/release/pgward"
[[ -x $PGWARD_BIN ]] || pgw_die "build finished but $PGWARD_BIN is missing"

mkdir -p "$DEV_DIR"

# The MCP client of the quickstart (scripts/mcp-client.py) needs the MCP SDK.
pgw_section "python venv for the MCP client"
MCP_PY=$(pgw_ensure_venv "$DEV_DIR/venv" scripts/requirements-mcp.txt)
pgw_info "$("$MCP_PY" --version 2>&1) in .pgward-dev/venv"

# --- upstream PostgreSQL ---------------------------------------------------
start_dev_cluster() {
    local pgbin owner
    pgbin=$(pgw_pg_bindir)
    [[ -n $pgbin ]] || pgw_die "PostgreSQL server binaries not found (set PG_BIN)"
    owner=$(pgw_service_user)

    if [[ ! -f $PGDATA_DIR/PG_VERSION ]]; then
        pgw_info "creating throwaway cluster in .pgward-dev/pg ($("$pgbin/postgres" --version))"
        rm -f "$SAMPLE_MARKER"
        mkdir -p "$PGDATA_DIR"
        if [[ $EUID -eq 0 ]]; then
            chown "$owner:" "$PGDATA_DIR/"
            # The postgres user must be able to reach the directory; when a
            # parent (e.g. a home directory) is closed to it, keep the data
            # under its own home and leave a symlink here.
            if ! runuser -u "$owner" -- test -w "$PGDATA_DIR/"; then
                local alt
                alt="$(getent passwd "$owner" | cut -d: -f6)/pgward-dev/$(printf '%s' "$PGW_ROOT" | md5sum | cut -c1-12)"
                pgw_warn "$owner cannot reach $PGDATA_DIR; keeping the cluster in $alt"
                rmdir "$PGDATA_DIR"
                mkdir -p "$alt"
                chown -R "$owner:" "$(dirname "$alt")"
                ln -s "$alt" "$PGDATA_DIR"
                PGDATA_DIR=$alt
            fi
        fi
        chmod 700 "$PGDATA_DIR/"
        local pwfile
        pwfile=$(mktemp "/tmp/pgward-dev-pw.XXXXXX")
        printf '%s\n' "$PG_PASSWORD" >"$pwfile"
        [[ $EUID -eq 0 ]] && chown "$owner:" "$pwfile"
        pgw_run_as_owner "$PGDATA_DIR/" "$pgbin/initdb" -D "$PGDATA_DIR" -U postgres \
            --pwfile="$pwfile" --auth-host=scram-sha-256 --auth-local=scram-sha-256 \
            -E UTF8 --locale=C >"$DEV_DIR/initdb.log" 2>&1 || {
            rm -f "$pwfile"
            cat "$DEV_DIR/initdb.log" >&2
            pgw_die "initdb failed"
        }
        rm -f "$pwfile"
        # Loopback TCP only; no Unix socket, so nothing clashes with a
        # system cluster's socket directory.
        pgw_run_as_owner "$PGDATA_DIR/" tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null <<EOF

# --- pgward dev cluster (scripts/dev-up.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
port = $PG_PORT
password_encryption = 'scram-sha-256'
log_connections = on
log_disconnections = on
EOF
    fi

    if pgw_run_as_owner "$PGDATA_DIR/" "$pgbin/pg_ctl" -D "$PGDATA_DIR" status >/dev/null 2>&1; then
        pgw_info "throwaway cluster already running"
    else
        pgw_info "starting throwaway cluster on 127.0.0.1:$PG_PORT"
        if [[ -L $DEV_DIR/pg ]]; then
            # Cluster kept elsewhere: its log goes beside it, linked from here.
            PG_LOG="$PGDATA_DIR.log"
            ln -sfn "$PG_LOG" "$DEV_DIR/postgres.log"
        fi
        touch "$PG_LOG"
        [[ $EUID -eq 0 ]] && chown "$(stat -c %U "$PGDATA_DIR/"):" "$PG_LOG"
        pgw_run_as_owner "$PGDATA_DIR/" "$pgbin/pg_ctl" -D "$PGDATA_DIR" -l "$PG_LOG" \
            -o "-p $PG_PORT" -w -t 60 start >/dev/null || {
            tail -n 30 "$PG_LOG" >&2 || true
            pgw_die "PostgreSQL did not start (log: ${PG_LOG#"$PGW_ROOT"/})"
        }
    fi
    # The port it really runs on (line 4 of postmaster.pid).
    local running_port
    running_port=$(sed -n 4p "$PGDATA_DIR/postmaster.pid" 2>/dev/null || true)
    if [[ -n $running_port && $running_port != "$PG_PORT" ]]; then
        pgw_warn "cluster is running on port $running_port, not $PG_PORT (stop it with scripts/dev-down.sh to change)"
        PG_PORT=$running_port
    fi

    if [[ ! -f $SAMPLE_MARKER ]]; then
        pgw_info "loading scripts/sample.sql into database shop"
        local psql=("$pgbin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres)
        if [[ -z "$(PGPASSWORD=$PG_PASSWORD "${psql[@]}" -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'shop'")" ]]; then
            PGPASSWORD=$PG_PASSWORD "${psql[@]}" -d postgres -c 'CREATE DATABASE shop'
        fi
        PGPASSWORD=$PG_PASSWORD "${psql[@]}" -d shop -f scripts/sample.sql
        date -u +%FT%TZ >"$SAMPLE_MARKER"
    fi
}

pgw_section "upstream PostgreSQL"
if [[ -n ${PGWARD_UPSTREAM:-} ]]; then
    UPSTREAM=$PGWARD_UPSTREAM
    pgw_info "using PGWARD_UPSTREAM=$UPSTREAM (no throwaway cluster)"
    CONNECT_HINT="postgresql://<user>@%s/<database>"
else
    start_dev_cluster
    UPSTREAM="127.0.0.1:$PG_PORT"
    CONNECT_HINT="postgresql://postgres:$PG_PASSWORD@%s/shop"
fi

# --- pgward ----------------------------------------------------------------
pgw_section "pgward"
# Stop a pgward left by an earlier run of this script so the new build serves.
if [[ -f $DEV_DIR/pgward.pid ]]; then
    old_pid=$(cat "$DEV_DIR/pgward.pid")
    if [[ $old_pid =~ ^[0-9]+$ ]] && kill -0 "$old_pid" 2>/dev/null &&
        tr '\0' ' ' <"/proc/$old_pid/cmdline" 2>/dev/null | grep -q pgward; then
        pgw_stop_pid "$old_pid" "previous pgward"
    fi
    rm -f "$DEV_DIR/pgward.pid"
fi

LISTEN=${PGWARD_LISTEN:-$(sed -n 's/^listen: *"\{0,1\}\([^"#]*[^"# ]\)"\{0,1\}.*/\1/p' "$CONFIG" | head -n1)}
LISTEN=${LISTEN:-127.0.0.1:6432}
CONNECT_ADDR=${LISTEN/#0.0.0.0:/127.0.0.1:}
# shellcheck disable=SC2059
CONNECT_URL=$(printf "$CONNECT_HINT" "$CONNECT_ADDR")

ARGS=(serve --config "$CONFIG" --upstream "$UPSTREAM")
# The example config's catalog login (used by masking) is the cluster's postgres user.
# It is read from .pgward-dev/catalog-password, so `pgward mcp` with the same
# config finds it too.
if [[ -z ${PGWARD_UPSTREAM:-} ]]; then
    catalog_password=$PG_PASSWORD
elif [[ -n ${PGWARD_CATALOG_PASSWORD:-} ]]; then
    catalog_password=$PGWARD_CATALOG_PASSWORD
else
    pgw_die "set PGWARD_CATALOG_PASSWORD to the password of the upstream's postgres user (masking reads the catalog with it; see catalog: in $CONFIG)"
fi
(umask 077 && printf '%s\n' "$catalog_password" >"$DEV_DIR/catalog-password")

# What to try next (the README's quickstart walks through it).
try_this() {
    local bin=${PGWARD_BIN#"$PGW_ROOT"/} up=""
    [[ $UPSTREAM == 127.0.0.1:54329 ]] || up=" --upstream $UPSTREAM"
    cat <<EOF

Try (README, Quickstart):
    psql "postgresql://analyst-ann:analyst@$CONNECT_ADDR/shop" -c "DELETE FROM shop.orders"
    psql "postgresql://analyst-ann:analyst@$CONNECT_ADDR/shop" -c "SELECT full_name, email, ssn FROM shop.customers LIMIT 3"
    $bin audit tail --config $CONFIG -f
    curl -s http://127.0.0.1:9187/metrics | grep '^pgward_statements_total'
    PGWARD_MCP_PASSWORD=analyst .pgward-dev/venv/bin/python scripts/mcp-client.py --stdio -- $bin mcp --config $CONFIG$up --user analyst-ann tools
EOF
}

if [[ $BACKGROUND -eq 1 ]]; then
    log="$DEV_DIR/pgward.log"
    : >"$log"
    nohup "$PGWARD_BIN" "${ARGS[@]}" >>"$log" 2>&1 </dev/null &
    pid=$!
    printf '%s\n' "$pid" >"$DEV_DIR/pgward.pid"
    if ! pgw_wait_for_line "$log" '^pgward listening on ' 30 "$pid"; then
        tail -n 30 "$log" >&2 || true
        pgw_stop_pid "$pid" pgward 5
        rm -f "$DEV_DIR/pgward.pid"
        pgw_die "pgward did not start (log: ${log#"$PGW_ROOT"/})"
    fi
    grep -m1 '^pgward listening on ' "$log"
    cat <<EOF

pgward is running in the background (pid $pid, log ${log#"$PGW_ROOT"/}), upstream $UPSTREAM.
Connect with:

    psql "$CONNECT_URL"

Stop everything with: scripts/dev-down.sh
EOF
    try_this
    exit 0
fi

try_this
cat <<EOF
Starting pgward in the foreground (Ctrl-C to stop), upstream $UPSTREAM.
Connect from another terminal with:

    psql "$CONNECT_URL"

EOF
# exec keeps this PID, so dev-down.sh can stop a foreground pgward too.
printf '%s\n' "$$" >"$DEV_DIR/pgward.pid"
exec "$PGWARD_BIN" "${ARGS[@]}"

# shellcheck shell=bash
# Helpers shared by scripts/*.sh and benches/*.sh. Source it; do not run it.
#
# Everything here is plain bash plus coreutils; Debian/Ubuntu packages are
# installed with apt-get only when something is missing.

# Repository root (this file lives in <root>/scripts/).
PGW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PGW_ROOT

# Print the comment block at the top of script $1 (after the shebang).
pgw_usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"
}

pgw_section() { printf '\n==== %s ====\n' "$*"; }
pgw_info() { printf '==> %s\n' "$*" >&2; }
pgw_warn() { printf 'warning: %s\n' "$*" >&2; }
pgw_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Run a command as root: directly when we are root, through sudo otherwise.
pgw_as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        pgw_die "need root to run: $* (not root and sudo is not installed)"
    fi
}

# --- system packages -------------------------------------------------------

_pgw_dpkg_installed() {
    command -v dpkg-query >/dev/null 2>&1 &&
        dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Directory holding the newest PostgreSQL server binaries (initdb, pg_ctl,
# postgres, pgbench), or nothing. PG_BIN overrides the search.
pgw_pg_bindir() {
    if [[ -n ${PG_BIN:-} ]]; then
        printf '%s\n' "$PG_BIN"
        return 0
    fi
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/initdb && -x $d/postgres ]] || continue
        if [[ -z $best ]] || [[ $(printf '%s\n%s\n' "$best" "$d" | sort -V | tail -n1) == "$d" ]]; then
            best=$d
        fi
    done
    if [[ -n $best ]]; then
        printf '%s\n' "$best"
    elif command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
    elif command -v pg_config >/dev/null 2>&1 && [[ -x "$(pg_config --bindir)/initdb" ]]; then
        pg_config --bindir
    fi
}

# Is the requirement named $1 already satisfied on this machine?
_pgw_have() {
    case $1 in
    postgresql) [[ -n "$(pgw_pg_bindir)" ]] && command -v psql >/dev/null 2>&1 ;;
    postgresql-client) command -v psql >/dev/null 2>&1 ;;
    pgbouncer) command -v pgbouncer >/dev/null 2>&1 || [[ -x /usr/sbin/pgbouncer ]] ;;
    build-essential) command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 ;;
    pkg-config) command -v pkg-config >/dev/null 2>&1 ;;
    libclang-dev)
        _pgw_dpkg_installed libclang-dev ||
            { command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libclang[-.0-9]*\.so'; }
        ;;
    shellcheck) command -v shellcheck >/dev/null 2>&1 ;;
    python3-venv) command -v python3 >/dev/null 2>&1 && python3 -c 'import venv, ensurepip' >/dev/null 2>&1 ;;
    *) _pgw_dpkg_installed "$1" ;;
    esac
}

# pgw_ensure_packages PKG... — install (with apt-get) the Debian packages
# among PKG that are missing. `apt-get update` runs at most once per script.
pgw_ensure_packages() {
    local missing=() p
    for p in "$@"; do
        _pgw_have "$p" || missing+=("$p")
    done
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        pgw_die "missing: ${missing[*]}. This is not a Debian/Ubuntu system; install them with your package manager and re-run."
    fi
    pgw_info "installing missing packages: ${missing[*]}"
    if [[ -z ${_PGW_APT_UPDATED:-} ]]; then
        pgw_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
            pgw_die "apt-get update failed"
        _PGW_APT_UPDATED=1
    fi
    pgw_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" ||
        pgw_die "apt-get install failed for: ${missing[*]}"
    for p in "${missing[@]}"; do
        _pgw_have "$p" || pgw_die "package $p was installed but is still not usable"
    done
}

# --- Python ----------------------------------------------------------------

# pgw_ensure_venv DIR REQUIREMENTS — a virtualenv in DIR with the packages of
# the REQUIREMENTS file (pinned versions) installed; rebuilt only when the
# file changes. Prints the venv's python.
pgw_ensure_venv() {
    local dir=$1 req=$2 stamp
    pgw_ensure_packages python3-venv >&2
    stamp="$dir/.requirements.sha256"
    if [[ -x $dir/bin/python ]] && [[ -f $stamp ]] && sha256sum --status -c "$stamp" 2>/dev/null; then
        printf '%s\n' "$dir/bin/python"
        return 0
    fi
    pgw_info "creating python venv $dir ($(basename "$req"))"
    rm -rf "$dir"
    python3 -m venv "$dir" >&2 || pgw_die "python3 -m venv $dir failed"
    "$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2 ||
        pgw_die "pip install -r $req failed"
    sha256sum "$req" >"$stamp"
    printf '%s\n' "$dir/bin/python"
}

# --- Rust ------------------------------------------------------------------

# Make sure cargo is on PATH and the toolchain is new enough for Cargo.toml's
# rust-version. Rust is never installed by these scripts.
pgw_ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -f ${HOME:-}/.cargo/env ]]; then
        # shellcheck disable=SC1091
        . "${HOME:-}/.cargo/env"
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        pgw_die "Rust toolchain not found (no 'cargo' on PATH or in ~/.cargo/env).
       Install it with rustup (https://rustup.rs), open a new shell, and re-run this script."
    fi
    local want have
    want=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$PGW_ROOT/Cargo.toml" | head -n1)
    have=$(rustc --version 2>/dev/null | awk '{print $2}')
    if [[ -n $want && -n $have ]] &&
        [[ $(printf '%s\n%s\n' "$want" "${have%%-*}" | sort -V | head -n1) != "$want" ]]; then
        pgw_die "rustc $have is older than the required $want; run 'rustup update' and re-run."
    fi
}

# --- processes, ports ------------------------------------------------------

# Run a command as the owner of directory $1 (for PostgreSQL data dirs and the
# like): through runuser when we are root and the owner is not, directly
# otherwise.
pgw_run_as_owner() {
    local dir=$1
    shift
    local owner
    owner=$(stat -c %U "$dir")
    if [[ $EUID -eq 0 && $owner != root ]]; then
        # From /: the current directory may be closed to that user.
        (cd / && runuser -u "$owner" -- "$@")
    else
        "$@"
    fi
}

# The unprivileged user PostgreSQL and pgbouncer run as: "postgres" when we are
# root (they refuse to run as root), the current user otherwise.
pgw_service_user() {
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || pgw_die "running as root but there is no 'postgres' system user (install the postgresql package)"
        printf 'postgres\n'
    else
        id -un
    fi
}

# Does something accept TCP connections on 127.0.0.1:$1?
# pgw_free_space DIR — free space of DIR's file system, human-readable.
pgw_free_space() { df -Ph "$1" | awk 'NR == 2 { print $4 }'; }

pgw_port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pgw_free_port [EXCLUDED...] — print a loopback TCP port nobody listens on,
# outside the kernel's ephemeral range and not among EXCLUDED.
pgw_free_port() {
    local port i ex taken
    for ((i = 0; i < 500; i++)); do
        port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
        taken=
        for ex in "$@"; do
            [[ $ex == "$port" ]] && taken=1
        done
        [[ -n $taken ]] && continue
        pgw_port_in_use "$port" && continue
        if command -v python3 >/dev/null 2>&1; then
            python3 - "$port" <<'PY' 2>/dev/null || continue
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.close()
PY
        fi
        printf '%s\n' "$port"
        return 0
    done
    pgw_die "could not find a free TCP port on 127.0.0.1"
}

# pgw_wait_for_line FILE REGEX TIMEOUT_S [PID] — wait until FILE has a line
# matching REGEX. Fails early if PID is given and that process exits.
pgw_wait_for_line() {
    local file=$1 re=$2 timeout=$3 pid=${4:-} i
    for ((i = 0; i < timeout * 10; i++)); do
        if [[ -f $file ]] && grep -Eq -- "$re" "$file"; then
            return 0
        fi
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            # One last look: the line may have been written just before exit.
            [[ -f $file ]] && grep -Eq -- "$re" "$file" && return 0
            return 1
        fi
        sleep 0.1
    done
    return 1
}

# pgw_stop_pid PID NAME [GRACE_S] — SIGTERM, wait up to GRACE_S (default 40),
# then SIGKILL.
pgw_stop_pid() {
    local pid=$1 name=$2 grace=${3:-40} i
    kill -0 "$pid" 2>/dev/null || return 0
    pgw_info "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    pgw_warn "$name (pid $pid) did not exit after ${grace}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
}

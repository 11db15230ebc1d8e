#!/usr/bin/env bash
# A throwaway PostgreSQL server for the test suite.
#
#   .ci/postgres.sh start DIR   initdb into DIR and start a server listening only on a Unix socket
#                               in DIR; prints the SQLAlchemy URL on stdout (log lines go to stderr)
#   .ci/postgres.sh stop DIR    stop that server and delete DIR
#   .ci/postgres.sh available   exit 0 when a server can be started here (binaries found or
#                               installable because we are root)
#
# PostgreSQL refuses to run as root: as root the cluster belongs to the `postgres` OS user
# (created by Debian's package), otherwise to the current user. fsync and friends are off: the
# data is thrown away at the end, and the suite runs several times faster without them.
set -euo pipefail

PG_VERSION="${TASKFLOW_PG_VERSION:-15}"

log() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local dir
    if [[ -n "${TASKFLOW_PG_BINDIR:-}" && -x "${TASKFLOW_PG_BINDIR}/initdb" ]]; then
        echo "$TASKFLOW_PG_BINDIR"; return 0
    fi
    for dir in "/usr/lib/postgresql/${PG_VERSION}/bin" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
        if [[ -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then echo "$dir"; return 0; fi
    done
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(command -v pg_ctl)"; return 0
    fi
    return 1
}

install_server() {
    if [[ $(id -u) -ne 0 ]]; then
        log "PostgreSQL is not installed and we are not root: cannot install it"
        return 1
    fi
    log "installing postgresql-${PG_VERSION} from Debian's packages"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-${PG_VERSION}" >&2 \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
}

bindir() {
    find_bindir || { install_server && find_bindir; }
}

# Run a command as the cluster's owner.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    local dir="$1" bin
    bin="$(bindir)"
    mkdir -p "$dir"
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
        chown postgres: "$dir"
        chmod 700 "$dir"
    fi
    as_owner "$bin/initdb" --pgdata="$dir/data" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    # No TCP at all: the socket lives in $dir, so parallel runs never collide on a port.
    as_owner "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
            -c shared_buffers=128MB" start >&2 \
        || { cat "$dir/server.log" >&2; return 1; }
    "$bin/psql" -h "$dir" -U postgres -d postgres -qAt -c "CREATE DATABASE taskflow_test" >&2
    log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') running, socket in $dir"
    echo "postgresql+psycopg://postgres@/taskflow_test?host=$dir"
}

stop() {
    local dir="$1" bin
    if [[ -f "$dir/data/postmaster.pid" ]]; then
        bin="$(find_bindir)"
        as_owner "$bin/pg_ctl" --pgdata="$dir/data" --mode=immediate --wait stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) start "${2:?usage: $0 start DIR}" ;;
    stop) stop "${2:?usage: $0 stop DIR}" ;;
    available) find_bindir >/dev/null || [[ $(id -u) -eq 0 ]] ;;
    *) echo "usage: $0 start DIR | stop DIR | available" >&2; exit 2 ;;
esac

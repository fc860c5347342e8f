#!/usr/bin/env bash
# A PostgreSQL server on loopback for the gateway's tests and benchmarks: Debian's postgresql-15 binaries
# started directly (CI machines have no systemd), its cluster under one directory, trust authentication
# on 127.0.0.1 only.
#
#   ci/postgres.sh up      initialise (once) and start; idempotent; prints the JDBC URL
#   ci/postgres.sh down    stop the server (fast shutdown)
#   ci/postgres.sh status  exit 0 only when the server accepts connections
#
# Port: $SKIFF_PG_PORT (default 55432), so a packaged server on 5432 is left alone. The database and role are
# both named "skiff". Run as root.
set -euo pipefail

dir=${SKIFF_PG_DIR:-/var/lib/skiff-pg}
port=${SKIFF_PG_PORT:-55432}
die() { echo "ci/postgres.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it starts the server as the postgres user)"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] && [ -x "$bin/postgres" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql; run ci/setup.sh"
as_pg() { runuser -u postgres -- "$@"; }
ready() { as_pg "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; }

case ${1:-} in
  up)
    if [ ! -s "$dir/data/PG_VERSION" ]; then
      install -d -o postgres -g postgres -m 0700 "$dir" "$dir/data"
      as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
      # Loopback only; the socket in our own directory so the packaged cluster's /run/postgresql is not needed.
      cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
CONF
    fi
    if ! ready; then
      as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
        tail -20 "$dir/server.log" >&2; die "the server did not start (log above)"; }
    fi
    as_pg "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='skiff'" | grep -q 1 ||
      as_pg "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE ROLE skiff LOGIN"
    as_pg "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='skiff'" | grep -q 1 ||
      as_pg "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -c "CREATE DATABASE skiff OWNER skiff"
    echo "jdbc:postgresql://127.0.0.1:$port/skiff?user=skiff"
    ;;
  down)
    [ -s "$dir/data/PG_VERSION" ] && ready && as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    exit 0
    ;;
  status)
    ready
    ;;
  *) die "usage: ci/postgres.sh up|down|status" ;;
esac

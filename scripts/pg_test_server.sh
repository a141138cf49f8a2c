#!/usr/bin/env bash
# Start (or reuse) a throwaway local PostgreSQL server for the tests; prints its SQLAlchemy URL.
# Usage: scripts/pg_test_server.sh start|stop
# Each checkout has its own server (data in ${CALLQA_PG_DIR:-/tmp/callqa-pg-<checkout hash>}, on a free port
# chosen at first start and kept in <dir>.port, or ${CALLQA_PG_PORT}), so two checkouts testing at once on one
# machine neither share a database nor stop each other's server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${CALLQA_PG_DIR:-/tmp/callqa-pg-$(printf %s "$root" | cksum | cut -d' ' -f1)}
if [ -n "${CALLQA_PG_PORT:-}" ]; then
  port=$CALLQA_PG_PORT
elif [ -s "$dir.port" ]; then
  port=$(cat "$dir.port")
else
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  echo "$port" > "$dir.port"
fi
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
case "${1:-start}" in
  start)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres "$dir"
      as_pg "$bin/initdb -D $dir -U callqa --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    fi
    if ! as_pg "$bin/pg_ctl -D $dir status" >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl -D $dir -l $dir/server.log -o '-p $port -k /tmp -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200' -w start" >/dev/null
    fi
    as_pg "$bin/psql -h 127.0.0.1 -p $port -U callqa -d postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='callqa_test'\"" | grep -q 1 \
      || as_pg "$bin/createdb -h 127.0.0.1 -p $port -U callqa callqa_test"
    echo "postgresql+psycopg://callqa@127.0.0.1:$port/callqa_test"
    ;;
  stop)
    as_pg "$bin/pg_ctl -D $dir -m fast stop" >/dev/null 2>&1 || true
    ;;
esac

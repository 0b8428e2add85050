#!/usr/bin/env bash
# Starts (or reuses) a throwaway PostgreSQL cluster for the test suite and prints its URL.
# Usage: scripts/pg-throwaway.sh start|stop   (env VOXVAULT_PG_DIR, VOXVAULT_PG_PORT)
set -euo pipefail
DIR=${VOXVAULT_PG_DIR:-/tmp/voxvault-pg}
PORT=${VOXVAULT_PG_PORT:-54329}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$BIN" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi; }
case "${1:-start}" in
  start)
    if [ ! -f "$DIR/PG_VERSION" ]; then
      mkdir -p "$DIR"
      [ "$(id -u)" = 0 ] && chown postgres "$DIR"
      as_pg "$BIN/initdb -D $DIR -A trust -U postgres" >/dev/null
    fi
    if ! as_pg "$BIN/pg_ctl -D $DIR status" >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl -D $DIR -o '-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c fsync=on' -l $DIR/pg.log -w start" >/dev/null
    fi
    echo "postgres://postgres@127.0.0.1:$PORT/postgres"
    ;;
  stop)
    as_pg "$BIN/pg_ctl -D $DIR -m fast stop" >/dev/null 2>&1 || true
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

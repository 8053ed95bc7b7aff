#!/usr/bin/env bash
# Installs (with apt-get, when missing) and starts the services the test suite needs, on 127.0.0.1
# only: PostgreSQL 15 on port 55432 and Redis on port 56379, with their data under
# /var/tmp/switchboard-test. Reuses them when an earlier run left them up. Prints the variables
# the tests read:  eval "$(scripts/test-services.sh)"
set -euo pipefail

PG_PORT=${SB_TEST_PG_PORT:-55432}
REDIS_PORT=${SB_TEST_REDIS_PORT:-56379}
STATE_DIR=${SB_TEST_STATE_DIR:-/var/tmp/switchboard-test}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_packages=()
command -v redis-server >/dev/null || need_packages+=(redis-server)
command -v sipp >/dev/null || need_packages+=(sip-tester)
# Headless Chromium for the wallboard's browser test (driven by playwright-core, which downloads nothing).
command -v chromium >/dev/null || need_packages+=(chromium)
command -v pg_ctl >/dev/null || [ -x /usr/lib/postgresql/15/bin/pg_ctl ] || need_packages+=(postgresql-15)
if [ ${#need_packages[@]} -gt 0 ]; then
  echo >&2 "test-services: installing ${need_packages[*]}"
  $SUDO apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_packages[@]}" >&2
fi

PG_BIN=/usr/lib/postgresql/15/bin
mkdir -p "$STATE_DIR"

start_postgres() {
  local data="$STATE_DIR/pg"
  if "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; then
    echo >&2 "test-services: PostgreSQL already running on 127.0.0.1:$PG_PORT"
    return
  fi
  # initdb and postgres refuse to run as root.
  local run_as=()
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$STATE_DIR" postgres
    chown postgres "$STATE_DIR"
    run_as=(runuser -u postgres --)
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    "${run_as[@]}" "$PG_BIN/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
  fi
  "${run_as[@]}" "$PG_BIN/pg_ctl" -D "$data" -l "$STATE_DIR/pg.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $PG_PORT -k /tmp -c fsync=off -c max_connections=300" start >/dev/null
  echo >&2 "test-services: PostgreSQL started on 127.0.0.1:$PG_PORT"
}

start_redis() {
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    echo >&2 "test-services: Redis already running on 127.0.0.1:$REDIS_PORT"
    return
  fi
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --save "" --appendonly no \
    --dir "$STATE_DIR" --logfile "$STATE_DIR/redis.log"
  for _ in $(seq 1 50); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    sleep 0.1
  done
  echo >&2 "test-services: Redis started on 127.0.0.1:$REDIS_PORT"
}

start_postgres
start_redis

echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres"
echo "export TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT"

# shellcheck shell=bash
# scripts/lib/services.sh — throwaway local services for the tests and the demo. Source it:
#
#   source scripts/lib/services.sh
#   pg_up [--durable]   PostgreSQL 15 cluster      -> PG_ADMIN_URL
#   azurite_up          Azurite blob and queue     -> AZURITE_BLOB_ENDPOINT, AZURITE_QUEUE_ENDPOINT,
#                       services                      AZURITE_CONNECTION_STRING (BlobEndpoint= and
#                                                     QueueEndpoint=), AZURITE_ACCOUNT_NAME, AZURITE_ACCOUNT_KEY
#   chdb_up             chdb_front (ClickHouse HTTP front over embedded chdb) -> CLICKHOUSE_TEST_URL
#   pg_down [--purge] | azurite_down | chdb_down | services_down [--purge] | services_status
#   browser_install     npm ci in tests/browser (playwright-core for the page tests; not a service)
#   cards_install       not a service: `npm ci` in tests/cards (the Adaptive Card renderer test)
#
# Every *_up is idempotent: a service that is already up (pid alive, endpoint answering) is reused.
# Its exports are set in the calling shell and written to $CA_RUN_DIR/services.env, which any other
# shell can `source`. All state lives under $CA_RUN_DIR (default <repo>/.run, gitignored):
#   pg/ (data dir; /tmp/call-analytics-pg-$UID-<hash> instead when user postgres cannot reach it
#   or the socket path would be too long), pg.log, azurite[-queue].pid|.port|.log, chdb.pid|.url|.log|.stdout,
#   chdb/ (chdb data), env.d/*.env (one fragment per service), services.env (their concatenation).
# Install steps are cached: `npm ci` in tests/azurite, tests/browser and tests/cards runs only
# when its package-lock.json changed (stamp in node_modules), tests/.venv is (re)filled only when
# tests/chdb_front/requirements.txt changed (stamp in the venv).
#
# Each function runs its body in a fresh `bash -euo pipefail` (so errexit works even when the
# caller writes `pg_up || …`) under a lock ($CA_RUN_DIR/.lock, so parallel callers do not race),
# then loads services.env into the caller. Progress goes to stderr; only services_status prints
# to stdout.
#
# Settings (environment): CA_RUN_DIR, CA_PG_DURABLE=1 (same as pg_up --durable),
# CA_NODE_MAX_OLD_SPACE_MB (512), CA_AZURITE_EXTENT_MB (256), CA_START_TIMEOUT (60 s).

_CA_SVC_LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
CA_REPO="${CA_REPO:-$(cd "$(dirname "$_CA_SVC_LIB")/../.." && pwd)}"
CA_RUN_DIR="${CA_RUN_DIR:-$CA_REPO/.run}"

# The well-known development account of the Azure Storage emulator (Microsoft's Azurite docs).
CA_AZURITE_ACCOUNT=devstoreaccount1
CA_AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

# ---------------------------------------------------------------- public functions (caller shell)

pg_up()           { _ca_svc _ca_pg_up "$@"; }
pg_down()         { local rc=0; _ca_svc _ca_pg_down "$@" || rc=$?; _ca_unset pg; return "$rc"; }
azurite_up()      { _ca_svc _ca_azurite_up "$@"; }
azurite_down()    { local rc=0; _ca_svc _ca_azurite_down "$@" || rc=$?; _ca_unset azurite; return "$rc"; }
chdb_up()         { _ca_svc _ca_chdb_up "$@"; }
chdb_down()       { local rc=0; _ca_svc _ca_chdb_down "$@" || rc=$?; _ca_unset chdb; return "$rc"; }
services_down()   {
  local rc=0
  _ca_svc _ca_services_down "$@" || rc=$?
  _ca_unset chdb; _ca_unset azurite; _ca_unset pg
  return "$rc"
}
services_status() { _ca_svc _ca_services_status; }
cards_install()   { _ca_svc _ca_cards_install; }

# Run an implementation in a fresh strict bash, then load the exports into the caller.
_ca_svc() {
  local rc=0
  CA_REPO="$CA_REPO" CA_RUN_DIR="$CA_RUN_DIR" \
    bash -c 'set -euo pipefail; source "$1"; shift; _ca_locked "$@"' ca-services "$_CA_SVC_LIB" "$@" || rc=$?
  if [[ -f "$CA_RUN_DIR/services.env" ]]; then
    # shellcheck disable=SC1091
    source "$CA_RUN_DIR/services.env"
  fi
  return "$rc"
}

_ca_unset() {
  case "$1" in
    pg) unset PG_ADMIN_URL ;;
    azurite) unset AZURITE_BLOB_ENDPOINT AZURITE_QUEUE_ENDPOINT AZURITE_CONNECTION_STRING AZURITE_ACCOUNT_NAME AZURITE_ACCOUNT_KEY ;;
    chdb) unset CLICKHOUSE_TEST_URL ;;
  esac
}

# ---------------------------------------------------------------- helpers (inside the strict bash)

_ca_log() { printf '[services] %s\n' "$*" >&2; }
_ca_die() { printf '[services] error: %s\n' "$*" >&2; exit 1; }

# fd 9 holds the lock; every daemon we start gets `9>&-` so it does not inherit it.
_ca_locked() {
  mkdir -p "$CA_RUN_DIR/env.d"
  exec 9>"$CA_RUN_DIR/.lock"
  flock -w 900 9 || _ca_die "timed out waiting for $CA_RUN_DIR/.lock"
  "$@"
}

_ca_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

_ca_sha() { sha256sum "$1" | cut -d' ' -f1; }

# _ca_env NAME 'export A=…' … : write env.d/NAME.env and rebuild services.env (atomically).
_ca_env() {
  local name=$1 line
  shift
  {
    printf '# %s — written by scripts/lib/services.sh\n' "$name"
    for line in "$@"; do printf '%s\n' "$line"; done
  } >"$CA_RUN_DIR/env.d/$name.env"
  _ca_env_rebuild
}
_ca_env_drop() { rm -f "$CA_RUN_DIR/env.d/$1.env"; _ca_env_rebuild; }
_ca_env_rebuild() {
  local f tmp="$CA_RUN_DIR/services.env.tmp.$$"
  {
    printf '# Exports of the local test services (scripts/lib/services.sh). Source this file.\n'
    for f in "$CA_RUN_DIR"/env.d/*.env; do
      if [[ -e "$f" ]]; then cat "$f"; fi
    done
  } >"$tmp"
  mv -f "$tmp" "$CA_RUN_DIR/services.env"
}
_ca_q() { printf '%q' "$1"; }

# _ca_alive PIDFILE MARKER: true when the pid in PIDFILE runs a command line containing MARKER.
_ca_alive() {
  local pid
  [[ -s "$1" ]] || return 1
  pid=$(<"$1")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# _ca_stop PIDFILE MARKER NAME: TERM the process (its group, when it leads one), KILL after 15 s.
_ca_stop() {
  local pidfile=$1 marker=$2 name=$3 pid target i
  if ! _ca_alive "$pidfile" "$marker"; then
    rm -f "$pidfile"
    _ca_log "$name: not running"
    return 0
  fi
  pid=$(<"$pidfile")
  target=$pid
  if [[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" == "$pid" ]]; then target="-$pid"; fi
  kill -TERM -- "$target" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    _ca_log "$name: still alive after 15 s, sending KILL"
    kill -KILL -- "$target" 2>/dev/null || true
  fi
  rm -f "$pidfile"
  _ca_log "$name: stopped (pid $pid)"
}

# _ca_http_any URL: true when anything answers HTTP at URL (any status).
_ca_http_any() {
  local code
  code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null) || true
  [[ -n "$code" && "$code" != 000 ]]
}

# ---------------------------------------------------------------- PostgreSQL

_ca_pg_bindir() {
  local d
  d=$(pg_config --bindir 2>/dev/null) || true
  [[ -x "$d/initdb" ]] || d=/usr/lib/postgresql/15/bin
  [[ -x "$d/initdb" ]] || _ca_die "PostgreSQL server binaries (initdb, pg_ctl) not found (pg_config --bindir)"
  printf '%s\n' "$d"
}

# Run a server binary as the cluster owner: `postgres` when we are root, else ourselves.
_ca_as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# Data dir: $CA_RUN_DIR/pg, unless (as root) user postgres cannot reach it or the socket path would
# be too long; then /tmp/call-analytics-pg-$UID-<sha of the run dir path (<repo>/.run by default)>.
_ca_pg_datadir() {
  local d="$CA_RUN_DIR/pg"
  if [[ $EUID -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || _ca_die "running as root but there is no 'postgres' user to own the cluster"
    # shellcheck disable=SC2016  # $1 is expanded by the inner sh
    if ! runuser -u postgres -- sh -c 'cd "$1"' _ "$CA_RUN_DIR" 2>/dev/null; then
      d=""
    fi
  fi
  if [[ -z "$d" || ${#d} -gt 90 ]]; then
    d="/tmp/call-analytics-pg-$UID-$(printf '%s' "$CA_RUN_DIR" | sha256sum | cut -c1-12)"
  fi
  printf '%s\n' "$d"
}

# A throwaway CA and a server certificate for 127.0.0.1, so tests can connect with
# sslmode=require and verify the server (PG_CA_CERT is the CA to trust).
_ca_pg_tls() {  # DATADIR
  local datadir=$1 tmp
  [[ -f "$datadir/server.crt" && -f "$CA_RUN_DIR/pg-ca.crt" ]] && return 0
  tmp=$(mktemp -d)
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=call-analytics test CA" \
    -keyout "$tmp/ca.key" -out "$tmp/ca.crt" >/dev/null 2>&1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$tmp/server.key" -out "$tmp/server.csr" >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$tmp/ext.cnf"
  openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial \
    -days 3650 -extfile "$tmp/ext.cnf" -out "$tmp/server.crt" >/dev/null 2>&1
  install -o postgres -m 0600 "$tmp/server.key" "$datadir/server.key"
  install -o postgres -m 0644 "$tmp/server.crt" "$datadir/server.crt"
  install -m 0644 "$tmp/ca.crt" "$CA_RUN_DIR/pg-ca.crt"
  rm -rf "$tmp"
}

_ca_pg_write_conf() {  # DATADIR PORT DURABLE(0|1)
  local datadir=$1 port=$2 durable=$3 sync=off
  if [[ "$durable" == 1 ]]; then sync=on; fi
  _ca_pg_tls "$datadir"
  _ca_as_pg tee "$datadir/ca_run.conf" >/dev/null <<EOF
# Written by scripts/lib/services.sh (pg_up) at every start; edits are lost.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$datadir'
max_connections = 200
shared_buffers = 1GB
work_mem = 16MB
maintenance_work_mem = 512MB
effective_cache_size = 16GB
max_worker_processes = 8
max_parallel_workers = 4
max_parallel_workers_per_gather = 2
max_parallel_maintenance_workers = 2
random_page_cost = 1.1
effective_io_concurrency = 200
wal_level = minimal
max_wal_senders = 0
max_wal_size = 4GB
checkpoint_timeout = 15min
timezone = 'UTC'
log_timezone = 'UTC'
# durable = $durable: off only for throwaway test data, on for benchmarks (pg_up --durable)
fsync = $sync
synchronous_commit = $sync
full_page_writes = $sync
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
EOF
}

_ca_pg_up() {
  local durable="${CA_PG_DURABLE:-0}" arg
  for arg in "$@"; do
    case "$arg" in
      --durable) durable=1 ;;
      *) _ca_die "pg_up: unknown argument $arg (only --durable)" ;;
    esac
  done
  local bindir datadir log port="" i
  bindir=$(_ca_pg_bindir)
  datadir=$(_ca_pg_datadir)
  log="$datadir.log"
  [[ "$datadir" == "$CA_RUN_DIR/pg" ]] || _ca_log "pg: data dir is $datadir (outside $CA_RUN_DIR: not reachable by user postgres, or path too long)"

  if [[ -f "$datadir/PG_VERSION" ]] && _ca_as_pg "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$datadir/ca_run.conf")
    if [[ -n "$port" ]] && "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      if ! grep -qx "# durable = $durable: .*" "$datadir/ca_run.conf"; then
        _ca_pg_write_conf "$datadir" "$port" "$durable"
        _ca_as_pg "$bindir/pg_ctl" -D "$datadir" reload >/dev/null 9>&-
        _ca_log "pg: reloaded with durable=$durable"
      fi
      _ca_log "pg: already up on port $port (data $datadir)"
      _ca_pg_env "$port" "$datadir"
      return 0
    fi
    _ca_log "pg: running but not answering; restarting"
    _ca_as_pg "$bindir/pg_ctl" -D "$datadir" -m fast -w stop >/dev/null 9>&- || true
  fi

  if [[ ! -f "$datadir/PG_VERSION" ]]; then
    [[ "$datadir" == "$CA_RUN_DIR/pg" || "$datadir" == /tmp/call-analytics-pg-* ]] || _ca_die "refusing to touch $datadir"
    rm -rf "$datadir"
    mkdir -p "$datadir"
    chmod 700 "$datadir"
    if [[ $EUID -eq 0 ]]; then chown postgres:postgres "$datadir"; fi
    _ca_log "pg: initdb $datadir"
    _ca_as_pg "$bindir/initdb" -D "$datadir" -U postgres -A trust -E UTF8 --locale=C \
      --no-sync --no-instructions >"$CA_RUN_DIR/pg-initdb.log" 2>&1 9>&- \
      || { cat "$CA_RUN_DIR/pg-initdb.log" >&2; _ca_die "initdb failed"; }
    _ca_as_pg tee -a "$datadir/postgresql.conf" >/dev/null <<'EOF'

# call-analytics: settings of the throwaway cluster (rewritten by pg_up at every start)
include_if_exists = 'ca_run.conf'
EOF
    _ca_as_pg tee "$datadir/pg_hba.conf" >/dev/null <<'EOF'
# call-analytics throwaway cluster: trust, loopback and the socket in the data dir only.
local all all                trust
host  all all 127.0.0.1/32   trust
host  all all ::1/128        trust
EOF
  fi

  touch "$log"
  if [[ $EUID -eq 0 ]]; then chown postgres:postgres "$log"; fi
  for ((i = 1; i <= 3; i++)); do
    port=$(_ca_free_port)
    _ca_pg_write_conf "$datadir" "$port" "$durable"
    if _ca_as_pg "$bindir/pg_ctl" -D "$datadir" -l "$log" -w -t "${CA_START_TIMEOUT:-60}" start >/dev/null 9>&-; then
      _ca_log "pg: up on 127.0.0.1:$port (data $datadir, durable=$durable, log $log)"
      _ca_pg_env "$port" "$datadir"
      return 0
    fi
    _ca_log "pg: start attempt $i on port $port failed"
  done
  tail -n 20 "$log" >&2 || true
  _ca_die "PostgreSQL did not start (log: $log)"
}

_ca_pg_env() {  # PORT DATADIR
  _ca_env pg "export PG_ADMIN_URL=$(_ca_q "postgres://postgres@127.0.0.1:$1/postgres")" \
    "export PG_CA_CERT=$(_ca_q "$CA_RUN_DIR/pg-ca.crt")" \
    "# data dir: $2"
}

_ca_pg_down() {
  local purge=0 arg bindir datadir
  for arg in "$@"; do
    case "$arg" in
      --purge) purge=1 ;;
      *) _ca_die "pg_down: unknown argument $arg (only --purge)" ;;
    esac
  done
  bindir=$(_ca_pg_bindir)
  datadir=$(_ca_pg_datadir)
  if [[ -f "$datadir/postmaster.pid" ]] && _ca_as_pg "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    _ca_as_pg "$bindir/pg_ctl" -D "$datadir" -m fast -w -t 60 stop >/dev/null 9>&-
    _ca_log "pg: stopped"
  else
    _ca_log "pg: not running"
  fi
  _ca_env_drop pg
  if [[ $purge == 1 ]]; then
    rm -rf "$datadir" "$datadir.log"
    _ca_log "pg: removed $datadir"
  fi
}

# ---------------------------------------------------------------- Azurite (blob and queue)

# Installs are shared by every run dir: one at a time, across run dirs too.
_ca_azurite_install() { (flock 8; _ca_azurite_install_unlocked) 8>"$CA_REPO/tests/.install.lock"; }
_ca_azurite_install_unlocked() { _ca_npm_ci azurite tests/azurite azurite/dist/src/blob/main.js; }

# tests/cards: Microsoft's `adaptivecards` renderer and playwright-core (which drives Debian's
# Chromium and downloads no browser), for tests/cards/render.mjs. Cached like Azurite's.
_ca_cards_install() { (flock 8; _ca_cards_install_unlocked) 8>"$CA_REPO/tests/.install.lock"; }
_ca_cards_install_unlocked() { _ca_npm_ci cards tests/cards adaptivecards/dist/adaptivecards.min.js; }

_ca_azurite_up() {
  [[ $# -eq 0 ]] || _ca_die "azurite_up takes no arguments"
  local blob queue
  _ca_azurite_install
  blob=$(_ca_azurite_service_up blob) || _ca_die "Azurite blob service not started"
  queue=$(_ca_azurite_service_up queue) || _ca_die "Azurite queue service not started"
  _ca_azurite_env "$blob" "$queue"
}

# Starts one Azurite service (blob or queue) unless it is up; prints its port. Each runs as its
# own process: azurite[-queue].pid|.port|.log, cwd .run/azurite[-queue].
_ca_azurite_service_up() {  # blob|queue
  local svc=$1 name pidfile log main port pid i j
  name=azurite
  [[ "$svc" == blob ]] || name="azurite-$svc"
  pidfile="$CA_RUN_DIR/$name.pid" log="$CA_RUN_DIR/$name.log"
  main="$CA_REPO/tests/azurite/node_modules/azurite/dist/src/$svc/main.js"
  if _ca_alive "$pidfile" "$main" && [[ -s "$CA_RUN_DIR/$name.port" ]]; then
    port=$(<"$CA_RUN_DIR/$name.port")
    if _ca_http_any "http://127.0.0.1:$port/$CA_AZURITE_ACCOUNT"; then
      _ca_log "$name: already up on port $port"
      printf '%s\n' "$port"
      return 0
    fi
    _ca_stop "$pidfile" "$main" "$name"
  fi
  mkdir -p "$CA_RUN_DIR/$name"
  for ((i = 1; i <= 3; i++)); do
    port=$(_ca_free_port)
    : >"$log"
    # setsid: own process group (stopped as a group, immune to the caller's Ctrl-C).
    # --inMemoryPersistence cannot be combined with --location; cwd is .run/<name> instead.
    (cd "$CA_RUN_DIR/$name" &&
      exec setsid node --max-old-space-size="${CA_NODE_MAX_OLD_SPACE_MB:-512}" "$main" \
        "--${svc}Host" 127.0.0.1 "--${svc}Port" "$port" \
        --skipApiVersionCheck --disableTelemetry --loose \
        --inMemoryPersistence --extentMemoryLimit "${CA_AZURITE_EXTENT_MB:-256}" \
        </dev/null >>"$log" 2>&1 9>&-) &
    pid=$!
    printf '%s\n' "$pid" >"$pidfile"
    printf '%s\n' "$port" >"$CA_RUN_DIR/$name.port"
    for ((j = 0; j < ${CA_START_TIMEOUT:-60} * 10; j++)); do
      if _ca_http_any "http://127.0.0.1:$port/$CA_AZURITE_ACCOUNT"; then
        _ca_log "$name: up on 127.0.0.1:$port (pid $pid, log $log)"
        printf '%s\n' "$port"
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    _ca_log "$name: start attempt $i on port $port failed:"
    tail -n 5 "$log" >&2 || true
    _ca_stop "$pidfile" "$main" "$name"
  done
  _ca_die "Azurite's $svc service did not start (log: $log)"
}

_ca_azurite_env() {  # BLOB_PORT QUEUE_PORT
  local ep="http://127.0.0.1:$1/$CA_AZURITE_ACCOUNT" qep="http://127.0.0.1:$2/$CA_AZURITE_ACCOUNT"
  _ca_env azurite \
    "export AZURITE_BLOB_ENDPOINT=$(_ca_q "$ep")" \
    "export AZURITE_QUEUE_ENDPOINT=$(_ca_q "$qep")" \
    "export AZURITE_CONNECTION_STRING=$(_ca_q "DefaultEndpointsProtocol=http;AccountName=$CA_AZURITE_ACCOUNT;AccountKey=$CA_AZURITE_KEY;BlobEndpoint=$ep;QueueEndpoint=$qep;")" \
    "export AZURITE_ACCOUNT_NAME=$CA_AZURITE_ACCOUNT" \
    "export AZURITE_ACCOUNT_KEY=$(_ca_q "$CA_AZURITE_KEY")"
}

_ca_azurite_down() {
  _ca_stop "$CA_RUN_DIR/azurite.pid" "$CA_REPO/tests/azurite/node_modules/azurite/dist/src/blob/main.js" azurite
  _ca_stop "$CA_RUN_DIR/azurite-queue.pid" "$CA_REPO/tests/azurite/node_modules/azurite/dist/src/queue/main.js" azurite-queue
  rm -f "$CA_RUN_DIR/azurite.port" "$CA_RUN_DIR/azurite-queue.port"
  _ca_env_drop azurite
}

# ---------------------------------------------------------------- chdb_front (ClickHouse over HTTP)

_ca_chdb_venv() { (flock 8; _ca_chdb_venv_unlocked) 8>"$CA_REPO/tests/.install.lock"; }
_ca_chdb_venv_unlocked() {
  local venv="$CA_REPO/tests/.venv" req="$CA_REPO/tests/chdb_front/requirements.txt" want have=""
  [[ -f "$req" ]] || _ca_die "$req missing"
  want=$(_ca_sha "$req")
  if [[ -f "$venv/.ca-requirements.sha256" ]]; then have=$(<"$venv/.ca-requirements.sha256"); fi
  if [[ "$want" == "$have" && -x "$venv/bin/python" ]]; then
    return 0
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    _ca_log "chdb: creating $venv"
    python3 -m venv "$venv"
  fi
  _ca_log "chdb: pip install -r $req (a first install downloads ~300 MB)"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" \
    >"$CA_RUN_DIR/chdb-pip.log" 2>&1 9>&- \
    || { tail -n 30 "$CA_RUN_DIR/chdb-pip.log" >&2; _ca_die "pip install failed (log: $CA_RUN_DIR/chdb-pip.log)"; }
  printf '%s\n' "$want" >"$venv/.ca-requirements.sha256"
}

_ca_chdb_up() {
  [[ $# -eq 0 ]] || _ca_die "chdb_up takes no arguments"
  local pidfile="$CA_RUN_DIR/chdb.pid" out="$CA_RUN_DIR/chdb.stdout" log="$CA_RUN_DIR/chdb.log"
  local server="$CA_REPO/tests/chdb_front/server.py" url="" pid line j
  [[ -f "$server" ]] || _ca_die "$server missing"
  if _ca_alive "$pidfile" "$server" && [[ -s "$CA_RUN_DIR/chdb.url" ]]; then
    url=$(<"$CA_RUN_DIR/chdb.url")
    if [[ "$(curl -s -m 2 "$url/ping" 2>/dev/null)" == Ok.* ]]; then
      _ca_log "chdb: already up at $url"
      _ca_chdb_env "$url"
      return 0
    fi
    _ca_stop "$pidfile" "$server" chdb
  fi
  _ca_chdb_venv
  mkdir -p "$CA_RUN_DIR/chdb"
  : >"$out"
  : >"$log"
  (cd "$CA_REPO" &&
    PYTHONUNBUFFERED=1 exec setsid "$CA_REPO/tests/.venv/bin/python" "$server" \
      --host 127.0.0.1 --port 0 --data "$CA_RUN_DIR/chdb" \
      </dev/null >>"$out" 2>>"$log" 9>&-) &
  pid=$!
  printf '%s\n' "$pid" >"$pidfile"
  # The first stdout line is "listening on http://127.0.0.1:PORT".
  for ((j = 0; j < ${CA_START_TIMEOUT:-60} * 10; j++)); do
    line=$(head -n 1 "$out")
    if [[ "$line" =~ ^listening\ on\ (http://[^[:space:]]+)$ ]]; then
      url=${BASH_REMATCH[1]}
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$url" ]]; then
    tail -n 20 "$log" >&2 || true
    _ca_stop "$pidfile" "$server" chdb
    _ca_die "chdb_front did not report its address within ${CA_START_TIMEOUT:-60} s (logs: $out, $log)"
  fi
  if [[ "$(curl -s -m 10 "$url/ping" 2>/dev/null)" != Ok.* ]]; then
    _ca_stop "$pidfile" "$server" chdb
    _ca_die "chdb_front at $url does not answer GET /ping with Ok. (log: $log)"
  fi
  printf '%s\n' "$url" >"$CA_RUN_DIR/chdb.url"
  _ca_log "chdb: up at $url (pid $pid, data $CA_RUN_DIR/chdb, log $log)"
  _ca_chdb_env "$url"
}

_ca_chdb_env() { _ca_env chdb "export CLICKHOUSE_TEST_URL=$(_ca_q "$1")"; }

_ca_chdb_down() {
  _ca_stop "$CA_RUN_DIR/chdb.pid" "$CA_REPO/tests/chdb_front/server.py" chdb
  rm -f "$CA_RUN_DIR/chdb.url"
  _ca_env_drop chdb
}

# ---------------------------------------------------------------- all

_ca_services_down() {
  local purge=()
  if [[ "${1:-}" == --purge ]]; then purge=(--purge); fi
  _ca_chdb_down
  _ca_azurite_down
  _ca_pg_down "${purge[@]}"
}

_ca_services_status() {
  local bindir datadir port
  bindir=$(_ca_pg_bindir)
  datadir=$(_ca_pg_datadir)
  if [[ -f "$datadir/postmaster.pid" ]] && _ca_as_pg "$bindir/pg_ctl" -D "$datadir" status >/dev/null 2>&1; then
    port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "$datadir/ca_run.conf")
    printf 'pg       up    postgres://postgres@127.0.0.1:%s/postgres  (%s, %s)\n' "$port" "$datadir" \
      "$(sed -n 's/^# \(durable = [01]\).*/\1/p' "$datadir/ca_run.conf")"
  else
    printf 'pg       down\n'
  fi
  if _ca_alive "$CA_RUN_DIR/azurite.pid" azurite; then
    printf 'azurite  up    http://127.0.0.1:%s/%s  (pid %s)\n' "$(<"$CA_RUN_DIR/azurite.port")" "$CA_AZURITE_ACCOUNT" "$(<"$CA_RUN_DIR/azurite.pid")"
  else
    printf 'azurite  down\n'
  fi
  if _ca_alive "$CA_RUN_DIR/chdb.pid" server.py; then
    printf 'chdb     up    %s  (pid %s)\n' "$(<"$CA_RUN_DIR/chdb.url")" "$(<"$CA_RUN_DIR/chdb.pid")"
  else
    printf 'chdb     down\n'
  fi
}

# ---------------------------------------------------------------- npm installs
# browser_install: tests/browser (playwright-core, which drives /usr/bin/chromium in
# tests/it/pages.rs; it never downloads a browser). Not a service: nothing to start or stop.

browser_install() { _ca_svc _ca_browser_install; }

_ca_browser_install() {
  (flock 8; _ca_npm_ci browser tests/browser playwright-core/package.json) 8>"$CA_REPO/tests/.install.lock"
}

# _ca_npm_ci NAME DIR MARKER: `npm ci` in $CA_REPO/DIR unless node_modules already holds what
# DIR/package-lock.json asks for (stamp node_modules/.ca-lock.sha256, and node_modules/MARKER).
# The caller holds tests/.install.lock.
_ca_npm_ci() {
  local name=$1 dir="$CA_REPO/$2" marker=$3 want have=""
  [[ -f "$dir/package-lock.json" ]] || _ca_die "$dir/package-lock.json missing"
  want=$(_ca_sha "$dir/package-lock.json")
  if [[ -f "$dir/node_modules/.ca-lock.sha256" ]]; then have=$(<"$dir/node_modules/.ca-lock.sha256"); fi
  if [[ "$want" == "$have" && -f "$dir/node_modules/$marker" ]]; then
    return 0
  fi
  _ca_log "$name: npm ci in $dir"
  (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error \
    >"$CA_RUN_DIR/$name-npm.log" 2>&1 9>&-) \
    || { tail -n 30 "$CA_RUN_DIR/$name-npm.log" >&2; _ca_die "npm ci failed (log: $CA_RUN_DIR/$name-npm.log)"; }
  printf '%s\n' "$want" >"$dir/node_modules/.ca-lock.sha256"
}

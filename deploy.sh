#!/usr/bin/env bash
# Kluis in one command, on a fresh Debian/Ubuntu machine.
#
#   ./deploy.sh          install what is missing, initialise KLUIS_HOME, start Redis (if none
#                        answers at KLUIS_REDIS_URL), the web server and one worker; print the URL
#   ./deploy.sh stop     stop what ./deploy.sh started (by pid file)
#   ./deploy.sh status   show what runs
#   ./deploy.sh test     install test dependencies (redis-server, chromium) and run every test
#   ./deploy.sh bench    install what the benchmarks need (wrk, test extras) and run them
#
# Safe to run twice: nothing is re-initialised, running processes are left alone.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

export KLUIS_HOME="${KLUIS_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/kluis}"
export KLUIS_REDIS_URL="${KLUIS_REDIS_URL:-redis://127.0.0.1:6379/0}"
export KLUIS_BIND="${KLUIS_BIND:-127.0.0.1:8080}"
VENV="$ROOT/.venv"
RUN="$KLUIS_HOME/run"
LOGS="$KLUIS_HOME/log"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"; fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install these by hand: $*"
  if [ "$APT_UPDATED" -eq 0 ]; then
    say "apt-get update"
    as_root apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_python() {
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
  python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "Kluis needs Python 3.11 or newer"
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
}

ensure_venv() {
  local extras="$1" stamp want
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; python3 -m venv "$VENV"; }
  want="$(sha256sum pyproject.toml | cut -c1-16)-$extras"
  stamp="$VENV/.kluis-installed"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing Kluis${extras:+ with [$extras]} into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e ".${extras:+[$extras]}"
    echo "$want" > "$stamp"
  fi
}

# host and port of KLUIS_REDIS_URL
redis_host() { python3 -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).hostname or "127.0.0.1")' "$KLUIS_REDIS_URL"; }
redis_port() { python3 -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).port or 6379)' "$KLUIS_REDIS_URL"; }

redis_answers() {
  local host port reply
  host=$(redis_host); port=$(redis_port)
  reply=$( (exec 3<>"/dev/tcp/$host/$port" && printf 'PING\r\n' >&3 && timeout 2 head -c 7 <&3) 2>/dev/null || true)
  case "$reply" in *PONG*|*NOAUTH*|*-ERR*) return 0 ;; *) return 1 ;; esac
}

ensure_redis_binary() { command -v redis-server >/dev/null 2>&1 || apt_install redis-server; }

start_redis() {
  if redis_answers; then return 0; fi
  local host port
  host=$(redis_host); port=$(redis_port)
  case "$host" in 127.*|localhost|::1) ;; *) die "no Redis answers at $KLUIS_REDIS_URL" ;; esac
  ensure_redis_binary
  mkdir -p "$RUN" "$KLUIS_HOME/redis" "$LOGS"
  say "starting redis-server on $host:$port"
  redis-server --bind "$host" --port "$port" --daemonize yes --pidfile "$RUN/redis.pid" \
    --dir "$KLUIS_HOME/redis" --logfile "$LOGS/redis.log" --appendonly yes --protected-mode yes
  for _ in $(seq 50); do redis_answers && return 0; sleep 0.1; done
  die "redis-server did not start (see $LOGS/redis.log)"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_bg() {  # name, command...
  local name="$1"; shift
  if alive "$RUN/$name.pid"; then echo "$name runs already (pid $(cat "$RUN/$name.pid"))"; return 0; fi
  say "starting $name"
  nohup "$@" >>"$LOGS/$name.log" 2>&1 &
  echo $! > "$RUN/$name.pid"
}

cmd_start() {
  ensure_python
  ensure_venv ""
  mkdir -p "$RUN" "$LOGS"
  start_redis
  "$VENV/bin/kluis" init
  start_bg server "$VENV/bin/kluis" serve
  start_bg worker "$VENV/bin/kluis" worker
  local url="${KLUIS_BASE_URL:-http://$KLUIS_BIND}"
  for _ in $(seq 100); do
    if "$VENV/bin/python" -c 'import sys,urllib.request as r; r.urlopen(sys.argv[1], timeout=1)' "http://$KLUIS_BIND/login" 2>/dev/null; then
      say "Kluis runs at $url  (KLUIS_HOME=$KLUIS_HOME, logs in $LOGS)"
      return 0
    fi
    sleep 0.2
  done
  die "the web server did not answer; see $LOGS/server.log"
}

stop_pid() {
  local file="$RUN/$1.pid"
  if alive "$file"; then
    kill "$(cat "$file")" 2>/dev/null || true
    for _ in $(seq 50); do alive "$file" || break; sleep 0.1; done
    alive "$file" && kill -9 "$(cat "$file")" 2>/dev/null || true
    echo "stopped $1"
  fi
  rm -f "$file"
}

cmd_stop() { stop_pid worker; stop_pid server; stop_pid redis; }

cmd_status() {
  for name in server worker redis; do
    if alive "$RUN/$name.pid"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))"; else echo "$name: stopped"; fi
  done
}

cmd_test() {
  ensure_python
  ensure_redis_binary
  [ -x /usr/bin/chromium ] || apt_install chromium
  # The benchmark smoke run uses wrk when present (it falls back to a Python load generator).
  command -v wrk >/dev/null 2>&1 || apt_install wrk
  ensure_venv "test"
  say "ruff"
  "$VENV/bin/ruff" check vault tests bench
  say "mypy"
  "$VENV/bin/mypy"
  say "lint-imports"
  # No cache: a cached graph can miss a package that gained or lost its __init__.py.
  "$VENV/bin/lint-imports" --no-cache
  say "pytest"
  set +e
  "$VENV/bin/python" -m pytest -p no:cacheprovider "$@"
  local rc=$?
  set -e
  if [ "$rc" -eq 5 ]; then die "pytest collected no tests: that is a failure"; fi
  return "$rc"
}

cmd_bench() {
  ensure_python
  ensure_redis_binary
  command -v wrk >/dev/null 2>&1 || apt_install wrk
  # The connector section serves the BRP stand-in from tests/standins (test extras).
  ensure_venv "test"
  "$VENV/bin/python" -m bench "$@"
}

case "${1:-start}" in
  start) cmd_start ;;
  bench) shift; cmd_bench "$@" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  test) shift; cmd_test "$@" ;;
  *) die "usage: ./deploy.sh [start|stop|status|test [pytest args]|bench [--smoke]]" ;;
esac

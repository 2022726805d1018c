#!/usr/bin/env bash
# Kluis in one command, on a fresh Debian/Ubuntu machine.
#
#   ./deploy.sh          install what is missing, initialise KLUIS_HOME, start Redis (if none
#                        answers at KLUIS_REDIS_URL), the web server (gunicorn behind Caddy) and
#                        one worker; print the URL
#   ./deploy.sh restart  stop Caddy, web server and worker, then start: applies changed settings
#   ./deploy.sh stop     stop what ./deploy.sh started (by pid file)
#   ./deploy.sh status   show what runs
#   ./deploy.sh test     install test dependencies (redis-server, chromium, caddy) and run every test
#   ./deploy.sh bench    install what the benchmarks need (wrk, test extras) and run them
#   ./deploy.sh portal [stop|status|restart]
#                        the organisation portal (`kluis portal`, docs/portal.md): gunicorn behind its
#                        own Caddy, HTTPS with KLUIS_PORTAL_DOMAIN, an hourly retention sweep
#
# Safe to run twice: nothing is re-initialised, running processes are left alone (it says so;
# `./deploy.sh restart` makes changed settings take effect).
#
# The web server: gunicorn's sync workers serve one connection at a time, so slow clients must
# never reach them (gunicorn's deployment docs: a buffering proxy in front). Caddy, from Debian's
# packages, buffers every request and answer, and with KLUIS_DOMAIN set it serves HTTPS with
# certificates it obtains and renews itself (ACME) and HSTS. We chose Caddy over nginx for that:
# automatic certificates built in (no certbot, no renewal timer), `tls internal` for tests, and
# one small config file (deploy/caddyfile.sh writes it to KLUIS_HOME/run/Caddyfile).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(pwd)

export KLUIS_HOME="${KLUIS_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/kluis}"
export KLUIS_REDIS_URL="${KLUIS_REDIS_URL:-redis://127.0.0.1:6379/0}"
export KLUIS_BIND="${KLUIS_BIND:-127.0.0.1:8080}"
# gunicorn listens on loopback only; Caddy serves KLUIS_BIND (plain HTTP) or KLUIS_DOMAIN (HTTPS).
export KLUIS_GUNICORN_BIND="${KLUIS_GUNICORN_BIND:-127.0.0.1:8081}"
export KLUIS_DOMAIN="${KLUIS_DOMAIN:-}"
export KLUIS_TLS="${KLUIS_TLS:-acme}"
export KLUIS_HTTP_PORT="${KLUIS_HTTP_PORT:-80}"
export KLUIS_HTTPS_PORT="${KLUIS_HTTPS_PORT:-443}"
export KLUIS_LISTEN_HOST="${KLUIS_LISTEN_HOST:-}"
if [ -n "$KLUIS_DOMAIN" ]; then
  if [ "$KLUIS_HTTPS_PORT" = 443 ]; then DEFAULT_URL="https://$KLUIS_DOMAIN"
  else DEFAULT_URL="https://$KLUIS_DOMAIN:$KLUIS_HTTPS_PORT"; fi
  export KLUIS_BASE_URL="${KLUIS_BASE_URL:-$DEFAULT_URL}"
fi
# The app believes X-Forwarded-* from exactly the one proxy deploy.sh runs.
export KLUIS_TRUSTED_PROXIES="${KLUIS_TRUSTED_PROXIES:-1}"
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
  local extras="$1" stamp want have
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; python3 -m venv "$VENV"; }
  want="$(sha256sum pyproject.toml | cut -c1-16)-$extras"
  stamp="$VENV/.kluis-installed"
  have="$(cat "$stamp" 2>/dev/null || true)"
  # A venv with the test extras has everything a plain start needs.
  if [ "$have" != "$want" ] && ! { [ -z "$extras" ] && [ "$have" = "${want}test" ]; }; then
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
  if [ -n "${KLUIS_REDIS_SENTINELS:-}" ]; then  # Sentinel: Redis runs elsewhere, highly available
    say "Redis through the sentinels at $KLUIS_REDIS_SENTINELS (not started here)"; return 0
  fi
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

ensure_caddy() {
  command -v caddy >/dev/null 2>&1 && return 0
  apt_install caddy
  # Debian's package enables its own caddy.service with a placeholder site on port 80. Kluis runs
  # the Caddy it needs itself (./deploy.sh, pid file), so the packaged service is stopped when we
  # are the ones who installed it.
  if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled --quiet caddy.service 2>/dev/null; then
    say "disabling Debian's caddy.service (./deploy.sh runs Kluis's own Caddy)"
    as_root systemctl disable --now caddy.service >/dev/null 2>&1 || true
  fi
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

ALREADY=""
start_bg() {  # name, command...
  local name="$1"; shift
  if alive "$RUN/$name.pid"; then
    echo "$name runs already (pid $(cat "$RUN/$name.pid"))"
    ALREADY="$ALREADY $name"
    return 0
  fi
  say "starting $name"
  nohup "$@" >>"$LOGS/$name.log" 2>&1 &
  echo $! > "$RUN/$name.pid"
}

http_ok() {  # url [server]: true when it answers 2xx/3xx (Caddy's 502 before gunicorn is up is
  # not), and when server is given, through that server (not an older gunicorn on the same port)
  "$VENV/bin/python" -c 'import sys, urllib.request as r
answer = r.urlopen(sys.argv[1], timeout=1)
sys.exit(len(sys.argv) > 2 and sys.argv[2] not in (answer.headers.get_all("Server") or []))' "$@" 2>/dev/null
}

loopback_host() { case "$1" in 127.*|localhost|\[::1\]) return 0 ;; *) return 1 ;; esac; }

# Write KLUIS_HOME/run/Caddyfile (deploy/caddyfile.sh; no secrets in it) and check it.
write_caddyfile() {
  KLUIS_PYTHON="$VENV/bin/python" "$ROOT/deploy/caddyfile.sh" > "$RUN/Caddyfile.new"
  env XDG_CONFIG_HOME="$KLUIS_HOME/caddy/config" XDG_DATA_HOME="$KLUIS_HOME/caddy/data" \
    caddy validate --config "$RUN/Caddyfile.new" --adapter caddyfile >"$LOGS/caddy-validate.log" 2>&1 \
    || die "the generated Caddyfile is not valid; see $LOGS/caddy-validate.log"
  mv "$RUN/Caddyfile.new" "$RUN/Caddyfile"
}

# Wait until an app started behind Caddy answers: through Caddy, or with a domain (whose
# certificate may take a while, ACME) gunicorn itself. $1 its process (pid file, log),
# $2 its name in messages, $3 gunicorn's URL, $4 the URL through Caddy, $5 the domain (empty:
# none), $6 a hint added when Caddy stopped.
wait_until_up() {
  local name="$1" label="$2" direct="$3" proxied="$4" domain="$5" hint="$6" ok=""
  for _ in $(seq 150); do
    alive "$RUN/caddy.pid" || die "Caddy stopped; see $LOGS/caddy.log$hint"
    alive "$RUN/$name.pid" || die "the $label stopped; see $LOGS/$name.log"
    if [ -n "$domain" ]; then
      http_ok "$direct" && ok=1
    else
      http_ok "$proxied" Caddy && ok=1
    fi
    [ -n "$ok" ] && break
    sleep 0.2
  done
  [ -n "$ok" ] || die "the $label did not answer; see $LOGS/$name.log and $LOGS/caddy.log"
}

start_caddy() {
  # Caddy keeps its state (certificates, ACME account, local CA) under KLUIS_HOME/caddy; these
  # keep its autosaved config and instance id there too, not in the invoking user's home.
  start_bg caddy env XDG_CONFIG_HOME="$KLUIS_HOME/caddy/config" XDG_DATA_HOME="$KLUIS_HOME/caddy/data" \
    caddy run --config "$RUN/Caddyfile" --adapter caddyfile
}

check_binds() {
  loopback_host "${KLUIS_GUNICORN_BIND%:*}" \
    || die "KLUIS_GUNICORN_BIND must be a loopback address (Caddy is the only way in): $KLUIS_GUNICORN_BIND"
  if [ -z "$KLUIS_DOMAIN" ] && [ "$KLUIS_GUNICORN_BIND" = "$KLUIS_BIND" ]; then
    die "KLUIS_BIND and KLUIS_GUNICORN_BIND are both $KLUIS_BIND: Caddy and gunicorn need one each"
  fi
  if [ -n "$KLUIS_DOMAIN" ] && [ "$(id -u)" -ne 0 ]; then
    local low="$KLUIS_HTTP_PORT" floor
    [ "$KLUIS_HTTPS_PORT" -lt "$low" ] && low="$KLUIS_HTTPS_PORT"
    floor=$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)
    if [ "$low" -lt "$floor" ] && ! getcap "$(command -v caddy)" 2>/dev/null | grep -q cap_net_bind_service; then
      die "Caddy must listen on ports $KLUIS_HTTP_PORT and $KLUIS_HTTPS_PORT: run as root, or allow it once with
  sudo setcap cap_net_bind_service=+ep $(command -v caddy)"
    fi
  fi
}

cmd_start() {
  ensure_python
  ensure_venv ""
  ensure_caddy
  check_binds
  mkdir -p "$RUN" "$LOGS"
  start_redis
  "$VENV/bin/kluis" init
  write_caddyfile
  start_bg server "$VENV/bin/kluis" serve --bind "$KLUIS_GUNICORN_BIND"
  start_bg worker "$VENV/bin/kluis" worker
  start_caddy
  local url="${KLUIS_BASE_URL:-http://$KLUIS_BIND}"
  wait_until_up server "web server" "http://$KLUIS_GUNICORN_BIND/login" \
    "http://$KLUIS_BIND/login" "$KLUIS_DOMAIN" \
    " (is its port taken? by a Kluis server started before Caddy came in: ./deploy.sh restart)"
  say "Kluis runs at $url  (KLUIS_HOME=$KLUIS_HOME, logs in $LOGS)"
  if [ -n "$KLUIS_DOMAIN" ] && [ "$KLUIS_TLS" = acme ]; then
    echo "Caddy obtains the certificate for $KLUIS_DOMAIN on its first start (ports $KLUIS_HTTP_PORT and $KLUIS_HTTPS_PORT must be reachable; see $LOGS/caddy.log)"
  fi
  if [ -n "$ALREADY" ]; then
    echo "note:$ALREADY already ran and kept their settings: ./deploy.sh restart applies changed settings"
  fi
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

cmd_stop() { stop_pid caddy; stop_pid worker; stop_pid server; stop_pid redis; }

# Redis keeps running: it holds sessions and queued jobs, and no Kluis setting changes it.
cmd_restart() { stop_pid caddy; stop_pid worker; stop_pid server; cmd_start; }

cmd_status() {
  local name where
  for name in caddy server worker redis; do
    case "$name" in
      caddy) if [ -n "$KLUIS_DOMAIN" ]; then where=" at ${KLUIS_BASE_URL}"; else where=" at http://$KLUIS_BIND"; fi ;;
      server) where=" on $KLUIS_GUNICORN_BIND (behind caddy)" ;;
      *) where="" ;;
    esac
    if alive "$RUN/$name.pid"; then echo "$name: running (pid $(cat "$RUN/$name.pid"))$where"; else echo "$name: stopped"; fi
  done
}

# PostgreSQL's server binaries (Debian's postgresql package) for the tests of the PostgreSQL
# backend: they start their own server on loopback (tests/pgserver.py). initdb refuses to run as
# root, so as root the tests run it as the unprivileged user nobody (runuser, util-linux).
ensure_postgresql_binaries() {
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
  # Debian's package starts its own cluster on port 5432; the tests do not use it.
  if [ "$(id -u)" -eq 0 ]; then
    command -v runuser >/dev/null 2>&1 || apt_install util-linux
    id nobody >/dev/null 2>&1 || die "the tests run PostgreSQL as user nobody, which is missing"
  fi
}

cmd_test() {
  ensure_python
  ensure_redis_binary
  ensure_postgresql_binaries
  [ -x /usr/bin/chromium ] || apt_install chromium
  # tests/integration/deploy run Caddy in front of gunicorn.
  ensure_caddy
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

# The organisation portal: the same Caddy and gunicorn handling as the vault, with its own home
# (KLUIS_PORTAL_HOME), binds and domain. deploy/caddyfile.sh is reused: it reads the KLUIS_* names,
# which are pointed at the portal's values here (in this process only).
cmd_portal() {
  local action="${1:-start}"
  export KLUIS_PORTAL_HOME="${KLUIS_PORTAL_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/kluis-portal}"
  export KLUIS_PORTAL_BIND="${KLUIS_PORTAL_BIND:-127.0.0.1:8090}"
  export KLUIS_PORTAL_GUNICORN_BIND="${KLUIS_PORTAL_GUNICORN_BIND:-127.0.0.1:8091}"
  export KLUIS_PORTAL_DOMAIN="${KLUIS_PORTAL_DOMAIN:-}"
  if [ -n "$KLUIS_PORTAL_DOMAIN" ]; then
    if [ "$KLUIS_HTTPS_PORT" = 443 ]; then DEFAULT_URL="https://$KLUIS_PORTAL_DOMAIN"
    else DEFAULT_URL="https://$KLUIS_PORTAL_DOMAIN:$KLUIS_HTTPS_PORT"; fi
    export KLUIS_PORTAL_BASE_URL="${KLUIS_PORTAL_BASE_URL:-$DEFAULT_URL}"
  fi
  export KLUIS_PORTAL_TRUSTED_PROXIES="${KLUIS_PORTAL_TRUSTED_PROXIES:-1}"
  KLUIS_HOME="$KLUIS_PORTAL_HOME"; KLUIS_BIND="$KLUIS_PORTAL_BIND"
  KLUIS_GUNICORN_BIND="$KLUIS_PORTAL_GUNICORN_BIND"; KLUIS_DOMAIN="$KLUIS_PORTAL_DOMAIN"
  export KLUIS_HOME KLUIS_BIND KLUIS_GUNICORN_BIND KLUIS_DOMAIN
  RUN="$KLUIS_PORTAL_HOME/run"; LOGS="$KLUIS_PORTAL_HOME/log"
  case "$action" in
    stop) stop_pid caddy; stop_pid sweeper; stop_pid portal; return 0 ;;
    status)
      for name in caddy portal sweeper; do
        if alive "$RUN/$name.pid"; then echo "portal $name: running (pid $(cat "$RUN/$name.pid"))"
        else echo "portal $name: stopped"; fi
      done
      return 0 ;;
    restart) stop_pid caddy; stop_pid sweeper; stop_pid portal ;;
    start) ;;
    *) die "usage: ./deploy.sh portal [start|restart|stop|status]" ;;
  esac
  ensure_python
  ensure_venv ""
  ensure_caddy
  check_binds
  mkdir -p "$RUN" "$LOGS"
  "$VENV/bin/kluis" portal init
  write_caddyfile
  start_bg portal "$VENV/bin/kluis" portal serve --bind "$KLUIS_PORTAL_GUNICORN_BIND"
  start_bg sweeper sh -c "while :; do '$VENV/bin/kluis' portal sweep; sleep 3600; done"
  start_caddy
  local url="${KLUIS_PORTAL_BASE_URL:-http://$KLUIS_PORTAL_BIND}"
  wait_until_up portal portal "http://$KLUIS_PORTAL_GUNICORN_BIND/healthz" \
    "http://$KLUIS_PORTAL_BIND/healthz" "$KLUIS_PORTAL_DOMAIN" ""
  say "The Kluis portal runs at $url  (KLUIS_PORTAL_HOME=$KLUIS_PORTAL_HOME, logs in $LOGS)"
  echo "first administrator: $VENV/bin/kluis portal invite --role admin"
}

case "${1:-start}" in
  start) cmd_start ;;
  bench) shift; cmd_bench "$@" ;;
  stop) cmd_stop ;;
  restart) cmd_restart ;;
  status) cmd_status ;;
  test) shift; cmd_test "$@" ;;
  portal) shift; cmd_portal "$@" ;;
  *) die "usage: ./deploy.sh [start|restart|stop|status|test [pytest args]|bench [--smoke]|portal [stop|status|restart]]" ;;
esac

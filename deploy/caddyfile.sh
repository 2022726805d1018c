#!/usr/bin/env bash
# Print the Caddyfile for Caddy in front of gunicorn (`kluis serve`). deploy.sh writes it to
# KLUIS_HOME/run/Caddyfile; tests/integration/deploy runs this same script. It holds no secrets.
#
# Inputs (environment, the same names and defaults as deploy.sh):
#   KLUIS_HOME           Caddy's storage (certificates, ACME account, local CA) goes to KLUIS_HOME/caddy
#   KLUIS_GUNICORN_BIND  host:port gunicorn listens on (loopback); Caddy forwards to it
#   KLUIS_DOMAIN         empty: plain HTTP on KLUIS_BIND. Set: HTTPS for this name with HSTS
#   KLUIS_BIND           host:port of the plain HTTP server (without KLUIS_DOMAIN)
#   KLUIS_TLS            acme (default: automatic public certificates) or internal (Caddy's own CA)
#   KLUIS_HTTP_PORT, KLUIS_HTTPS_PORT, KLUIS_LISTEN_HOST
#                        with KLUIS_DOMAIN: ports (80, 443) and interface (empty: all) Caddy listens on
#   KLUIS_MAX_BODY_BYTES, KLUIS_MAX_UPLOAD_BYTES
#                        read through vault.config (with KLUIS_PYTHON, default .venv/bin/python):
#                        the largest body Caddy takes and buffers is the app's MAX_CONTENT_LENGTH
#
# Why buffering: gunicorn's sync workers serve one connection each. A client that sends its
# headers and then trickles its body holds a worker until gunicorn's timeout; a handful of them
# stall the server. Caddy reads every request body whole (up to the body limit) before it opens a
# connection to gunicorn, and reads gunicorn's answer whole (up to the same size; a larger one
# streams) before it writes to the client, so a slow client only ever waits on Caddy. Bodies over
# the limit are refused by Caddy (413). Caddy 2.6.2 (Debian bookworm) spells this buffer_requests,
# buffer_responses and max_buffer_size; 2.6.3 renamed them request_buffers and response_buffers
# (and later releases dropped the old names), so the installed version picks the spelling.
set -euo pipefail

die() { printf 'caddyfile.sh: %s\n' "$*" >&2; exit 1; }

: "${KLUIS_HOME:?KLUIS_HOME must be set}"
GUNICORN="${KLUIS_GUNICORN_BIND:-127.0.0.1:8081}"
DOMAIN="${KLUIS_DOMAIN:-}"
BIND="${KLUIS_BIND:-127.0.0.1:8080}"
TLS="${KLUIS_TLS:-acme}"
HTTP_PORT="${KLUIS_HTTP_PORT:-80}"
HTTPS_PORT="${KLUIS_HTTPS_PORT:-443}"
LISTEN_HOST="${KLUIS_LISTEN_HOST:-}"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# The largest body the app takes: MAX_CONTENT_LENGTH in vault/app.py.
MAX_BYTES=$(cd "$ROOT" && "${KLUIS_PYTHON:-$ROOT/.venv/bin/python}" -c '
from vault.config import load_settings
s = load_settings()
print(max(s.max_body_bytes, s.max_upload_bytes) + 64 * 1024)') || die "cannot read Kluis's body limits"

# Caddyfile tokens are split on whitespace and quotes; accept only what a host, port or path is.
plain() { [[ "$2" =~ ^[A-Za-z0-9._:/@%+=,~-]*$ ]] || die "$1 has characters a Caddyfile cannot take: $2"; }
number() { [[ "$2" =~ ^[0-9]+$ ]] || die "$1 must be a whole number, not '$2'"; }

plain KLUIS_HOME "$KLUIS_HOME"
plain KLUIS_GUNICORN_BIND "$GUNICORN"
plain KLUIS_DOMAIN "$DOMAIN"
plain KLUIS_LISTEN_HOST "$LISTEN_HOST"
number KLUIS_HTTP_PORT "$HTTP_PORT"
number KLUIS_HTTPS_PORT "$HTTPS_PORT"
number "the body limit" "$MAX_BYTES"
case "$TLS" in acme|internal) ;; *) die "KLUIS_TLS must be acme or internal" ;; esac
case "${GUNICORN%:*}" in
  127.*|localhost|\[::1\]) ;;
  *) die "KLUIS_GUNICORN_BIND must be a loopback address (127.x, localhost, [::1]): $GUNICORN" ;;
esac

# true when the installed Caddy (KLUIS_CADDY, default caddy) is older than 2.6.3
old_buffer_names() {
  local version major minor patch
  version=$("${KLUIS_CADDY:-caddy}" version 2>/dev/null | head -n1) || die "cannot run ${KLUIS_CADDY:-caddy} version"
  version="${version#v}"; version="${version%% *}"
  IFS=. read -r major minor patch <<<"$version"
  patch="${patch%%[!0-9]*}"
  number "caddy's version" "$major"; number "caddy's version" "$minor"; number "caddy's version" "${patch:-0}"
  (( major < 2 || (major == 2 && (minor < 6 || (minor == 6 && ${patch:-0} < 3))) ))
}

# host and port of host:port, [v6]:port
split_bind() {
  local value="$1" host port
  port="${value##*:}"; host="${value%:*}"; host="${host#[}"; host="${host%]}"
  [ -n "$host" ] && [ "$port" != "$value" ] || die "expected host:port, got '$value'"
  number port "$port"
  printf '%s %s\n' "$host" "$port"
}

# Decided before anything is printed, so a failure leaves no half Caddyfile.
if [ -z "$DOMAIN" ]; then
  HOSTPORT=$(split_bind "$BIND") || exit 1
  read -r PLAIN_HOST PLAIN_PORT <<<"$HOSTPORT"
fi
BUFFER=$((MAX_BYTES + 1))
if old_buffer_names; then
  BUFFERING=$(printf '\t\tbuffer_requests\n\t\tbuffer_responses\n\t\tmax_buffer_size %s' "$BUFFER")
else
  BUFFERING=$(printf '\t\trequest_buffers %s\n\t\tresponse_buffers %s' "$BUFFER" "$BUFFER")
fi

# Timeouts bound what a slow client can hold in Caddy itself: 10 s to send its headers, 2 minutes
# for the whole request including a 20 MiB upload. No write timeout: large downloads to slow
# readers are Caddy's to wait for, never a worker's (the answer is buffered).
cat <<EOF
# Generated by deploy.sh (deploy/caddyfile.sh); edits are overwritten on the next start.
{
	admin off
	skip_install_trust
	storage file_system {
		root $KLUIS_HOME/caddy
	}
	# Caddy's own log (errors, certificates) to stderr, which deploy.sh sends to log/caddy.log.
	# Request paths (with hand-over links and OAuth parameters) and headers are dropped from it.
	# There is no access log.
	log default {
		output stderr
		format filter {
			wrap json
			fields {
				request>uri delete
				request>headers delete
			}
		}
	}
EOF
if [ -n "$DOMAIN" ]; then
  # The HTTPS port goes into the site address below: with a global https_port other than 443,
  # Caddy 2.6.2 drops the port from its http->https redirects.
  printf '\thttp_port %s\n' "$HTTP_PORT"
  [ -z "$LISTEN_HOST" ] || printf '\tdefault_bind %s\n' "$LISTEN_HOST"
else
  printf '\tauto_https off\n'
fi
cat <<EOF
	servers {
		timeouts {
			read_header 10s
			read_body 2m
			idle 2m
		}
		max_header_size 16KB
	}
}

EOF

if [ -n "$DOMAIN" ]; then
  if [ "$HTTPS_PORT" = 443 ]; then printf '%s {\n' "$DOMAIN"; else printf '%s:%s {\n' "$DOMAIN" "$HTTPS_PORT"; fi
  [ "$TLS" = internal ] && printf '\ttls internal\n'
  # One HSTS header on every answer (the app's own, when KLUIS_BASE_URL is https, is replaced).
  printf '\theader Strict-Transport-Security "max-age=31536000" {\n\t\tdefer\n\t}\n'
else
  printf 'http://:%s {\n\tbind %s\n' "$PLAIN_PORT" "$PLAIN_HOST"
fi
# A body announced larger than the app takes is refused before it is read, with the app's own
# problem+json. A chunked one is cut off at the limit by request_body; the buffer is one byte
# larger than that limit, so such a body fails inside Caddy instead of streaming its tail to
# gunicorn as slowly as the client likes.
cat <<EOF
	@too_large expression \`{http.request.header.Content-Length}.size() > 0 && int({http.request.header.Content-Length}) > $MAX_BYTES\`
	header @too_large Content-Type application/problem+json
	respond @too_large \`{"type": "urn:kluis:problem:request-entity-too-large", "title": "Request Entity Too Large", "status": 413}\` 413
	request_body {
		max_size $MAX_BYTES
	}
	reverse_proxy $GUNICORN {
$BUFFERING
	}
}
EOF

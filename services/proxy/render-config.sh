#!/bin/sh
# The proxy's entrypoint: fills the ${NAME} placeholders of nginx.conf.template from the
# environment (validated, with defaults), writes the result to /tmp (the root filesystem is
# read-only), checks it, and replaces itself with nginx so nginx is PID 1 and gets Docker's
# signals (SIGQUIT = graceful stop).
# Our own renderer rather than the official image's envsubst templates: it works on any
# nginx image (the official one and the stand-in used on the build machines, which lacks
# envsubst), and it rejects a bad value with one line instead of a broken config.
set -eu

TEMPLATE=/etc/nginx/templates/nginx.conf.template
OUT_DIR=/tmp/nginx
OUT="$OUT_DIR/nginx.conf"

fail() { echo "proxy configuration error: $*" >&2; exit 1; }

# value NAME DEFAULT PATTERN-DESCRIPTION: the variable's value or its default, checked.
number() {
  eval "value=\${$1:-$2}"
  case "$value" in ''|*[!0-9]*) fail "$1=\"$value\" is invalid: expected a whole number" ;; esac
  echo "$value"
}
duration() {
  eval "value=\${$1:-$2}"
  case "$value" in [0-9]*s|[0-9]*ms|[0-9]*m) ;; *) fail "$1=\"$value\" is invalid: expected a duration like 5s or 500ms" ;; esac
  case "${value%%[a-z]*}" in *[!0-9]*) fail "$1=\"$value\" is invalid: expected a duration like 5s or 500ms" ;; esac
  echo "$value"
}

worker_connections=$(number PROXY_WORKER_CONNECTIONS 16384)
[ "$worker_connections" -ge 1024 ] || fail "PROXY_WORKER_CONNECTIONS=$worker_connections is too small: at least 1024"
rlimit=$((worker_connections * 2))
# An unprivileged process cannot raise its hard limit: stay within it (compose sets it
# with ulimits.nofile) rather than let every worker log a failed setrlimit.
hard_limit=$(ulimit -Hn)
if [ "$hard_limit" != unlimited ] && [ "$rlimit" -gt "$hard_limit" ]; then
  echo "proxy: warning: worker_rlimit_nofile lowered from $rlimit to the container's hard limit $hard_limit" >&2
  rlimit=$hard_limit
fi
prefork_max_conns=$(number PROXY_PREFORK_MAX_CONNS 0)
blocking_max_conns=$(number PROXY_BLOCKING_MAX_CONNS 0)
header_timeout=$(duration PROXY_CLIENT_HEADER_TIMEOUT 5s)
body_timeout=$(duration PROXY_CLIENT_BODY_TIMEOUT 5s)
read_timeout=$(duration PROXY_READ_TIMEOUT 60s)
connect_timeout=$(duration PROXY_CONNECT_TIMEOUT 1s)

mkdir -p "$OUT_DIR"
sed \
  -e "s/\${PROXY_WORKER_CONNECTIONS}/$worker_connections/g" \
  -e "s/\${PROXY_WORKER_RLIMIT_NOFILE}/$rlimit/g" \
  -e "s/\${PROXY_PREFORK_MAX_CONNS}/$prefork_max_conns/g" \
  -e "s/\${PROXY_BLOCKING_MAX_CONNS}/$blocking_max_conns/g" \
  -e "s/\${PROXY_CLIENT_HEADER_TIMEOUT}/$header_timeout/g" \
  -e "s/\${PROXY_CLIENT_BODY_TIMEOUT}/$body_timeout/g" \
  -e "s/\${PROXY_READ_TIMEOUT}/$read_timeout/g" \
  -e "s/\${PROXY_CONNECT_TIMEOUT}/$connect_timeout/g" \
  "$TEMPLATE" > "$OUT"
if grep -n '^[^#]*\${' "$OUT" >&2; then fail "placeholders left unfilled in $OUT (above)"; fi

echo "proxy: worker_connections=$worker_connections worker_rlimit_nofile=$rlimit max_conns prefork=$prefork_max_conns blocking=$blocking_max_conns client_header_timeout=$header_timeout client_body_timeout=$body_timeout proxy_connect_timeout=$connect_timeout proxy_read_timeout=$read_timeout" >&2
nginx -t -q -c "$OUT"
exec nginx -c "$OUT" -g 'daemon off;'

#!/bin/bash
# Container HEALTHCHECK for livepeer-signer without curl: bash's /dev/tcp.
#
#   HEALTHCHECK_MODE=http (default): GET /healthz over plain HTTP on
#                                    127.0.0.1:$HEALTHCHECK_PORT, healthy on 200.
#   HEALTHCHECK_MODE=tcp:            only connect (use it with [server.tls]:
#                                    this script speaks no TLS).
# Exit 0 = healthy, 1 = unhealthy (Docker's convention).
set -u
port="${HEALTHCHECK_PORT:-8935}"
mode="${HEALTHCHECK_MODE:-http}"
host="${HEALTHCHECK_HOST:-127.0.0.1}"

exec 3<>"/dev/tcp/${host}/${port}" || exit 1
if [ "$mode" = "tcp" ]; then
  exit 0
fi
printf 'GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$host" >&3
IFS= read -r -t 5 status <&3 || exit 1
case "$status" in
  "HTTP/1."[01]" 200"*) exit 0 ;;
  *) echo "unhealthy: ${status}" >&2; exit 1 ;;
esac

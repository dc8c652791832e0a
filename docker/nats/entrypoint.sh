#!/bin/bash
# Entry point of the happy-dashboard-nats image: checks the environment the config
# (/etc/nats/nats-server.conf) reads, builds NATS_ROUTES from NATS_CLUSTER_PEERS and
# NATS_ROUTE_PASSWORD, then runs nats-server as PID 1 (exec). Arguments go to nats-server.
set -euo pipefail
fail() { echo "nats entrypoint: $*" >&2; exit 2; }

case " $* " in
  *" --help "* | *" -h "* | *" --version "* | *" -v "*) exec /usr/sbin/nats-server "$@" ;;
esac

# nats-server parses an environment variable's value as config text: a password like
# "12345678", "yes" or "a,b" would be read as a number, a boolean or cut short. Only
# characters that stay a plain string (and need no escaping in a route URL) are taken.
check_secret() {
  local name=$1 value=${!1:-}
  [[ -n "$value" ]] || fail "$name is not set (see the header of docker/compose.cluster.yaml)"
  [[ "$value" =~ ^[A-Za-z][A-Za-z0-9._~-]{15,}$ ]] ||
    fail "$name must be 16 or more of A-Z a-z 0-9 . _ ~ -, starting with a letter (e.g. x\$(openssl rand -hex 20))"
}
check_secret HAPPY_NATS_PASSWORD
check_secret NATS_ROUTE_PASSWORD

: "${NATS_SERVER_NAME:=$(cat /proc/sys/kernel/hostname)}"
[[ "$NATS_SERVER_NAME" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] ||
  fail "NATS_SERVER_NAME '$NATS_SERVER_NAME' must be 1-64 letters, digits, '_', '.' or '-'"
export NATS_SERVER_NAME

read -r -a peers <<<"${NATS_CLUSTER_PEERS:-}"
((${#peers[@]})) || fail "NATS_CLUSTER_PEERS is not set (every server's route address, e.g. \"n1:6222 n2:6222 n3:6222\")"
routes=""
for peer in "${peers[@]}"; do
  [[ "$peer" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]*:[0-9]+$ ]] || fail "NATS_CLUSTER_PEERS: '$peer' is not host:port"
  routes+="${routes:+, }nats-route://route:${NATS_ROUTE_PASSWORD}@${peer}"
done
export NATS_ROUTES="[$routes]"   # read by the config as an array (the password is never logged)

exec /usr/sbin/nats-server -c /etc/nats/nats-server.conf "$@"

#!/usr/bin/env bash
# Makes sure a RabbitMQ broker answers on 127.0.0.1:5672 (the AMQP tests
# need one): starts an installed but stopped broker, installs Debian's
# rabbitmq-server if there is none, and fails loudly if none can be had.
set -euo pipefail

port_open() {
  (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if port_open; then
  exit 0
fi

if ! command -v rabbitmq-server >/dev/null 2>&1; then
  echo "RabbitMQ is not installed; installing Debian's rabbitmq-server" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
fi

echo "starting RabbitMQ" >&2
as_root rabbitmq-server -detached >/dev/null 2>&1 || true

for _ in $(seq 1 90); do
  if port_open; then
    exit 0
  fi
  sleep 1
done
echo "error: no RabbitMQ broker reachable on 127.0.0.1:5672; the AMQP tests cannot run" >&2
exit 1

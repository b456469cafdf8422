#!/usr/bin/env bash
# Make sure the real services the test suite needs are installed and running on loopback:
# Redis (6379), PostgreSQL (5432) and Debian's Chromium. Installs Debian packages when missing.
# Stops with a message naming what is missing when it cannot be fixed.
set -euo pipefail

need_apt=()
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v pg_ctlcluster >/dev/null || need_apt+=(postgresql)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
command -v mosquitto >/dev/null || need_apt+=(mosquitto)  # MQTT: unit positions
if ((${#need_apt[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "missing: ${need_apt[*]} (install them with apt-get as root)" >&2; exit 1
  fi
  echo "installing ${need_apt[*]} from Debian's packages…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "starting Redis on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 50); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null || { echo "Redis did not start" >&2; exit 1; }

pg_ok() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! pg_ok; then
  echo "starting PostgreSQL on 127.0.0.1:5432"
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  if [ -z "$ver" ]; then echo "PostgreSQL is installed but has no cluster" >&2; exit 1; fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 100); do pg_ok && break; sleep 0.1; done
fi
pg_ok || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
# tests connect as postgres over TCP without a password (trust on loopback, as on CI machines)
psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1 || {
  echo "cannot connect to PostgreSQL as postgres on 127.0.0.1 (configure trust for loopback" \
       "or set CONTACT_TEST_POSTGRES_URL)" >&2; exit 1; }
# Mosquitto on 127.0.0.1:1883 (dispatch: unit positions over MQTT), anonymous on loopback only
mqtt_ok() { (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; }
if ! mqtt_ok; then
  echo "starting Mosquitto on 127.0.0.1:1883"
  conf=$(mktemp --suffix=.conf /tmp/contact-mosquitto.XXXXXX)
  printf 'listener 1883 127.0.0.1\nallow_anonymous true\npersistence false\n' >"$conf"
  mosquitto -d -c "$conf"
  for _ in $(seq 50); do mqtt_ok && break; sleep 0.1; done
fi
mqtt_ok || { echo "Mosquitto did not start on 127.0.0.1:1883" >&2; exit 1; }
echo "services ready: redis, postgresql, mosquitto, chromium"

#!/bin/sh
# The asterisk service of docker-compose.yml (docker/asterisk.Dockerfile): `contact asterisk up`
# renders asterisk-config/ with the run directory's secrets and starts Asterisk with the native
# launcher, as on a host; then this script stays in the foreground while Asterisk lives and
# exits 1 when it is gone, so that compose restarts the container. SIGTERM or SIGINT (docker
# stop) stops Asterisk cleanly with `contact asterisk down`.
set -eu

config_dir="${CONTACT_ASTERISK_CONFIG_DIR:-/app/asterisk-config}"
run_dir="${CONTACT_ASTERISK_RUN_DIR:?CONTACT_ASTERISK_RUN_DIR is not set}"
pid_file="$run_dir/asterisk.pid"

stop() {
  trap - TERM INT
  contact asterisk down --config-dir "$config_dir" --timeout "${ASTERISK_STOP_TIMEOUT_S:-15}" || true
  exit 0
}
trap stop TERM INT

# The run directory is a volume that outlives the container: a pid file in it was left by an
# earlier container, whose Asterisk is gone (and whose number may now be a process of this one).
rm -f "$pid_file"
contact asterisk up --config-dir "$config_dir"
pid="$(cut -d' ' -f1 "$pid_file")"

# What `contact asterisk status` checks (contact/telephony/runner.py, _alive), without starting
# Python every few seconds: the process exists, is no zombie, and is Asterisk.
alive() {
  [ -r "/proc/$pid/stat" ] || return 1
  state="$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)"
  [ "$state" != Z ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q asterisk
}

while alive; do
  sleep 5 &
  wait $! || true # a signal ends the wait at once and runs stop()
done

echo "asterisk-entrypoint: Asterisk (pid $pid) has stopped; the end of its logs:" >&2
tail -n 30 "$run_dir/log/console.log" "$run_dir/log/messages.log" >&2 2>/dev/null || true
exit 1

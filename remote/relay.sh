# shellcheck shell=sh
# A relay: serve a release this host has staged to the other hosts of its datacenter, for
# this run only (src/deploy/stage/relays.ts). Arguments: base dir address rsync.
# stdin: this relay's secret for the run (one line), then nothing until the admin node ends the run: the
# end of stdin (or of the SSH connection) stops the daemon and removes its files.
#
# rsync --daemon bound to the datacenter-facing address, on a free port from 31000 up:
# one module, read-only, no listing, chrooted into the release directory; a client must know
# the secret, which only this datacenter's hosts are given (over their own SSH connections).
# Its config, secret and log live in a directory only root may enter. Prints `relay <port>`
# once it listens.
set -eu
base=$1 dir=$2 address=$3 rsync=$4
umask 077
export LC_ALL=C
IFS= read -r secret
[ -n "$secret" ] || { echo "no secret on stdin" >&2; exit 1; }
if [ ! -d "$base/releases/$dir" ] || [ ! -f "$base/releases/.$dir.rev" ]; then echo "$dir is not staged here" >&2; exit 1; fi
work=$(mktemp -d /tmp/slipway-relay.XXXXXXXX)
pid=
# shellcheck disable=SC2317 # run by the trap
stop() {
  # the daemon (and a transfer it forked) is gone before the script ends: the admin node waits for that
  if [ -n "$pid" ]; then pkill -P "$pid" 2>/dev/null || true; kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf -- "$work"
}
trap stop EXIT
trap 'exit 1' HUP INT TERM
printf 'slipway:%s\n' "$secret" > "$work/secrets"
{
  echo "pid file = $work/pid"
  echo "log file = $work/log"
  echo 'reverse lookup = no'
  echo 'forward lookup = no'
  echo '[release]'
  echo "path = $base/releases/$dir"
  echo 'use chroot = yes'
  # root reads the private files (0640) it serves; chroot keeps it inside the release
  echo 'uid = 0'
  echo 'gid = 0'
  echo 'read only = yes'
  echo 'list = no'
  echo 'munge symlinks = no'
  echo 'numeric ids = yes'
  echo 'auth users = slipway'
  echo "secrets file = $work/secrets"
  echo 'strict modes = yes'
  echo 'max connections = 64'
  echo 'refuse options = copy-links copy-dirlinks copy-unsafe-links keep-dirlinks delete'
} > "$work/rsyncd.conf"

# a port another program holds makes the daemon exit at once: the next one is tried
port=31000
while [ "$port" -lt 31100 ]; do
  : > "$work/log"
  "$rsync" --daemon --no-detach --config="$work/rsyncd.conf" --address="$address" --port="$port" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null && ! grep -q 'listening on port' "$work/log"; do sleep 0.02; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "relay $port"
    # until the admin node closes stdin: the run is over, or the connection is gone
    while IFS= read -r _; do :; done
    exit 0
  fi
  wait "$pid" 2>/dev/null || true
  pid=
  port=$((port + 1))
done
echo "no free port between 31000 and 31099 on $address" >&2
exit 1

#!/usr/bin/env bash
# The baseline the benchmark compares Slipway with: plain parallel rsync over OpenSSH, then a
# rename of `current`, on every host, 25 hosts at a time (Slipway's default parallelism).
#
# usage: baseline.sh ship|switch KEY KNOWN_HOSTS TREE N PREV STATS_DIR ADDR...
#   ship:   rsync -a --link-dest=releases/PREV TREE/ to releases/N, then switch current to N
#   switch: only switch current to releases/N (the baseline's rollback)
# Per-host `rsync --stats` output goes to STATS_DIR/ADDR.
set -euo pipefail
[ $# -ge 8 ] || { echo "usage: $0 ship|switch KEY KNOWN_HOSTS TREE N PREV STATS_DIR ADDR..." >&2; exit 2; }
export mode=$1 key=$2 kh=$3 tree=$4 n=$5 prev=$6 stats=$7
shift 7

one() {
  local addr=$1 ssh link=()
  ssh="ssh -i $key -o UserKnownHostsFile=$kh -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes -l root"
  if [ "$mode" = ship ]; then
    [ "$prev" = 0 ] || link=("--link-dest=/data/bench/releases/$prev")
    rsync -a --stats --mkpath "${link[@]}" -e "$ssh" "$tree/" "$addr:/data/bench/releases/$n/" >"$stats/$addr" ||
      { echo "$addr: rsync failed" >&2; return 1; }
  fi
  # shellcheck disable=SC2029  # n is a number we chose
  $ssh "$addr" "cd /data/bench && rm -f .current.tmp && ln -s releases/$n .current.tmp && mv -T .current.tmp current" ||
    { echo "$addr: switch failed" >&2; return 1; }
}
export -f one
# shellcheck disable=SC2016  # $1 is expanded by the inner bash, as meant
printf '%s\n' "$@" | xargs -P 25 -n 1 bash -c 'one "$1"' baseline

# shellcheck shell=sh
# Compare the live tree with the release it claims to be, without changing it: a dry-run
# pull by checksum (times ignored: the export's mtimes are not the host's).
# Arguments: base expect port timeout rsync; the rsync secret on stdin.
set -eu
base=$1 expect=$2 port=$3 timeout=$4 rsync=$5
read_live
echo "live $live"
[ -n "$live" ] && [ -f "$base/current/REVISION" ] || exit 0
rev=$(cat "$base/current/REVISION")
echo "revision $rev"
[ "$rev" = "$expect" ] || exit 0
"$rsync" -rlp --checksum --dry-run --delete --exclude=/REVISION --timeout="$timeout" --contimeout="$timeout" \
  --out-format='drift %i %n' --password-file=- \
  "rsync://slipway@127.0.0.1:$port/release/" "$base/current/"
echo checked

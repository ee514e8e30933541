# shellcheck shell=sh
# Compare the live tree with the release it claims to be, without changing it: a dry-run
# pull by checksum (times ignored: the export's mtimes are not the host's).
# Every other release the host keeps is checked against its manifest (`kept <dir> <n>`: n
# paths differ, or `unverifiable`: it has none); a rollback would switch to it.
# Arguments: base expect port timeout rsync; the rsync secret on stdin.
set -eu
base=$1 expect=$2 port=$3 timeout=$4 rsync=$5
read_live
echo "live $live"
kept_releases
[ -n "$live" ] || exit 0
revision_of "$live"
[ -n "$r" ] || exit 0
echo "revision $r"
[ "$r" = "$expect" ] || exit 0
# a release staged by an older Slipway holds its commit in a REVISION of its own
set --
[ -f "$base/releases/.$live.rev" ] || set -- --exclude=/REVISION
"$rsync" -rlp --checksum --dry-run --delete "$@" --timeout="$timeout" --contimeout="$timeout" \
  --out-format='drift %i %n' --password-file=- \
  "rsync://slipway@127.0.0.1:$port/release/" "$base/current/"
echo checked

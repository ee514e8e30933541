# shellcheck shell=sh
# shellcheck disable=SC2154 # live is set by read_live, in common.sh
# Replace a live release whose files were changed by hand, never editing it in place:
# stage a fresh copy, serve it, rebuild the canonical directory from it by hard links,
# serve that, drop the copy. `current` always names a complete tree. Copies are built
# inside a directory only root may enter, as stage.sh does.
# Arguments: base dir rev port timeout rsync; the rsync secret on stdin.
set -eu
base=$1 dir=$2 rev=$3 port=$4 timeout=$5 rsync=$6
umask 022
cd "$base/releases"
fix=".$dir.repair"
work=".$dir.partial"
read_live
[ "$live" = "$dir" ] || [ "$live" = "$fix" ] || { echo "$dir is not the live release on this host (live: ${live:-none})" >&2; exit 3; }
# the record of a dir: written before the dir is in place, removed after it (see revision_of)
record() {
  manifest "$work/tree" > "$work/manifest"
  mv -fT "$work/manifest" ".$1.manifest"
  printf '%s\n' "$rev" > "$work/rev"
  mv -fT "$work/rev" ".$1.rev"
}
for p in .r*.partial; do [ -e "$p" ] && rm -rf -- "$p"; done
mkdir -m 700 "$work"
if [ "$live" = "$dir" ]; then
  [ ! -e "$fix" ] || rm -rf -- "$fix"
  # --checksum: an edited file may keep its size and time; link only identical content
  rsync_linked "rsync://slipway@127.0.0.1:$port/release/" "$work/tree/" "$dir" \
    -rlpt --checksum --delete --stats --timeout="$timeout" --contimeout="$timeout"
  record "$fix"
  mv -T "$work/tree" "$fix"
  point_current "$fix"
fi
rm -rf -- "$dir"
"$rsync" -rlpt --link-dest="$base/releases/$fix" "$fix/" "$work/tree/"
record "$dir"
mv -T "$work/tree" "$dir"
point_current "$dir"
rm -rf -- "$fix" "$work"
rm -f -- ".$fix.rev" ".$fix.manifest"
echo repaired

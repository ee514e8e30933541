# shellcheck shell=sh
# Keep the live release and the ones served most recently, `keep` in all: `.switched` is
# the log of switches, oldest first (switch_to appends to it), so the release that was live
# before this deploy (what `deploy rollback` goes back to) is always kept, however old its
# number. Releases that never went live count for nothing: attempts older than the live
# release go, newer ones stay. One awk decides; one rm removes. Arguments: base keep.
set -eu
base=$1 keep=$2
cd "$base"
read_live
[ -n "$live" ] || exit 0
start_served_log
cd releases
# prints the releases to remove; writes the new log (the kept ones, oldest first)
drop=$(release_dirs | awk -v keep="$keep" -v live="$live" -v served=../.switched -v newlog=../.switched.tmp '
  function num(d) { return substr(d, 2, index(d, "-") - 2) + 0 }
  { here[$0] = 1 }
  END {
    n = 0
    while ((getline d < served) > 0) if (d in here) seen[++n] = d
    kept[live] = 1; k = 1; order[1] = live
    for (i = n; i >= 1 && k < keep; i--) if (!(seen[i] in kept)) { kept[seen[i]] = 1; order[++k] = seen[i] }
    for (i = 1; i <= n; i++) wasServed[seen[i]] = 1
    for (i = k; i >= 1; i--) print order[i] > newlog
    for (d in here) if (!(d in kept) && ((d in wasServed) || num(d) < num(live))) print d
  }')
mv -f ../.switched.tmp ../.switched
# records and manifests whose release is gone (an interrupted stage or prune)
for m in .r*.rev .r*.manifest; do
  d=${m#.}
  [ ! -f "$m" ] || [ -e "${d%.*}" ] || rm -f -- "$m"
done
[ -n "$drop" ] || exit 0
for d in $drop; do
  # the directory first: a directory without its record would be read as an older Slipway's
  rm -rf -- "$d"
  rm -f -- ".$d.rev" ".$d.manifest"
  printf 'pruned %s\n' "$d"
done
exit 0

# shellcheck shell=sh
# Replace a live release whose files were changed by hand, never editing it in place:
# stage a fresh copy, serve it, rebuild the canonical directory from it by hard links,
# serve that, drop the copy. `current` always names a complete tree.
# Arguments: base dir rev port timeout rsync; the rsync secret on stdin.
set -eu
base=$1 dir=$2 rev=$3 port=$4 timeout=$5 rsync=$6
umask 022
cd "$base/releases"
fix=".$dir.repair"
read_live
[ "$live" = "$dir" ] || [ "$live" = "$fix" ] || { echo "$dir is not the live release on this host (live: ${live:-none})" >&2; exit 3; }
serve() { ln -s "releases/$1" "$base/.current.$$"; mv -T "$base/.current.$$" "$base/current"; }
for p in .r*.partial; do [ -e "$p" ] && rm -rf -- "$p"; done
if [ "$live" = "$dir" ]; then
  [ ! -e "$fix" ] || rm -rf -- "$fix"
  set --
  # shellcheck disable=SC2010 # our own release names: no spaces, no newlines
  for d in "$dir" $(ls -1 | grep -E '^r[0-9]+-[0-9a-f]{12}$' | sort -rV | head -n 3); do
    [ -f "$d/REVISION" ] || continue
    case " $* " in *"/$d "*) continue ;; esac
    set -- "$@" "--link-dest=$base/releases/$d"
  done
  # --checksum: an edited file may keep its size and time; link only identical content
  "$rsync" -rlpt --checksum --delete --stats --timeout="$timeout" --contimeout="$timeout" "$@" --password-file=- \
    "rsync://slipway@127.0.0.1:$port/release/" ".$dir.partial/"
  printf '%s\n' "$rev" > ".$dir.partial/REVISION"
  mv -T ".$dir.partial" "$fix"
  serve "$fix"
fi
rm -rf -- "$dir"
"$rsync" -rlpt --link-dest="$base/releases/$fix" "$fix/" ".$dir.partial/"
mv -T ".$dir.partial" "$dir"
serve "$dir"
rm -rf -- "$fix"
echo repaired

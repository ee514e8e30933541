# shellcheck shell=sh
# Stage one release on a host (after common.sh). Arguments: base dir rev port timeout rsync
# group basedir baserev mode payload arg, then the release's private files. What follows
# on stdin depends on the payload:
#   full  a tar of the whole release (a host with no release at all)
#   ahead nothing: the tree was sent ahead (ahead.sh) into .ahead.<arg>.partial; it is moved into place
#   tar   a tar of the changed files of a delta from basedir (arg: the deleted paths)
#   list  the rsync secret, then one line per path that differs from basedir (`C<path>`
#         changed or added, `D<path>` deleted; see deltaInput), pulled with rsync
#   ""    the rsync secret; the whole tree is pulled with rsync, hard-linking what matches
# A tar payload that cannot be used (the base is not intact, an extraction fails) exits
# 75 with nothing staged: the admin node then stages the host again with rsync.
set -eu
base=$1 dir=$2 rev=$3 port=$4 timeout=$5 rsync=$6 group=$7 basedir=$8 baserev=$9 mode=${10} payload=${11} arg=${12}
shift 12
umask 022
export LC_ALL=C
# builtins where they do (read, not cat): a host runs this once per deploy, twenty hosts at once
[ -d "$base/releases" ] || mkdir -p "$base/releases"
cd "$base/releases"
read_live
echo "live ${live:-none}"
# sets r to the REVISION in dir $1 (empty: none), without a subshell
revision_of() { r=; if [ -f "$1/REVISION" ]; then IFS= read -r r < "$1/REVISION" || true; fi; }
revision_of "$dir"
if [ "$r" = "$rev" ]; then echo present; exit 0; fi
[ "$dir" != "$live" ] || { echo "the live release $dir has no matching REVISION; refusing to restage it" >&2; exit 3; }
# leftovers of an interrupted run are never used, never served
for p in .r*.partial .r*.private .r*.delta* .ahead.*; do
  [ "$payload" = ahead ] && [ "$p" = ".ahead.$arg.partial" ] && continue
  [ -e "$p" ] && rm -rf -- "$p"
done
[ ! -e "$dir" ] || rm -rf -- "$dir"
# the private files (remaining arguments), one per line
list=".$dir.private"
: > "$list"
for f; do printf '%s\n' "$f" >> "$list"; done
src="rsync://slipway@127.0.0.1:$port/release/"
refuse() {
  rm -rf -- ".$dir.partial" ".$dir.delta"* "$list"
  echo "untar: $1"
  exit 75
}
base_intact() {
  [ -n "$basedir" ] && revision_of "$basedir" && [ "$r" = "$baserev" ]
}
# Delta: when this host has the base release intact, copy it as hard links (no network,
# no walk of the admin's tree) and replace only the paths that differ, never changing a
# linked inode in place (it belongs to the base release too): tar --unlink-first, or
# unlink then pull. Dirs left empty go (git has none).
delta_tar() {
  base_intact || return 1
  cp -al "$basedir" ".$dir.partial" && rm -f ".$dir.partial/REVISION" || return 1
  untar --unlink-first -C ".$dir.partial" || return 1
  if [ -n "$arg" ]; then
    printf '%s\n' "$arg" | tr '\n' '\0' | (cd ".$dir.partial" && xargs -0 rm -f --) || return 1
    # only a deletion can leave a dir empty
    find ".$dir.partial" -mindepth 1 -type d -empty -delete || return 1
  fi
  echo "delta $basedir tar"
}
delta_list() {
  base_intact || return 1
  cp -al "$basedir" ".$dir.partial" && rm -f ".$dir.partial/REVISION" || return 1
  cat > ".$dir.delta" &&
  sed -n 's/^[CD]//p' ".$dir.delta" | tr '\n' '\0' > ".$dir.delta-rm" &&
  sed -n 's/^C//p' ".$dir.delta" | tr '\n' '\0' > ".$dir.delta-get" &&
  (cd ".$dir.partial" && xargs -0 rm -f -- < "../.$dir.delta-rm") &&
  printf '%s\n' "$secret" | "$rsync" -lpt --chmod=u+rw,go-w,go+rX --files-from=".$dir.delta-get" --from0 --stats \
    --timeout="$timeout" --contimeout="$timeout" --password-file=- "$src" ".$dir.partial/" || return 1
  find ".$dir.partial" -mindepth 1 -type d -empty -delete && rm -f ".$dir.delta"* && echo "delta $basedir list"
}
# The whole tree with rsync, hard-linking every file that matches one of the host's releases
pull() {
  rm -rf -- ".$dir.partial" ".$dir.delta"*
  set --
  # shellcheck disable=SC2010 # our own release names: no spaces, no newlines
  for d in "$live" $(ls -1 | grep -E '^r[0-9]+-[0-9a-f]{12}$' | sort -rV | head -n 3); do
    if [ -z "$d" ] || [ ! -f "$d/REVISION" ]; then continue; fi
    case " $* " in *"/$d "*) continue ;; esac
    set -- "$@" "--link-dest=$base/releases/$d"
  done
  # nanosecond mtimes: two deploys within a second must not link a same-size changed file
  printf '%s\n' "$secret" | "$rsync" -rlpt --chmod=u+rw,go-w,go+rX --prune-empty-dirs --modify-window=-1 --delete --stats --timeout="$timeout" --contimeout="$timeout" "$@" --password-file=- \
    "$src" ".$dir.partial/"
}
case $payload in
  full) { mkdir ".$dir.partial" && untar -C ".$dir.partial"; } || { rm -rf -- ".$dir.partial" "$list"; echo "cannot unpack the release" >&2; exit 1; } ;;
  ahead) { [ -d ".ahead.$arg.partial" ] && mv -T ".ahead.$arg.partial" ".$dir.partial"; } || refuse "the tree sent ahead is not here"; echo ahead ;;
  tar) delta_tar || refuse "$basedir is not intact here, or its delta did not apply" ;;
  list) IFS= read -r secret; delta_list || pull ;;
  *) IFS= read -r secret; pull ;;
esac
# Private files get an inode of their own (a link may share one with an older release) and their mode
while IFS= read -r f; do
  p=".$dir.partial/$f"
  if [ ! -f "$p" ] || [ -L "$p" ]; then continue; fi
  { cp -p "$p" "$p.slipway-tmp" && chmod "$mode" "$p.slipway-tmp" && { [ -z "$group" ] || chgrp -- "$group" "$p.slipway-tmp"; } &&
    mv -f "$p.slipway-tmp" "$p"; } || { echo "cannot set the mode or group of the private file $f" >&2; exit 1; }
done < "$list"
rm -f -- "$list"
printf '%s\n' "$rev" > ".$dir.partial/REVISION"
mv -T ".$dir.partial" "$dir"
echo staged

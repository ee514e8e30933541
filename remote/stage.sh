# shellcheck shell=sh
# shellcheck disable=SC2154 # bad is set by verify, in common.sh
# Stage one release on a host (after common.sh). Arguments: base dir rev port timeout rsync
# (port: the admin's forwarded port, or a relay's address:port)
# group basedir baserev mode payload arg deadline reuse, then the release's private files
# (deadline: seconds an rsync pull may take in all, or empty; a pull past it exits 124;
# reuse: 1 to build a delta in basedir's own tree, see seed_tree). What follows
# on stdin depends on the payload:
#   full  a tar of the whole release (a host with no release at all)
#   ahead nothing: the tree was sent ahead (ahead.sh) into .ahead.<arg>.partial; it is moved into place
#   tar   a tar of the changed files of a delta from basedir (arg: the deleted paths)
#   list  the rsync secret, then one line per path that differs from basedir (`C<path>`
#         changed or added, `D<path>` deleted; see deltaInput), pulled with rsync
#   ""    the rsync secret; the whole tree is pulled with rsync, hard-linking what matches
# A tar payload that cannot be used (the base is not intact, an extraction fails) exits
# 75 with nothing staged (fall_back_to_rsync): the admin node then stages the host again
# with rsync.
#
# The release is built as .<dir>.partial/tree, inside a directory only root may enter:
# private files are never readable by others before they have their mode, and nothing of
# a half-built release is ever served. Slipway's own files (the record of the commit, the
# temporary copies of private files) are kept out of the tree: a repository may hold any
# name, and a name it holds is never written through.
set -eu
# shellcheck disable=SC2034 # rsync and deadline are read by run_rsync, in common.sh
base=$1 dir=$2 rev=$3 port=$4 timeout=$5 rsync=$6 group=$7 basedir=$8 baserev=$9 mode=${10} payload=${11} arg=${12} deadline=${13} reuse=${14}
shift 14
umask 022
export LC_ALL=C
work=".$dir.partial"
tree="$work/tree"
# the admin node's daemon through the port forwarded over this connection, or a relay's address:port
case $port in
  *:*) src="rsync://slipway@$port/release/" ;;
  *) src="rsync://slipway@127.0.0.1:$port/release/" ;;
esac

# Exits 0 if the host holds the release already, intact. A release held but not live is used
# only if it still matches its manifest: its files are shared with other releases, so a hand
# edit of one of them changed it too. One that does not (or has no manifest: an older
# Slipway's) is removed and staged afresh, never repaired in place.
stop_if_present() {
  revision_of "$dir"
  [ "$r" = "$rev" ] || return 0
  [ "$dir" != "$live" ] || { echo present; exit 0; }
  verify "$dir"
  [ "$bad" != 0 ] || { echo present; exit 0; }
  echo "edited $dir ${bad:-unverifiable}"
  rm -rf -- "$dir"
  rm -f -- ".$dir.rev" ".$dir.manifest"
}

# Leftovers of an interrupted run are never used, never served (.private and .delta: older
# Slipways); nor is whatever is in the way of the release directory. The directory first: a
# directory without a record is incomplete, a record without one is nothing.
clear_the_way() {
  for p in .r*.partial .r*.private .r*.delta* .ahead.*; do
    [ "$payload" = ahead ] && [ "$p" = ".ahead.$arg.partial" ] && continue
    [ -e "$p" ] && rm -rf -- "$p"
  done
  [ ! -e "$dir" ] || rm -rf -- "$dir"
  if [ -e ".$dir.rev" ] || [ -e ".$dir.manifest" ]; then rm -f -- ".$dir.rev" ".$dir.manifest"; fi
}

# Gives up on a tar payload, with nothing staged: exit 75 tells the admin node to stage this
# host again with rsync, which takes into account whatever the host has.
fall_back_to_rsync() {
  rm -rf -- "$work"
  echo "untar: $1"
  exit 75
}

# The base a delta starts from: a release this host holds with its record beside it (one
# staged by an older Slipway holds a REVISION of its own, not in its commit: pulled instead).
# A base edited by hand (its manifest differs) would pass the edit on through its links.
base_intact() {
  [ -n "$basedir" ] && [ -f ".$basedir.rev" ] && revision_of "$basedir" && [ "$r" = "$baserev" ] &&
    verify "$basedir" && [ "${bad:-0}" = 0 ]
}

# The tree a delta is applied to, from the intact base: hard links of it (its files are
# shared with other releases, so none is ever written in place). With reuse, the base is a
# release the prune after this deploy would remove anyway (the look named it `spare`): its
# tree is renamed into place instead, sparing the host a link per file now and an unlink per
# file at the prune (measured in docs/benchmark.md). Never the live release: a delta that
# then fails has only cost a release the prune was to remove.
seed_tree() {
  mkdir -m 700 "$work" || return 1
  if [ "$reuse" != 1 ]; then cp -al "$basedir" "$tree"; return; fi
  [ "$basedir" != "$live" ] || return 1
  # the directory first: its record without it means nothing (revision_of)
  mv -T "$basedir" "$tree" && rm -f -- ".$basedir.rev" ".$basedir.manifest" && forget_served "$basedir" && echo "reused $basedir"
}

# Drops the release $1 from the served log (prune_plan): its tree is another release's now.
# The log stays as short as the prune keeps it, though a host whose release count did not grow
# is not pruned.
forget_served() {
  [ -f ../.switched ] || return 0
  while IFS= read -r d || [ -n "$d" ]; do
    [ "$d" = "$1" ] || printf '%s\n' "$d"
  done < ../.switched > ../.switched.tmp && mv -f ../.switched.tmp ../.switched
}

# Delta: when this host has the base release intact, seed the tree from it (no network, no
# walk of the admin's tree) and replace only the paths that differ, never changing a
# linked inode in place (it belongs to other releases too). The deleted paths go first,
# with the dirs they leave empty (git has none): a path whose type changed is deleted then
# added, so once they are gone no path the new files are written under is a symlink, and
# nothing is written through one. Then tar --unlink-first, or rsync of the listed paths.
delta_tar() {
  base_intact && seed_tree || return 1
  if [ -n "$arg" ]; then
    printf '%s\n' "$arg" | tr '\n' '\0' | (cd "$tree" && xargs -0 rm -f --) || return 1
    find "$tree" -mindepth 1 -type d -empty -delete || return 1
  fi
  untar --unlink-first -C "$tree" || return 1
  echo "delta $basedir tar"
}
delta_list() {
  base_intact && seed_tree || return 1
  cat > "$work/delta" &&
  sed -n 's/^D//p' "$work/delta" | tr '\n' '\0' > "$work/delta-rm" &&
  sed -n 's/^C//p' "$work/delta" | tr '\n' '\0' > "$work/delta-get" &&
  (cd "$tree" && xargs -0 rm -f -- < ../delta-rm) &&
  find "$tree" -mindepth 1 -type d -empty -delete &&
  # the changed paths too: rsync must not skip one whose size and time match the base's
  (cd "$tree" && xargs -0 rm -f -- < ../delta-get) &&
  printf '%s\n' "$secret" | run_rsync -lpt --chmod=u+rw,go-w,go+rX --files-from="$work/delta-get" --from0 --stats \
    --timeout="$timeout" --contimeout="$timeout" --password-file=- "$src" "$tree/" || return
  echo "delta $basedir list"
}

# The whole tree with rsync into an empty dir, hard-linking every file that matches one of the host's releases
pull() {
  rm -rf -- "$work"
  mkdir -m 700 "$work"
  # nanosecond mtimes: two deploys within a second must not link a same-size changed file
  printf '%s\n' "$secret" | rsync_linked "$src" "$tree/" "$live" \
    -rlpt --chmod=u+rw,go-w,go+rX --prune-empty-dirs --modify-window=-1 --delete --stats --timeout="$timeout" --contimeout="$timeout"
}

# Builds the release's tree in $tree from what the payload brings.
receive() {
  case $payload in
    full) { mkdir -m 700 "$work" && mkdir "$tree" && untar -C "$tree"; } || { rm -rf -- "$work"; echo "cannot unpack the release" >&2; exit 1; } ;;
    ahead) { [ -d ".ahead.$arg.partial/tree" ] && mv -T ".ahead.$arg.partial" "$work"; } || fall_back_to_rsync "the tree sent ahead is not here"; echo ahead ;;
    tar) delta_tar || fall_back_to_rsync "$basedir is not intact here, or its delta did not apply" ;;
    # a pull past its deadline is not tried again another way: the admin node decides
    list) IFS= read -r secret; delta_list || { [ $? != 124 ] || exit 124; pull; } ;;
    *) IFS= read -r secret; pull ;;
  esac
}

# Private files (the arguments) get an inode of their own (a link may share one with an
# older release), and their mode and group, in a copy made where only root can reach it,
# then renamed over the file: a rename replaces the name, it never writes through it.
protect_private_files() {
  for f; do
    p="$tree/$f"
    if [ ! -f "$p" ] || [ -L "$p" ]; then continue; fi
    rm -f -- "$work/private"
    { cp -p -- "$p" "$work/private" && chmod "$mode" "$work/private" && { [ -z "$group" ] || chgrp -- "$group" "$work/private"; } &&
      mv -fT -- "$work/private" "$p"; } || { echo "cannot set the mode or group of the private file $f" >&2; exit 1; }
  done
}

# The record (manifest, then commit) goes beside the release before the tree is moved into
# place: a release directory is complete once it is there. The records are written where
# they stay: without the directory they mean nothing (revision_of), and clear_the_way or
# a prune removes a half-written one.
put_in_place() {
  manifest "$tree" > ".$dir.manifest"
  printf '%s\n' "$rev" > ".$dir.rev"
  mv -T "$tree" "$dir"
  rm -rf -- "$work"
}

# builtins where they do (read, not cat): a host runs this once per deploy, twenty hosts at once
[ -d "$base/releases" ] || mkdir -p "$base/releases"
cd "$base/releases"
read_live
echo "live ${live:-none}"
stop_if_present
[ "$dir" != "$live" ] || { echo "the live release $dir has no matching commit record; refusing to restage it" >&2; exit 3; }
clear_the_way
receive
protect_private_files "$@"
put_in_place
echo staged

# shellcheck shell=sh
# shellcheck disable=SC2154 # base is set by the script sent after this text
# Shared by every remote script: the admin node sends this text, then the script's own,
# as one `sh -c` program (src/deploy/remote.ts). Functions only: nothing runs here.

# The release directories in releases/, one a line, in no order: the names the admin node
# makes, r<N>-<the commit's first 12 hex digits> (the pattern is RELEASE_DIR in
# src/deploy/layout.ts); anything else there is left alone.
release_dirs() {
  # shellcheck disable=SC2010 # our own release names: no spaces, no newlines
  ls -1 "$base/releases" | grep -E '^r[1-9][0-9]*-[0-9a-f]{12}$'
}

# Sets live to the name of the release directory current points to, or to nothing (no
# current, not a symlink, or a dangling one). Shell builtins alone (`cd -P` resolves the
# link, PWD is then its target): readlink would be one more process per host in every look,
# switch and stage (measured in docs/benchmark.md).
read_live() {
  live=
  if [ -L "$base/current" ] && cd -P "$base/current" 2>/dev/null; then live=${PWD##*/}; cd "$OLDPWD" || exit 1; fi
}

# -b 128: read the pipe sshd fills 64 kB at a time (a pipe's whole buffer) instead of tar's
# 10 kB; reading from a pipe, GNU tar takes whatever each read returns, so the sender's record
# size does not matter. --no-same-owner: the archive's owner is root (payload.ts), so as root
# tar's chown per file would change nothing. Both measured in docs/benchmark.md.
untar() {
  tar -b 128 --no-same-owner -xpf - "$@"
}

# Sets r to the commit the release directory $1 (a name in releases/) holds, or to nothing
# (none, or incomplete). Slipway's own record lives beside the release, releases/.<dir>.rev,
# never inside it: a release holds exactly its commit's tree, whatever names that has. It is
# written before the directory is moved into place, and removed after the directory. A host
# staged by an older Slipway has it in <dir>/REVISION, which is trusted only without a record.
revision_of() {
  r=
  if [ ! -d "$base/releases/$1" ] || [ -L "$base/releases/$1" ]; then return 0; fi
  if [ -f "$base/releases/.$1.rev" ]; then
    IFS= read -r r < "$base/releases/.$1.rev" || true
  elif [ -f "$base/releases/$1/REVISION" ] && [ ! -L "$base/releases/$1/REVISION" ]; then
    IFS= read -r r < "$base/releases/$1/REVISION" || true
  fi
}

# The manifest of a release tree $1: per path, NUL-terminated, sorted: type, size, mtime
# (ns), path and symlink target, tab-separated (a directory: type and path only, its size
# and time follow its entries, which are listed anyway). Files are hard links shared between
# releases, so a hand edit of one shows as a changed size or time in every release holding it.
manifest() {
  find "$1" -mindepth 1 \( -type d -printf 'd\t\t\t%P\t\0' \) -o -printf '%y\t%s\t%T@\t%P\t%l\0' | LC_ALL=C sort -z
}

# Sets bad to how many paths of the release directory $1 (in releases/) differ from the
# manifest recorded beside it, releases/.$1.manifest: 0 when intact, nothing when there is
# none (staged by an older Slipway: it cannot be checked). An edit in place, an added or a
# removed file sets a time newer than the manifest's, so a tree with nothing newer is intact
# without listing it: the full comparison runs only when something is newer.
verify() {
  bad=
  [ -f "$base/releases/.$1.manifest" ] || return 0
  if [ -z "$(find "$base/releases/$1" -newer "$base/releases/.$1.manifest" -print -quit)" ]; then bad=0; return 0; fi
  bad=$(manifest "$base/releases/$1" | LC_ALL=C comm -z -3 - "$base/releases/.$1.manifest" | sed -z 's/^\t//' | cut -z -f4 | LC_ALL=C sort -zu | tr -cd '\0' | wc -c)
}

# Prints `kept <dir> <n>` for each complete release but the live one that does not match its
# manifest (n: how many paths differ, or `unverifiable`). Needs live (read_live).
kept_releases() {
  for d in "$base"/releases/r*-*; do
    d=${d##*/}
    [ "$d" != "$live" ] || continue
    revision_of "$d"
    [ -n "$r" ] || continue
    verify "$d"
    [ "$bad" = 0 ] || echo "kept $d ${bad:-unverifiable}"
  done
}

# What a host has, read before deciding what to send it: the live release, and every
# release directory with its commit (a directory without one is incomplete). The release
# named $1 (a rollback's target, switched to as it is), if not the live one, counts only if
# it matches its manifest; else `edited <dir> <n|unverifiable>`, and it is staged afresh.
# Other releases are listed `unchecked`: should one be needed (a delta's base), the stage
# script checks it. Each check walks a whole tree, so a host checks only the one that the
# run may switch to, not every kept release (measured in docs/benchmark.md).
# With $2 (a deploy's keepReleases): `spare <dir>` for each release the prune after a deploy
# of a new release would remove, as one keeping one fewer now does (the new one takes a
# place). The stage script may take over such a release's tree instead of linking a new one.
look() {
  read_live
  echo "live $live"
  if cd "$base/releases" 2>/dev/null; then
    for d in r*-*; do
      revision_of "$d"
      [ -n "$r" ] || continue
      if [ "$d" != "$live" ] && [ "$d" != "${1-}" ]; then echo "have $d $r unchecked"; continue; fi
      if [ "$d" != "$live" ]; then
        verify "$d"
        [ "$bad" = 0 ] || { echo "edited $d ${bad:-unverifiable}"; continue; }
      fi
      echo "have $d $r"
    done
    # a host from before the served log: its first prune writes one (start_served_log)
    if [ -n "${2-}" ] && [ -n "$live" ] && [ -f "$base/.switched" ]; then
      prune_plan $(($2 - 1))
      for d in $drop; do echo "spare $d"; done
    fi
  fi
}

# Points current at releases/$1 in one step: a new symlink renamed over it. rename(2)
# replaces the link atomically; ln -sfn would unlink first and leave a gap.
point_current() {
  ln -s "releases/$1" "$base/.current.$$"
  mv -T "$base/.current.$$" "$base/current"
}

# Starts the served log, .switched, on a host from before it, with the releases it has:
# only releases a host has served count towards keepReleases (prune.sh).
start_served_log() {
  [ -f "$base/.switched" ] || release_dirs | sort -V > "$base/.switched" || true
}

# The rollout's switch, with base set, to the release directory $1: no pruning here, so the release a host
# served before stays on disk until the whole rollout succeeded (a revert needs it)
switch_to() {
  to=$1
  cd "$base" || exit 1
  revision_of "$to"
  [ -n "$r" ] || { echo "release $to is not staged on this host" >&2; exit 3; }
  read_live
  echo "previous $live"
  point_current "$to"
  echo switched
  start_served_log
  printf '%s\n' "$to" >> .switched
}

# Pulls with $rsync from the admin node's daemon at $1 into $2 (options follow; the daemon's
# secret is read from stdin), hard-linking every file that matches one of the release $3
# (the live one, say) or of the three newest other complete releases: such a file is
# neither sent nor stored twice.
rsync_linked() {
  link_src=$1 link_dest=$2 link_first=$3
  shift 3
  for d in "$link_first" $(release_dirs | sort -rV | head -n 3); do
    [ -n "$d" ] || continue
    revision_of "$d"
    [ -n "$r" ] || continue
    case " $* " in *"/$d "*) continue ;; esac
    set -- "$@" "--link-dest=$base/releases/$d"
  done
  run_rsync "$@" --password-file=- "$link_src" "$link_dest"
}

# rsync, within the pull's deadline when it has one (stage.sh): past it, rsync and its
# children are stopped (timeout signals its whole process group) and this returns 124.
run_rsync() {
  if [ -n "${deadline:-}" ]; then
    timeout -k 5 "$deadline" "$rsync" "$@" || { rc=$?; [ "$rc" != 124 ] || echo "too slow: the pull did not end within its ${deadline} s" >&2; return "$rc"; }
  else
    "$rsync" "$@"
  fi
}

# The prune's decision, in releases/ with live read: keep the live release and the ones
# served most recently, $1 in all: `.switched` is the log of switches, oldest first
# (switch_to appends to it), so the release that was live before a deploy (what `deploy
# rollback` goes back to) is always kept, however old its number. Releases that never went
# live count for nothing: attempts older than the live release go, newer ones stay. Sets
# drop to the releases to remove; writes to $2, if given, the new log (the kept ones, oldest
# first). Shell builtins alone, as read_live: every deploy's look and prune runs this on
# every host. The names come from a glob, filtered as release_dirs does.
prune_plan() {
  here=' ' served='' kept=" $live " order='' k=1 drop=''
  for d in r*-*; do
    case $d in r[1-9]*-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;; *) continue ;; esac
    n=${d%%-*}
    case ${n#r} in *[!0-9]*) continue ;; esac
    here="$here$d "
  done
  # the releases still here, most recently served first
  if [ -f ../.switched ]; then
    while IFS= read -r d || [ -n "$d" ]; do
      case $here in *" $d "*) served="$d $served" ;; esac
    done < ../.switched
  fi
  for d in $served; do
    [ "$k" -lt "$1" ] || break
    case $kept in *" $d "*) continue ;; esac
    kept="$kept$d " order="$d $order" k=$((k + 1))
  done
  # shellcheck disable=SC2086 # names that passed the filter above: no spaces, no wildcards
  [ -z "${2-}" ] || printf '%s\n' $order "$live" > "$2"
  n=${live%%-*} n=${n#r}
  case $n in '' | *[!0-9]*) n=0 ;; esac
  for d in $here; do
    case $kept in *" $d "*) continue ;; esac
    m=${d%%-*}
    case " $served " in *" $d "*) ;; *) [ "${m#r}" -lt "$n" ] || continue ;; esac
    drop="$drop$d "
  done
}

# Prunes old releases, keeping $1 (see prune_plan); one rm removes. Needs base.
prune_releases() {
  keep=$1
  cd "$base" || exit 1
  read_live
  [ -n "$live" ] || return 0
  start_served_log
  cd releases || exit 1
  prune_plan "$keep" ../.switched.tmp
  mv -f ../.switched.tmp ../.switched
  # records and manifests whose release is gone (an interrupted stage or prune)
  for m in .r*.rev .r*.manifest; do
    d=${m#.}
    [ ! -f "$m" ] || [ -e "${d%.*}" ] || rm -f -- "$m"
  done
  [ -n "$drop" ] || return 0
  for d in $drop; do
    # the directory first (rm removes in order): a directory without its record would be read
    # as an older Slipway's
    rm -rf -- "$d" ".$d.rev" ".$d.manifest"
    printf 'pruned %s\n' "$d"
  done
}

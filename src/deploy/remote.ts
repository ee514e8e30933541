/**
 * The release layout on web servers, known only here:
 *   <path>/releases/r<N>-<commit12>/   one complete release (+ REVISION file)
 *   <path>/releases/.r<N>-….partial/   a release being staged; never served
 *   <path>/current -> releases/r<N>-…  switched by renaming a new symlink over it
 * Each builder returns a Cmd: a fixed POSIX sh script plus quoted arguments,
 * so no user input is ever glued into a shell line.
 */
import type { Cmd } from '../exec/cmd.js';
import type { Release } from '../release-store/release.js';
import { GIT_MODES } from './payload.js';
import { MODULE, RSYNC_USER } from './serve.js';

export function releaseDir(release: Pick<Release, 'id' | 'commit'>): string {
  return `${release.id}-${release.commit.slice(0, 12)}`;
}

/** A name this tool created; anything else in releases/ is left alone. */
export const RELEASE_DIR = /^r([1-9][0-9]*)-([0-9a-f]{12})$/;

// Sets live to the name of the release directory current points to, or to nothing (no
// current, not a symlink, or a dangling one), with shell builtins alone: `cd -P` resolves
// the link and PWD is then its target. readlink was one more process per host in every
// look, switch and stage: two per host on a rollback (20 hosts: the hosts' CPU -5 %, wall
// time -4.5 %, medians of 10 A/B pairs).
const READ_LIVE = `live=
if [ -L "$base/current" ] && cd -P "$base/current" 2>/dev/null; then live=\${PWD##*/}; cd "$OLDPWD"; fi`;

// GNU tar reads its input 10 kB at a time unless told otherwise; from the pipe sshd fills,
// 64 kB reads (-b 128: a pipe's whole buffer) took the hosts' CPU in a first deploy to 20
// hosts from 4.4 s to 4.1 s (wall time -3 %; medians of 10 A/B pairs). Reading from a pipe,
// GNU tar takes whatever each read returns, so the sender's record size does not matter.
// --no-same-owner: run as root, tar gives every file the archive's owner with one more
// chown per file (a tenth of its CPU: 75 -> 66 ms per host for the 3,402-file benchmark
// tree, means of 24 runs). The archive's owner is root (payload.ts), so as root the files
// are root's either way; as another user tar never chowns.
const UNTAR = 'tar -b 128 --no-same-owner -xpf -';

// Arguments: base dir rev port timeout rsync group basedir baserev mode payload arg,
// then the release's private files. What follows on stdin depends on the payload:
//   full  a tar of the whole release (a host with no release at all)
//   ahead nothing: the tree was sent ahead (AHEAD) into .ahead.<arg>.partial; it is moved into place
//   tar   a tar of the changed files of a delta from basedir (arg: the deleted paths)
//   list  the rsync secret, then one line per path that differs from basedir (`C<path>`
//         changed or added, `D<path>` deleted; see deltaInput), pulled with rsync
//   ""    the rsync secret; the whole tree is pulled with rsync, hard-linking what matches
// A tar payload that cannot be used (the base is not intact, an extraction fails) exits
// 75 with nothing staged: the admin node then stages the host again with rsync.
const STAGE = `set -eu
base=$1 dir=$2 rev=$3 port=$4 timeout=$5 rsync=$6 group=$7 basedir=$8 baserev=$9 mode=\${10} payload=\${11} arg=\${12}
shift 12
umask 022
export LC_ALL=C
# builtins where they do (read, not cat): a host runs this once per deploy, twenty hosts at once
[ -d "$base/releases" ] || mkdir -p "$base/releases"
cd "$base/releases"
${READ_LIVE}
echo "live \${live:-none}"
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
for f; do printf '%s\\n' "$f" >> "$list"; done
src="rsync://${RSYNC_USER}@127.0.0.1:$port/${MODULE}/"
untar() {
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
  ${UNTAR} --unlink-first -C ".$dir.partial" || return 1
  if [ -n "$arg" ]; then
    printf '%s\\n' "$arg" | tr '\\n' '\\0' | (cd ".$dir.partial" && xargs -0 rm -f --) || return 1
    # only a deletion can leave a dir empty
    find ".$dir.partial" -mindepth 1 -type d -empty -delete || return 1
  fi
  echo "delta $basedir tar"
}
delta_list() {
  base_intact || return 1
  cp -al "$basedir" ".$dir.partial" && rm -f ".$dir.partial/REVISION" || return 1
  cat > ".$dir.delta" &&
  sed -n 's/^[CD]//p' ".$dir.delta" | tr '\\n' '\\0' > ".$dir.delta-rm" &&
  sed -n 's/^C//p' ".$dir.delta" | tr '\\n' '\\0' > ".$dir.delta-get" &&
  (cd ".$dir.partial" && xargs -0 rm -f -- < "../.$dir.delta-rm") &&
  printf '%s\\n' "$secret" | "$rsync" -lpt --chmod=${GIT_MODES} --files-from=".$dir.delta-get" --from0 --stats \\
    --timeout="$timeout" --contimeout="$timeout" --password-file=- "$src" ".$dir.partial/" || return 1
  find ".$dir.partial" -mindepth 1 -type d -empty -delete && rm -f ".$dir.delta"* && echo "delta $basedir list"
}
# The whole tree with rsync, hard-linking every file that matches one of the host's releases
pull() {
  rm -rf -- ".$dir.partial" ".$dir.delta"*
  set --
  for d in "$live" $(ls -1 | grep -E '^r[0-9]+-[0-9a-f]{12}$' | sort -rV | head -n 3); do
    [ -n "$d" ] && [ -f "$d/REVISION" ] || continue
    case " $* " in *"/$d "*) continue ;; esac
    set -- "$@" "--link-dest=$base/releases/$d"
  done
  # nanosecond mtimes: two deploys within a second must not link a same-size changed file
  printf '%s\\n' "$secret" | "$rsync" -rlpt --chmod=${GIT_MODES} --prune-empty-dirs --modify-window=-1 --delete --stats --timeout="$timeout" --contimeout="$timeout" "$@" --password-file=- \\
    "$src" ".$dir.partial/"
}
case $payload in
  full) mkdir ".$dir.partial" && ${UNTAR} -C ".$dir.partial" || { rm -rf -- ".$dir.partial" "$list"; echo "cannot unpack the release" >&2; exit 1; } ;;
  ahead) { [ -d ".ahead.$arg.partial" ] && mv -T ".ahead.$arg.partial" ".$dir.partial"; } || untar "the tree sent ahead is not here"; echo ahead ;;
  tar) delta_tar || untar "$basedir is not intact here, or its delta did not apply" ;;
  list) IFS= read -r secret; delta_list || pull ;;
  *) IFS= read -r secret; pull ;;
esac
# Private files get an inode of their own (a link may share one with an older release) and their mode
while IFS= read -r f; do
  p=".$dir.partial/$f"
  [ -f "$p" ] && [ ! -L "$p" ] || continue
  { cp -p "$p" "$p.slipway-tmp" && chmod "$mode" "$p.slipway-tmp" && { [ -z "$group" ] || chgrp -- "$group" "$p.slipway-tmp"; } &&
    mv -f "$p.slipway-tmp" "$p"; } || { echo "cannot set the mode or group of the private file $f" >&2; exit 1; }
done < "$list"
rm -f -- "$list"
printf '%s\\n' "$rev" > ".$dir.partial/REVISION"
mv -T ".$dir.partial" "$dir"
echo staged`;

// What a host has, read before deciding what to send it: the live release, and every
// release directory whose REVISION is there (a directory without one is incomplete).
const LOOK = `${READ_LIVE}
echo "live $live"
if cd "$base/releases" 2>/dev/null; then
  for d in r*-*; do
    [ -f "$d/REVISION" ] || continue
    IFS= read -r rev < "$d/REVISION" || continue
    echo "have $d $rev"
  done
fi`;

// A release's tree sent before its commit exists (deploy/ahead.ts), for a host with no
// release: unpacked into .ahead.<token>.partial, which STAGE (payload ahead) moves into place.
const AHEAD = `set -eu
base=$1 token=$2
umask 022
export LC_ALL=C
[ -d "$base/releases" ] || mkdir -p "$base/releases"
cd "$base/releases"
rm -rf -- .ahead.*
mkdir ".ahead.$token.partial"
${UNTAR} -C ".ahead.$token.partial" || { rm -rf -- ".ahead.$token.partial"; echo "cannot unpack the tree" >&2; exit 1; }
echo ahead`;

// The rollout's switch, with base and dir set: no pruning here, so the release a host
// served before stays on disk until the whole rollout succeeded (a revert needs it)
const SWITCH = `cd "$base"
[ -f "releases/$dir/REVISION" ] || { echo "release $dir is not staged on this host" >&2; exit 3; }
${READ_LIVE}
echo "previous $live"
tmp=".current.$$"
ln -s "releases/$dir" "$tmp"
# rename(2) replaces the link atomically; ln -sfn would unlink first and leave a gap
mv -T "$tmp" current
echo switched
# the served log: only releases a host has served count towards keepReleases.
# A host from before this log starts it with what it has.
[ -f .switched ] || ls -1 releases | grep -E '^r[0-9]+-[0-9a-f]{12}$' | sort -V > .switched || true
printf '%s\\n' "$dir" >> .switched`;

const ACTIVATE = `set -eu
base=$1 dir=$2
${SWITCH}`;

// A host's look (LOOK) that then waits to switch it (SWITCH), in one remote process: the
// admin node sends the release directory once every host has staged it. Input that ends
// without one (the run stopped, failed elsewhere, or switches this host another way) and a
// connection that closes both end it with nothing changed.
const GATE = `base=$1
${LOOK}
echo ready
IFS= read -r dir || exit 0
case $dir in
  '' | .* | */*) echo "not a release directory: $dir" >&2; exit 2 ;;
esac
set -eu
${SWITCH}`;

// Keep the live release and the ones served most recently, `keep` in all: `.switched` is
// the log of switches, oldest first (ACTIVATE appends to it), so the release that was live
// before this deploy (what `deploy rollback` goes back to) is always kept, however old its
// number. Releases that never went live count for nothing: attempts older than the live
// release go, newer ones stay. One awk decides; one rm removes.
const PRUNE = `set -eu
base=$1 keep=$2
cd "$base"
${READ_LIVE}
[ -n "$live" ] || exit 0
[ -f .switched ] || ls -1 releases | grep -E '^r[0-9]+-[0-9a-f]{12}$' | sort -V > .switched || true
cd releases
# prints the releases to remove; writes the new log (the kept ones, oldest first)
drop=$(ls -1 | awk -v keep="$keep" -v live="$live" -v served=../.switched -v newlog=../.switched.tmp '
  function ours(d) { return d ~ /^r[1-9][0-9]*-[0-9a-f]+$/ && length(d) - index(d, "-") == 12 }
  function num(d) { return substr(d, 2, index(d, "-") - 2) + 0 }
  ours($0) { here[$0] = 1 }
  END {
    n = 0
    while ((getline d < served) > 0) if (ours(d) && (d in here)) seen[++n] = d
    kept[live] = 1; k = 1; order[1] = live
    for (i = n; i >= 1 && k < keep; i--) if (!(seen[i] in kept)) { kept[seen[i]] = 1; order[++k] = seen[i] }
    for (i = 1; i <= n; i++) wasServed[seen[i]] = 1
    for (i = k; i >= 1; i--) print order[i] > newlog
    for (d in here) if (!(d in kept) && ((d in wasServed) || num(d) < num(live))) print d
  }')
mv -f ../.switched.tmp ../.switched
[ -n "$drop" ] || exit 0
rm -rf -- $drop
printf 'pruned %s\\n' $drop
exit 0`;

const STATUS = `base=$1
${READ_LIVE}
echo "live $live"
[ -n "$live" ] && [ -f "$base/current/REVISION" ] && echo "revision $(cat "$base/current/REVISION")"
exit 0`;

// Compare the live tree with the release it claims to be, without changing it:
// a dry-run pull by checksum (times ignored: the export's mtimes are not the host's).
const INSPECT = `set -eu
base=$1 expect=$2 port=$3 timeout=$4 rsync=$5
${READ_LIVE}
echo "live $live"
[ -n "$live" ] && [ -f "$base/current/REVISION" ] || exit 0
rev=$(cat "$base/current/REVISION")
echo "revision $rev"
[ "$rev" = "$expect" ] || exit 0
"$rsync" -rlp --checksum --dry-run --delete --exclude=/REVISION --timeout="$timeout" --contimeout="$timeout" \\
  --out-format='drift %i %n' --password-file=- \\
  "rsync://${RSYNC_USER}@127.0.0.1:$port/${MODULE}/" "$base/current/"
echo checked`;

// Replace a live release whose files were changed by hand, never editing it in
// place: stage a fresh copy, serve it, rebuild the canonical directory from it
// by hard links, serve that, drop the copy. \`current\` always names a complete tree.
const REPAIR = `set -eu
base=$1 dir=$2 rev=$3 port=$4 timeout=$5 rsync=$6
umask 022
cd "$base/releases"
fix=".$dir.repair"
${READ_LIVE}
[ "$live" = "$dir" ] || [ "$live" = "$fix" ] || { echo "$dir is not the live release on this host (live: \${live:-none})" >&2; exit 3; }
serve() { ln -s "releases/$1" "$base/.current.$$"; mv -T "$base/.current.$$" "$base/current"; }
for p in .r*.partial; do [ -e "$p" ] && rm -rf -- "$p"; done
if [ "$live" = "$dir" ]; then
  [ ! -e "$fix" ] || rm -rf -- "$fix"
  set --
  for d in "$dir" $(ls -1 | grep -E '^r[0-9]+-[0-9a-f]{12}$' | sort -rV | head -n 3); do
    [ -f "$d/REVISION" ] || continue
    case " $* " in *"/$d "*) continue ;; esac
    set -- "$@" "--link-dest=$base/releases/$d"
  done
  # --checksum: an edited file may keep its size and time; link only identical content
  "$rsync" -rlpt --checksum --delete --stats --timeout="$timeout" --contimeout="$timeout" "$@" --password-file=- \\
    "rsync://${RSYNC_USER}@127.0.0.1:$port/${MODULE}/" ".$dir.partial/"
  printf '%s\\n' "$rev" > ".$dir.partial/REVISION"
  mv -T ".$dir.partial" "$fix"
  serve "$fix"
fi
rm -rf -- "$dir"
"$rsync" -rlpt --link-dest="$base/releases/$fix" "$fix/" ".$dir.partial/"
mv -T ".$dir.partial" "$dir"
serve "$dir"
rm -rf -- "$fix"
echo repaired`;

function script(name: string, body: string, args: string[]): Cmd {
  return ['sh', '-c', body, `slipway-${name}`, ...args];
}

/**
 * What a host is sent to stage a release, chosen from what it has (see STAGE):
 *   full   a tar of the whole tree, for a host with no release at all
 *   tar    a tar of the paths that differ from `from`, which the host has intact
 *   list   the same paths pulled with rsync (deltas too big for one tar)
 *   rsync  the whole tree pulled with rsync, hard-linking what the host already has
 */
export type StagePayload =
  | { kind: 'full' }
  | { kind: 'ahead'; token: string }
  | { kind: 'tar'; from: Pick<Release, 'id' | 'commit'>; deleted: readonly string[] }
  | { kind: 'list'; from: Pick<Release, 'id' | 'commit'> }
  | { kind: 'rsync' };

/** The stage script's exit when a tar payload cannot be used there: stage again with rsync. */
export const UNTAR_EXIT = 75;

export interface StageOptions {
  /** Private files get this group on the host (default: the SSH user's). */
  group?: string;
  /** Mode of private files on the host. */
  mode?: number;
  /** Default: rsync. */
  payload?: StagePayload;
}

/** `port`: the forwarded port of the admin's rsync daemon (unused by tar payloads). */
export function stageCmd(base: string, release: Release, port: number, timeoutS: number, rsync: string, options: StageOptions = {}): Cmd {
  const { group = '', mode = 0o640, payload = { kind: 'rsync' } } = options;
  const from = payload.kind === 'tar' || payload.kind === 'list' ? [releaseDir(payload.from), payload.from.commit] : ['', ''];
  const arg = payload.kind === 'tar' ? payload.deleted.join('\n') : payload.kind === 'ahead' ? payload.token : '';
  const kind = payload.kind === 'rsync' ? '' : payload.kind;
  // names with a newline cannot go through the list file; they keep the tree's mode and the default group
  const privates = release.privateFiles.filter((f) => !f.includes('\n'));
  return script('stage', STAGE, [base, releaseDir(release), release.commit, String(port), String(Math.ceil(timeoutS)), rsync, group, from[0]!, from[1]!, mode.toString(8).padStart(4, '0'), kind, arg, ...privates]);
}

/** Unpack a tree sent ahead of its release (tar on stdin) under `token` (hex, ours). */
export function aheadCmd(base: string, token: string): Cmd {
  if (!/^[0-9a-f]{8,32}$/.test(token)) throw new Error(`bad token ${JSON.stringify(token)}`);
  return script('ahead', AHEAD, [base, token]);
}

/**
 * Read what a host has (`live <dir>`, then `have <dir> <revision>` per complete release,
 * then `ready`), then wait: a release directory on stdin switches the host to it, as
 * activateCmd does; the end of stdin exits with nothing changed.
 */
export function gateCmd(base: string): Cmd {
  return script('gate', GATE, [base]);
}

/** A host's releases as its probe saw them. */
export interface HostState {
  /** The release directory `current` names, if any. */
  live?: string;
  /** Release directory → the commit in its REVISION. */
  have: Map<string, string>;
}

export function parseProbe(stdout: string): HostState {
  const lines = parseLines(stdout);
  const live = lines.get('live')?.[0] || undefined;
  const have = new Map<string, string>();
  for (const entry of lines.get('have') ?? []) {
    const [dir, rev] = entry.split(' ');
    if (dir && rev && RELEASE_DIR.test(dir)) have.set(dir, rev);
  }
  return { ...(live ? { live } : {}), have };
}

/** Does the host hold this release intact (its directory, with the right REVISION)? */
export function holds(state: HostState, release: Pick<Release, 'id' | 'commit'>): boolean {
  return state.have.get(releaseDir(release)) === release.commit;
}

/** Point `current` at a staged release directory (`r42-…`), atomically; prints `previous <dir>`. */
export function activateCmd(base: string, dir: string): Cmd {
  return script('activate', ACTIVATE, [base, dir]);
}

/** Remove all but the newest `keep` served releases (and attempts older than the live one); never the live one. */
export function pruneCmd(base: string, keep: number): Cmd {
  return script('prune', PRUNE, [base, String(keep)]);
}

export function statusCmd(base: string): Cmd {
  return script('status', STATUS, [base]);
}

export function inspectCmd(base: string, expect: Release, port: number, timeoutS: number, rsync: string): Cmd {
  return script('inspect', INSPECT, [base, expect.commit, String(port), String(Math.ceil(timeoutS)), rsync]);
}

export function repairCmd(base: string, release: Release, port: number, timeoutS: number, rsync: string): Cmd {
  return script('repair', REPAIR, [base, releaseDir(release), release.commit, String(port), String(Math.ceil(timeoutS)), rsync]);
}

/** How a host's file differs from the release, from rsync's itemized changes. */
export interface Drift {
  kind: 'modified' | 'missing' | 'extra' | 'mode' | 'changed';
  path: string;
}

/** Read `drift <%i> <%n>` lines (rsync --out-format) into differences. */
export function parseDrift(lines: readonly string[]): Drift[] {
  return lines.flatMap((line): Drift[] => {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) return [];
    const [, flags, path] = m as unknown as [string, string, string];
    if (flags === '*deleting') return [{ kind: 'extra', path }];
    const attrs = flags.slice(2);
    if (/^\++$/.test(attrs)) return [{ kind: 'missing', path }];
    if (flags[1] === 'L' || attrs[0] === 'c' || attrs[1] === 's') return [{ kind: 'modified', path }];
    if (attrs[3] === 'p') return [{ kind: 'mode', path }];
    return [{ kind: 'changed', path }];
  });
}

/** What the stage script reads after the secret for its delta path. */
export function deltaInput(delta: { changed: readonly string[]; deleted: readonly string[] }): string {
  return [...delta.deleted.map((p) => `D${p}\n`), ...delta.changed.map((p) => `C${p}\n`)].join('');
}

/** `key value` lines printed by the scripts. */
export function parseLines(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const [key, ...rest] = line.trim().split(' ');
    if (!key) continue;
    out.set(key, [...(out.get(key) ?? []), rest.join(' ')]);
  }
  return out;
}

export interface TransferStats {
  files: number;
  bytes: number;
}

/** Read rsync --stats (on the receiving side) for what actually crossed the wire. */
export function parseRsyncStats(stdout: string): TransferStats {
  const num = (label: string) => {
    const m = new RegExp(`^${label}: ([0-9,.]+)`, 'm').exec(stdout);
    return m ? Number(m[1]!.replaceAll(',', '')) : 0;
  };
  return { files: num('Number of regular files transferred'), bytes: num('Total bytes received') };
}

/** `r42-9fceb02d0ae5` → `r42`, for display. */
export function idOfDir(dir: string | undefined): string | undefined {
  if (!dir) return undefined;
  const m = RELEASE_DIR.exec(dir);
  return m ? `r${m[1]}` : dir;
}

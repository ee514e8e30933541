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
import { MODULE, RSYNC_USER } from './serve.js';

export function releaseDir(release: Pick<Release, 'id' | 'commit'>): string {
  return `${release.id}-${release.commit.slice(0, 12)}`;
}

/** A name this tool created; anything else in releases/ is left alone. */
export const RELEASE_DIR = /^r([1-9][0-9]*)-([0-9a-f]{12})$/;

// stdin: the rsync secret on the first line, then for the delta path either a tar of the
// changed files (payload "tar"; deleted paths in an argument) or one line per path that
// differs (payload "list": `C<path>` changed or added, `D<path>` deleted; see deltaInput).
// Arguments after the 11th: the release's private files.
const STAGE = `set -eu
base=$1 dir=$2 rev=$3 port=$4 timeout=$5 rsync=$6 basedir=$7 baserev=$8 mode=$9 payload=\${10} deleted=\${11}
shift 11
umask 022
export LC_ALL=C
mkdir -p "$base/releases"
cd "$base/releases"
live=$(readlink "$base/current" 2>/dev/null || true)
live=\${live##*/}
echo "live \${live:-none}"
if [ -f "$dir/REVISION" ] && [ "$(cat "$dir/REVISION")" = "$rev" ]; then echo present; exit 0; fi
[ "$dir" != "$live" ] || { echo "the live release $dir has no matching REVISION; refusing to restage it" >&2; exit 3; }
# leftovers of an interrupted run are never used, never served
for p in .r*.partial .r*.delta*; do [ -e "$p" ] && rm -rf -- "$p"; done
[ ! -e "$dir" ] || rm -rf -- "$dir"
IFS= read -r secret
src="rsync://${RSYNC_USER}@127.0.0.1:$port/${MODULE}/"
# Delta path: when this host has the base release intact, copy it as hard links (no network,
# no walk of the admin's tree) and replace only the paths that differ, never changing a linked
# inode in place (it belongs to the base release too): tar --unlink-first, or unlink then pull.
# Private files get their own inode and mode. Dirs left empty go (git has none). Any failure
# falls back to a full pull.
delta() {
  [ -n "$basedir" ] && [ -f "$basedir/REVISION" ] && [ "$(cat "$basedir/REVISION")" = "$baserev" ] || return 1
  cp -al "$basedir" ".$dir.partial" && rm -f ".$dir.partial/REVISION" || return 1
  if [ "$payload" = tar ]; then
    tar --unlink-first -xpf - -C ".$dir.partial" || return 1
    if [ -n "$deleted" ]; then
      printf '%s\\n' "$deleted" | tr '\\n' '\\0' | (cd ".$dir.partial" && xargs -0 rm -f --) || return 1
    fi
  else
    cat > ".$dir.delta" &&
    sed -n 's/^[CD]//p' ".$dir.delta" | tr '\\n' '\\0' > ".$dir.delta-rm" &&
    sed -n 's/^C//p' ".$dir.delta" | tr '\\n' '\\0' > ".$dir.delta-get" &&
    (cd ".$dir.partial" && xargs -0 rm -f -- < "../.$dir.delta-rm") &&
    printf '%s\\n' "$secret" | "$rsync" -lpt --files-from=".$dir.delta-get" --from0 --stats \\
      --timeout="$timeout" --contimeout="$timeout" --password-file=- "$src" ".$dir.partial/" || return 1
  fi
  for f in "$@"; do
    p=".$dir.partial/$f"
    [ -f "$p" ] || continue
    cp -p "$p" "$p.slipway-tmp" && chmod "$mode" "$p.slipway-tmp" && mv -f "$p.slipway-tmp" "$p" || return 1
  done
  find ".$dir.partial" -mindepth 1 -type d -empty -delete && rm -f ".$dir.delta"* && echo "delta $basedir $payload"
}
if ! delta "$@"; then
  rm -rf -- ".$dir.partial" ".$dir.delta"*
  set --
  for d in "$live" $(ls -1 | grep -E '^r[0-9]+-[0-9a-f]{12}$' | sort -rV | head -n 3); do
    [ -n "$d" ] && [ -f "$d/REVISION" ] || continue
    case " $* " in *"/$d "*) continue ;; esac
    set -- "$@" "--link-dest=$base/releases/$d"
  done
  # nanosecond mtimes: two deploys within a second must not link a same-size changed file
  printf '%s\\n' "$secret" | "$rsync" -rlpt --modify-window=-1 --delete --stats --timeout="$timeout" --contimeout="$timeout" "$@" --password-file=- \\
    "$src" ".$dir.partial/"
fi
printf '%s\\n' "$rev" > ".$dir.partial/REVISION"
mv -T ".$dir.partial" "$dir"
echo staged`;

const SWITCH = `set -eu
base=$1 dir=$2 keep=$3
cd "$base"
[ -f "releases/$dir/REVISION" ] || { echo "release $dir is not staged on this host" >&2; exit 3; }
live=$(readlink current 2>/dev/null || true)
echo "previous \${live##*/}"
tmp=".current.$$"
ln -s "releases/$dir" "$tmp"
# rename(2) replaces the link atomically; ln -sfn would unlink first and leave a gap
mv -T "$tmp" current
echo switched
cd releases
ls -1 | grep -E '^r[0-9]+-[0-9a-f]{12}$' | sort -rV | tail -n +"$((keep + 1))" | while read -r old; do
  [ "$old" = "$dir" ] && continue
  rm -rf -- "$old" && echo "pruned $old"
done`;

const STATUS = `base=$1
live=$(readlink "$base/current" 2>/dev/null || true)
echo "live \${live##*/}"
[ -n "$live" ] && [ -f "$base/current/REVISION" ] && echo "revision $(cat "$base/current/REVISION")"
exit 0`;

function script(name: string, body: string, args: string[]): Cmd {
  return ['sh', '-c', body, `slipway-${name}`, ...args];
}

/**
 * How a host that has `from` intact turns it into the release: with `deleted`, a tar of the
 * changed files follows the secret on stdin and those paths are removed; without, the
 * deltaInput list follows and the host pulls the listed paths.
 */
export interface StageDelta {
  from: Pick<Release, 'id' | 'commit'>;
  deleted?: readonly string[];
}

export function stageCmd(base: string, release: Release, port: number, timeoutS: number, rsync: string, delta?: StageDelta, privateMode = 0o640): Cmd {
  const d = delta ? [releaseDir(delta.from), delta.from.commit, delta.deleted ? 'tar' : 'list', (delta.deleted ?? []).join('\n')] : ['', '', '', ''];
  return script('stage', STAGE, [base, releaseDir(release), release.commit, String(port), String(Math.ceil(timeoutS)), rsync, d[0]!, d[1]!, privateMode.toString(8).padStart(4, '0'), d[2]!, d[3]!, ...release.privateFiles]);
}

export function switchCmd(base: string, release: Release, keep: number): Cmd {
  return script('switch', SWITCH, [base, releaseDir(release), String(keep)]);
}

export function statusCmd(base: string): Cmd {
  return script('status', STATUS, [base]);
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

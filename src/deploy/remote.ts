/**
 * The release layout on web servers, known only here:
 *   <path>/releases/r<N>-<commit12>/   one complete release (+ REVISION file)
 *   <path>/releases/.r<N>-….rev        its commit; .manifest: its files' size and time
 *   <path>/releases/.r<N>-….partial/   a release being staged; never served
 *   <path>/current -> releases/r<N>-…  switched by renaming a new symlink over it
 * Each builder returns a Cmd: a fixed POSIX sh script (remote/*.sh) plus quoted
 * arguments, so no user input is ever glued into a shell line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cmd } from '../exec/cmd.js';
import { packageRoot } from '../package-root.js';
import type { Release } from '../release-store/release.js';

export function releaseDir(release: Pick<Release, 'id' | 'commit'>): string {
  return `${release.id}-${release.commit.slice(0, 12)}`;
}

/** A name this tool created; anything else in releases/ is left alone. */
export const RELEASE_DIR = /^r([1-9][0-9]*)-([0-9a-f]{12})$/;

/** The scripts web servers run, in remote/ of the installed package. */
export const SCRIPTS_DIR = join(packageRoot(), 'remote');

export type ScriptName = 'stage' | 'ahead' | 'activate' | 'gate' | 'prune' | 'status' | 'inspect' | 'repair' | 'forget' | 'check';

const bodies = new Map<ScriptName, string>();

/** A script as hosts run it: common.sh (the shared functions), then the script; read once. */
export function scriptText(name: ScriptName): string {
  let body = bodies.get(name);
  if (body === undefined) {
    body = `${readFileSync(join(SCRIPTS_DIR, 'common.sh'), 'utf8')}\n${readFileSync(join(SCRIPTS_DIR, `${name}.sh`), 'utf8')}`;
    bodies.set(name, body);
  }
  return body;
}

function script(name: ScriptName, args: string[]): Cmd {
  return ['sh', '-c', scriptText(name), `slipway-${name}`, ...args];
}

/**
 * What a host is sent to stage a release, chosen from what it has (see remote/stage.sh):
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
  return script('stage', [base, releaseDir(release), release.commit, String(port), String(Math.ceil(timeoutS)), rsync, group, from[0]!, from[1]!, mode.toString(8).padStart(4, '0'), kind, arg, ...privates]);
}

/** Unpack a tree sent ahead of its release (tar on stdin) under `token` (hex, ours). */
export function aheadCmd(base: string, token: string): Cmd {
  if (!/^[0-9a-f]{8,32}$/.test(token)) throw new Error(`bad token ${JSON.stringify(token)}`);
  return script('ahead', [base, token]);
}

/**
 * Read what a host has (`live <dir>`, then `have <dir> <revision>` per complete release,
 * then `ready`), then wait: a release directory on stdin switches the host to it, as
 * activateCmd does; the end of stdin exits with nothing changed.
 */
export function gateCmd(base: string, verifyKept = false): Cmd {
  return script('gate', verifyKept ? [base, 'verify'] : [base]);
}

/** A host's releases as its probe saw them. */
export interface HostState {
  /** The release directory `current` names, if any. */
  live?: string;
  /** Release directory → the commit in its REVISION (releases but the live one: only if they match their manifest). */
  have: Map<string, string>;
  /** Releases held but not intact (or without a manifest): staged afresh if needed. */
  edited?: KeptRelease[];
  /** Releases but the live one that the look did not check against their manifests. */
  unchecked?: Set<string>;
}

export function parseProbe(stdout: string): HostState {
  const lines = parseLines(stdout);
  const live = lines.get('live')?.[0] || undefined;
  const have = new Map<string, string>();
  const unchecked = new Set<string>();
  for (const entry of lines.get('have') ?? []) {
    const [dir, rev, flag] = entry.split(' ');
    if (!dir || !rev || !RELEASE_DIR.test(dir)) continue;
    have.set(dir, rev);
    if (flag === 'unchecked') unchecked.add(dir);
  }
  const edited = parseKept(lines.get('edited') ?? []);
  return { ...(live ? { live } : {}), have, ...(edited.length ? { edited } : {}), ...(unchecked.size ? { unchecked } : {}) };
}

/** Does the host hold this release intact (its directory, with the right REVISION)? */
export function holds(state: HostState, release: Pick<Release, 'id' | 'commit'>): boolean {
  return state.have.get(releaseDir(release)) === release.commit;
}

/** Point `current` at a staged release directory (`r42-…`), atomically; prints `previous <dir>`. */
export function activateCmd(base: string, dir: string): Cmd {
  return script('activate', [base, dir]);
}

/** Remove all but the newest `keep` served releases (and attempts older than the live one); never the live one. */
export function pruneCmd(base: string, keep: number): Cmd {
  return script('prune', [base, String(keep)]);
}

export function statusCmd(base: string): Cmd {
  return script('status', [base]);
}

export function inspectCmd(base: string, expect: Release, port: number, timeoutS: number, rsync: string): Cmd {
  return script('inspect', [base, expect.commit, String(port), String(Math.ceil(timeoutS)), rsync]);
}

export function repairCmd(base: string, release: Release, port: number, timeoutS: number, rsync: string): Cmd {
  return script('repair', [base, releaseDir(release), release.commit, String(port), String(Math.ceil(timeoutS)), rsync]);
}

/** Remove every non-live release that no longer matches its manifest; prints `forgot <dir> <n>`. */
export function forgetCmd(base: string): Cmd {
  return script('forget', [base]);
}

/** A kept release that does not match its manifest: `differ` paths changed, or undefined: it has none. */
export interface KeptRelease {
  dir: string;
  differ?: number;
}

/** Read `<dir> <n|unverifiable>` (the values of `kept`, `forgot` or `edited` lines). */
export function parseKept(values: readonly string[]): KeptRelease[] {
  return values.flatMap((v): KeptRelease[] => {
    const m = /^(\S+) (unverifiable|[0-9]+)$/.exec(v.trim());
    if (!m || !RELEASE_DIR.test(m[1]!)) return [];
    return [m[2] === 'unverifiable' ? { dir: m[1]! } : { dir: m[1]!, differ: Number(m[2]) }];
  });
}

/** "had been edited by hand (2 files differ)", or why it could not be checked. */
export function describeKept(k: Pick<KeptRelease, 'differ'>): string {
  return k.differ === undefined ? 'has no manifest (staged by an older Slipway): cannot be checked' : `had been edited by hand (${k.differ} file${k.differ === 1 ? '' : 's'} differ${k.differ === 1 ? 's' : ''})`;
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

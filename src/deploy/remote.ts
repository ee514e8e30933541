/**
 * The commands web servers run. Each builder returns a Cmd: a fixed POSIX sh script
 * (remote/*.sh) plus quoted arguments, so no user input is ever glued into a shell line.
 * The host layout they work on is layout.ts's; what the scripts print is read in
 * remote-output.ts. Builders only build: nothing here runs anything
 * (test/unit/pure-builders.test.ts checks the imports).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Cmd } from '../exec/cmd.js';
import { packageRoot } from '../package-root.js';
import type { Release } from '../release-store/release.js';
import { RELEASE_DIR, releaseDir } from './layout.js';

/** The scripts web servers run, in remote/ of the installed package. */
export const SCRIPTS_DIR = join(packageRoot(), 'remote');

export type ScriptName = 'stage' | 'ahead' | 'activate' | 'look' | 'prune' | 'status' | 'inspect' | 'repair' | 'forget' | 'check' | 'relay';

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
 * A tar or list with `reuse` is applied to `from`'s own tree, renamed into place: `from` is a
 * release the prune after this deploy would remove (the look's `spare`), never the live one.
 */
export type StagePayload =
  | { kind: 'full' }
  | { kind: 'ahead'; token: string }
  | { kind: 'tar'; from: Pick<Release, 'id' | 'commit'>; deleted: readonly string[]; reuse?: boolean }
  | { kind: 'list'; from: Pick<Release, 'id' | 'commit'>; reuse?: boolean }
  | { kind: 'rsync' };

/** The stage script's exit when a tar payload cannot be used there (fall_back_to_rsync): stage again with rsync. */
export const FALL_BACK_TO_RSYNC = 75;

export interface StageOptions {
  /** Private files get this group on the host (default: the SSH user's). */
  group?: string;
  /** Mode of private files on the host. */
  mode?: number;
  /** Default: rsync. */
  payload?: StagePayload;
  /** Seconds the pull may take in all (a relay's: one too slow is given up on); default none. */
  deadline?: number;
}

/** A relay's address (a name or IPv4), and its daemon's `address:port`, which its datacenter's hosts pull from. */
const ADDRESS = '[A-Za-z0-9][A-Za-z0-9.-]{0,252}';
const ENDPOINT = new RegExp(`^${ADDRESS}:[1-9][0-9]{0,4}$`);

/**
 * `port`: the forwarded port of the admin's rsync daemon (unused by tar payloads), or a
 * relay's `address:port` to pull from instead.
 */
export function stageCmd(base: string, release: Release, port: number | string, timeoutS: number, rsync: string, options: StageOptions = {}): Cmd {
  if (typeof port === 'string' && !ENDPOINT.test(port)) throw new Error(`not an address:port to pull from: ${JSON.stringify(port)}`);
  const { group = '', mode = 0o640, payload = { kind: 'rsync' }, deadline } = options;
  const from = payload.kind === 'tar' || payload.kind === 'list' ? [releaseDir(payload.from), payload.from.commit] : ['', ''];
  const arg = payload.kind === 'tar' ? payload.deleted.join('\n') : payload.kind === 'ahead' ? payload.token : '';
  const kind = payload.kind === 'rsync' ? '' : payload.kind;
  const reuse = (payload.kind === 'tar' || payload.kind === 'list') && payload.reuse ? '1' : '';
  // names with a newline cannot go through the list file; they keep the tree's mode and the default group
  const privates = release.privateFiles.filter((f) => !f.includes('\n'));
  return script('stage', [base, releaseDir(release), release.commit, String(port), String(Math.ceil(timeoutS)), rsync, group, from[0]!, from[1]!, mode.toString(8).padStart(4, '0'), kind, arg, deadline ? String(Math.ceil(deadline)) : '', reuse, ...privates]);
}

/** Serve the staged release `dir` to the datacenter, bound to `address`, behind the secret given on stdin (remote/relay.sh). */
export function relayCmd(base: string, dir: string, address: string, rsync: string): Cmd {
  if (!RELEASE_DIR.test(dir)) throw new Error(`not a release directory: ${JSON.stringify(dir)}`);
  if (!new RegExp(`^${ADDRESS}$`).test(address)) throw new Error(`not an address to serve on: ${JSON.stringify(address)}`);
  return script('relay', [base, dir, address, rsync]);
}

/** Unpack a tree sent ahead of its release (tar on stdin) under `token` (hex, ours). */
export function aheadCmd(base: string, token: string): Cmd {
  if (!/^[0-9a-f]{8,32}$/.test(token)) throw new Error(`bad token ${JSON.stringify(token)}`);
  return script('ahead', [base, token]);
}

/**
 * Read what a host has (`live <dir>`, then `have <dir> <revision>` per complete release,
 * then `ready`), then wait: a release directory on stdin switches the host to it, as
 * activateCmd does; the end of stdin exits with nothing changed. `verify`: the release
 * directory (a rollback's target) to check against its manifest; other kept ones are `unchecked`.
 * `keep`: a deploy's keepReleases; the look then names `spare <dir>` each release the prune
 * after a deploy of a new release would remove.
 */
export function lookCmd(base: string, verify?: string, keep?: number): Cmd {
  if (verify !== undefined && !RELEASE_DIR.test(verify)) throw new Error(`not a release directory: ${JSON.stringify(verify)}`);
  if (keep !== undefined && !(Number.isInteger(keep) && keep >= 1)) throw new Error(`not a number of releases to keep: ${keep}`);
  return script('look', keep !== undefined ? [base, verify ?? '', String(keep)] : verify ? [base, verify] : [base]);
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

/** What the stage script reads after the secret for its delta path. */
export function deltaInput(delta: { changed: readonly string[]; deleted: readonly string[] }): string {
  return [...delta.deleted.map((p) => `D${p}\n`), ...delta.changed.map((p) => `C${p}\n`)].join('');
}

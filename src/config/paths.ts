/**
 * The admin node's layout, known only here:
 *   <root>/<env>/src/<app>      the source checkout (update)
 *   <root>/<env>/www/<app>      the www tree, a git repo: the release store
 *   <root>/<env>/private/<app>  private settings overlaid on every release
 *   <root>/<env>/state/<app>    Slipway's own working files:
 *     lock, lock.log, lock.takeover   the app-env's lock, its log, and the flock for stale takeovers
 *     queue/                          tickets of runs waiting for the lock (--wait)
 *     export/, verify/                checkouts of a release: the one shipped, the one status compares with
 *     ship.tar, ahead.tar             tars of a release sent to hosts
 */
import { existsSync, lstatSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

export interface AdminPaths {
  src: string;
  www: string;
  private: string;
  state: string;
  /** The tree of the release being shipped, checked out from the store. */
  export: string;
  /** A second checkout of the store, for comparing hosts without moving the export under a deploy. */
  verify: string;
  /** The full tar of the release being shipped. */
  shipTar: string;
  /** The tar of the www tree sent ahead to hosts with no release, while it is committed. */
  aheadTar: string;
}

/** The lock's files and the queue, in a state dir (see flows/lock.ts, flows/queue.ts). */
export interface LockPaths {
  lock: string;
  /** Stale takeovers and forced unlocks, one JSON line each. */
  lockLog: string;
  /** flock(2)ed while a stale lock is taken over. */
  lockTakeover: string;
  queue: string;
}

export function lockPaths(state: string): LockPaths {
  return { lock: join(state, 'lock'), lockLog: join(state, 'lock.log'), lockTakeover: join(state, 'lock.takeover'), queue: join(state, 'queue') };
}

export const DEFAULT_ROOT = '/data';

export function adminPaths(root: string, env: string, app: string, privateDir?: string): AdminPaths {
  const state = join(root, env, 'state', app);
  return {
    src: join(root, env, 'src', app),
    www: join(root, env, 'www', app),
    private: privateDir ?? join(root, env, 'private', app),
    state,
    export: join(state, 'export'),
    verify: join(state, 'verify'),
    shipTar: join(state, 'ship.tar'),
    aheadTar: join(state, 'ahead.tar'),
  };
}

/** Directories a root may never be, or (the second list) be inside of. */
const SYSTEM_DIRS = ['/', '/bin', '/boot', '/dev', '/etc', '/home', '/lib', '/lib32', '/lib64', '/media', '/mnt', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/usr/local', '/var', '/var/lib', '/var/tmp'];
const SYSTEM_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/proc', '/sbin', '/sys', '/usr'];
/** Inside a system tree but made for anyone's files, as /tmp is: the shared-memory tmpfs (the benchmark's admin root). */
const OPEN_TREES = ['/dev/shm/'];

/**
 * Why `root` (absolute, resolved) cannot be the admin root, or undefined: a system
 * directory, or inside a release store, a checkout or a host's release tree, where
 * Slipway's own state would land in something that is shipped or served.
 */
export function checkAdminRoot(root: string): string | undefined {
  if (SYSTEM_DIRS.includes(root)) return 'is a system directory';
  if (SYSTEM_TREES.some((d) => root.startsWith(`${d}/`)) && !OPEN_TREES.some((d) => root.startsWith(d))) return 'is inside a system directory';
  for (let dir = root; ; dir = dirname(dir)) {
    if (dir.split('/').pop() === 'releases') return `is inside ${dir}, a release tree`;
    if (dir !== root && existsSync(join(dir, '.git'))) return `is inside ${dir}, a git checkout (a release store or a source tree)`;
    if (existsSync(join(dir, 'releases')) && lstatSync(join(dir, 'current'), { throwIfNoEntry: false })?.isSymbolicLink()) return `is inside ${dir}, a host's release tree`;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The admin node's directories that hold private values (the store and www tree, the
 * private settings, Slipway's state with its export tree and tars) are root's alone:
 * `<root>/<env>/{www,private,state}` are created 0700, and tightened to 0700 if an older
 * Slipway left them wider. The source checkout's parent stays traversable: a taskUser
 * runs admin tasks in it.
 */
export async function prepareAdminDirs(paths: AdminPaths): Promise<void> {
  for (const dir of [paths.www, paths.state]) {
    const parent = dirname(dir);
    await mkdir(dirname(parent), { recursive: true, mode: 0o755 });
    await mkdir(parent, { recursive: true, mode: 0o700 });
    if ((lstatSync(parent).mode & 0o077) !== 0) await chmod(parent, 0o700);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if ((lstatSync(dir).mode & 0o077) !== 0) await chmod(dir, 0o700);
  }
  // the default private dir's parent: the operator creates the app's dir in it
  const privateParent = dirname(paths.private);
  if (privateParent === join(dirname(dirname(paths.www)), 'private')) {
    await mkdir(privateParent, { recursive: true, mode: 0o700 });
    if ((lstatSync(privateParent).mode & 0o077) !== 0) await chmod(privateParent, 0o700);
  }
}

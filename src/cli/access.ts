/**
 * A command run without the rights it needs says so, once, before it starts: the admin
 * directories are root's alone (config/paths.ts), and without this a user gets an EACCES
 * from deep inside, git's "dubious ownership", or "no releases yet" for a store it could not
 * read. Errors of that kind that still happen later are worded the same way (`deniedMessage`).
 */
import { type Stats, accessSync, constants, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { dirname } from 'node:path';
import { passwdEntry } from '../caller.js';
import { UsageError } from '../errors.js';
import { display } from '../exec/cmd.js';

export type Need = 'read' | 'write';

/**
 * Throw a UsageError naming the first of `needs` this process cannot have, and who can.
 * `git`: the path is a git repository, which git refuses to use when another user owns it.
 */
export function requireAccess(needs: readonly { path: string; need: Need; git?: boolean }[]): void {
  for (const { path, need, git } of needs) {
    const denied = deniedAt(path, need);
    if (denied) throw new UsageError(deniedMessage(denied.path, need, denied.stats));
    const uid = process.getuid?.();
    const owner = git && uid !== undefined && uid !== 0 ? statSync(path, { throwIfNoEntry: false })?.uid : undefined;
    if (owner !== undefined && owner !== uid) throw new UsageError(notOurRepository(path));
  }
}

function notOurRepository(path: string, argv: readonly string[] = process.argv.slice(2)): string {
  return `cannot use the git repository ${path}: it belongs to ${ownerOf(path)}; run it with sudo (${display(['sudo', 'deploy', ...argv])})`;
}

/**
 * Where `need` of `path` fails: the path itself, or the directory above it that cannot be
 * entered (a path inside a directory one may not enter looks missing, but is not). A path
 * that really does not exist is fine to read (there is nothing yet) and needs the nearest
 * existing directory above it to be writable to be written.
 */
export function deniedAt(path: string, need: Need): { path: string; stats: Stats } | undefined {
  let at = path;
  let stats: Stats | undefined;
  for (;;) {
    try {
      stats = statSync(at);
      break;
    } catch {
      if (dirname(at) === at) return undefined;
      at = dirname(at);
    }
  }
  const can = (mode: number) => {
    try {
      accessSync(at, mode);
      return true;
    } catch {
      return false;
    }
  };
  const dir = stats.isDirectory();
  if (at === path) {
    const mode = need === 'read' ? constants.R_OK | (dir ? constants.X_OK : 0) : constants.W_OK | (dir ? constants.X_OK : 0);
    return can(mode) ? undefined : { path: at, stats };
  }
  if (!can(constants.X_OK)) return { path: at, stats };
  return need === 'write' && !can(constants.W_OK) ? { path: at, stats } : undefined;
}

/** `cannot read /data/prod/www: only root can; run it with sudo (sudo deploy releases shop-prod)`. */
export function deniedMessage(path: string, need: Need, stats?: Stats, argv: readonly string[] = process.argv.slice(2)): string {
  const verb = need === 'read' ? 'read' : 'write to';
  const owner = stats ? (stats.uid === 0 ? 'root' : (passwdEntry(stats.uid)?.name ?? `uid ${stats.uid}`)) : 'root';
  const bits = need === 'read' ? 0o040 : 0o020;
  const group = stats && stats.gid !== 0 && (stats.mode & bits) !== 0 ? groupName(stats.gid) : undefined;
  const who = group ? `only ${owner} and members of the group ${group} can` : `only ${owner} can`;
  const sudo = `run it with sudo (${display(['sudo', 'deploy', ...argv])})`;
  const fix = owner === 'root' ? `${sudo}${group ? ` or as a member of ${group}` : ''}` : `run it as ${owner}${group ? ` or as a member of ${group}` : ''}`;
  return `cannot ${verb} ${path}: ${who}; ${fix}`;
}

function groupName(gid: number): string {
  try {
    return execFileSync('getent', ['group', '--', String(gid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(':')[0] || `gid ${gid}`;
  } catch {
    return `gid ${gid}`;
  }
}

/**
 * A permission error that reached the top of a run by someone who is not root, as the same
 * sentence: the path from a Node error (or its message), or the repository of git's
 * "dubious ownership". Undefined for anything else.
 */
export function permissionProblem(err: unknown, uid = process.getuid?.()): string | undefined {
  if (uid === 0) return undefined;
  for (let e = err; e instanceof Error; e = e.cause) {
    const errno = e as NodeJS.ErrnoException;
    if ((errno.code === 'EACCES' || errno.code === 'EPERM') && errno.path) return deniedMessage(errno.path, needOf(errno.syscall), statOf(errno.path));
    const m = /\bEACCES: permission denied, (\w+) '([^']+)'/.exec(e.message);
    if (m) return deniedMessage(m[2]!, needOf(m[1]), statOf(m[2]!));
    const git = /detected dubious ownership in repository at '([^']+)'/.exec(e.message);
    if (git) return notOurRepository(git[1]!);
  }
  return undefined;
}

function needOf(syscall: string | undefined): Need {
  return syscall === 'open' || syscall === 'scandir' || syscall === 'stat' || syscall === 'access' || syscall === undefined ? 'read' : 'write';
}

function statOf(path: string): Stats | undefined {
  for (let at = path; ; at = dirname(at)) {
    try {
      return statSync(at);
    } catch {
      if (dirname(at) === at) return undefined;
    }
  }
}

function ownerOf(path: string): string {
  const st = statOf(path);
  return st === undefined || st.uid === 0 ? 'root' : (passwdEntry(st.uid)?.name ?? `uid ${st.uid}`);
}

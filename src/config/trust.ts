/**
 * Under sudo (or setuid) Slipway is root for someone who is not, so every file it
 * runs or believes must be root's alone: owned by root and not writable by group
 * or others, and so must every directory above it up to `/` (whoever can write a
 * directory can replace what is in it). A sticky world-writable directory such as
 * /tmp does not pass either: its other users can still create names in it.
 */
import { lstatSync, readdirSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { passwdEntry } from '../caller.js';
import { UsageError } from '../errors.js';

const WHY = 'under sudo Slipway only uses files that root owns and nobody else can write';

function owner(uid: number): string {
  const name = passwdEntry(uid)?.name;
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}

/** Why this one entry (not following a symlink) is not root's alone, or undefined. */
function entryProblem(path: string): string | undefined {
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return `${path} cannot be checked: ${(err as Error).message}`;
  }
  if (st.uid !== 0) return `${path} is owned by ${owner(st.uid)}`;
  if (st.isSymbolicLink()) return undefined;
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  if (st.mode & 0o002) return `${path} is writable by others (mode ${mode})`;
  if (st.mode & 0o020) return `${path} is writable by its group (mode ${mode})`;
  return undefined;
}

/** `/a/b/c` → `/`, `/a`, `/a/b`, `/a/b/c`. */
function ancestry(path: string): string[] {
  const out: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    out.unshift(p);
    if (dirname(p) === p) return out;
  }
}

/**
 * Why `path` is not root's alone, or undefined. Checks the path as given (a symlink on
 * the way must be root's) and, if it exists, its real path. A missing tail is fine:
 * only root can create it in a directory nobody else can write.
 */
export function trustProblem(path: string): string | undefined {
  for (const p of ancestry(path)) {
    const bad = entryProblem(p);
    if (bad) return bad;
  }
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return undefined;
  }
  if (real === path) return undefined;
  for (const p of ancestry(real)) {
    const bad = entryProblem(p);
    if (bad) return `${bad} (${path} leads there)`;
  }
  return undefined;
}

/** Refuse (exit 2) unless `path` is root's alone; `what` says what the path is for. */
export function requireTrusted(path: string, what: string): void {
  const bad = trustProblem(path);
  if (bad) throw new UsageError(`${what} ${path}: ${bad}; ${WHY}`);
}

/** Every entry below `dir`, depth first: the apps dir's files are all code root may run. */
export function requireTrustedTree(dir: string, what: string): void {
  requireTrusted(dir, what);
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      const bad = entryProblem(path);
      if (bad) throw new UsageError(`${what} ${dir}: ${bad}; ${WHY}`);
      if (entry.isDirectory()) walk(path);
    }
  };
  walk(dir);
}

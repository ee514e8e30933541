/**
 * One deploy, rollback or sync per app-env at a time. The lock is a file in the
 * app-env's admin state dir, created atomically: its content is written to a
 * private temp file first and then hard-linked to the lock name. link(2) fails
 * with EEXIST exactly like open(O_CREAT|O_EXCL), but a reader never sees a
 * half-written lock.
 *
 * A lock whose process is gone (same host, pid not alive) is stale and taken
 * over; one held from another host is never guessed about.
 */
import { appendFile, link, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LockHeldError, UsageError } from './errors.js';
import { deployerName } from './release-store/store.js';

export interface LockInfo {
  /** The real user behind sudo. */
  user: string;
  pid: number;
  host: string;
  /** What is running: `deploy shop-prod --revision 4f2a9c1`. */
  command: string;
  /** ISO time the lock was taken. */
  started: string;
}

/** What happened to a lock, for the history (issue 4) and the lock log. */
export type LockEvent =
  | { kind: 'lock-stale-taken-over'; target: string; stale: LockInfo; by: LockInfo }
  | { kind: 'lock-force-unlocked'; target: string; held: LockInfo; by: string; at: string };

export interface LockOptions {
  /** `<app>-<env>`, for messages. */
  target: string;
  /** The app-env's admin state dir (AdminPaths.state). */
  dir: string;
  command: string;
  /** How long to wait for a held lock, in ms; 0 refuses at once. */
  waitMs?: number;
  /** Told about stale takeovers; also appended to `<dir>/lock.log`. */
  onEvent?: (event: LockEvent) => void | Promise<void>;
  /** Called once while waiting, so the user knows why nothing happens. */
  onWait?: (holder: LockInfo) => void;
}

export interface Lock {
  readonly info: LockInfo;
  readonly path: string;
  release(): Promise<void>;
  /** For a last-moment exit (second Ctrl-C): no await possible. */
  releaseSync(): void;
}

export const LOCK_FILE = 'lock';
export const LOCK_LOG = 'lock.log';
const POLL_MS = 250;

export function lockPath(dir: string): string {
  return join(dir, LOCK_FILE);
}

/** Parse a lock file; undefined when it is not one of ours. */
export function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.user === 'string' && Number.isInteger(v.pid) && typeof v.host === 'string' && typeof v.command === 'string' && typeof v.started === 'string') {
      return v as LockInfo;
    }
  } catch {
    // not JSON: reported by the caller
  }
  return undefined;
}

export async function readLock(dir: string): Promise<LockInfo | undefined> {
  let text: string;
  try {
    text = await readFile(lockPath(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return parseLock(text) ?? { user: 'unknown', pid: 0, host: 'unknown', command: `unreadable lock file ${lockPath(dir)}`, started: 'unknown' };
}

/** Alive, as far as this host can tell: signal 0 reaches it (EPERM also means it exists). */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function isStale(info: LockInfo, here = hostname()): boolean {
  return info.host === here && info.pid > 0 && !isAlive(info.pid);
}

export function describeHolder(info: LockInfo, now = new Date()): string {
  const since = Date.parse(info.started);
  const ago = Number.isNaN(since) ? '' : ` (${formatAgo(now.getTime() - since)} ago)`;
  return `${info.user} (pid ${info.pid} on ${info.host}, running "${info.command}") since ${info.started}${ago}`;
}

function formatAgo(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** `30s`, `5m`, `1h`, or plain seconds → ms. */
export function parseDuration(text: string): number | undefined {
  const m = /^([0-9]{1,6})(s|m|h)?$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

export function currentHolder(command: string): LockInfo {
  return { user: deployerName(), pid: process.pid, host: hostname(), command, started: new Date().toISOString() };
}

async function logEvent(dir: string, event: LockEvent, onEvent?: LockOptions['onEvent']): Promise<void> {
  await appendFile(join(dir, LOCK_LOG), `${JSON.stringify({ at: new Date().toISOString(), ...event })}\n`, { mode: 0o600 });
  await onEvent?.(event);
}

/**
 * Remove a stale lock, but only the one we judged stale: move it aside under a
 * unique name and check what we moved. If another run took it over in between,
 * we moved a live lock: put it back (link, so a newer lock is never clobbered).
 */
async function removeStale(dir: string, stale: LockInfo): Promise<boolean> {
  const aside = join(dir, `.lock.stale.${process.pid}`);
  try {
    await rename(lockPath(dir), aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  const moved = parseLock(await readFile(aside, 'utf8').catch(() => ''));
  if (moved && (moved.pid !== stale.pid || moved.started !== stale.started)) {
    await link(aside, lockPath(dir)).catch(() => undefined);
    await unlink(aside).catch(() => undefined);
    return false;
  }
  await unlink(aside).catch(() => undefined);
  return true;
}

async function tryCreate(dir: string, info: LockInfo): Promise<boolean> {
  const tmp = join(dir, `.lock.${process.pid}.${Date.now()}`);
  await writeFile(tmp, `${JSON.stringify(info)}\n`, { mode: 0o644 });
  try {
    await link(tmp, lockPath(dir));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/** Take the lock, or throw LockHeldError saying who holds it and what to do. */
export async function acquireLock(options: LockOptions): Promise<Lock> {
  await mkdir(options.dir, { recursive: true, mode: 0o755 });
  const info = currentHolder(options.command);
  const deadline = Date.now() + (options.waitMs ?? 0);
  let told = false;
  for (;;) {
    if (await tryCreate(options.dir, info)) return handle(options.dir, info);
    const holder = await readLock(options.dir);
    if (!holder) continue; // released between our attempt and the read
    if (isStale(holder)) {
      if (await removeStale(options.dir, holder)) {
        await logEvent(options.dir, { kind: 'lock-stale-taken-over', target: options.target, stale: holder, by: info }, options.onEvent);
      }
      continue;
    }
    if (Date.now() >= deadline) {
      throw new LockHeldError(
        `${options.target} is locked by ${describeHolder(holder)}` +
          (options.waitMs ? `; still locked after waiting ${Math.round(options.waitMs / 1000)}s` : '') +
          `\nwait for it to finish, or run again with --wait 5m to wait for it; if that run is gone for good` +
          ` (its host crashed), remove the lock with: deploy unlock ${options.target} --force`,
      );
    }
    if (!told) {
      options.onWait?.(holder);
      told = true;
    }
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
  }
}

function handle(dir: string, info: LockInfo): Lock {
  const path = lockPath(dir);
  let released = false;
  // only remove the lock if it is still ours (a forced unlock may have handed it on)
  const ours = (text: string) => {
    const now = parseLock(text);
    return now?.pid === info.pid && now.started === info.started;
  };
  return {
    info,
    path,
    async release() {
      if (released) return;
      released = true;
      const text = await readFile(path, 'utf8').catch(() => '');
      if (ours(text)) await unlink(path).catch(() => undefined);
    },
    releaseSync() {
      if (released) return;
      released = true;
      try {
        if (ours(readFileSync(path, 'utf8'))) unlinkSync(path);
      } catch {
        // already gone
      }
    },
  };
}

/** Run `body` holding the lock; the lock is released however body ends. */
export async function withLock<T>(options: LockOptions, body: (lock: Lock) => Promise<T>): Promise<T> {
  const lock = await acquireLock(options);
  try {
    return await body(lock);
  } finally {
    await lock.release();
  }
}

/** `deploy unlock --force`: remove whatever lock there is, record who did it. */
export async function forceUnlock(options: Pick<LockOptions, 'target' | 'dir' | 'onEvent'>): Promise<LockInfo | undefined> {
  const held = await readLock(options.dir);
  if (!held) return undefined;
  try {
    await unlink(lockPath(options.dir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot remove ${lockPath(options.dir)}: ${(err as Error).message}`);
  }
  await logEvent(options.dir, { kind: 'lock-force-unlocked', target: options.target, held, by: deployerName(), at: new Date().toISOString() }, options.onEvent);
  return held;
}

/**
 * One deploy, rollback or sync per app-env at a time. The lock is a file in the
 * app-env's admin state dir, created atomically: its content is written to a
 * private temp file first and then hard-linked to the lock name. link(2) fails
 * with EEXIST exactly like open(O_CREAT|O_EXCL), but a reader never sees a
 * half-written lock.
 *
 * A lock names its process by what identifies it uniquely: host, boot id, pid
 * namespace, pid and the pid's start time. It is stale only when that process
 * is provably gone: same host, same boot, same pid namespace, and the pid is
 * free or now belongs to a process started at another time (a reused pid). A
 * lock from another host, boot or container is never guessed about.
 *
 * Taking over a stale lock is serialised by flock(2) on a file next to it (the
 * kernel drops that lock when its holder dies, so it can never be stale itself):
 * under it, a taker replaces the lock only if it still is the stale one it
 * judged, so of any number of concurrent takers exactly one wins.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFile, link, mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { readFileSync, readlinkSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { lockPaths } from '../config/paths.js';
import { LockHeldError, UsageError } from '../errors.js';
import { deployerName } from '../caller.js';

export interface LockInfo {
  /** The real user behind sudo. */
  user: string;
  pid: number;
  host: string;
  /** What is running: `deploy shop-prod --revision 4f2a9c1`. */
  command: string;
  /** ISO time the lock was taken. */
  started: string;
  /** /proc/sys/kernel/random/boot_id of the holder's host (Linux). */
  boot?: string;
  /** The holder's pid namespace (`pid:[4026531836]`): a pid means nothing outside it. */
  pidns?: string;
  /** The holder's start time, field 22 of /proc/<pid>/stat (clock ticks since boot). */
  startTime?: string;
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
  /** Told about stale takeovers; also appended to the lock log (config/paths.ts). */
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

const POLL_MS = 250;

export function lockPath(dir: string): string {
  return lockPaths(dir).lock;
}

/** Parse a lock file; undefined when it is not one of ours. */
export function parseLock(text: string): LockInfo | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    const optional = [v.boot, v.pidns, v.startTime].every((f) => f === undefined || typeof f === 'string');
    if (typeof v.user === 'string' && Number.isInteger(v.pid) && typeof v.host === 'string' && typeof v.command === 'string' && typeof v.started === 'string' && optional) {
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

/** Who this process is on this host: boot id, pid namespace and start time (undefined off Linux). */
export interface ProcessIdentity {
  boot?: string;
  pidns?: string;
  startTime?: string;
}

const readOr = (read: () => string): string | undefined => {
  try {
    return read();
  } catch {
    return undefined;
  }
};

/** The start time of a pid (field 22 of /proc/<pid>/stat), or undefined when there is no such process. */
export function startTimeOf(pid: number): string | undefined {
  const stat = readOr(() => readFileSync(`/proc/${pid}/stat`, 'utf8'));
  // the command name (field 2) may hold spaces and parentheses: count fields after its last ')'
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

export function processIdentity(pid = process.pid): ProcessIdentity {
  return {
    boot: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    pidns: readOr(() => readlinkSync('/proc/self/ns/pid')),
    startTime: startTimeOf(pid),
  };
}

/**
 * A lock is stale only when its holder is provably gone. A lock that records
 * the holder's identity is judged by it; an older lock without one, by its pid.
 */
export function isStale(info: LockInfo, here = hostname(), me: ProcessIdentity = processIdentity()): boolean {
  if (info.host !== here || !(info.pid > 0)) return false;
  if (info.boot === undefined || info.pidns === undefined || info.startTime === undefined) return !isAlive(info.pid);
  // another boot or container: its pid cannot be checked from here
  if (info.boot !== me.boot || info.pidns !== me.pidns) return false;
  return !isAlive(info.pid) || startTimeOf(info.pid) !== info.startTime;
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

export function currentHolder(command: string): LockInfo {
  const id = processIdentity();
  return {
    user: deployerName(),
    pid: process.pid,
    host: hostname(),
    command,
    started: new Date().toISOString(),
    ...(id.boot !== undefined && id.pidns !== undefined && id.startTime !== undefined ? { boot: id.boot, pidns: id.pidns, startTime: id.startTime } : {}),
  };
}

async function logEvent(dir: string, event: LockEvent, onEvent?: LockOptions['onEvent']): Promise<void> {
  await appendFile(lockPaths(dir).lockLog, `${JSON.stringify({ at: new Date().toISOString(), ...event })}\n`, { mode: 0o600 });
  await onEvent?.(event);
}

/**
 * Hold flock(2) on the takeover file (config/paths.ts) while `body` runs. Node has no flock:
 * util-linux's `flock` locks the open file description this process passes it
 * as fd 3 and exits; the lock stays with that description until it is closed
 * here, or this process dies.
 */
async function underTakeoverLock<T>(dir: string, body: () => Promise<T>): Promise<T> {
  const file = await open(lockPaths(dir).lockTakeover, 'a', 0o600);
  try {
    const code = await new Promise<number | string>((resolve) => {
      const child = spawn('flock', ['--exclusive', '3'], { stdio: ['ignore', 'ignore', 'pipe', file.fd] });
      let said = '';
      child.stderr?.on('data', (c: Buffer) => (said += c.toString('utf8')));
      child.on('error', (err) => resolve(err.message));
      child.on('close', (exitCode) => resolve(exitCode === 0 ? 0 : `exited ${exitCode}: ${said.trim()}`));
    });
    if (code !== 0) throw new Error(`cannot take over the stale lock in ${dir}: flock (util-linux) ${code}`);
    return await body();
  } finally {
    await file.close();
  }
}

const sameHolder = (a: LockInfo | undefined, b: LockInfo) => a !== undefined && a.pid === b.pid && a.started === b.started && a.host === b.host;

/**
 * Replace a stale lock by ours, but only the one we judged stale: under the
 * takeover flock, the lock is read again; if it is still that one, our lock is
 * renamed over it (atomically: no moment without a lock for others to take).
 */
async function takeOver(dir: string, stale: LockInfo, info: LockInfo): Promise<boolean> {
  return underTakeoverLock(dir, async () => {
    if (!sameHolder(await readLock(dir), stale)) return false;
    await rename(await writeTemp(dir, info), lockPath(dir));
    return true;
  });
}

/** Our lock's content in a file of its own (a random name, created exclusively: takers in one process never share it). */
async function writeTemp(dir: string, info: LockInfo): Promise<string> {
  const tmp = join(dir, `.lock.${process.pid}.${randomBytes(8).toString('hex')}`);
  await writeFile(tmp, `${JSON.stringify(info)}\n`, { mode: 0o644, flag: 'wx' });
  return tmp;
}

async function tryCreate(dir: string, info: LockInfo): Promise<boolean> {
  const tmp = await writeTemp(dir, info);
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
      if (await takeOver(options.dir, holder, info)) {
        await logEvent(options.dir, { kind: 'lock-stale-taken-over', target: options.target, stale: holder, by: info }, options.onEvent);
        return handle(options.dir, info);
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

/** `deploy unlock --force`: remove whatever lock there is, record who did it. */
export async function forceUnlock(options: Pick<LockOptions, 'target' | 'dir' | 'onEvent'>): Promise<LockInfo | undefined> {
  const held = await readLock(options.dir);
  if (!held) return undefined;
  // under the takeover lock: a takeover in progress never renames over a lock created after this removal
  await underTakeoverLock(options.dir, async () => {
    try {
      await unlink(lockPath(options.dir));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new UsageError(`cannot remove ${lockPath(options.dir)}: ${(err as Error).message}`);
    }
  });
  await logEvent(options.dir, { kind: 'lock-force-unlocked', target: options.target, held, by: deployerName(), at: new Date().toISOString() }, options.onEvent);
  return held;
}

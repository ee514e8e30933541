/**
 * Coalescing waiters on an app-env's lock. Runs that wait (`--wait`) take a
 * ticket, ordered by when they asked. When a waiter finally holds the lock it
 * steps aside if a newer request is still waiting, or one has already run:
 * only the newest revision is deployed, the others end "superseded".
 *
 *   <state>/queue/<ms>-<pid>.json   one ticket per waiting run
 *   <state>/queue/done              the newest ticket that has held the lock
 */
import { mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lockPaths } from '../config/paths.js';
import { isAlive } from './lock.js';

export interface Ticket {
  /** Sorts like the order of requests: `<ms, 13 digits>-<pid, 10 digits>`. */
  id: string;
  revision?: string;
}

const TICKET = /^(\d{13})-(\d{10})\.json$/;

function queueDir(stateDir: string): string {
  return lockPaths(stateDir).queue;
}

export async function takeTicket(stateDir: string, revision?: string, now = Date.now(), pid = process.pid): Promise<Ticket> {
  const dir = queueDir(stateDir);
  await mkdir(dir, { recursive: true });
  const id = `${String(now).padStart(13, '0')}-${String(pid).padStart(10, '0')}`;
  await writeFile(join(dir, `${id}.json`), `${JSON.stringify({ revision: revision ?? null, pid })}\n`, { flag: 'wx' });
  return { id, ...(revision ? { revision } : {}) };
}

export async function leaveQueue(stateDir: string, ticket: Ticket): Promise<void> {
  await unlink(join(queueDir(stateDir), `${ticket.id}.json`)).catch(() => undefined);
}

/** Mark that a ticket held the lock: every older ticket is now superseded. */
export async function markDone(stateDir: string, ticket: Ticket): Promise<void> {
  const file = join(queueDir(stateDir), 'done');
  const previous = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (previous > ticket.id) return;
  await writeFile(`${file}.${process.pid}`, `${ticket.id}\n`);
  await rename(`${file}.${process.pid}`, file);
}

/**
 * Who supersedes this ticket, if anyone: a newer ticket whose run is still
 * alive, or a newer one that already held the lock. Dead tickets are removed.
 */
export async function supersededBy(stateDir: string, ticket: Ticket): Promise<string | undefined> {
  const dir = queueDir(stateDir);
  const done = (await readFile(join(dir, 'done'), 'utf8').catch(() => '')).trim();
  if (done > ticket.id) return `a newer request (ticket ${done}) has already been deployed`;
  for (const name of (await readdir(dir).catch(() => [])).sort().reverse()) {
    const m = TICKET.exec(name);
    if (!m || `${m[1]}-${m[2]}` <= ticket.id) continue;
    if (!isAlive(Number(m[2]))) {
      await unlink(join(dir, name)).catch(() => undefined);
      continue;
    }
    const entry = JSON.parse(await readFile(join(dir, name), 'utf8').catch(() => '{}')) as { revision?: string | null };
    return `a newer request is waiting (pid ${Number(m[2])}${entry.revision ? `, revision ${entry.revision}` : ', the branch head'})`;
  }
  return undefined;
}

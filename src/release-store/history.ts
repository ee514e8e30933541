/**
 * The history of what the fleet was told to run, kept in the release store's
 * own git repository so it survives with it (clone, backup, restore). Each
 * event is an empty-tree commit on `refs/slipway/history` whose message holds
 * the event as JSON; appending is a compare-and-swap `git update-ref`, so two
 * runs that append at once never lose an event.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StepError } from '../errors.js';
import { storeGit } from './git.js';
import type { Release } from './release.js';

export const HISTORY_REF = 'refs/slipway/history';

export type EventKind = 'deploy' | 'rollback' | 'sync';
export type EventResult = 'ok' | 'failed' | 'partial' | 'reverted';

export interface HostOutcome {
  host: string;
  /** switched, staged, failed, repaired, in-sync, … as the command knew it */
  state: string;
  error?: string;
}

export interface HistoryEvent {
  kind: EventKind;
  /** who ran it (the real user behind sudo) */
  who: string;
  /** ISO 8601, UTC */
  at: string;
  /** the release the store had live before (undefined on a first deploy) */
  from?: string;
  /** the release the run meant to make live (undefined if it failed before one existed) */
  to?: string;
  commit?: string;
  result: EventResult;
  hosts: HostOutcome[];
  error?: string;
}

/** The commit message: a readable subject for `git log`, then the event as JSON. */
export function eventMessage(e: HistoryEvent): string {
  const move = e.from && e.to && e.from !== e.to ? `${e.from} -> ${e.to}` : (e.to ?? 'no release');
  return `${e.kind} ${move}: ${e.result}\n\n${JSON.stringify(e)}\n`;
}

export function parseEventMessage(message: string): HistoryEvent | undefined {
  const at = message.indexOf('\n\n');
  if (at < 0) return undefined;
  try {
    const e = JSON.parse(message.slice(at + 2)) as HistoryEvent;
    return typeof e.kind === 'string' && typeof e.result === 'string' ? e : undefined;
  } catch {
    return undefined;
  }
}

async function headOf(www: string): Promise<string | undefined> {
  const r = await storeGit(www, ['rev-parse', '--verify', '--quiet', `${HISTORY_REF}^{commit}`], { reject: false });
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** One event as a `git fast-import` stream: a commit with an empty tree on HISTORY_REF, after `parent`. */
export function eventImport(event: HistoryEvent, parent: string | undefined): Buffer {
  const when = `${Math.floor(Date.parse(event.at) / 1000)} +0000`;
  const message = Buffer.from(eventMessage(event));
  return Buffer.concat([
    Buffer.from(
      `commit ${HISTORY_REF}\nauthor ${event.who} <${event.who}@localhost> ${when}\ncommitter Slipway <slipway@localhost> ${when}\ndata ${message.length}\n`,
    ),
    message,
    Buffer.from(`${parent ? `from ${parent}\n` : ''}deleteall\n\n`),
  ]);
}

/**
 * Append one event: read the tip, then one fast-import (commit, empty tree, ref update).
 * fast-import refuses an update that does not descend from the current tip, so the append
 * is a compare-and-swap: when another run appended in between, read the tip and retry.
 */
export async function appendEvent(www: string, event: HistoryEvent): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const old = await headOf(www);
    const r = await storeGit(www, ['fast-import', '--quiet'], { input: eventImport(event, old), reject: false });
    if (r.exitCode === 0) return;
    // another run appended first: refused as not descending from the tip, or the ref moved under the lock
    if (!/Not updating|cannot lock ref/.test(r.stderr)) throw new StepError(`could not append to ${HISTORY_REF} in ${www}: ${r.stderr.trim().split('\n').pop()}`);
  }
  throw new StepError(`could not append to ${HISTORY_REF} in ${www}: it kept changing under us`);
}

/** Every event, newest first. A store without history (or without a repo) has none. */
export async function readHistory(www: string): Promise<HistoryEvent[]> {
  if (!existsSync(join(www, '.git')) || !(await headOf(www))) return [];
  const { stdout } = await storeGit(www, ['log', '--first-parent', '--format=%B%x00', HISTORY_REF]);
  return stdout
    .split('\0')
    .map((m) => parseEventMessage(m.replace(/^\n/, '')))
    .filter((e): e is HistoryEvent => e !== undefined);
}

/**
 * What the store believes is live, and what rollback goes back to. Successful
 * events are replayed oldest first onto a stack: a deploy or sync pushes its
 * release, a rollback pops back down to its target (or pushes it if it was not
 * on the stack). So rollback, rollback walks back r3 → r2 → r1 instead of
 * flipping between r3 and r2.
 */
export interface LiveState {
  live?: string;
  previous?: string;
  /** releases that a rollback moved away from, with when */
  rolledBack: Map<string, string>;
}

export function liveState(newestFirst: readonly HistoryEvent[]): LiveState {
  const stack: string[] = [];
  const rolledBack = new Map<string, string>();
  for (const e of [...newestFirst].reverse()) {
    if (e.result !== 'ok' || !e.to) continue;
    if (e.kind === 'rollback') {
      if (e.from && e.from !== e.to) rolledBack.set(e.from, e.at);
      const at = stack.lastIndexOf(e.to);
      if (at >= 0) stack.length = at + 1;
      else stack.push(e.to);
    } else if (stack[stack.length - 1] !== e.to) {
      stack.push(e.to);
    }
  }
  const live = stack[stack.length - 1];
  if (live) rolledBack.delete(live);
  return { live, previous: stack[stack.length - 2], rolledBack };
}

/**
 * The store's live release: the history's, or for a store from before history
 * was kept, the newest release (what the last deploy shipped).
 */
export function liveRelease(releases: readonly Release[], state: LiveState): Release | undefined {
  if (state.live) return releases.find((r) => r.id === state.live);
  return releases[0];
}

/** The release a plain `rollback` goes back to. */
export function previousRelease(releases: readonly Release[], state: LiveState): Release | undefined {
  if (state.previous) return releases.find((r) => r.id === state.previous);
  if (state.live) {
    // history starts with the live release: fall back to the release before it
    const live = releases.find((r) => r.id === state.live);
    return live ? releases.find((r) => r.number < live.number) : undefined;
  }
  return releases[1];
}

/**
 * The history of what the fleet was told to run, kept in the release store's
 * own git repository so it survives with it (clone, backup, restore). Each
 * event is an empty-tree commit on `refs/slipway/history` whose message holds
 * the event as JSON; appending moves the ref only from the tip it read (a
 * compare-and-swap, see appendEvent), so two runs that append at once never lose an event.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { StepError } from '../errors.js';
import { storeGit } from '../exec/git.js';
import { writeEvent } from './pack.js';
import type { Release } from './release.js';

export const HISTORY_REF = 'refs/slipway/history';

export type EventKind = 'deploy' | 'rollback' | 'sync';
export type EventResult = 'ok' | 'failed' | 'partial' | 'reverted';

export interface HostOutcome {
  host: string;
  /** `user@address:port` the run reached it at, its roles and datacenter, and where it was named: the machine as resolved then, whatever the inventory says later. */
  address?: string;
  roles?: string[];
  datacenter?: string;
  source?: string;
  /** switched, already-live, staged, failed, repaired, in-sync, … as the command knew it */
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

/**
 * The commit message: a readable subject for `git log`, then the event as JSON (one line),
 * then the replay's state after it (see ReplayState).
 */
export function eventMessage(e: HistoryEvent, after?: ReplayState): string {
  const move = e.from && e.to && e.from !== e.to ? `${e.from} -> ${e.to}` : (e.to ?? 'no release');
  return `${e.kind} ${move}: ${e.result}\n\n${JSON.stringify(e)}\n${after ? `\n${STATE} ${JSON.stringify(after)}\n` : ''}`;
}

/** The paragraph after the subject, up to the next blank line. */
function paragraph(message: string, prefix = ''): string | undefined {
  const start = message.indexOf(`\n\n${prefix}`);
  if (start < 0) return undefined;
  const end = message.indexOf('\n\n', start + 2);
  return message.slice(start + 2 + prefix.length, end < 0 ? undefined : end);
}

export function parseEventMessage(message: string): HistoryEvent | undefined {
  const json = paragraph(message);
  if (json === undefined) return undefined;
  try {
    const e = JSON.parse(json) as HistoryEvent;
    return typeof e.kind === 'string' && typeof e.result === 'string' ? e : undefined;
  } catch {
    return undefined;
  }
}

/** The replay's state an event's message carries (undefined: none, as in events from before it did). */
export function parseStateOf(message: string): ReplayState | undefined {
  const json = paragraph(message, `${STATE} `);
  if (json === undefined) return undefined;
  try {
    const state = JSON.parse(json) as ReplayState;
    const strings = (xs: unknown) => Array.isArray(xs) && xs.every((x) => typeof x === 'string');
    return strings(state.stack) && Array.isArray(state.rolledBack) && state.rolledBack.every((pair) => strings(pair) && pair.length === 2) ? state : undefined;
  } catch {
    return undefined;
  }
}

/** The history's newest event, and the replay's state after it (see ReplayState). */
export interface HistoryTip {
  commit: string;
  state: ReplayState;
}

/**
 * The history's tip (undefined: no history yet, or no store). Its state is carried by the
 * tip, or (a store from before events carried it) replayed from every event.
 */
export async function readTip(www: string): Promise<HistoryTip | undefined> {
  if (!existsSync(join(www, '.git'))) return undefined;
  const r = await storeGit(www, ['log', '-1', '--format=%H%n%B', HISTORY_REF, '--'], { reject: false });
  if (r.exitCode !== 0 || !r.stdout) return undefined;
  const at = r.stdout.indexOf('\n');
  const state = parseStateOf(r.stdout.slice(at + 1)) ?? replayAll(await readHistory(www));
  return { commit: r.stdout.slice(0, at), state };
}

/**
 * Append one event: read the tip, then write the event's commit and move the ref from that
 * tip (writeEvent), a compare-and-swap: when another run appended in between, read the tip
 * and retry. On disk (fsync'd) before the run reports.
 * `known`: the tip as the run read it when it started; the first try starts there instead
 * of reading it again (one git process fewer at the end of every run).
 */
export async function appendEvent(www: string, event: HistoryEvent, known?: HistoryTip): Promise<void> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const tip = attempt === 0 && known ? known : await readTip(www);
    const after = replay(tip?.state ?? EMPTY, event);
    const r = await writeEvent(www, { ref: HISTORY_REF, message: eventMessage(event, after), author: event.who, when: Math.floor(Date.parse(event.at) / 1000), parent: tip?.commit });
    if (r.exitCode === 0) return;
    // another run appended first: the ref is no longer at the tip, or it is locked by that run
    if (!/cannot lock ref/.test(r.stderr)) throw new StepError(`could not append to ${HISTORY_REF} in ${www}: ${r.stderr.trim().split('\n').pop()}`);
  }
  throw new StepError(`could not append to ${HISTORY_REF} in ${www}: it kept changing under us`);
}

/** Every event (or the newest `limit`), newest first. A store without history (or without a repo) has none. */
export async function readHistory(www: string, limit?: number): Promise<HistoryEvent[]> {
  return (await readEntries(www, limit)).flatMap((e) => (e.event ? [e.event] : []));
}

/** A commit of the history: its event (undefined: a message that holds none) and the state after it, if it carries one. */
export interface HistoryEntry {
  commit: string;
  event?: HistoryEvent;
  state?: ReplayState;
}

/** The history's commits (or the newest `limit`), newest first, each with what its message holds. */
export async function readEntries(www: string, limit?: number): Promise<HistoryEntry[]> {
  if (!existsSync(join(www, '.git'))) return [];
  const count = limit === undefined ? [] : [`--max-count=${Math.max(0, Math.floor(limit))}`];
  const r = await storeGit(www, ['log', '--first-parent', ...count, '--format=%H%n%B%x00', HISTORY_REF, '--'], { reject: false });
  if (r.exitCode !== 0) {
    const missing = (await storeGit(www, ['rev-parse', '--verify', '--quiet', HISTORY_REF], { reject: false })).exitCode !== 0;
    if (missing) return [];
    throw new StepError(`cannot read ${HISTORY_REF} in ${www}: ${r.stderr.trim().split('\n').pop()}`);
  }
  const entries: HistoryEntry[] = [];
  for (const record of r.stdout.split('\0')) {
    const text = record.replace(/^\n/, '');
    const at = text.indexOf('\n');
    if (at < 0) continue;
    const message = text.slice(at + 1);
    entries.push({ commit: text.slice(0, at), event: parseEventMessage(message), state: parseStateOf(message) });
  }
  return entries;
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
  return stateOf(replayAll(newestFirst));
}

/** What the store believed at a tip (undefined: no history); read from the tip alone (see ReplayState). */
export function liveStateAt(tip: HistoryTip | undefined): LiveState {
  return stateOf(tip?.state ?? EMPTY);
}

/**
 * The replay's running state after an event: the stack of releases that went live, and the
 * releases rolled back from (with when, oldest first). Each event carries the state after it
 * in its message, so a run reads the history's tip alone, however long the history grows
 * (5,000 events made every command 170 ms slower when each run replayed them all). A tip
 * without one, from before events carried it, is replayed from the start; the next event then
 * carries it. Both lists keep their newest STATE_LIMIT entries: a rollback back past that many
 * deploys, or a rolled-back mark older than that many rollbacks, is not remembered.
 */
export interface ReplayState {
  stack: string[];
  rolledBack: [release: string, at: string][];
}

const STATE = 'state';
export const STATE_LIMIT = 500;
const EMPTY: ReplayState = { stack: [], rolledBack: [] };

/** The state after one more event. */
export function replay(state: ReplayState, e: HistoryEvent): ReplayState {
  const stack = [...state.stack];
  const rolledBack = new Map(state.rolledBack);
  apply(stack, rolledBack, e);
  return { stack, rolledBack: [...rolledBack] };
}

function replayAll(newestFirst: readonly HistoryEvent[]): ReplayState {
  const stack: string[] = [];
  const rolledBack = new Map<string, string>();
  for (let i = newestFirst.length - 1; i >= 0; i--) apply(stack, rolledBack, newestFirst[i]!);
  return { stack, rolledBack: [...rolledBack] };
}

/** One event onto the stack and the rolled-back marks (oldest first), in place. */
function apply(stack: string[], rolledBack: Map<string, string>, e: HistoryEvent): void {
  if (e.result !== 'ok' || !e.to) return;
  if (e.kind === 'rollback') {
    if (e.from && e.from !== e.to) {
      rolledBack.delete(e.from);
      rolledBack.set(e.from, e.at);
      if (rolledBack.size > STATE_LIMIT) rolledBack.delete(rolledBack.keys().next().value!);
    }
    const at = stack.lastIndexOf(e.to);
    if (at >= 0) stack.length = at + 1;
    else stack.push(e.to);
  } else if (stack[stack.length - 1] !== e.to) {
    stack.push(e.to);
  }
  if (stack.length > STATE_LIMIT) stack.splice(0, stack.length - STATE_LIMIT);
}

function stateOf(state: ReplayState): LiveState {
  const live = state.stack[state.stack.length - 1];
  const rolledBack = new Map(state.rolledBack);
  if (live) rolledBack.delete(live);
  return { live, previous: state.stack[state.stack.length - 2], rolledBack };
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

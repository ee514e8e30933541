/**
 * The feed: what a run publishes for the dashboard (`deploy serve`), which does not run as
 * root and never reads a store, whose releases hold private files. Root's CLI writes here,
 * as it runs:
 *
 *   <root>/.feed/<app>-<env>/runs/<run id>.jsonl   a run's redacted `--json` event lines, as they happen
 *   <root>/.feed/<app>-<env>/summary.json          after each run: releases, history, hosts, who may look
 *
 * The feed holds nothing secret (events are redacted, releases are listed by name and
 * commit), and it is readable by the group FEED_GROUP when that group exists: the
 * dashboard's user is its only member. Without the group the feed is root's alone.
 * Writing the feed never fails a run; a problem is a warning.
 */
import { closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync, chmodSync, chownSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import type { AppEnv } from '../config/resolve.js';
import type { Reporter } from '../report/events.js';
import { jsonReporter } from '../report/json.js';
import { releasesDocument } from '../report/read-json.js';
import { type FileChange, type HistoryEntry, type HistoryEvent, changedFilesAgainst, listReleases, liveRelease, liveStateAt, readEntries, readHistory, readTip } from '../release-store/index.js';
import type { Release } from '../release-store/release.js';
import { redact } from '../report/redact.js';
import { errorMessage } from '../errors.js';

export const FEED_GROUP = 'slipway-web';
export const FEED_VERSION = 1;
/** Runs kept per app-env; older run files are removed when a run ends. */
export const RUNS_KEPT = 200;
/** History events in a summary. */
const HISTORY_KEPT = 50;

export const RUN_ID = /^\d{8}T\d{6}Z-\d{1,10}$/;

export function feedDir(root: string): string {
  return join(root, '.feed');
}

export type RunAction = 'deploy' | 'rollback' | 'sync';

/** The first line of a run's file: what the events do not say. */
export interface RunMeta {
  type: 'feed.run';
  v: number;
  id: string;
  action: RunAction;
  target: string;
  who: string;
  pid: number;
  started: string;
  /** The dashboard request this run carries out (src/feed/requests.ts), if any. */
  request?: string;
}

let carrying: string | undefined;

/** This process carries out the dashboard request `id`: its run says so in the feed. */
export function carryRequest(id: string): void {
  carrying = id;
}

export function runId(now: Date, pid: number): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z')}-${pid}`;
}

/** The group's gid, or undefined when the group does not exist (the feed is then root's alone). */
export function feedGid(): number | undefined {
  try {
    const line = execFileSync('getent', ['group', FEED_GROUP], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const gid = Number(line.split(':')[2]);
    return Number.isInteger(gid) ? gid : undefined;
  } catch {
    return undefined;
  }
}

/** No gid known yet: look it up (a run passes the one it looked up when its file was opened). */
const LOOK_UP = Symbol('look up the feed group');

/** A directory of the feed: root's, the group's to read (setgid, so files inherit the group). */
export function feedMkdir(dir: string, gid: number | undefined): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = lstatSync(dir);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  if (gid !== undefined && process.getuid?.() === 0) {
    chownSync(dir, 0, gid);
    chmodSync(dir, 0o2750);
  } else chmodSync(dir, 0o700);
}

/** Write a file whole or not at all, readable by the feed's group. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o640);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/**
 * A reporter that writes the run's events to its feed file. Events before the app-env is
 * known (the target is still unchecked input) are kept and written once `open` names it.
 */
export class FeedWriter implements Reporter {
  private fd: number | undefined;
  private pending: string[] = [];
  private failed = false;
  /** The run's file was started (the summary is then rewritten at the end too). */
  opened = false;
  private file: string | undefined;
  /** The feed group's gid, looked up once when the run's file is opened. */
  private gid: number | undefined;
  private readonly json = jsonReporter((line) => this.write(line));
  problem: string | undefined;

  constructor(private readonly action: RunAction, private readonly who: string, private readonly clock: () => Date = () => new Date()) {}

  /** Start the run's file, once the app-env is loaded. Returns the run id, or undefined when the feed cannot be written. */
  open(appEnv: AppEnv): string | undefined {
    const target = `${appEnv.app}-${appEnv.env}`;
    try {
      const gid = (this.gid = feedGid());
      const runs = join(targetDir(appEnv, gid), 'runs');
      feedMkdir(runs, gid);
      const started = this.clock();
      const id = runId(started, process.pid);
      this.file = join(runs, `${id}.jsonl`);
      this.fd = openSync(this.file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW | constants.O_APPEND, 0o640);
      const meta: RunMeta = { type: 'feed.run', v: FEED_VERSION, id, action: this.action, target, who: this.who, pid: process.pid, started: started.toISOString(), ...(carrying ? { request: carrying } : {}) };
      writeSync(this.fd, `${JSON.stringify(meta)}\n`);
      for (const line of this.pending.splice(0)) writeSync(this.fd, `${line}\n`);
      this.opened = true;
      return id;
    } catch (err) {
      this.failed = true;
      this.pending = [];
      this.problem = `cannot write the run to the dashboard's feed: ${errorMessage(err)}`;
      return undefined;
    }
  }

  private write(line: string): void {
    if (this.failed) return;
    if (this.fd === undefined) {
      this.pending.push(line);
      return;
    }
    try {
      writeSync(this.fd, `${line}\n`);
    } catch (err) {
      this.failed = true;
      this.problem = `the dashboard's feed stopped: ${errorMessage(err)}`;
    }
  }

  begin(title: string, hosts: readonly string[]): void {
    this.json.begin(title, hosts);
  }

  emit(event: Parameters<Reporter['emit']>[0]): void {
    this.json.emit(event);
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /**
   * The run is over. One refused as bad input changed nothing, so it leaves nothing in the
   * feed either (as in the history); any other gets the app-env's summary rewritten and old runs pruned.
   */
  async finish(appEnv: AppEnv, changedNothing: boolean): Promise<void> {
    if (!this.opened || !this.file) return;
    if (changedNothing) {
      this.failed = true;
      rmSync(this.file, { force: true });
      return;
    }
    pruneRuns(join(this.file, '..'));
    await publishSummary(appEnv, this.gid);
  }
}

/** `<root>/.feed/<app>-<env>`, made if missing (`<root>` from the store's path, `<root>/<env>/www/<app>`). */
function targetDir(appEnv: AppEnv, gid: number | undefined): string {
  const feed = feedDir(join(appEnv.paths.www, '..', '..', '..'));
  const dir = join(feed, `${appEnv.app}-${appEnv.env}`);
  feedMkdir(feed, gid);
  feedMkdir(dir, gid);
  return dir;
}

function pruneRuns(dir: string): void {
  const runs = readdirSync(dir).filter((f) => f.endsWith('.jsonl')).sort();
  for (const f of runs.slice(0, Math.max(0, runs.length - RUNS_KEPT))) rmSync(join(dir, f), { force: true });
}

/** What the dashboard shows of an app-env without reading its store. */
export interface FeedSummary {
  v: number;
  target: string;
  app: string;
  env: string;
  branch: string;
  hosts: string[];
  /** Who may see this app-env on the dashboard, and who may deploy it (unix groups); null: not set. */
  viewGroups: string[] | null;
  allowGroups: string[] | null;
  releases: ReturnType<typeof releasesDocument>['releases'];
  live: string | null;
  /** The newest HISTORY_KEPT events. */
  history: HistoryEvent[];
  /** Every event of the history, counted by kind and result (for /metrics). */
  historyTotals: HistoryTotal[];
  /** The history's commit the totals count up to (null: no history); the next summary adds only what came after it. */
  historyTip?: string | null;
  /** The rollout a run follows, shown before a person confirms one on the dashboard (summaries before 0.2 have none). */
  plan?: PlanOutline;
  updated: string;
}

export interface PlanOutline {
  /** Hosts staged at once (all are staged before any switches). */
  parallel: number;
  phases: { name: string; hosts: string[]; concurrency: number; pauseBefore: number; steps: string[] }[];
  failureBudget: number;
  autoRevert: boolean;
}

/** A release's files against the live one, by name only: private ones marked (diffs.json). */
export interface ReleaseDiff {
  /** Files listed (at most DIFF_FILES_KEPT), and how many differ in all. */
  files: FileChange[];
  total: number;
}

/** Releases given a file list against the live one, and files listed for each. */
const DIFFS_KEPT = 20;
const DIFF_FILES_KEPT = 500;

async function planOutline(appEnv: AppEnv): Promise<PlanOutline> {
  const [{ defaultPlan }, { describeStep }] = await Promise.all([import('../deploy/ship.js'), import('../deploy/plan-text.js')]);
  const plan = defaultPlan(appEnv, { id: 'the release' });
  return {
    parallel: appEnv.parallel,
    // the steps of a phase's first host stand for its others' (only {host} in them differs)
    phases: plan.phases.map((p) => ({ name: p.name, hosts: p.hosts.map((h) => h.host.name), concurrency: p.concurrency, pauseBefore: p.pauseBefore, steps: (p.hosts[0]?.steps ?? []).map((step) => redact(describeStep(step))) })),
    failureBudget: plan.failureBudget,
    autoRevert: plan.autoRevert,
  };
}

/**
 * Each recent release's changed files against the live one: names only, never contents. A
 * release never changes, so what the last run wrote against the same live release is kept and
 * only new releases are diffed: a run that changed nothing runs no git diff.
 */
async function releaseDiffs(www: string, releases: readonly Release[], live: Release | undefined, before: DiffsFile | undefined): Promise<Record<string, ReleaseDiff>> {
  const out: Record<string, ReleaseDiff> = {};
  if (!live) return out;
  const kept = before?.live === live.id ? before.diffs : {};
  const recent = releases.slice(0, DIFFS_KEPT).filter((r) => r.id !== live.id);
  const fresh = await changedFilesAgainst(www, live, recent.filter((r) => !kept[r.id]));
  for (const r of recent) {
    const files = fresh.get(r.id);
    out[r.id] = files ? { files: files.slice(0, DIFF_FILES_KEPT), total: files.length } : kept[r.id]!;
  }
  return out;
}

interface DiffsFile {
  live: string | null;
  diffs: Record<string, ReleaseDiff>;
}

function readDiffsFile(file: string): DiffsFile | undefined {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as DiffsFile & { v?: number };
    return doc.v === FEED_VERSION && doc.diffs && typeof doc.diffs === 'object' ? doc : undefined;
  } catch {
    return undefined;
  }
}

interface HistoryTotal {
  kind: string;
  result: string;
  count: number;
}

/** `events` counted onto `base` by kind and result. */
export function addTotals(base: readonly HistoryTotal[], events: readonly HistoryEvent[]): HistoryTotal[] {
  const totals = new Map(base.map((t) => [`${t.kind} ${t.result}`, { ...t }]));
  for (const e of events) {
    const key = `${e.kind} ${e.result}`;
    const t = totals.get(key) ?? { kind: e.kind, result: e.result, count: 0 };
    t.count++;
    totals.set(key, t);
  }
  return [...totals.values()];
}

/**
 * The history's totals from its newest entries and the previous summary: the history only
 * grows at its tip, so when the previous summary's tip is among the entries read, only the
 * entries after it are added; when fewer than `limit` were read, they are the whole history.
 * Undefined: the history must be read whole (a summary from before totals had a tip, say).
 */
export function totalsFrom(recent: readonly HistoryEntry[], limit: number, previous: Pick<FeedSummary, 'historyTotals' | 'historyTip'> | undefined): HistoryTotal[] | undefined {
  const events = (entries: readonly HistoryEntry[]) => entries.flatMap((e) => (e.event ? [e.event] : []));
  const at = previous?.historyTip ? recent.findIndex((e) => e.commit === previous.historyTip) : -1;
  if (at >= 0 && Array.isArray(previous!.historyTotals)) return addTotals(previous!.historyTotals, events(recent.slice(0, at)));
  if (recent.length < limit) return addTotals([], events(recent));
  return undefined;
}

function readSummaryFile(file: string): FeedSummary | undefined {
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as FeedSummary;
    return doc.v === FEED_VERSION ? doc : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Rewrite the app-env's summary from its store (after a run). Its reads are few and do not
 * grow with the store: the releases (one for-each-ref), the newest events with the live state
 * their tip carries (one git log), and the changed files of new releases (one diff-tree).
 */
export async function publishSummary(appEnv: AppEnv, gid: number | undefined | typeof LOOK_UP = LOOK_UP): Promise<void> {
  const target = `${appEnv.app}-${appEnv.env}`;
  const www = appEnv.paths.www;
  const [releases, recent, plan] = await Promise.all([listReleases(www), readEntries(www, HISTORY_KEPT), planOutline(appEnv)]);
  const tip = recent[0];
  // the tip carries the state after it; a store from before events carried it is replayed once
  const state = liveStateAt(tip?.state ? { commit: tip.commit, state: tip.state } : tip ? await readTip(www) : undefined);
  const live = liveRelease(releases, state);
  const dir = targetDir(appEnv, gid === LOOK_UP ? feedGid() : gid);
  const summaryFile = join(dir, 'summary.json');
  const totals = totalsFrom(recent, HISTORY_KEPT, readSummaryFile(summaryFile)) ?? addTotals([], await readHistory(www));
  const doc = releasesDocument(target, releases, live, state);
  const summary: FeedSummary = {
    v: FEED_VERSION,
    target,
    app: appEnv.app,
    env: appEnv.env,
    branch: appEnv.branch,
    hosts: appEnv.hosts.map((h) => h.name),
    viewGroups: appEnv.viewGroups ?? null,
    allowGroups: appEnv.allowGroups ?? null,
    releases: doc.releases,
    live: doc.live,
    history: recent.flatMap((e) => (e.event ? [e.event] : [])),
    historyTotals: totals,
    historyTip: tip?.commit ?? null,
    plan,
    updated: new Date().toISOString(),
  };
  const diffsFile = join(dir, 'diffs.json');
  const diffs = await releaseDiffs(www, releases, live, readDiffsFile(diffsFile));
  writeAtomic(diffsFile, `${JSON.stringify({ v: FEED_VERSION, live: live?.id ?? null, diffs })}\n`);
  writeAtomic(summaryFile, `${JSON.stringify(summary)}\n`);
}

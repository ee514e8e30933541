/**
 * `make bench-dashboard`: the dashboard (`deploy serve`) against the two figures of #19:
 *
 *   1. the overview of 50 apps × 3 envs × 20 hosts renders in under 100 ms of server time;
 *   2. a run page follows a 100-host deploy's events without falling behind.
 *
 * Why a synthetic feed: the dashboard reads nothing but `<root>/.feed` (src/feed), so a feed
 * written here in exactly that shape (summaries with 20 releases and 50 history events of 20
 * hosts each, a few hundred finished run files of 20-host deploys whose writers are dead
 * processes) is what the server would meet on a busy admin node, without 150 real app-envs.
 *
 * 1 is measured in this process with `app.inject` (server time, no network): warm-ups, then
 * BENCH_REQUESTS timed requests of the overview, a target's page, /api/targets, /metrics and
 * run pages, and of the feed's fingerprint an open overview polls (GET /events).
 * 2 runs the server in a child process listening on 127.0.0.1 (as `deploy serve` runs apart
 * from the CLI), appends a 100-host deploy's events to a run file here (one line per ms, with
 * bursts), and follows the run's event stream with a plain HTTP client here, so the time a
 * line is written and the time it arrives are read from one clock; an overview stays open
 * meanwhile, fetching GET / on every `change` as web/live.js does. Falling behind would show
 * as lag growing over the run; keeping up means every line arrives, in order, within about
 * one poll (pollMs, 250 ms) of being written.
 *
 * env: BENCH_APPS (50), BENCH_ENVS (3), BENCH_HOSTS (20), BENCH_RUNS (600: finished runs over
 *      all app-envs), BENCH_REQUESTS (30), BENCH_FOLLOW_HOSTS (100), BENCH_LINE_MS (1: the
 *      steady rate), BENCH_BURST (300: build output written at once), BENCH_OUT (a file for
 *      the results as JSON), BENCH_TMP (/tmp). The temp feed is removed at the end (also on
 *      Ctrl-C). Exits 1 when a target is missed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { get } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type FeedSummary, type RunMeta, feedDir, runId } from '../src/feed/index.js';
import { newToken, parseServeConfig, type ServeConfig } from '../src/serve/config.js';
import { Feed, type FeedLine, alive } from '../src/serve/feed-read.js';
import { lineText } from '../src/serve/render.js';
import { buildServer } from '../src/serve/server.js';

const SELF = fileURLToPath(import.meta.url);
const num = (name: string, dflt: number) => Number(process.env[name] ?? dflt);
const APPS = num('BENCH_APPS', 50);
const ENVS = ['prod', 'staging', 'qa', 'dev', 'demo'].slice(0, num('BENCH_ENVS', 3));
const HOSTS = num('BENCH_HOSTS', 20);
const RUNS = num('BENCH_RUNS', 600);
const REQUESTS = num('BENCH_REQUESTS', 30);
const WARMUPS = 3;
const FOLLOW_HOSTS = num('BENCH_FOLLOW_HOSTS', 100);
const LINE_MS = num('BENCH_LINE_MS', 1);
const BURST = num('BENCH_BURST', 300);
const POLL_MS = 250; // the server's default
const OVERVIEW_TARGET_MS = 100;
const OUT = process.env.BENCH_OUT;
const TMP = process.env.BENCH_TMP ?? '/tmp';

const log = (text: string) => process.stderr.write(`bench-dashboard: ${text}\n`);

// --- small helpers ------------------------------------------------------------------------

/** A fixed-seed generator (mulberry32): the same feed every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(19);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');

function quantile(xs: readonly number[], q: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
const median = (xs: readonly number[]) => quantile(xs, 0.5);
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Pids of processes that have exited: the writers of finished runs are gone. */
function deadPids(n: number): number[] {
  const pids: number[] = [];
  while (pids.length < n) {
    const pid = spawnSync('true').pid;
    if (pid && !alive(pid)) pids.push(pid);
  }
  return pids;
}

// --- the synthetic feed -------------------------------------------------------------------

const PEOPLE = ['ana', 'bruno', 'chen', 'dara', 'jenkins'];
const hostNames = (n: number) => Array.from({ length: n }, (_, i) => `web${String(i + 1).padStart(String(n).length, '0')}`);
const iso = (ms: number) => new Date(ms).toISOString();
/** git's dates: `+00:00`, no milliseconds. */
const gitDate = (ms: number) => iso(ms).replace(/\.\d{3}Z$/, '+00:00');

/** An app-env's summary.json as publishSummary writes it: 20 releases, the newest 50 history events. */
function summaryOf(app: string, env: string, hosts: string[], newest: number, now: number): FeedSummary {
  const releases = Array.from({ length: 20 }, (_, i) => {
    const n = newest - i;
    return {
      id: `r${n}`,
      number: n,
      commit: hex(40),
      date: gitDate(now - i * 86_400_000),
      deployer: pick(PEOPLE),
      source: hex(40),
      branch: env === 'prod' ? 'main' : 'develop',
      submodules: i % 3 ? [] : [{ path: 'vendor/theme', sha: hex(40) }],
      build: rand() < 0.5 ? `${app}/main #${400 + n} https://ci.example.com/job/${app}/job/main/${400 + n}/` : null,
      mark: i === 0 ? ('live' as const) : i === 3 ? ('rolled-back' as const) : null,
    };
  });
  const history = Array.from({ length: 50 }, (_, i) => {
    const failed = i > 0 && rand() < 0.1 ? pick(hosts) : undefined;
    const kind = i % 7 === 3 ? ('rollback' as const) : i % 11 === 5 ? ('sync' as const) : ('deploy' as const);
    return {
      kind,
      who: pick(PEOPLE),
      at: iso(now - i * 6 * 3_600_000),
      from: `r${newest - Math.floor(i / 2) - 1}`,
      to: `r${newest - Math.floor(i / 2)}`,
      commit: hex(40),
      result: failed ? ('partial' as const) : ('ok' as const),
      hosts: hosts.map((host) =>
        host === failed ? { host, state: 'failed', error: 'health: GET http://127.0.0.1/health expects 200 (got 502 after 3 attempts)' } : { host, state: kind === 'sync' ? 'in-sync' : 'switched' },
      ),
    };
  });
  return {
    v: 1,
    target: `${app}-${env}`,
    app,
    env,
    branch: env === 'prod' ? 'main' : 'develop',
    hosts,
    viewGroups: ['ops'],
    allowGroups: env === 'prod' ? ['deployers'] : null,
    releases,
    live: releases[0]!.id,
    history,
    historyTotals: [
      { kind: 'deploy', result: 'ok', count: newest + 40 },
      { kind: 'deploy', result: 'partial', count: 7 },
      { kind: 'deploy', result: 'failed', count: 3 },
      { kind: 'rollback', result: 'ok', count: 12 },
      { kind: 'sync', result: 'ok', count: 5 },
    ],
    updated: iso(now),
  };
}

type Event = Record<string, unknown> & { type: string };

/**
 * The `--json` events of a deploy to `hosts` (docs/json-events.md), in order, without `v`
 * and `ts`: the update with an admin task's output, the release, every host connected,
 * staged (with transfer progress), switched and health-checked, the end with each host.
 */
function deployEvents(target: string, hosts: readonly string[], release: string, opts: { outputLines: number; progressRounds: number }): Event[] {
  const ev: Event[] = [{ type: 'run.start', target, hosts, revision: null, build: null }];
  const step = (host: string, name: string, start: string, done: string, ms: number, extra: Record<string, unknown> = {}) => {
    ev.push({ type: 'step.start', host, step: name, text: start });
    return { type: 'step.finish', host, step: name, ok: true, ms, text: done, ...extra };
  };
  ev.push({ type: 'phase.start', phase: 'update' });
  ev.push(step('admin', 'update', `updating /data/prod/src/${target}`, `source at ${hex(12)} "Fix the cart's totals", 1 submodule`, 180));
  const task = step('admin', 'task', 'running build', 'build ok', 4200);
  for (let i = 1; i <= opts.outputLines; i++) ev.push({ type: 'output', host: 'admin', line: `[build] ${i}/${opts.outputLines} compiled src/modules/module-${i}.ts (${(i * 37) % 900} kB)` });
  ev.push(task, { type: 'phase.finish', phase: 'update', ok: true, ms: 4400, failed: [] });
  ev.push({ type: 'phase.start', phase: 'release' });
  const commit = hex(40);
  ev.push(step('admin', 'release', 'committing the release', `${release} committed`, 270), { type: 'release', id: release, commit, created: true });
  ev.push({ type: 'phase.finish', phase: 'release', ok: true, ms: 270, failed: [] });
  ev.push({ type: 'phase.start', phase: 'stage' });
  for (const h of hosts) ev.push(step(h, 'connect', `connecting to 10.0.1.${hosts.indexOf(h) + 1}`, `connected to 10.0.1.${hosts.indexOf(h) + 1}:22`, 120));
  const total = 48_000_000;
  for (const h of hosts) ev.push({ type: 'step.start', host: h, step: 'stage', text: `staging ${release}` });
  for (let r = 1; r <= opts.progressRounds; r++) {
    for (const h of hosts) ev.push({ type: 'transfer.progress', host: h, text: `staging ${release}`, bytes: Math.floor((total * r) / (opts.progressRounds + 1)), total });
  }
  for (const h of hosts) ev.push({ type: 'step.finish', host: h, step: 'stage', ok: true, ms: 5400, text: `staged ${release} (3,402 files, 45.8 MB received)`, bytes: total, files: 3402 });
  ev.push({ type: 'phase.finish', phase: 'stage', ok: true, ms: 5600, failed: [] });
  ev.push({ type: 'phase.start', phase: 'switch' });
  for (const h of hosts) {
    ev.push(step(h, 'switch', `switch current → ${release}`, `live on ${release}`, 30));
    ev.push(step(h, 'health', 'health: GET http://127.0.0.1/health expects 200 (timeout 5s)', 'healthy: http://127.0.0.1/health', 40));
  }
  ev.push({ type: 'phase.finish', phase: 'switch', ok: true, ms: 900, failed: [] });
  ev.push({ type: 'note', level: 'info', text: `${release} is live on ${hosts.length} hosts` });
  ev.push({
    type: 'run.finish',
    target,
    ok: true,
    exitCode: 0,
    ms: 11_800,
    error: null,
    release: { id: release, commit, created: true },
    counts: { switched: hosts.length, staged: 0, failed: 0, untouched: 0 },
    bytes: total * hosts.length,
    hosts: hosts.map((host) => ({ host, state: 'switched', ms: 5590, bytes: total, files: 3402 })),
  });
  return ev;
}

interface BenchFeed {
  root: string;
  targets: string[];
  /** The app-env with the most runs: its page lists 30. */
  busiest: string;
  runFiles: number;
  bytes: number;
  summaryBytes: number;
}

/** `<root>/.feed/<app>-<env>/{summary.json,runs/<id>.jsonl}`, as src/feed writes them. */
function writeFeed(root: string): BenchFeed {
  const now = Date.now();
  const hosts = hostNames(HOSTS);
  const pids = deadPids(16);
  const targets: string[] = [];
  for (let a = 1; a <= APPS; a++) for (const env of ENVS) targets.push(`app${String(a).padStart(2, '0')}-${env}`);
  // a few busy app-envs, most with a handful of runs: the first gets 40 so its page lists 30
  const counts = new Map(targets.map((t) => [t, 0]));
  counts.set(targets[0]!, Math.min(40, RUNS));
  for (let i = counts.get(targets[0]!)!; i < RUNS; i++) {
    const t = rand() < 0.3 ? targets[Math.floor(rand() * 10)]! : pick(targets);
    counts.set(t, counts.get(t)! + 1);
  }
  let bytes = 0;
  let summaryBytes = 0;
  let runFiles = 0;
  for (const target of targets) {
    const dir = join(feedDir(root), target);
    mkdirSync(join(dir, 'runs'), { recursive: true });
    const [app, env] = [target.slice(0, target.lastIndexOf('-')), target.slice(target.lastIndexOf('-') + 1)];
    const newest = 30 + Math.floor(rand() * 170);
    const summary = `${JSON.stringify(summaryOf(app, env, hosts, newest, now))}\n`;
    writeFileSync(join(dir, 'summary.json'), summary);
    bytes += summary.length;
    summaryBytes += summary.length;
    const n = counts.get(target)!;
    for (let k = 0; k < n; k++) {
      const started = now - (n - k) * 5 * 3_600_000;
      const pid = pick(pids);
      const id = runId(new Date(started), pid);
      const meta: RunMeta = { type: 'feed.run', v: 1, id, action: 'deploy', target, who: pick(PEOPLE), pid, started: iso(started) };
      const events = deployEvents(target, hosts, `r${newest - n + k + 1}`, { outputLines: 12, progressRounds: 1 });
      const text = [meta, ...events.map((e, i) => ({ v: 1, ts: iso(started + 100 + i * 60), ...e }))].map((l) => JSON.stringify(l)).join('\n') + '\n';
      writeFileSync(join(dir, 'runs', `${id}.jsonl`), text);
      bytes += text.length;
      runFiles++;
    }
  }
  const busiest = targets[0]!;
  return { root, targets, busiest, runFiles, bytes, summaryBytes };
}

// --- 1: server time of the pages ----------------------------------------------------------

interface Timing {
  what: string;
  n: number;
  firstMs: number;
  medianMs: number;
  p90Ms: number;
  maxMs: number;
  /** This process's CPU time per timed request (mean): what is not waiting on the file system. */
  cpuMs: number;
  bytes: number;
  targetMs?: number;
  ok?: boolean;
}

async function timeRequests(app: FastifyInstance, what: string, url: string, token: string, targetMs?: number): Promise<Timing> {
  const once = async () => {
    const t = performance.now();
    const r = await app.inject({ url, headers: { authorization: `Bearer ${token}` } });
    const ms = performance.now() - t;
    if (r.statusCode !== 200) throw new Error(`GET ${url}: ${r.statusCode} ${r.body.slice(0, 200)}`);
    return { ms, bytes: r.rawPayload.length };
  };
  const first = await once();
  for (let i = 1; i < WARMUPS; i++) await once();
  const ms: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) ms.push((await once()).ms);
  const used = process.cpuUsage(cpu);
  const medianMs = median(ms);
  const cpuMs = (used.user + used.system) / 1000 / REQUESTS;
  return { what, n: REQUESTS, firstMs: first.ms, medianMs, p90Ms: quantile(ms, 0.9), maxMs: Math.max(...ms), cpuMs, bytes: first.bytes, ...(targetMs ? { targetMs, ok: medianMs < targetMs } : {}) };
}

/** What every open overview costs the server each poll: the feed's fingerprint (GET /events). */
async function timeVersion(root: string): Promise<Timing> {
  const feed = new Feed(root);
  const first = performance.now();
  await feed.version();
  const firstMs = performance.now() - first;
  for (let i = 1; i < WARMUPS; i++) await feed.version();
  const ms: number[] = [];
  const cpu = process.cpuUsage();
  for (let i = 0; i < REQUESTS; i++) {
    const t = performance.now();
    await feed.version();
    ms.push(performance.now() - t);
  }
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000 / REQUESTS;
  return { what: '/events poll (Feed.version)', n: REQUESTS, firstMs, medianMs: median(ms), p90Ms: quantile(ms, 0.9), maxMs: Math.max(...ms), cpuMs, bytes: 0 };
}

// --- 2: following a 100-host run ----------------------------------------------------------

interface FollowResult {
  hosts: number;
  linesWritten: number;
  linesShown: number;
  received: number;
  inOrder: boolean;
  offsetsOk: boolean;
  finish: boolean;
  writeS: number;
  lagMs: { median: number; p99: number; max: number };
  first10: { median: number; max: number };
  last10: { median: number; max: number };
  tickMs: { median: number; max: number };
  /** The open overview's fetches of GET / on each `change`, client time. */
  overview: { fetches: number; median: number; max: number };
  serverCpuMs: number;
  runPage?: Timing;
  keptUp: boolean;
}

/** The server as `deploy serve` runs it, in its own process: `dashboard.ts serve <root>`; config in BENCH_SERVE_CONFIG. */
async function serveChild(root: string): Promise<void> {
  const config = parseServeConfig(process.env.BENCH_SERVE_CONFIG ?? '{}', 'BENCH_SERVE_CONFIG');
  const app = await buildServer({ config, root, groupsOf: async () => [], pollMs: POLL_MS });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  process.send!({ port: typeof address === 'object' && address ? address.port : 0 });
  process.on('message', (m) => {
    if (m === 'cpu') {
      const u = process.cpuUsage();
      process.send!({ cpuMs: (u.user + u.system) / 1000 });
    }
  });
  process.on('disconnect', () => void app.close().then(() => process.exit(0)));
}

function startServerProcess(root: string, config: ServeConfig): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, 'serve', root], {
    env: { ...process.env, BENCH_SERVE_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve({ child, port: m.port }));
    child.once('exit', (code) => reject(new Error(`the server process exited (${code}) before listening`)));
  });
}

const ask = <T>(child: ChildProcess, message: string): Promise<T> => new Promise((resolve) => {
  child.once('message', (m) => resolve(m as T));
  child.send(message);
});

interface Frame {
  event: string;
  id?: string;
  data?: unknown;
  at: number;
}

/**
 * A `text/event-stream` client: every frame with the time its bytes arrived, also given to
 * `onFrame`; resolves when the server ends the stream, or `stop` is called.
 */
function followStream(port: number, path: string, token: string, onOpen: () => void, onFrame: (f: Frame) => void = () => {}): { done: Promise<Frame[]>; stop: () => void } {
  let stop = () => {};
  const done = new Promise<Frame[]>((resolve, reject) => {
    const frames: Frame[] = [];
    const req = get({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200 || !String(res.headers['content-type']).startsWith('text/event-stream')) {
        reject(new Error(`GET ${path}: ${res.statusCode} ${res.headers['content-type']}`));
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      let buf = '';
      res.on('data', (chunk: string) => {
        const at = performance.now();
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame: Frame = { event: 'comment', at };
          for (const line of buf.slice(0, end).split('\n')) {
            if (line.startsWith('event: ')) frame.event = line.slice(7);
            else if (line.startsWith('id: ')) frame.id = line.slice(4);
            else if (line.startsWith('data: ')) frame.data = JSON.parse(line.slice(6));
          }
          frames.push(frame);
          onFrame(frame);
          buf = buf.slice(end + 2);
        }
      });
      res.on('end', () => resolve(frames));
      res.on('error', reject);
      onOpen();
    });
    req.on('error', reject);
    req.setTimeout(120_000, () => req.destroy(new Error('the event stream stalled for 120 s')));
    stop = () => {
      req.destroy();
      resolve(frames);
    };
  });
  return { done, stop };
}

/** A GET with the token, as live.js fetches a fragment; resolves to the time it took. */
function fetchTime(port: number, path: string, token: string): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${token}`, 'x-fragment': '1' } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - t) : reject(new Error(`GET ${path}: ${res.statusCode}`))));
    }).on('error', reject);
  });
}

/** An open overview, as web/live.js keeps it: the page loaded, then on every `change` fetched again. */
async function watchOverview(port: number, token: string): Promise<{ stop: () => Promise<number[]> }> {
  await fetchTime(port, '/', token);
  const fetches: Promise<number>[] = [];
  const stream = followStream(port, '/events', token, () => {}, (f) => {
    if (f.event === 'change') fetches.push(fetchTime(port, '/', token));
  });
  return {
    stop: async () => {
      stream.stop();
      await stream.done;
      return Promise.all(fetches);
    },
  };
}

/**
 * Append the run's lines to its file as the CLI does (one write per line, O_APPEND): one every
 * LINE_MS, except lines marked `burst`, written at once with the line before them. Returns the
 * time each line was written.
 */
function writeLines(fd: number, lines: readonly { event: Event; burst: boolean }[]): Promise<number[]> {
  const due: number[] = [];
  let t = 0;
  for (const l of lines) due.push(l.burst ? t : (t += LINE_MS));
  const wrote: number[] = [];
  const t0 = performance.now();
  return new Promise((resolve) => {
    const tick = () => {
      const now = performance.now() - t0;
      while (wrote.length < lines.length && due[wrote.length]! <= now) {
        writeSync(fd, `${JSON.stringify({ v: 1, ts: new Date().toISOString(), ...lines[wrote.length]!.event })}\n`);
        wrote.push(performance.now());
      }
      if (wrote.length < lines.length) setTimeout(tick, 1);
      else resolve(wrote);
    };
    tick();
  });
}

async function follow(feed: BenchFeed, config: ServeConfig, token: string): Promise<FollowResult> {
  const { child, port } = await startServerProcess(feed.root, config);
  try {
    const target = feed.busiest;
    const hosts = hostNames(FOLLOW_HOSTS);
    const id = runId(new Date(), process.pid); // this process writes the run and lives: it is running
    const file = join(feedDir(feed.root), target, 'runs', `${id}.jsonl`);
    const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_APPEND, 0o640);
    const events = deployEvents(target, hosts, 'r999', { outputLines: 1000, progressRounds: 6 });
    const meta: RunMeta = { type: 'feed.run', v: 1, id, action: 'deploy', target, who: 'bench', pid: process.pid, started: new Date().toISOString() };
    writeSync(fd, `${JSON.stringify(meta)}\n${JSON.stringify({ v: 1, ts: meta.started, ...events[0]! })}\n`);
    const from = statSync(file).size;

    // the build's output partly comes at once (a tool that buffers its log), and each round of
    // transfer progress from every host together (they are paced alike)
    let output = 0;
    let progress = 0;
    const lines = events.slice(1).map((event) => {
      let burst = false;
      if (event.type === 'output') burst = ++output > 101 && output <= 100 + BURST;
      if (event.type === 'transfer.progress') burst = progress++ % hosts.length !== 0;
      return { event, burst };
    });
    const expected = lines.map((l, i) => ({ i, shown: lineText(l.event as FeedLine) })).filter((x) => x.shown !== undefined);

    const overview = await watchOverview(port, token);
    const cpuBefore = await ask<{ cpuMs: number }>(child, 'cpu');
    let written: Promise<number[]> | undefined;
    const started = performance.now();
    const frames = await followStream(port, `/t/${target}/runs/${id}/events?from=${from}`, token, () => {
      written = writeLines(fd, lines);
    }).done;
    const wrote = await written!;
    const overviewMs = await overview.stop();
    const writeS = (wrote[wrote.length - 1]! - started) / 1000;
    closeSync(fd);
    const cpuAfter = await ask<{ cpuMs: number }>(child, 'cpu');

    const got = frames.filter((f) => f.event === 'line');
    let inOrder = got.length === expected.length;
    const lags: number[] = [];
    for (let k = 0; k < Math.min(got.length, expected.length); k++) {
      const want = expected[k]!.shown!;
      const data = got[k]!.data as { text: string; cls: string };
      if (data.text !== want.text || data.cls !== want.cls) inOrder = false;
      lags.push(got[k]!.at - wrote[expected[k]!.i]!);
    }
    // `id:` is the byte offset after the lines sent: never going back, the file's size at the end
    const ids = got.map((f) => Number(f.id));
    const offsetsOk = ids.every((x, k) => k === 0 || x >= ids[k - 1]!) && ids[ids.length - 1] === statSync(file).size;
    const tenth = Math.max(1, Math.floor(lags.length / 10));
    const [head, tail] = [lags.slice(0, tenth), lags.slice(-tenth)];
    // the stream writes a keep-alive after each tick: their spacing is the tick's period
    const ticks = frames.filter((f) => f.event === 'comment').map((f) => f.at);
    const periods = ticks.slice(1).map((t, k) => t - ticks[k]!);
    const lagMs = { median: median(lags), p99: quantile(lags, 0.99), max: Math.max(...lags) };
    const first10 = { median: median(head), max: Math.max(...head) };
    const last10 = { median: median(tail), max: Math.max(...tail) };
    const finish = frames.some((f) => f.event === 'finish' && (f.data as { state?: string }).state === 'ok');
    const keptUp = inOrder && finish && offsetsOk && lagMs.max <= POLL_MS + 100 && last10.median <= first10.median + POLL_MS / 2;
    return {
      hosts: FOLLOW_HOSTS,
      linesWritten: lines.length + 2,
      linesShown: expected.length,
      received: got.length,
      inOrder,
      offsetsOk,
      finish,
      writeS,
      lagMs,
      first10,
      last10,
      tickMs: { median: median(periods), max: periods.length ? Math.max(...periods) : NaN },
      overview: { fetches: overviewMs.length, median: median(overviewMs), max: overviewMs.length ? Math.max(...overviewMs) : NaN },
      serverCpuMs: cpuAfter.cpuMs - cpuBefore.cpuMs,
      keptUp,
    };
  } finally {
    child.disconnect();
    await new Promise((r) => child.once('exit', r));
  }
}

// --- the report ---------------------------------------------------------------------------

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(TMP, 'slipway-bench-dashboard-'));
  process.once('SIGINT', () => {
    rmSync(root, { recursive: true, force: true });
    process.exit(130);
  });
  try {
    let t = performance.now();
    const feed = writeFeed(root);
    log(`feed: ${feed.targets.length} app-envs × ${HOSTS} hosts, ${feed.runFiles} run files, ${(feed.bytes / 1e6).toFixed(1)} MB, written in ${Math.round(performance.now() - t)} ms in ${root}`);

    const { token, entry } = newToken('bench');
    const config = parseServeConfig(JSON.stringify({ listen: '127.0.0.1:0', tokens: [entry], admins: ['bench'] }), 'bench');
    const app = await buildServer({ config, root, groupsOf: async () => [] });
    await app.ready();
    const timings: Timing[] = [];
    const runs = await new Feed(root).runIds(feed.busiest);
    timings.push(await timeRequests(app, 'GET / (overview)', '/', token, OVERVIEW_TARGET_MS));
    timings.push(await timeRequests(app, `GET /t/${feed.busiest}`, `/t/${feed.busiest}`, token));
    timings.push(await timeRequests(app, 'GET /api/targets', '/api/targets', token));
    timings.push(await timeRequests(app, 'GET /metrics', '/metrics', token));
    timings.push(await timeRequests(app, 'GET /t/…/runs/<20-host run>', `/t/${feed.busiest}/runs/${runs[0]}`, token));
    timings.push(await timeVersion(root));

    t = performance.now();
    log(`following a ${FOLLOW_HOSTS}-host run on a real socket…`);
    const followed = await follow(feed, config, token);
    const [id] = await new Feed(root).runIds(feed.busiest);
    followed.runPage = await timeRequests(app, `GET /t/…/runs/<${FOLLOW_HOSTS}-host run>`, `/t/${feed.busiest}/runs/${id}`, token);
    timings.push(followed.runPage);
    await app.close();

    const ms = (x: number) => x.toFixed(1);
    const rows = [['request (server time, app.inject)', 'n', 'first ms', 'median ms', 'p90 ms', 'max ms', 'cpu ms', 'kB', 'target']];
    for (const r of timings) {
      rows.push([r.what, String(r.n), ms(r.firstMs), ms(r.medianMs), ms(r.p90Ms), ms(r.maxMs), ms(r.cpuMs), r.bytes ? (r.bytes / 1024).toFixed(0) : '-', r.targetMs ? `< ${r.targetMs} ms ${r.ok ? 'ok' : 'MISSED'}` : '']);
    }
    const f = followed;
    const text = [
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
      `feed: ${feed.targets.length} app-envs × ${HOSTS} hosts, ${feed.runFiles} finished runs, ${(feed.bytes / 1e6).toFixed(1)} MB (summaries ${(feed.summaryBytes / feed.targets.length / 1e3).toFixed(0)} kB each, runs ${((feed.bytes - feed.summaryBytes) / feed.runFiles / 1e3).toFixed(0)} kB each)`,
      '',
      table(rows),
      '',
      `follow a ${f.hosts}-host deploy (server in its own process, pollMs ${POLL_MS}): ${f.linesWritten} lines written in ${f.writeS.toFixed(2)} s (one per ${LINE_MS} ms, bursts of ${BURST} and ${f.hosts}), ${f.linesShown} shown`,
      table([
        ['lag write → client, ms', 'median', 'p99', 'max'],
        ['all lines', ms(f.lagMs.median), ms(f.lagMs.p99), ms(f.lagMs.max)],
        ['first 10 %', ms(f.first10.median), '', ms(f.first10.max)],
        ['last 10 %', ms(f.last10.median), '', ms(f.last10.max)],
        ['tick period', ms(f.tickMs.median), '', ms(f.tickMs.max)],
      ]),
      `meanwhile an open overview fetched GET / ${f.overview.fetches} times on \`change\` (median ${ms(f.overview.median)} ms, max ${ms(f.overview.max)} ms over loopback)`,
      `received ${f.received}/${f.linesShown} lines, in order: ${f.inOrder ? 'yes' : 'NO'}; ids are byte offsets: ${f.offsetsOk ? 'yes' : 'NO'}; finish: ${f.finish ? 'yes' : 'NO'}; server CPU ${Math.round(f.serverCpuMs)} ms`,
      `kept up (every line, in order, max lag ≤ pollMs + 100 ms, no growth from first to last 10 %): ${f.keptUp ? 'yes' : 'NO'}`,
    ].join('\n');
    process.stdout.write(`${text}\n`);
    if (OUT) {
      const machine = { cpus: cpus().length, model: cpus()[0]?.model, load: loadavg() };
      const settings = { apps: APPS, envs: ENVS, hosts: HOSTS, runs: feed.runFiles, requests: REQUESTS, followHosts: FOLLOW_HOSTS, lineMs: LINE_MS, burst: BURST, pollMs: POLL_MS };
      writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), machine, settings, feedBytes: feed.bytes, requests: timings, follow: followed, table: text.split('\n') }, null, 2)}\n`);
      log(`results in ${OUT}`);
    }
    if (!timings[0]!.ok || !followed.keptUp) process.exitCode = 1;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'serve') await serveChild(process.argv[3]!);
else await main();

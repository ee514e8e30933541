import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LockHeldError } from '../../src/errors.js';
import { type LockEvent, type LockInfo, type LockOptions, acquireLock, forceUnlock, lockPath, processIdentity, readLock, startTimeOf } from '../../src/flows/lock.js';
import { parseDuration } from '../../src/cli/duration.js';

/** Take the lock, run `body`, release it. */
async function withLock<T>(options: LockOptions, body: () => Promise<T>): Promise<T> {
  const lock = await acquireLock(options);
  try {
    return await body();
  } finally {
    await lock.release();
  }
}

const TAKER = fileURLToPath(new URL('../support/lock-taker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A lock taker in a process of its own (test/support/lock-taker.ts); `line` waits for a line of its output. */
function startTaker(dir: string) {
  const child = spawn(process.execPath, ['--import', 'tsx', TAKER, dir], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  started.push(child);
  const seen: string[] = [];
  const waiting: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (l) => {
    seen.push(l);
    for (const w of waiting.filter((w) => w.pred(l))) (waiting.splice(waiting.indexOf(w), 1), w.resolve(l));
  });
  const line = (pred: (l: string) => boolean) =>
    new Promise<string>((resolve) => {
      const found = seen.find(pred);
      if (found !== undefined) resolve(found);
      else waiting.push({ pred, resolve });
    });
  return { child, line, seen };
}

/** Every taker process, killed at the end whatever happened (a failed assertion leaves a winner holding). */
const started: ChildProcess[] = [];

type Outcome = { pid: number; result: 'won' | 'held' | 'error'; message?: string; event?: string };
let running: ReturnType<typeof startTaker>[] = [];

/** Start 8 takers, let them all try at once; exactly one must win and every other one get LockHeldError. */
async function race(dir: string, n = 8): Promise<{ winner: Outcome; losers: Outcome[] }> {
  running = Array.from({ length: n }, () => startTaker(dir));
  await Promise.all(running.map((t) => t.line((l) => l === 'ready')));
  for (const t of running) t.child.stdin!.write('go\n');
  const outcomes = await Promise.all(
    running.map(async (t) => {
      const o = JSON.parse(await t.line((l) => l.includes('"result"'))) as Outcome;
      // a winner that took over reported the event before its result
      const event = t.seen.find((l) => l.includes('"event"'));
      return event ? { ...o, event: (JSON.parse(event) as { event: string }).event } : o;
    }),
  );
  const winners = outcomes.filter((o) => o.result === 'won');
  assert.equal(winners.length, 1, `exactly one winner: ${JSON.stringify(outcomes)}`);
  const losers = outcomes.filter((o) => o.result !== 'won');
  for (const o of losers) assert.equal(o.result, 'held', `pid ${o.pid} got LockHeldError, not: ${o.message}`);
  return { winner: winners[0]!, losers };
}

/** Let the winner release and every taker exit. */
async function finish() {
  await Promise.all(running.map((t) => (t.child.exitCode !== null ? undefined : new Promise((r) => (t.child.once('exit', r), t.child.stdin!.end())))));
}

describe('the app-env lock', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-lock-'));
  });
  after(async () => {
    for (const child of started) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const opts = (sub: string, extra = {}) => ({ target: 'shop-prod', dir: join(dir, sub), command: 'deploy shop-prod', ...extra });

  it('records who, pid, host, command and start time, and is removed on release', async () => {
    const lock = await acquireLock(opts('a'));
    const held = await readLock(join(dir, 'a'));
    assert.equal(held?.pid, process.pid);
    assert.equal(held?.host, hostname());
    assert.equal(held?.command, 'deploy shop-prod');
    assert.ok(!Number.isNaN(Date.parse(held!.started)));
    await lock.release();
    assert.equal(existsSync(lockPath(join(dir, 'a'))), false);
  });

  it('refuses a second holder at once, naming the holder and what to do', async () => {
    await withLock(opts('b'), async () => {
      await assert.rejects(acquireLock(opts('b')), (err: Error) => {
        assert.ok(err instanceof LockHeldError);
        assert.equal(err.exitCode, 3);
        assert.match(err.message, new RegExp(`shop-prod is locked by .* \\(pid ${process.pid} on ${hostname()}, running "deploy shop-prod"\\) since `));
        assert.match(err.message, /--wait 5m/);
        assert.match(err.message, /deploy unlock shop-prod --force/);
        return true;
      });
    });
  });

  it('only one of many concurrent takers in this process wins; every other one gets LockHeldError', async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquireLock(opts('c'))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof LockHeldError, String(r.reason));
    for (const r of results) if (r.status === 'fulfilled') await r.value.release();
  });

  it('--wait waits for the holder to finish', async () => {
    const first = await acquireLock(opts('d'));
    let waited = false;
    // the holder finishes once the second run is known to be waiting
    const second = await acquireLock(opts('d', { waitMs: 10_000, onWait: () => ((waited = true), void first.release()) }));
    assert.ok(waited);
    assert.equal((await readLock(join(dir, 'd')))?.started, second.info.started);
    await second.release();
  });

  it('takes over a lock whose process is gone, reports it and logs it', async () => {
    const d = join(dir, 'e');
    // a real process that has exited: its pid is free
    const child = spawn('true');
    await new Promise((r) => child.on('exit', r));
    const stale = { user: 'bob', pid: child.pid!, host: hostname(), command: 'deploy shop-prod', started: '2020-01-01T00:00:00.000Z' };
    await withLock(opts('e'), async () => undefined); // creates the dir
    await writeFile(lockPath(d), JSON.stringify(stale));
    const events: LockEvent[] = [];
    const lock = await acquireLock(opts('e', { onEvent: (e: LockEvent) => void events.push(e) }));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.kind, 'lock-stale-taken-over');
    assert.match(readFileSync(join(d, 'lock.log'), 'utf8'), /"kind":"lock-stale-taken-over".*"user":"bob"/);
    await lock.release();
  });

  it('never guesses about a lock held from another host', async () => {
    const d = join(dir, 'f');
    await withLock(opts('f'), async () => undefined);
    await writeFile(lockPath(d), JSON.stringify({ user: 'bob', pid: 999999, host: 'other-admin', command: 'deploy shop-prod', started: new Date().toISOString() }));
    await assert.rejects(acquireLock(opts('f')), /locked by bob \(pid 999999 on other-admin/);
    const removed = await forceUnlock({ target: 'shop-prod', dir: d });
    assert.equal(removed?.user, 'bob');
    assert.match(readFileSync(join(d, 'lock.log'), 'utf8'), /"kind":"lock-force-unlocked"/);
    (await acquireLock(opts('f'))).release();
  });

  it('a release does not remove a lock that is no longer ours', async () => {
    const d = join(dir, 'g');
    const mine = await acquireLock(opts('g'));
    await forceUnlock({ target: 'shop-prod', dir: d });
    const theirs = await acquireLock(opts('g'));
    await mine.release();
    assert.equal((await readLock(d))?.started, theirs.info.started);
    await theirs.release();
  });

  it('8 taker processes at once: exactly one wins, every other one gets LockHeldError', async () => {
    const d = join(dir, 'race');
    const { winner, losers } = await race(d);
    assert.ok(winner.event === undefined, 'nothing was stale');
    assert.equal((await readLock(d))?.pid, winner.pid);
    await finish();
    assert.equal(losers.length, 7);
  });

  it('a holder killed with SIGKILL leaves a stale lock that exactly one of 8 concurrent takers takes over', async () => {
    const d = join(dir, 'killed');
    const holder = startTaker(d);
    await holder.line((l) => l === 'ready');
    holder.child.stdin!.write('go\n');
    assert.equal(JSON.parse(await holder.line((l) => l.includes('"result"'))).result, 'won');
    holder.child.kill('SIGKILL');
    await new Promise((r) => holder.child.once('exit', r));
    assert.equal((await readLock(d))?.pid, holder.child.pid, 'kill -9 leaves the lock');
    const { winner } = await race(d);
    assert.equal(winner.event, 'lock-stale-taken-over');
    assert.equal(readFileSync(join(d, 'lock.log'), 'utf8').match(/lock-stale-taken-over/g)?.length, 1, 'taken over once');
    assert.equal((await readLock(d))?.pid, winner.pid);
    await finish();
  });

  describe('a lock naming a live process', () => {
    let other: ChildProcess;
    before(async () => {
      other = spawn('sleep', ['1000'], { stdio: 'ignore' });
      await new Promise((r) => other.once('spawn', r));
    });
    after(() => {
      other.kill('SIGKILL');
    });
    const lockOf = (d: string, fields: Partial<LockInfo>) =>
      writeFile(lockPath(d), JSON.stringify({ user: 'bob', pid: other.pid, host: hostname(), command: 'deploy shop-prod', started: '2026-01-01T00:00:00.000Z', ...processIdentity(), startTime: startTimeOf(other.pid!), ...fields }));

    it('is live when the pid and its start time are those of the holder', async () => {
      const d = join(dir, 'live');
      await withLock(opts('live'), async () => undefined);
      await lockOf(d, {});
      await assert.rejects(acquireLock(opts('live')), (err: Error) => err instanceof LockHeldError && /locked by bob \(pid \d+ /.test(err.message));
    });

    it('is stale when that pid now belongs to a process started at another time (a reused pid)', async () => {
      const d = join(dir, 'reused');
      await withLock(opts('reused'), async () => undefined);
      await lockOf(d, { startTime: String(Number(startTimeOf(other.pid!)) - 1) });
      const events: LockEvent[] = [];
      const lock = await acquireLock(opts('reused', { onEvent: (e: LockEvent) => void events.push(e) }));
      assert.deepEqual(events.map((e) => e.kind), ['lock-stale-taken-over']);
      assert.equal((await readLock(d))?.pid, process.pid);
      await lock.release();
    });

    it('is never guessed about from another boot or another pid namespace, even with a free pid', async () => {
      for (const fields of [{ boot: 'another-boot-id' }, { pidns: 'pid:[1]' }]) {
        const d = join(dir, `other-${Object.keys(fields)[0]}`);
        await withLock(opts(`other-${Object.keys(fields)[0]}`), async () => undefined);
        await lockOf(d, { ...fields, pid: 999_999_999 });
        await assert.rejects(acquireLock(opts(`other-${Object.keys(fields)[0]}`)), LockHeldError);
      }
    });
  });

  it('parses --wait durations', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('45'), 45_000);
    for (const bad of ['', '5x', '-1s', '1.5m', '5m;id', '$(id)']) assert.equal(parseDuration(bad), undefined, bad);
  });
});

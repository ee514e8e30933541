import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LockHeldError } from '../../src/errors.js';
import { type LockEvent, acquireLock, forceUnlock, lockPath, parseDuration, readLock, withLock } from '../../src/lock.js';

describe('the app-env lock', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-lock-'));
  });
  after(async () => {
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

  it('only one of many concurrent takers wins', async () => {
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => acquireLock(opts('c'))));
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results) if (r.status === 'fulfilled') await r.value.release();
  });

  it('--wait waits for the holder to finish', async () => {
    const first = await acquireLock(opts('d'));
    let waited = false;
    setTimeout(() => void first.release(), 600);
    const second = await acquireLock(opts('d', { waitMs: 10_000, onWait: () => (waited = true) }));
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

  it('parses --wait durations', () => {
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('45'), 45_000);
    for (const bad of ['', '5x', '-1s', '1.5m', '5m;id', '$(id)']) assert.equal(parseDuration(bad), undefined, bad);
  });
});

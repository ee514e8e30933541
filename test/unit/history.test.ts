import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { summarizeHosts } from '../../src/cli/history.js';
import { inspectCmd, repairCmd } from '../../src/deploy/remote.js';
import { parseDrift } from '../../src/deploy/remote-output.js';
import {
  appendEvent,
  eventMessage,
  type HistoryEvent,
  liveState,
  liveStateAt,
  parseEventMessage,
  parseStateOf,
  previousRelease,
  readHistory,
  readTip,
  replay,
  STATE_LIMIT,
} from '../../src/release-store/history.js';
import type { Release } from '../../src/release-store/release.js';

const ev = (kind: HistoryEvent['kind'], from: string | undefined, to: string, result: HistoryEvent['result'] = 'ok'): HistoryEvent => ({
  kind,
  who: 'alice',
  at: '2026-01-01T00:00:00Z',
  ...(from ? { from } : {}),
  to,
  result,
  hosts: [],
});
/** What a run reads as live: the state the history's tip carries. */
const readLiveState = async (www: string) => liveStateAt(await readTip(www));
/** Events are given oldest first here for readability; the store returns them newest first. */
const state = (...oldestFirst: HistoryEvent[]) => liveState([...oldestFirst].reverse());
const rel = (n: number): Release => ({ id: `r${n}`, number: n, commit: `${n}`.repeat(40).slice(0, 40), date: '', deployer: 'a', submodules: [], privateFiles: [] });

describe('live state from the history', () => {
  test('deploys stack up; the newest ok one is live', () => {
    const s = state(ev('deploy', undefined, 'r1'), ev('deploy', 'r1', 'r2'), ev('deploy', 'r2', 'r3'));
    assert.equal(s.live, 'r3');
    assert.equal(s.previous, 'r2');
    assert.deepEqual([...s.rolledBack.keys()], []);
  });

  test('rollback then rollback walks back instead of flipping', () => {
    const s = state(ev('deploy', undefined, 'r1'), ev('deploy', 'r1', 'r2'), ev('deploy', 'r2', 'r3'), ev('rollback', 'r3', 'r2'));
    assert.equal(s.live, 'r2');
    assert.equal(s.previous, 'r1');
    assert.deepEqual([...s.rolledBack.keys()], ['r3']);
  });

  test('failed and partial runs do not change what is live; syncs of the live release change nothing', () => {
    const s = state(ev('deploy', undefined, 'r1'), ev('deploy', 'r1', 'r2'), ev('deploy', 'r2', 'r3', 'failed'), ev('deploy', 'r2', 'r3', 'partial'), ev('sync', 'r2', 'r2'));
    assert.equal(s.live, 'r2');
    assert.equal(s.previous, 'r1');
  });

  test('rolling back to a release not on the stack pushes it; redeploying a rolled-back release clears its mark', () => {
    const s = state(ev('deploy', undefined, 'r5'), ev('rollback', 'r5', 'r2'));
    assert.equal(s.live, 'r2');
    assert.equal(s.previous, 'r5');
    const again = state(ev('deploy', undefined, 'r1'), ev('deploy', 'r1', 'r2'), ev('rollback', 'r2', 'r1'), ev('deploy', 'r1', 'r2'));
    assert.equal(again.live, 'r2');
    assert.deepEqual([...again.rolledBack.keys()], []);
  });

  test('without history, rollback falls back to the release before the live (newest) one', () => {
    const releases = [rel(3), rel(2), rel(1)];
    assert.equal(previousRelease(releases, liveState([]))?.id, 'r2');
    assert.equal(previousRelease(releases, state(ev('deploy', 'r1', 'r3')))?.id, 'r2');
    assert.equal(previousRelease([rel(1)], liveState([])), undefined);
  });
});

describe('history events in git', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-history-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the message round-trips, with a readable subject', () => {
    const e = { ...ev('rollback', 'r3', 'r2'), hosts: [{ host: 'web1', state: 'failed', error: 'it said "no"\nand more' }] };
    const message = eventMessage(e);
    assert.match(message, /^rollback r3 -> r2: ok\n\n\{/);
    assert.deepEqual(parseEventMessage(message), e);
    assert.equal(parseEventMessage('deploy r1: ok\n\nnot json'), undefined);
  });

  test('concurrent appends all land, newest first, and leave the release branch alone', async () => {
    execFileSync('git', ['init', '-q', '--initial-branch=releases', dir]);
    await Promise.all(Array.from({ length: 6 }, (_, i) => appendEvent(dir, { ...ev('deploy', undefined, `r${i + 1}`), at: `2026-01-01T00:00:0${i}Z` })));
    const events = await readHistory(dir);
    assert.equal(events.length, 6);
    assert.deepEqual(new Set(events.map((e) => e.to)), new Set(['r1', 'r2', 'r3', 'r4', 'r5', 'r6']));
    await appendEvent(dir, ev('rollback', 'r6', 'r1'));
    assert.equal((await readHistory(dir))[0]?.kind, 'rollback');
    const branch = execFileSync('git', ['-C', dir, 'for-each-ref', '--format=%(refname)']).toString().trim();
    assert.equal(branch, 'refs/slipway/history', 'only the history ref exists');
  });
});

describe('the live state carried by each event (the history tip alone is read)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-history-state-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args]).toString();

  test('read from the tip, it is what replaying every event gives, after each of 60 mixed events', async () => {
    execFileSync('git', ['init', '-q', '--initial-branch=releases', dir]);
    assert.deepEqual(await readLiveState(dir), liveState([]), 'no history yet');
    // a fixed pseudo-random walk of deploys, rollbacks, syncs and failures
    let seed = 7;
    const next = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    let live: string | undefined;
    for (let i = 1; i <= 60; i++) {
      const kind = (['deploy', 'deploy', 'rollback', 'sync'] as const)[next(4)]!;
      const to = `r${kind === 'deploy' ? i : 1 + next(i)}`;
      const result = (['ok', 'ok', 'ok', 'failed', 'reverted'] as const)[next(5)]!;
      await appendEvent(dir, { ...ev(kind, live, to, result), at: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString().replace(/\.\d{3}Z$/, 'Z') });
      if (result === 'ok') live = to;
      assert.deepEqual(await readLiveState(dir), liveState(await readHistory(dir)), `after event ${i}`);
    }
    assert.ok(parseStateOf(git('log', '-1', '--format=%B', 'refs/slipway/history')), 'the tip carries its state');
  });

  test('a tip from before events carried the state is replayed; the next event carries it', async () => {
    const old = mkdtempSync(join(tmpdir(), 'slipway-history-old-'));
    try {
      execFileSync('git', ['init', '-q', '--initial-branch=releases', old]);
      // two events written as an older Slipway did: no state paragraph
      const stream = [ev('deploy', undefined, 'r1'), ev('deploy', 'r1', 'r2')]
        .map((e, i) => {
          const m = eventMessage(e);
          return `commit refs/slipway/history\nmark :${i + 1}\ncommitter Slipway <slipway@localhost> 1767225600 +0000\ndata ${Buffer.byteLength(m)}\n${m}${i ? `from :${i}\n` : ''}deleteall\n\n`;
        })
        .join('');
      execFileSync('git', ['-C', old, 'fast-import', '--quiet'], { input: stream });
      assert.equal(parseStateOf(execFileSync('git', ['-C', old, 'log', '-1', '--format=%B', 'refs/slipway/history']).toString()), undefined);
      const s = await readLiveState(old);
      assert.equal(s.live, 'r2');
      assert.equal(s.previous, 'r1');
      await appendEvent(old, ev('rollback', 'r2', 'r1'));
      const carried = parseStateOf(execFileSync('git', ['-C', old, 'log', '-1', '--format=%B', 'refs/slipway/history']).toString());
      assert.deepEqual(carried, { stack: ['r1'], rolledBack: [['r2', '2026-01-01T00:00:00Z']] });
      assert.equal((await readLiveState(old)).live, 'r1');
      assert.deepEqual((await readHistory(old)).map((e) => e.to), ['r1', 'r2', 'r1'], 'old and new events read alike');
      assert.deepEqual((await readHistory(old, 2)).map((e) => e.to), ['r1', 'r2'], 'the newest n');
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });

  test('an append starts at the tip the run read when it started; if another run appended since, nothing is lost', async () => {
    const d = mkdtempSync(join(tmpdir(), 'slipway-history-known-'));
    try {
      execFileSync('git', ['init', '-q', '--initial-branch=releases', d]);
      await appendEvent(d, ev('deploy', undefined, 'r1'));
      const read = await readTip(d);
      assert.ok(read);
      assert.deepEqual(liveStateAt(read), await readLiveState(d));
      await appendEvent(d, ev('deploy', 'r1', 'r2'), read);
      const parents = (c: string) => execFileSync('git', ['-C', d, 'log', '-1', '--format=%P', c]).toString().trim();
      assert.equal(parents('refs/slipway/history'), read.commit, 'the new event follows the known tip');
      // a tip read before another run appended: fast-import refuses it, the append reads the tip again
      const stale = await readTip(d);
      await appendEvent(d, ev('deploy', 'r2', 'r3'));
      await appendEvent(d, ev('rollback', 'r3', 'r2'), stale);
      assert.deepEqual((await readHistory(d)).map((e) => e.to), ['r2', 'r3', 'r2', 'r1']);
      const s = await readLiveState(d);
      assert.deepEqual([s.live, s.previous, [...s.rolledBack.keys()]], ['r2', 'r1', ['r3']]);
      assert.deepEqual(s, liveState(await readHistory(d)));
      assert.equal(await readTip(join(d, 'no-store')), undefined, 'no store: no tip');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('the message keeps the event readable on its own; a malformed state is no state', () => {
    const e = ev('deploy', 'r1', 'r2');
    const message = eventMessage(e, { stack: ['r1', 'r2'], rolledBack: [] });
    assert.deepEqual(parseEventMessage(message), e);
    assert.deepEqual(parseStateOf(message), { stack: ['r1', 'r2'], rolledBack: [] });
    for (const bad of ['state {"stack":"r1","rolledBack":[]}', 'state {"stack":[],"rolledBack":[["r1"]]}', 'state not json', 'state {"stack":[1],"rolledBack":[]}']) {
      assert.equal(parseStateOf(`deploy r2: ok\n\n${JSON.stringify(e)}\n\n${bad}\n`), undefined, bad);
    }
  });

  test(`keeps the newest ${STATE_LIMIT} entries of each list`, () => {
    let s = { stack: [] as string[], rolledBack: [] as [string, string][] };
    for (let i = 1; i <= STATE_LIMIT + 10; i++) s = replay(s, ev('deploy', undefined, `r${i}`));
    assert.equal(s.stack.length, STATE_LIMIT);
    assert.equal(s.stack[s.stack.length - 1], `r${STATE_LIMIT + 10}`);
    assert.equal(s.stack[0], 'r11');
    for (let i = 1; i <= STATE_LIMIT + 10; i++) s = replay(s, ev('rollback', `r${100_000 + i}`, 'r1'));
    assert.equal(s.rolledBack.length, STATE_LIMIT);
    assert.equal(s.rolledBack[0]![0], 'r100011', 'the oldest marks go first');
  });
});

describe('drift on a host', () => {
  test('rsync itemized changes become named differences', () => {
    assert.deepEqual(
      parseDrift(['>fcs........ index.html', '*deleting   stray file.php', '>f+++++++++ app/new.py', '.f...p..... app/settings_local.py', 'cL+++++++++ link', 'cd+++++++++ static/img/', '>fc........ same size.txt']),
      [
        { kind: 'modified', path: 'index.html' },
        { kind: 'extra', path: 'stray file.php' },
        { kind: 'missing', path: 'app/new.py' },
        { kind: 'mode', path: 'app/settings_local.py' },
        { kind: 'missing', path: 'link' },
        { kind: 'missing', path: 'static/img/' },
        { kind: 'modified', path: 'same size.txt' },
      ],
    );
  });

  test('inspect and repair are fixed scripts with quoted arguments', () => {
    const r = rel(7);
    const inspect = inspectCmd('/data/www/shop', r, 40123, 20, 'rsync');
    assert.deepEqual([inspect[0], inspect[1], ...inspect.slice(3)], ['sh', '-c', 'slipway-inspect', '/data/www/shop', r.commit, '40123', '20', 'rsync']);
    assert.match(String(inspect[2]), /--dry-run/);
    assert.match(String(inspect[2]), /--checksum/);
    const repair = repairCmd('/data/www/shop', r, 40123, 20, '/usr/bin/rsync');
    assert.deepEqual(repair.slice(3), ['slipway-repair', '/data/www/shop', `r7-${r.commit.slice(0, 12)}`, r.commit, '40123', '20', '/usr/bin/rsync']);
  });

  test('host outcomes summarise by state, naming hosts only when something is wrong', () => {
    assert.equal(
      summarizeHosts([
        { host: 'web1', state: 'switched' },
        { host: 'web2', state: 'staged' },
        { host: 'web3', state: 'switched' },
        { host: 'web4', state: 'failed', error: 'x' },
      ]),
      '2 switched, 1 staged (web2), 1 failed (web4)',
    );
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { summarizeHosts } from '../../src/cli/history.js';
import { inspectCmd, parseDrift, repairCmd } from '../../src/deploy/remote.js';
import {
  appendEvent,
  eventMessage,
  type HistoryEvent,
  liveState,
  parseEventMessage,
  previousRelease,
  readHistory,
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

// The feed's summary reads a store with few git processes whatever its size: the newest events
// with their commits, totals carried from the previous summary, every release's changed files
// in one diff-tree. Each is checked against the plain reading it replaces, on real stores.
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { addTotals, totalsFrom } from '../../src/feed/index.js';
import { changedFiles, changedFilesAgainst } from '../../src/release-store/diff.js';
import { appendEvent, type HistoryEvent, readEntries, readHistory } from '../../src/release-store/history.js';
import type { Release } from '../../src/release-store/release.js';
import { commitRelease } from '../../src/release-store/store.js';
import { FACTS, withStore } from '../support/store.js';

const ev = (kind: HistoryEvent['kind'], to: string, result: HistoryEvent['result'] = 'ok'): HistoryEvent => ({ kind, who: 'alice', at: '2026-01-01T00:00:00Z', to, result, hosts: [] });

const sortTotals = (ts: readonly { kind: string; result: string; count: number }[]) => [...ts].sort((a, b) => `${a.kind} ${a.result}`.localeCompare(`${b.kind} ${b.result}`));

describe('history entries', () => {
  test('readEntries gives each event with its commit and the state after it, newest first, as readHistory gives the events', async () => {
    await withStore(async (www) => {
      assert.deepEqual(await readEntries(www), [], 'no history yet');
      const events = [ev('deploy', 'r1'), ev('deploy', 'r2', 'failed'), ev('rollback', 'r1'), ev('sync', 'r1')];
      for (const e of events) await appendEvent(www, e);
      const entries = await readEntries(www);
      assert.deepEqual(entries.map((e) => e.event), await readHistory(www));
      assert.deepEqual(entries.map((e) => e.event?.kind), ['sync', 'rollback', 'deploy', 'deploy']);
      assert.ok(entries.every((e) => /^[0-9a-f]{40}$/.test(e.commit)), 'commit ids');
      assert.equal(new Set(entries.map((e) => e.commit)).size, 4);
      assert.deepEqual(entries[0]!.state?.stack, ['r1'], 'the tip carries the state after it');
      assert.deepEqual((await readEntries(www, 2)).map((e) => e.commit), entries.slice(0, 2).map((e) => e.commit), 'the newest n');
    });
  });
});

describe('history totals carried from summary to summary', () => {
  test('equal to counting the whole history, after every event, with the window smaller than the history', async () => {
    await withStore(async (www) => {
      const limit = 3;
      let previous: { historyTotals: ReturnType<typeof addTotals>; historyTip: string | null } | undefined;
      const kinds: [HistoryEvent['kind'], HistoryEvent['result']][] = [['deploy', 'ok'], ['deploy', 'failed'], ['rollback', 'ok'], ['deploy', 'ok'], ['sync', 'partial'], ['deploy', 'ok'], ['deploy', 'ok']];
      for (const [i, [kind, result]] of kinds.entries()) {
        await appendEvent(www, ev(kind, `r${i + 1}`, result));
        const recent = await readEntries(www, limit);
        const totals = totalsFrom(recent, limit, previous);
        assert.ok(totals, `event ${i + 1}: counted from the previous summary or the short history`);
        assert.deepEqual(sortTotals(totals), sortTotals(addTotals([], await readHistory(www))), `event ${i + 1}`);
        previous = { historyTotals: totals, historyTip: recent[0]!.commit };
      }
    });
  });

  test('a previous summary whose tip is out of the window, or that has none, asks for the whole history', async () => {
    await withStore(async (www) => {
      for (let i = 1; i <= 5; i++) await appendEvent(www, ev('deploy', `r${i}`));
      const all = await readEntries(www);
      const recent = all.slice(0, 2);
      assert.equal(totalsFrom(recent, 2, undefined), undefined, 'no previous summary, more history than the window');
      assert.equal(totalsFrom(recent, 2, { historyTotals: [], historyTip: all[4]!.commit }), undefined, 'its tip is older than the window');
      assert.equal(totalsFrom(recent, 2, { historyTotals: [] }), undefined, 'a summary from before totals had a tip');
      assert.deepEqual(totalsFrom(recent, 2, { historyTotals: [{ kind: 'deploy', result: 'ok', count: 4 }], historyTip: all[1]!.commit }), [{ kind: 'deploy', result: 'ok', count: 5 }]);
    });
  });
});

describe('changed files of many releases in one git process', () => {
  test('the same as one git diff per release: statuses, paths, private files marked, unchanged releases empty', async () => {
    await withStore(async (www) => {
      const releases: Release[] = [];
      const commit = async (files: Record<string, string | null>, privateFiles: string[] = []) => {
        for (const [path, body] of Object.entries(files)) {
          if (body === null) await rm(join(www, path), { force: true });
          else {
            await mkdir(join(www, path, '..'), { recursive: true });
            await writeFile(join(www, path), body);
          }
        }
        const { release } = await commitRelease(www, FACTS, privateFiles);
        releases.push(release);
      };
      await commit({ 'index.html': 'one', 'a b/c.txt': 'x', 'settings.py': 'secret=1' }, ['settings.py']);
      await commit({ 'index.html': 'two', 'new.js': 'n' }, ['settings.py']);
      await commit({ 'a b/c.txt': null, 'settings.py': 'secret=2', '0123456789012345678901234567890123456789': 'a name like a commit id' }, ['settings.py']);
      await commit({ 'new.js': 'n2' });
      const live = releases[3]!;
      const others = releases.slice(0, 3);
      const many = await changedFilesAgainst(www, live, others);
      for (const r of others) assert.deepEqual(many.get(r.id), await changedFiles(www, live, r), r.id);
      assert.ok(many.get(releases[0]!.id)!.some((c) => c.path === 'settings.py' && c.private), 'a private file is named and marked');
      assert.deepEqual((await changedFilesAgainst(www, live, [live])).get(live.id), [], 'a release against itself');
      assert.equal((await changedFilesAgainst(www, live, [])).size, 0);
    });
  });
});

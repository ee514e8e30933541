import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deltaInput, stageCmd } from '../../src/deploy/remote.js';
import { baseOf } from '../../src/release-store/delta.js';
import type { Release } from '../../src/release-store/release.js';

const rel = (n: number, privateFiles: string[] = []): Release => ({
  id: `r${n}`,
  number: n,
  commit: String(n).repeat(40).slice(0, 40),
  date: '2026-01-01T00:00:00Z',
  deployer: 'alice',
  submodules: [],
  privateFiles,
});

describe('staging command and its base release', () => {
  it('the base is the newest release older than the one shipped, whatever the list order', () => {
    assert.equal(baseOf(rel(5), [rel(3), rel(6), rel(4), rel(5)])?.id, 'r4');
    assert.equal(baseOf(rel(1), [rel(1)]), undefined);
  });

  it('passes the base release, the private mode, the payload kind and the private files as separate arguments', () => {
    const cmd = stageCmd('/data/www/shop', rel(5, ['app/my settings.py']), 4242, 20, 'rsync', { delta: { from: rel(4) }, mode: 0o640 });
    assert.deepEqual(cmd.slice(4), [
      '/data/www/shop', 'r5-555555555555', '5'.repeat(40), '4242', '20', 'rsync', '',
      'r4-444444444444', '4'.repeat(40), '0640', 'list', '', 'app/my settings.py',
    ]);
    assert.equal(cmd[0], 'sh');
  });

  it('with a tar payload, the deleted paths travel as one newline-separated argument', () => {
    const cmd = stageCmd('/data/www/shop', rel(5), 4242, 20, 'rsync', { delta: { from: rel(4), deleted: ['old/a b', "it's"] }, mode: 0o600 });
    assert.deepEqual(cmd.slice(13), ['0600', 'tar', "old/a b\nit's"]);
  });

  it('without a base, the delta arguments are empty and hosts pull the whole tree', () => {
    const cmd = stageCmd('/data/www/shop', rel(1), 4242, 20, 'rsync');
    assert.deepEqual(cmd.slice(11, 16), ['', '', '0640', '', '']);
  });

  it('lists deletions then changes, one tagged line per path, spaces and quotes kept as they are', () => {
    assert.equal(deltaInput({ changed: ['a b.txt', "it's/x"], deleted: ['old/$y'] }), "Dold/$y\nCa b.txt\nCit's/x\n");
    assert.equal(deltaInput({ changed: [], deleted: [] }), '');
  });
});

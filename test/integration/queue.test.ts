/**
 * Several CI runs waiting on one app-env coalesce: only the newest request is
 * deployed, the ones it overtook end "superseded" (exit 6) having done nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { CLI, type World, git, makeWorld } from '../support/world.js';

describe('a queue of waiting deploys coalesces', { timeout: 180_000 }, () => {
  let w: World;
  const served = async (i: number) => (await fetch(`${w.fleet.hosts[i]!.httpUrl}/${w.app}/index.html`)).text();
  const start = (...args: string[]) =>
    execa('node', [CLI, ...args], {
      reject: false,
      all: true,
      env: { SLIPWAY_APPS: w.appsDir, SLIPWAY_ROOT: w.root, CI: '1' },
      timeout: 120_000,
    });
  const until = async (test: () => boolean, what: string) => {
    for (let i = 0; i < 400 && !test(); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(test(), `timed out waiting for ${what}`);
  };

  before(async () => {
    w = await makeWorld({ net: '127.0.13', size: 2 });
    // an admin task that waits for the test keeps the first run holding the lock while the others queue
    await w.writeApp({ appExtra: `tasks: [['sh', '-c', 'test ! -e SLOW || while [ ! -e "$0" ]; do sleep 0.05; done', ${JSON.stringify(join(w.dir, 'go'))}]],` });
  });
  after(async () => {
    await w?.down();
  });

  it('only the newest of several waiting runs deploys; the older waiters end superseded', async () => {
    const v2 = await w.commit({ 'index.html': '<h1>v2</h1>\n', SLOW: '1' });
    const v3 = await w.commit({ 'index.html': '<h1>v3</h1>\n', SLOW: null });
    const v4 = await w.commit({ 'index.html': '<h1>v4</h1>\n' });

    let firstOut = '';
    const first = start(w.target, '--revision', v2);
    first.all?.on('data', (d: Buffer) => (firstOut += d.toString()));
    await until(() => firstOut.includes('source at'), 'the first run to hold the lock');
    let olderOut = '';
    const older = start(w.target, '--revision', v3, '--wait', '60s');
    older.all?.on('data', (d: Buffer) => (olderOut += d.toString()));
    await until(() => olderOut.includes('waiting up to'), 'the older request to queue');
    let newerOut = '';
    const newer = start(w.target, '--revision', v4, '--wait', '60s');
    newer.all?.on('data', (d: Buffer) => (newerOut += d.toString()));
    await until(() => newerOut.includes('waiting up to'), 'the newer request to queue');
    await writeFile(join(w.dir, 'go'), '');

    const [a, b, c] = await Promise.all([first, older, newer]);
    assert.equal(a.exitCode, 0, a.all);
    assert.equal(b.exitCode, 6, b.all);
    assert.match(b.all ?? '', /superseded: a newer request (is waiting \(pid \d+, revision [0-9a-f]{40}\)|\(ticket [0-9-]+\) has already been deployed); nothing was deployed by this run/);
    assert.doesNotMatch(b.all ?? '', /committed release/);
    assert.equal(c.exitCode, 0, c.all);
    assert.equal(await served(0), '<h1>v4</h1>\n');
    assert.equal(await served(1), '<h1>v4</h1>\n');
    const sources = (await w.deploy('releases', w.target)).stdout;
    assert.ok(!sources.includes(v3.slice(0, 12)), `v3 was never released:\n${sources}`);
    assert.equal((await git(w.www, 'tag', '--list')).split('\n').length, 2, 'only v2 and v4 made releases');
  });

  it('a lone waiter is not superseded by tickets of runs that are gone', async () => {
    const v5 = await w.commit({ 'index.html': '<h1>v5</h1>\n' });
    const r = await w.deploy(w.target, '--revision', v5, '--wait', '5s');
    assert.equal(r.exitCode, 0, r.all);
    assert.equal(await served(0), '<h1>v5</h1>\n');
  });
});

/**
 * The release store after a deploy killed with SIGKILL (the whole process group, git
 * included, as a crash would): right after a host switched, right after the run reported
 * success, and in the middle of the pack a release is written as. Whatever the store holds
 * then is consistent (`git fsck`), what the run had reached is kept, and the next deploy works.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { CLI, git, makeWorld, type World } from '../support/world.js';

describe('the release store survives a kill -9', { timeout: 300_000 }, () => {
  let w: World;
  const fsck = () => execa('git', ['-C', w.www, 'fsck', '--full', '--strict', '--no-progress'], { reject: false, all: true });
  const history = () => git(w.www, 'log', '--format=%s', 'refs/slipway/history');

  /**
   * Start a deploy in its own process group and SIGKILL the group as soon as `when` says so
   * (`when` is given each chunk of output, and may also be triggered from outside).
   */
  function deployKilledWhen(when: (output: string) => boolean): { output: () => string; killNow: () => void; done: Promise<number | undefined> } {
    const child = execa('node', [CLI, w.target], {
      reject: false,
      all: true,
      detached: true,
      env: { SLIPWAY_APPS: w.appsDir, SLIPWAY_ROOT: w.root, CI: '1' },
      timeout: 120_000,
    });
    let output = '';
    let killed = false;
    const killNow = () => {
      if (killed) return;
      killed = true;
      process.kill(-child.pid!, 'SIGKILL');
    };
    child.all!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (when(output)) killNow();
    });
    const done = child.then((r) => {
      assert.ok(killed, `the deploy ended before it was killed:\n${output}`);
      return r.exitCode;
    });
    return { output: () => output, killNow, done };
  }

  before(async () => {
    w = await makeWorld({ net: '127.0.77' });
  });
  after(async () => {
    await w?.down();
  });

  it('killed right after a host switched: the release is in the store, which is sound; the next deploy finishes', async () => {
    const run = deployKilledWhen((out) => /live on r1/.test(out));
    await run.done;
    assert.equal(await git(w.www, 'rev-parse', 'r1^{commit}'), await git(w.www, 'rev-parse', 'releases'));
    const check = await fsck();
    assert.equal(check.exitCode, 0, check.all);
    const next = await w.deploy(w.target);
    assert.equal(next.exitCode, 0, next.all);
    assert.match(next.stderr, /r1 \([0-9a-f]{12}\) live on 3\/3 hosts/);
  });

  it('killed right after it reported success: the release and its history event are in the store', async () => {
    await w.commit({ 'index.html': '<h1>shop v2</h1>\n' });
    const run = deployKilledWhen((out) => /r2 \([0-9a-f]{12}\) live on 3\/3 hosts/.test(out));
    await run.done;
    await git(w.www, 'rev-parse', 'r2^{commit}');
    assert.match((await history()).split('\n')[0]!, /^deploy r1 -> r2: ok$/);
    const check = await fsck();
    assert.equal(check.exitCode, 0, check.all);
  });

  it('killed while the release pack is written: no release, a sound store, and the next deploy makes it', async () => {
    // a big file that does not compress, so the pack takes a moment to write
    await writeFile(join(w.work, 'big.bin'), randomBytes(48 << 20));
    await w.commit({ 'index.html': '<h1>shop v3</h1>\n' });
    const packDir = join(w.www, '.git', 'objects', 'pack');
    const run = deployKilledWhen(() => false);
    // the store's git creates the pack under a temporary name, renamed once it is complete
    const watcher = watch(packDir, (_event, name) => {
      if (name?.startsWith('tmp_pack_')) run.killNow();
    });
    await run.done.finally(() => watcher.close());
    assert.doesNotMatch(run.output(), /committed release r3/, 'killed before the release was committed');
    assert.deepEqual((await git(w.www, 'tag', '--list')).split('\n'), ['r1', 'r2']);
    const check = await fsck();
    assert.equal(check.exitCode, 0, check.all);
    const next = await w.deploy(w.target);
    assert.equal(next.exitCode, 0, next.all);
    assert.match(next.stderr, /r3 \([0-9a-f]{12}\) live on 3\/3 hosts/);
    assert.match((await history()).split('\n')[0]!, /^deploy r2 -> r3: ok$/);
    assert.equal((await fsck()).exitCode, 0);
  });
});

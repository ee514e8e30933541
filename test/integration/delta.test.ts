/**
 * The delta path of staging: a host that has the previous release copies it as hard
 * links and pulls only the paths that differ. Whatever path a host takes, it must end
 * with exactly the release commit's tree, and the base release must not change.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type World, commitTree, git, makeWorld, treeOf } from '../support/world.js';

/** Where a host records the commit of a release: beside it. */
const recordOf = (dir: string) => join(dirname(dir), `.${basename(dir)}.rev`);

describe('staging a release from the previous one (delta)', { timeout: 300_000 }, () => {
  let w: World;
  /** The newest release's number, for the tests after the one whose rounds may add releases. */
  let newest = 4;
  const releaseDir = (i: number, id: string) => {
    const releases = join(w.remoteBase(w.fleet.hosts[i]!), 'releases');
    const dir = readdirSync(releases).find((d) => d.startsWith(`${id}-`));
    assert.ok(dir, `${w.fleet.hosts[i]!.name} has ${id}`);
    return join(releases, dir);
  };
  const expectExact = async (id: string) => {
    const expected = await commitTree(w.www, await git(w.www, 'rev-parse', id));
    for (let i = 0; i < w.fleet.hosts.length; i++) assert.deepEqual(treeOf(releaseDir(i, id)), expected, `${w.fleet.hosts[i]!.name}: ${id} is exactly its commit`);
  };
  const deploy = async () => {
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    return r;
  };

  before(async () => {
    w = await makeWorld({ net: '127.0.73', size: 2 });
    await deploy();
  });
  after(async () => {
    await w?.down();
  });

  it('deletes, changes, adds and re-modes exactly the paths that differ; empty dirs go; the base is untouched', async () => {
    await w.commit({ 'keep.txt': 'keep\n', 'gone/only.txt': 'bye\n', 'change.txt': 'v1\n', 'run.sh': 'echo hi\n' });
    await deploy();
    await expectExact('r2');
    const r2Before = await commitTree(w.www, await git(w.www, 'rev-parse', 'r2'));

    chmodSync(join(w.work, 'run.sh'), 0o755);
    await w.commit({ 'gone/only.txt': null, 'change.txt': 'v2\n', 'new/deep/file.txt': 'new\n' });
    const r = await deploy();
    assert.equal((r.stderr.match(/staged r3 \(3 files, .* received, delta from r2\)/g) ?? []).length, 2, r.stderr);
    await expectExact('r3');
    for (let i = 0; i < 2; i++) {
      const [r2, r3] = [releaseDir(i, 'r2'), releaseDir(i, 'r3')];
      assert.ok(!existsSync(join(r3, 'gone')), 'a dir emptied by deletions does not survive');
      assert.equal(statSync(join(r3, 'run.sh')).mode & 0o111, 0o111, 'the new mode is applied');
      assert.equal(statSync(join(r2, 'run.sh')).mode & 0o111, 0, 'the base release keeps its mode');
      assert.equal(statSync(join(r2, 'keep.txt')).ino, statSync(join(r3, 'keep.txt')).ino, 'unchanged files are hard links');
      assert.deepEqual(treeOf(r2), r2Before, 'the base release did not change');
      assert.equal(statSync(join(r3, 'app/settings_local.py')).mode & 0o777, 0o640);
    }
  });

  it('a host whose base release is not intact gets a delta from a release it does hold, and ends the same', async () => {
    writeFileSync(recordOf(releaseDir(1, 'r3')), 'not-this-one\n');
    await w.commit({ 'change.txt': 'v3\n' });
    const r = await deploy();
    assert.match(r.stderr, /\[web1\] staged r4 \(1 file, .*, delta from r3\)/);
    assert.match(r.stderr, /\[web2\] staged r4 \(\d+ files?, .*, delta from r2\)/, 'web2 builds on the newest release it holds intact');
    await expectExact('r4');
  });

  it('a host that changed after it was probed refuses the tar, and is staged with rsync instead', async () => {
    // The admin task breaks web2's copy of the newest release. The hosts are looked at while the
    // update runs, so the look usually comes first (then the tar is refused and web2 falls back to
    // rsync) but may come after (then web2 takes a delta from an older release it holds): a
    // round of the second kind is still checked exactly, and the next round tries again.
    let fellBack = false;
    for (let round = 0, release = 5; round < 4 && !fellBack; round++, release++, newest++) {
      const broken = recordOf(releaseDir(1, `r${release - 1}`));
      await w.writeApp({ appExtra: `tasks: [['sh', '-c', ${JSON.stringify(`echo changed > '${broken}'`)}]],` });
      await w.commit({ 'change.txt': `v3b-${round}\n` });
      const r = await deploy();
      assert.match(r.stderr, new RegExp(`\\[web1\\] staged r${release} \\(1 file, .*, delta from r${release - 1}\\)`));
      fellBack = new RegExp(`\\[web2\\] staged r${release} \\(\\d+ files?, [^,]* received\\) in`).test(r.stderr);
      if (!fellBack) assert.match(r.stderr, new RegExp(`\\[web2\\] staged r${release} \\(.*delta from r\\d+\\)`), r.stderr);
      await expectExact(`r${release}`);
    }
    assert.ok(fellBack, 'in one of four rounds the look came before the task, and web2 pulled with rsync, linking what it has');
    await w.writeApp({});
  });

  it('a new private mode reaches the new release without touching the previous one', async () => {
    await w.writeApp({ appExtra: "private: { mode: '0600' }," });
    await w.commit({ 'change.txt': 'v4\n' });
    const r = await deploy();
    const [now, before] = [`r${++newest}`, `r${newest - 1}`];
    assert.equal((r.stderr.match(new RegExp(`staged ${now} \\(1 file,`, 'g')) ?? []).length, 2, r.stderr);
    for (let i = 0; i < 2; i++) {
      assert.equal(statSync(join(releaseDir(i, now), 'app/settings_local.py')).mode & 0o777, 0o600);
      assert.equal(statSync(join(releaseDir(i, before), 'app/settings_local.py')).mode & 0o777, 0o640);
    }
    await expectExact(now);
  });

  it('a release the prune would remove next lends its tree: the delta is applied there, and the live release is untouched', async () => {
    // keeping 2, every release but the live one is spare: the newest, the one before the live
    // one, differs from the new release in change.txt alone, as the live one does
    await w.writeApp({ remoteExtra: 'keepReleases: 2' });
    const [spare, live, now] = [`r${newest - 1}`, `r${newest}`, `r${newest + 1}`];
    const liveBefore = [0, 1].map((i) => treeOf(releaseDir(i, live)));
    await w.commit({ 'change.txt': 'v4b\n' });
    const r = await deploy();
    newest++;
    assert.equal((r.stderr.match(new RegExp(`staged ${now} \\(1 file, .* received, delta from ${spare} in its own tree\\)`, 'g')) ?? []).length, 2, r.stderr);
    await expectExact(now);
    for (let i = 0; i < 2; i++) {
      assert.deepEqual(treeOf(releaseDir(i, live)), liveBefore[i], `${w.fleet.hosts[i]!.name}: the release live before is untouched`);
      const releases = join(w.remoteBase(w.fleet.hosts[i]!), 'releases');
      assert.ok(!readdirSync(releases).some((d) => d.startsWith(`${spare}-`) || d.startsWith(`.${spare}-`)), 'the spare and its records are gone');
      assert.equal(statSync(join(releaseDir(i, now), 'keep.txt')).ino, statSync(join(releaseDir(i, live), 'keep.txt')).ino, 'unchanged files are shared');
      const served = readFileSync(join(w.remoteBase(w.fleet.hosts[i]!), '.switched'), 'utf8');
      assert.ok(!served.includes(`${spare}-`), 'the served log no longer names the spare');
    }
    // the hosts held more than 2: they prune down to the new release and the one before it
    assert.equal((r.stderr.match(/pruned r/g) ?? []).length, 2, r.stderr);
    for (let i = 0; i < 2; i++) assert.deepEqual(readdirSync(join(w.remoteBase(w.fleet.hosts[i]!), 'releases')).filter((d) => !d.startsWith('.')).map((d) => d.split('-')[0]).sort(), [live, now].sort());
    await w.writeApp({});
  });

  it('a delta too big for one tar is pulled path by path with rsync, and ends the same', async () => {
    // 17 MB that does not compress: over the tar payload's 16 MB
    const big = Buffer.alloc(17 * 1024 * 1024);
    for (let i = 0, x = 1; i < big.length; i++) big[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    writeFileSync(join(w.work, 'big.bin'), big);
    await w.commit({ 'keep.txt': null, 'change.txt': 'v5\n' });
    const r = await deploy();
    const [now, before] = [`r${++newest}`, `r${newest - 1}`];
    assert.equal((r.stderr.match(new RegExp(`staged ${now} \\(2 files, .* received, delta from ${before}\\)`, 'g')) ?? []).length, 2, r.stderr);
    await expectExact(now);
  });

});

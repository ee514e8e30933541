/**
 * A hand edit on a host (#15 §7): release files are hard links shared between releases, so
 * appending to `current/index.html` also changes every kept release holding that inode.
 * `status` names each such release, `rollback` never switches to one (it stages it again),
 * and `sync` repairs the live one and removes the kept ones.
 */
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type World, commitTree, git, makeWorld, treeOf } from '../support/world.js';

describe('hand edits of files shared between releases', { timeout: 300_000 }, () => {
  let w: World;
  const commitOf = (id: string) => git(w.www, 'rev-parse', `${id}^{commit}`);

  async function assertServes(id: string) {
    const expected = await commitTree(w.www, await commitOf(id));
    for (const host of w.fleet.hosts) {
      const live = w.liveDir(host)!;
      assert.equal(basename(live).split('-')[0], id, `${host.name} serves ${id}`);
      assert.deepEqual(treeOf(live), expected, `${host.name} serves exactly ${id}`);
      assert.ok(existsSync(join(dirname(live), `.${basename(live)}.manifest`)), `${host.name}: ${id} has its manifest`);
    }
  }

  before(async () => {
    w = await makeWorld({ net: '127.0.88', size: 2 });
  });
  after(async () => {
    await w?.down();
  });

  it('deploys r1 and r2 (index.html unchanged: one inode in both releases)', async () => {
    assert.equal((await w.deploy(w.target)).exitCode, 0);
    await w.commit({ 'about.html': '<h1>about</h1>\n' });
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    await assertServes('r2');
  });

  it('`deploy status` names both releases holding the edited inode; `deploy rollback` stages r1 again on that host and serves its exact tree', async () => {
    const web2 = w.fleet.hosts[1]!;
    const index = join(w.liveDir(web2)!, 'index.html');
    const inode = statSync(index).ino;
    appendFileSync(index, '<!-- hotfix by hand -->\n');

    const status = await w.deploy('status', w.target);
    assert.equal(status.exitCode, 1, status.all);
    assert.match(status.stdout, /^web1 +r2 +[0-9a-f]{12} {2}ok(, newest)?$/m);
    assert.match(status.stdout, /^web2 +r2 +[0-9a-f]{12} {2}MODIFIED: 1 difference: modified index\.html(, newest)?$/m);
    assert.match(status.stdout, /^ +r1 +kept {2}EDITED: had been edited by hand \(1 file differs\)$/m);
    assert.equal((status.stdout.match(/kept {2}EDITED/g) ?? []).length, 1, 'web1 keeps r1 intact');
    assert.match(status.stderr, /1 host keeps releases edited by hand: run deploy sync/);

    const r = await w.deploy('rollback', w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /web2: r1 had been edited by hand \(1 file differs\): staging it again/);
    assert.match(r.stderr, /\[web1\] r1 already staged/);
    await assertServes('r1');
    assert.notEqual(statSync(join(w.liveDir(web2)!, 'index.html')).ino, inode, 'r1 got a fresh inode, the edited one is not served');
  });

  it('`deploy sync` removes a kept release edited by hand, so a later rollback stages it again', async () => {
    const web2 = w.fleet.hosts[1]!;
    // r1 is live again; the edited inode is still in r2 on web2
    const status = await w.deploy('status', w.target);
    assert.equal(status.exitCode, 1, status.all);
    assert.match(status.stdout, /^ +r2 +kept {2}EDITED: had been edited by hand \(1 file differs\)$/m);
    const r = await w.deploy('sync', w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /\[web2\] removed r2 \(edited by hand\)/);
    assert.ok(!readdirSync(join(w.remoteBase(web2), 'releases')).some((d) => d.startsWith('r2-') || d.startsWith('.r2-')), 'r2 gone from web2, with its record and manifest');
    const again = await w.deploy('status', w.target);
    assert.equal(again.exitCode, 0, again.all);
    assert.doesNotMatch(again.stdout, /EDITED/);
    const back = await w.deploy('rollback', w.target, '--to', 'r2');
    assert.equal(back.exitCode, 0, back.all);
    await assertServes('r2');
  });
});

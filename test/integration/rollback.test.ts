/**
 * Rollback, history, diff and drift on a real loopback fleet: four hosts, of
 * which the app file lists three until a test adds the fourth.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync, symlinkSync, renameSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type World, commitTree, git, makeWorld, treeOf } from '../support/world.js';

const MIGRATIONS = `migrations: ['app/migrations/'],`;

describe('rollback, history and drift', { timeout: 300_000 }, () => {
  let w: World;
  const listed = () => w.fleet.hosts.slice(0, 3);
  const http = async (i: number, path: string) => (await fetch(`${w.fleet.hosts[i]!.httpUrl}/${w.app}/${path}`)).text();
  const commitOf = (id: string) => git(w.www, 'rev-parse', `${id}^{commit}`);
  const tags = () => git(w.www, 'tag', '--list').then((t) => t.split('\n').filter(Boolean).sort());
  const liveIds = (hosts = w.fleet.hosts) => hosts.map((h) => w.liveDir(h)?.split('/').pop()?.split('-')[0]);
  const count = (text: string, re: RegExp) => (text.match(re) ?? []).length;
  const setPrivate = (content: string) => writeFile(join(w.privateDir, 'app', 'settings_local.py'), content);

  /** Every listed host serves exactly the tree of this release commit. */
  async function assertServes(id: string, hosts = listed()) {
    const commit = await commitOf(id);
    const expected = await commitTree(w.www, commit);
    for (const host of hosts) {
      const live = w.liveDir(host);
      assert.ok(live, `${host.name} serves something`);
      assert.deepEqual(treeOf(live), expected, `${host.name} serves exactly ${id}`);
      assert.equal(readFileSync(join(dirname(live), `.${basename(live)}.rev`), 'utf8').trim(), commit, host.name);
    }
  }

  before(async () => {
    w = await makeWorld({ net: '127.0.40', size: 4, appHosts: 3, appExtra: MIGRATIONS });
  });
  after(async () => {
    await w?.down();
  });

  it('deploys r1, r2 and r3, the private settings changing between r1 and r2', async () => {
    for (const n of [1, 2, 3]) {
      if (n > 1) await w.commit({ 'index.html': `<h1>shop v${n}</h1>\n` });
      if (n === 2) await setPrivate('SECRET_KEY = "private-v2"\n');
      const r = await w.deploy(w.target);
      assert.equal(r.exitCode, 0, r.all);
    }
    assert.deepEqual(await tags(), ['r1', 'r2', 'r3']);
    assert.deepEqual(liveIds(listed()), ['r3', 'r3', 'r3']);
  });

  it('`deploy rollback` goes back to r2 by switching only: nothing is transferred', async () => {
    // sshd logs each command it starts: one per host, that looks and then switches
    const commands = () => listed().map((h) => count(readFileSync(join(w.fleet.dir, `${h.name}.log`), 'utf8'), /Starting session: command /g));
    const before = commands();
    const r = await w.deploy('rollback', w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.deepEqual(commands().map((n, i) => n - before[i]!), [1, 1, 1], 'one remote command per host for look and switch');
    assert.match(r.stderr, /rolled back r3 → r2 \([0-9a-f]{12}\), live on 3\/3 hosts/);
    assert.equal(count(r.stderr, /r2 already staged/g), 3, r.stderr);
    assert.doesNotMatch(r.stderr, /staged r2 \(/, 'no host pulled any file');
    assert.doesNotMatch(r.stderr, /\[admin\] (update|release)/, 'no rebuild, no admin tasks');
    assert.deepEqual(await tags(), ['r1', 'r2', 'r3'], 'a rollback makes no release');
    await assertServes('r2');
    assert.equal(await http(0, 'index.html'), '<h1>shop v2</h1>\n');
  });

  it('`deploy releases` marks the live release and the one rolled back from', async () => {
    const r = await w.deploy('releases', w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stdout, /^r3 +[0-9a-f]{12} {2}rolled-back /m);
    assert.match(r.stdout, /^r2 +[0-9a-f]{12} {2}live {9}/m);
    assert.match(r.stdout, /^r1 +[0-9a-f]{12} {2} {11} /m);
  });

  it('rollback --to r1 re-stages r1 from the store where it was pruned, private settings as they were in r1', async () => {
    const web1 = w.fleet.hosts[0]!;
    const releases = join(w.remoteBase(web1), 'releases');
    const r1dir = readdirSync(releases).find((d) => d.startsWith('r1-'))!;
    rmSync(join(releases, r1dir), { recursive: true }); // as pruning would have
    assert.match(readFileSync(join(w.www, 'app', 'settings_local.py'), 'utf8'), /private-v2/, 'the www tree holds the newer settings');

    const r = await w.deploy('rollback', w.target, '--to', 'r1');
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /\[web1\] staged r1 \([1-9][0-9]* files,/);
    assert.match(r.stderr, /\[web2\] r1 already staged/);
    assert.match(r.stderr, /\[web3\] r1 already staged/);
    await assertServes('r1');
    for (const host of listed()) {
      assert.equal(readFileSync(join(w.liveDir(host)!, 'app', 'settings_local.py'), 'utf8'), 'SECRET_KEY = "private-v1"\n', host.name);
    }
    assert.equal(await http(0, 'index.html'), '<h1>shop v1</h1>\n');
  });

  it('refuses a rollback that is already live, or to a release that does not exist, changing nothing', async () => {
    const same = await w.deploy('rollback', w.target, '--to', 'r1');
    assert.equal(same.exitCode, 2, same.all);
    assert.match(same.stderr, /r1 is already the live release/);
    const missing = await w.deploy('rollback', w.target, '--to', 'r99');
    assert.equal(missing.exitCode, 2, missing.all);
    assert.match(missing.stderr, /no release r99/);
    const hostile = await w.deploy('rollback', w.target, '--to=--upload-pack=touch /tmp/x');
    assert.equal(hostile.exitCode, 2, hostile.all);
    assert.deepEqual(liveIds(listed()), ['r1', 'r1', 'r1']);
  });

  it('`deploy diff` names the changed files, marks private ones and never shows their contents', async () => {
    const r = await w.deploy('diff', w.target, 'r1', 'r2', '--patch');
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stdout, /^r1 \([0-9a-f]{12}\) → r2 \([0-9a-f]{12}\): 2 files changed$/m);
    assert.match(r.stdout, /^M {2}index\.html$/m);
    assert.match(r.stdout, /^M {2}app\/settings_local\.py {2}\(private: contents not shown\)$/m);
    assert.match(r.stdout, /^\+<h1>shop v2<\/h1>$/m, 'public changes are shown with --patch');
    assert.doesNotMatch(r.all, /private-v[12]/, 'private contents never appear');
    const byDefault = await w.deploy('diff', w.target);
    assert.equal(byDefault.exitCode, 0, byDefault.all);
    assert.match(byDefault.stdout, /^r1 \([0-9a-f]{12}\) is the first release: nothing before it to compare with/m, 'default: live (r1) against the release before it');
    const fromOnly = await w.deploy('diff', w.target, 'r3');
    assert.match(fromOnly.stdout, /^r3 \([0-9a-f]{12}\) → r1 \([0-9a-f]{12}\): \d+ files? changed$/m, 'one release: against the live one');
  });

  it('refuses to roll back across a migration change without --force', async () => {
    await w.commit({ 'app/migrations/0002_add_orders.sql': 'CREATE TABLE orders (id int);\n', 'index.html': '<h1>shop v4</h1>\n' });
    const deployed = await w.deploy(w.target);
    assert.equal(deployed.exitCode, 0, deployed.all);
    assert.deepEqual(liveIds(listed()), ['r4', 'r4', 'r4']);

    const refused = await w.deploy('rollback', w.target);
    assert.equal(refused.exitCode, 2, refused.all);
    assert.match(refused.stderr, /refusing to roll back r4 → r1: migrations changed in between \(in r4\):\n {2}app\/migrations\/0002_add_orders\.sql\n/);
    assert.match(refused.stderr, /--force/);
    assert.deepEqual(liveIds(listed()), ['r4', 'r4', 'r4'], 'nothing changed');

    const forced = await w.deploy('rollback', w.target, '--force');
    assert.equal(forced.exitCode, 0, forced.all);
    assert.match(forced.stderr, /WARN: --force: rolling back across 1 changed migration file/);
    await assertServes('r1');
  });

  it('`deploy status` flags a host edited by hand and one serving another release; `deploy sync` repairs both and brings up a new host', async () => {
    const [web1, web2, web3, web4] = w.fleet.hosts as [typeof w.fleet.hosts[0], typeof w.fleet.hosts[0], typeof w.fleet.hosts[0], typeof w.fleet.hosts[0]];
    // web2: a hand edit to the live tree; its older releases share that inode, so write a new file in place of it
    const edited = join(w.liveDir(web2)!, 'index.html');
    writeFileSync(`${edited}.tmp`, '<h1>hotfix by hand</h1>\n');
    renameSync(`${edited}.tmp`, edited);
    writeFileSync(join(w.liveDir(web2)!, 'stray.php'), '<?php // left behind\n');
    // web3: someone pointed current at another release
    const base3 = w.remoteBase(web3);
    const r4dir = readdirSync(join(base3, 'releases')).find((d) => d.startsWith('r4-'))!;
    symlinkSync(`releases/${r4dir}`, join(base3, '.current.test'));
    renameSync(join(base3, '.current.test'), join(base3, 'current'));

    const status = await w.deploy('status', w.target);
    assert.equal(status.exitCode, 1, status.all);
    assert.match(status.stdout, /^live release: r1 /m);
    assert.match(status.stdout, /^web1 +r1 +[0-9a-f]{12} {2}ok$/m);
    assert.match(status.stdout, /^web2 +r1 +[0-9a-f]{12} {2}MODIFIED: 2 differences: (modified index\.html, extra stray\.php|extra stray\.php, modified index\.html)$/m);
    assert.match(status.stdout, /^web3 +r4 +[0-9a-f]{12} {2}DRIFT: not the live r1, newest$/m);
    assert.match(status.stderr, /2 hosts differ from the live release r1: run deploy sync/);

    await w.writeApp({ appExtra: MIGRATIONS, appHosts: 4 }); // web4 joins the env with nothing on it
    const tagsBefore = await tags();
    const web1Before = w.liveDir(web1);
    const r = await w.deploy('sync', w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /r1 live on 4\/4 hosts \(1 already intact, 1 repaired, 2 switched\)/);
    assert.match(r.stderr, /\[web2\] r1 restaged and live \(1 file,/, 'only the edited file crossed the wire');
    assert.match(r.stderr, /\[web3\] r1 already staged/);
    assert.match(r.stderr, /\[web4\] staged r1 \(/);
    assert.deepEqual(await tags(), tagsBefore, 'sync makes no release');
    assert.equal(w.liveDir(web1), web1Before, 'an intact host is left alone');
    await assertServes('r1', [web1, web2, web3, web4]);
    assert.equal(await http(1, 'index.html'), '<h1>shop v1</h1>\n');
    assert.ok(!readdirSync(join(w.remoteBase(web2), 'releases')).some((d) => d.includes('.repair') || d.includes('.partial')), 'no leftovers');

    const again = await w.deploy('status', w.target);
    assert.equal(again.exitCode, 0, again.all);
    assert.equal(count(again.stdout, /^web\d +r1 +[0-9a-f]{12} {2}ok$/gm), 4, again.stdout);
  });

  it('records every deploy, rollback and sync, failures included, listed newest first by `deploy log`', async () => {
    const web4 = w.fleet.hosts[3]!;
    await w.fleet.stop(web4.name);
    try {
      await w.commit({ 'index.html': '<h1>shop v5</h1>\n' });
      const failed = await w.deploy(w.target);
      assert.equal(failed.exitCode, 1, failed.all);
    } finally {
      await w.fleet.start(web4.name);
    }
    const r = await w.deploy('log', w.target);
    assert.equal(r.exitCode, 0, r.all);
    const kinds = r.stdout
      .split('\n')
      .map((l) => /^\d{4}-\S+ {2}(\S+) +(.+?) {2,}(\S+) /.exec(l))
      .filter((m) => m !== null)
      .map((m) => `${m[1]} ${m[2]} ${m[3]}`);
    assert.deepEqual(kinds, [
      'deploy r1 -> none FAILED',
      'sync r1 ok',
      'rollback r4 -> r1 ok',
      'deploy r1 -> r4 ok',
      'rollback r2 -> r1 ok',
      'rollback r3 -> r2 ok',
      'deploy r2 -> r3 ok',
      'deploy r1 -> r2 ok',
      'deploy none -> r1 ok',
    ]);
    // web4 is down: the run stopped before cutting a release
    assert.match(r.stdout, /^\S+ +deploy +r1 -> none +FAILED +root +3 untouched \(web1, web2, web3\), 1 failed \(web4\)$/m);
    assert.match(r.stdout, /^ {4}.*web4: cannot connect/m);
    assert.match(r.stdout, /sync +r1 +ok +root +1 in-sync, 1 repaired, 2 switched$/m);

    const status = await w.deploy('status', w.target);
    assert.match(status.stdout, /^live release: r1 /m, 'a failed deploy does not change what the store has live');
    // the history is git data in the store: it survives a clone of it
    assert.match(await git(w.dir, 'ls-remote', w.www, 'refs/slipway/history'), /refs\/slipway\/history$/);
  });
});

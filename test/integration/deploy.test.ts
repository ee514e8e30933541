/**
 * End to end on a real loopback fleet: `deploy <app>-<env>` updates the source,
 * commits a release and ships it to every host, which pulls it over the
 * deploy's own SSH connection.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type World, commitTree, git, makeWorld, treeOf } from '../support/world.js';


describe('deploy end to end', { timeout: 300_000 }, () => {
  let w: World;
  const tags = () => git(w.www, 'tag', '--list').then((t) => t.split('\n').filter(Boolean));
  const http = async (i: number, path: string) => (await fetch(`${w.fleet.hosts[i]!.httpUrl}/${w.app}/${path}`)).text();

  before(async () => {
    w = await makeWorld({ net: '127.0.11', remoteExtra: 'keepReleases: 3' });
  });
  after(async () => {
    await w?.down();
  });

  it('first deploy: every host serves exactly the release commit, private files included', async () => {
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /r1 \([0-9a-f]{12}\) live on 3\/3 hosts/);
    assert.equal((r.stderr.match(/staged r1 \(\d+ files, .* received, sent while the release was committed\)/g) ?? []).length, 3, 'empty hosts got the tree during the commit');
    const commit = await git(w.www, 'rev-parse', 'r1');
    const expected = await commitTree(w.www, commit);
    assert.ok(expected.has('app/settings_local.py'), 'the private settings are in the release commit');
    assert.ok(expected.has('vendor/lib/lib.py'), 'the submodule content is in the release commit');
    for (const host of w.fleet.hosts) {
      const live = w.liveDir(host);
      assert.ok(live, `${host.name} has a current release`);
      assert.deepEqual(treeOf(live), expected, `${host.name} serves the release tree`);
      assert.equal(readFileSync(join(dirname(live), `.${basename(live)}.rev`), 'utf8').trim(), commit);
      assert.equal(statSync(join(live, 'app/settings_local.py')).mode & 0o777, 0o640, 'private files are not world-readable');
    }
    assert.equal(await http(0, 'index.html'), '<h1>shop v1</h1>\n');
  });

  it('never ships VCS metadata, but keeps .gitkeep', () => {
    for (const host of w.fleet.hosts) {
      const files = [...treeOf(w.liveDir(host)!).keys()];
      assert.deepEqual(files.filter((f) => /(^|\/)\.(git|hg)/.test(f)), ['static/.gitkeep'], host.name);
    }
  });

  it('the www tree shares the checkout\'s files (hard links), private files excepted', () => {
    const src = join(w.root, 'prod', 'src', 'shop');
    assert.equal(statSync(join(w.www, 'index.html')).ino, statSync(join(src, 'index.html')).ino, 'the release copied no bytes');
    assert.ok(!existsSync(join(src, 'app/settings_local.py')) || statSync(join(w.www, 'app/settings_local.py')).ino !== statSync(join(src, 'app/settings_local.py')).ino);
  });

  it('records who deployed and what source in the store, listed by `deploy releases`', async () => {
    const r = await w.deploy('releases', w.target);
    assert.equal(r.exitCode, 0, r.all);
    const source = await git(w.work, 'rev-parse', 'HEAD');
    assert.match(r.stdout, new RegExp(`^r1 .* root .* source ${source.slice(0, 12)} \\(main\\)  vendor/lib@[0-9a-f]{8}$`, 'm'));
  });

  it('a deploy with nothing changed makes no new release and transfers nothing', async () => {
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /no change since r1: no new release/);
    assert.equal((r.stderr.match(/r1 already staged/g) ?? []).length, 3);
    assert.deepEqual(await tags(), ['r1']);
    const log = await w.deploy('log', w.target, '-n', '1');
    assert.match(log.stdout, /deploy +r1 -> r1 +ok +\S+ +3 already-live$/m, 'the history does not claim switches that did not happen');
  });

  it('after a one-file change only that file crosses the wire; the rest is hard-linked', async () => {
    await w.commit({ 'index.html': '<h1>shop v2</h1>\n' });
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.equal((r.stderr.match(/staged r2 \(1 file,/g) ?? []).length, 3, r.stderr);
    for (const host of w.fleet.hosts) {
      const releases = join(w.remoteBase(host), 'releases');
      const [r1, r2] = readdirSync(releases).filter((d) => !d.startsWith('.')).sort();
      assert.ok(r1?.startsWith('r1-') && r2?.startsWith('r2-'));
      const inode = (rel: string, dir: string) => statSync(join(releases, dir, rel)).ino;
      assert.equal(inode('health.txt', r1!), inode('health.txt', r2!), `${host.name}: unchanged file is hard-linked`);
      assert.equal(inode('vendor/lib/lib.py', r1!), inode('vendor/lib/lib.py', r2!));
      assert.notEqual(inode('index.html', r1!), inode('index.html', r2!));
    }
    assert.equal(await http(2, 'index.html'), '<h1>shop v2</h1>\n');
    const diff = await w.deploy('diff', w.target);
    assert.match(diff.stdout, /^r1 \([0-9a-f]{12}\) → r2 \([0-9a-f]{12}\): 1 file changed\nM {2}index\.html$/m, 'by default, what the live release changed');
  });

  it('when one host cannot be reached, nothing is released or switched and the old release keeps serving', async () => {
    const web2 = w.fleet.hosts[1]!;
    const before = w.fleet.hosts.map((h) => w.liveDir(h));
    await w.fleet.stop(web2.name);
    try {
      await w.commit({ 'index.html': '<h1>shop v3</h1>\n' });
      const r = await w.deploy(w.target);
      assert.equal(r.exitCode, 1, r.all);
      assert.match(r.stderr, /web2: cannot connect to 127\.\d+\.11\.2:22/);
      assert.match(r.stderr, /stopped before the release: nothing was released, no host was touched/);
      assert.deepEqual(w.fleet.hosts.map((h) => w.liveDir(h)), before);
      assert.equal(await http(0, 'index.html'), '<h1>shop v2</h1>\n');
    } finally {
      await w.fleet.start(web2.name);
    }
    const again = await w.deploy(w.target);
    assert.equal(again.exitCode, 0, again.all);
    assert.match(again.stderr, /r3 .* live on 3\/3 hosts/);
    assert.equal(await http(1, 'index.html'), '<h1>shop v3</h1>\n');
  });

  it('keeps only the newest releases on each host (keepReleases), the live one included', async () => {
    for (const n of [4, 5]) {
      await w.commit({ 'index.html': `<h1>shop v${n}</h1>\n` });
      const r = await w.deploy(w.target);
      assert.equal(r.exitCode, 0, r.all);
    }
    for (const host of w.fleet.hosts) {
      const dirs = readdirSync(join(w.remoteBase(host), 'releases')).filter((d) => !d.startsWith('.')).sort();
      assert.deepEqual(dirs.map((d) => d.split('-')[0]), ['r3', 'r4', 'r5'], host.name);
      assert.ok(w.liveDir(host)!.includes('/r5-'));
    }
  });

  it('`deploy status` shows every host on the newest release', async () => {
    const r = await w.deploy('status', w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.equal((r.stdout.match(/ r5 .* newest$/gm) ?? []).length, 3, r.stdout);
  });

  it('--json on status, releases, log, plan and diff: one document each, matching what the store and the fleet hold', async () => {
    const json = async (...args: string[]) => {
      const r = await w.deploy(...args, '--json');
      assert.equal(r.exitCode, 0, r.all);
      assert.equal(r.stdout.trimEnd().split('\n').length, 1, `one document and nothing else on stdout: ${r.stdout}`);
      const doc = JSON.parse(r.stdout);
      assert.equal(doc.v, 1);
      assert.equal(doc.target, w.target);
      return doc;
    };
    const rev = (ref: string) => git(w.www, 'rev-parse', `${ref}^{commit}`).then((s) => s.trim());
    const names = w.fleet.hosts.map((h) => h.name);

    const releases = await json('releases', w.target);
    const ids = (await tags()).sort((a, b) => Number(b.slice(1)) - Number(a.slice(1)));
    assert.deepEqual(releases.releases.map((r: { id: string }) => r.id), ids);
    for (const r of releases.releases) assert.equal(r.commit, await rev(r.id), r.id);
    const live = releases.live as string;
    assert.equal(releases.releases.find((r: { mark: string }) => r.mark === 'live').id, live);

    const status = await json('status', w.target);
    assert.deepEqual(status.live, { id: live, commit: await rev(live), fromHistory: true });
    assert.deepEqual(status.hosts.map((h: { host: string }) => h.host), names);
    assert.deepEqual(status.problems, []);
    for (const host of w.fleet.hosts) {
      const dir = w.liveDir(host)!;
      const h = status.hosts.find((x: { host: string }) => x.host === host.name);
      assert.equal(h.release, basename(dir).split('-')[0], host.name);
      assert.equal(h.revision, readFileSync(join(dirname(dir), `.${basename(dir)}.rev`), 'utf8').trim(), host.name);
      assert.equal(h.verdict, 'in-sync', host.name);
    }

    const log = await json('log', w.target);
    const recorded = Number((await git(w.www, 'rev-list', '--first-parent', '--count', 'refs/slipway/history')).trim());
    assert.equal(log.events.length, recorded);
    assert.equal(log.events[0].to, live);
    assert.equal(log.events[0].result, 'ok');
    assert.deepEqual(log.events[0].hosts.map((h: { host: string }) => h.host).sort(), [...names].sort());
    assert.equal((await json('log', w.target, '-n', '2')).events.length, 2);

    const plan = await json('plan', w.target);
    assert.deepEqual(plan.release, { id: live, created: false, commit: await rev(live), source: plan.release.source, subject: plan.release.subject });
    assert.equal(plan.release.source, (await git(w.work, 'rev-parse', 'HEAD')).trim());
    assert.deepEqual(plan.hosts, names);
    const planned = plan.phases.flatMap((p: { hosts: unknown[] }) => p.hosts);
    assert.deepEqual(planned.map((h: { host: string; serves: string; nothingToDo: boolean }) => [h.host, h.serves, h.nothingToDo]).sort(), names.map((n) => [n, live, true]).sort());

    const diff = await json('diff', w.target);
    assert.equal(diff.to.id, live);
    assert.equal(diff.to.commit, await rev(live));
    assert.equal(diff.from.commit, await rev(diff.from.id));
    const changed = (await git(w.www, 'diff', '--name-only', '--no-renames', diff.from.commit, diff.to.commit)).split('\n').filter(Boolean);
    assert.deepEqual(diff.files.map((f: { path: string }) => f.path), changed);
    assert.equal(diff.patch, null);
  });

  it('tables size their columns to the content: a long host name keeps the columns after it aligned', async () => {
    const long = 'web3.rack-b.eu-west-1.example.internal';
    const appFile = join(w.appsDir, `${w.app}.ts`);
    await writeFile(appFile, (await readFile(appFile, 'utf8')).replace(`name: '${w.fleet.hosts[2]!.name}'`, `name: '${long}'`));
    try {
      const status = await w.deploy('status', w.target);
      assert.equal(status.exitCode, 0, status.all);
      const rows = status.stdout.split('\n').filter((l) => / r5 /.test(l) && !l.startsWith('live') && !l.startsWith('newest'));
      assert.equal(rows.length, 3, status.stdout);
      assert.ok(rows.some((l) => l.startsWith(`${long}  r5 `)), status.stdout);
      assert.deepEqual(rows.map((l) => l.indexOf(' r5 ')), rows.map(() => long.length + 1), status.stdout);
      const plan = await w.deploy('plan', w.target);
      assert.equal(plan.exitCode, 0, plan.all);
      const heads = plan.stdout.split('\n').filter((l) => l.includes('(serves '));
      assert.equal(heads.length, 3, plan.stdout);
      assert.deepEqual(heads.map((l) => l.indexOf('(serves ')), heads.map(() => 2 + long.length + 1), plan.stdout);
    } finally {
      await w.writeApp();
    }
  });

  it('--revision ships that exact commit', async () => {
    const first = (await git(w.work, 'rev-list', '--max-parents=0', 'HEAD')).trim();
    const r = await w.deploy(w.target, '--revision', first);
    assert.equal(r.exitCode, 0, r.all);
    assert.equal(await http(0, 'index.html'), '<h1>shop v1</h1>\n');
    const releases = await w.deploy('releases', w.target);
    assert.match(releases.stdout, new RegExp(`^r6 .* source ${first.slice(0, 12)}  `, 'm'));
  });

  it('refuses to reset a checkout with local modifications unless --force', async () => {
    const src = join(w.root, 'prod', 'src', w.app);
    await writeFile(join(src, 'health.txt'), 'edited by hand\n');
    const refused = await w.deploy(w.target);
    assert.equal(refused.exitCode, 1, refused.all);
    assert.match(refused.stderr, /local modifications that a reset would destroy:\n.*health\.txt/);
    assert.match(refused.stderr, /--force/);
    assert.equal(readFileSync(join(src, 'health.txt'), 'utf8'), 'edited by hand\n', 'nothing was discarded');
    const forced = await w.deploy(w.target, '--force');
    assert.equal(forced.exitCode, 0, forced.all);
    assert.equal(readFileSync(join(src, 'health.txt'), 'utf8'), 'ok\n');
  });

  it('runs admin tasks with private variables that are never printed; a failing task releases nothing', async () => {
    await w.writeApp({ appExtra: `tasks: [
      ['sh', '-c', 'echo "token is $API_TOKEN"; mkdir -p static && echo built > static/bundle.css'],
      { name: 'check', run: ['sh', '-c', 'test ! -e FAIL || { echo "failing with $API_TOKEN" >&2; exit 7; }'] },
    ],` });
    await w.commit({ 'index.html': '<h1>shop v7</h1>\n' });
    const ok = await w.deploy(w.target);
    assert.equal(ok.exitCode, 0, ok.all);
    assert.match(ok.stderr, /\[admin\] \| token is \[REDACTED\]/);
    assert.doesNotMatch(ok.all, /tok-9f8e7d6c5b4a/);
    assert.equal(await http(1, 'static/bundle.css'), 'built\n', 'task output is part of the release');
    const tagsBefore = await tags();

    await w.commit({ FAIL: '1' });
    const failed = await w.deploy(w.target);
    assert.equal(failed.exitCode, 1, failed.all);
    assert.match(failed.stderr, /admin task "check" failed/);
    assert.doesNotMatch(failed.all, /tok-9f8e7d6c5b4a/);
    assert.deepEqual(await tags(), tagsBefore, 'no release was made');
    assert.equal(await http(1, 'index.html'), '<h1>shop v7</h1>\n');
    await w.writeApp();
  });

  it("the checkout follows the app file's repo when it is edited, and says so", async () => {
    await w.commit({ FAIL: null });
    const moved = join(w.dir, 'repos', 'moved.git');
    await git(w.dir, 'clone', '-q', '--bare', join(w.dir, 'repos', 'shop.git'), moved);
    // a commit only the moved repository has
    await git(w.work, 'commit', '-q', '--allow-empty', '-m', 'only in moved');
    await git(w.work, 'push', '-q', moved, 'HEAD:main');
    const file = join(w.appsDir, `${w.app}.ts`);
    const original = await readFile(file, 'utf8');
    await writeFile(file, original.replace(join(w.dir, 'repos', 'shop.git'), moved));
    try {
      const r = await w.deploy(w.target);
      assert.equal(r.exitCode, 0, r.all);
      assert.match(r.stderr, /source at [0-9a-f]{12} \(main\) "only in moved".*; the checkout now fetches from \S+moved\.git \(was \S+shop\.git\)/);
      assert.equal(await git(join(w.root, 'prod', 'src', w.app), 'config', '--get', 'remote.origin.url'), moved);
    } finally {
      await writeFile(file, original);
    }
    const back = await w.deploy(w.target);
    assert.equal(back.exitCode, 0, back.all);
    assert.match(back.stderr, /the checkout now fetches from \S+shop\.git \(was \S+moved\.git\)/);
  });

  it('refuses a host whose key does not match known_hosts, and switches no host', async () => {
    await w.commit({ FAIL: null, 'index.html': '<h1>shop v9</h1>\n' });
    const web3 = w.fleet.hosts[2]!;
    await w.fleet.rekey(web3.name);
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 1, r.all);
    assert.match(r.stderr, /web3: host key refused: .*SHA256:/);
    assert.equal(await http(0, 'index.html'), '<h1>shop v7</h1>\n');
    assert.ok(!existsSync(join(w.remoteBase(web3), 'releases', 'nothing')));
  });
});

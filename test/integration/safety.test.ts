/**
 * Safety on a real loopback fleet: the app-env lock, Ctrl-C and kill -9 in the
 * middle of a rollout, hosts that die, freeze or run out of disk while
 * staging, pruning that never loses the last good release, secrets never
 * printed, private files' group, a store that cannot be pushed, tasks as an
 * unprivileged user and groups allowed to deploy.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { type World, commitTree, git, makeWorld, treeOf } from '../support/world.js';
import { partials, runDeploy, startDeploy, waitFor, writeAppFile } from '../support/safety.js';

const SECRETS = ['tok-9f8e7d6c5b4a', 'private-v1'];
const sh = (cmd: string) => execFileSync('sh', ['-c', cmd], { encoding: 'utf8' });

function ensureUser(name: string, groups: string[] = []): void {
  for (const g of groups) sh(`getent group ${g} >/dev/null || groupadd ${g}`);
  sh(`id ${name} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin ${groups.length ? `-G ${groups.join(',')}` : ''} ${name}`);
}

describe('safety on a real fleet', { timeout: 600_000 }, () => {
  let w: World;
  const outputs: string[] = [];
  const deploy = (args: string[], env: Record<string, string> = {}) => runDeploy(w, args, env, outputs);
  const live = () => w.fleet.hosts.map((h) => w.liveDir(h));
  const slow = async (on: boolean) => {
    for (const h of w.fleet.hosts) {
      if (on) await writeFile(join(h.dataDir, 'slow'), '');
      else await writeFile(join(h.dataDir, 'slow'), '').then(() => execa('rm', ['-f', join(h.dataDir, 'slow')]));
    }
  };
  /** A change big enough that a slowed rsync takes seconds to pull it. */
  const bigChange = (label: string) => w.commit({ 'big.bin': randomBytes(700 * 1024).toString('base64'), 'index.html': `<h1>${label}</h1>\n` }, label);
  /** Every host serves exactly one complete release of the store. */
  const assertCompleteEverywhere = async () => {
    for (const h of w.fleet.hosts) {
      const dir = w.liveDir(h);
      assert.ok(dir, `${h.name} serves a release`);
      const commit = readFileSync(join(dirname(dir), `.${basename(dir)}.rev`), 'utf8').trim();
      assert.deepEqual(treeOf(dir), await commitTree(w.www, commit), `${h.name} serves the complete tree of ${commit}`);
    }
  };
  const app = (top = '', env = '', remote = "rsync: '/data/slow-rsync', transfer: 'rsync', keepReleases: 2") => writeAppFile(w, { top, env, remote });

  before(async () => {
    w = await makeWorld({ net: '127.0.50', size: 3 });
    await mkdir(join(w.dir, 'tmp'), { recursive: true });
    // each host's rsync: records the environment it was started with, and is slow when /data/slow exists
    for (const h of w.fleet.hosts) {
      const wrapper = join(h.dataDir, 'slow-rsync');
      await writeFile(wrapper, '#!/bin/sh\nenv > /data/rsync-env.txt\n[ -e /data/slow ] && exec rsync --bwlimit=150 "$@"\nexec rsync "$@"\n');
      await chmod(wrapper, 0o755);
    }
    ensureUser('slipwaytask');
    sh('getent group slipwayweb >/dev/null || groupadd slipwayweb');
    await app();
    const r = await deploy([w.target]);
    assert.equal(r.exitCode, 0, r.all);
  });
  after(async () => {
    await w?.down();
  });

  it('a second run is refused at once with who holds the lock; --wait waits for it', async () => {
    // the first run's admin task holds the lock until the test has seen the others refused and waiting
    const go = join(w.dir, 'go-lock');
    await app(`tasks: [['sh', '-c', 'while [ ! -e "$0" ]; do sleep 0.05; done', ${JSON.stringify(go)}]],`);
    await w.commit({ 'index.html': '<h1>locked</h1>\n' });
    const first = startDeploy(w, [w.target], {}, outputs);
    const lockFile = join(w.root, 'prod', 'state', w.app, 'lock');
    await waitFor('the lock', () => existsSync(lockFile));
    const second = await deploy([w.target]);
    assert.equal(second.exitCode, 3, second.all);
    assert.match(second.stderr, new RegExp(`shop-prod is locked by root \\(pid ${first.child.pid} on .*, running "deploy shop-prod"\\) since 20`));
    assert.match(second.stderr, /--wait 5m/);
    let waitOut = '';
    const waiter = startDeploy(w, [w.target, '--wait', '60s'], {}, outputs);
    waiter.child.stderr!.on('data', (d: Buffer) => (waitOut += d));
    await waitFor('the second run to wait', () => waitOut.includes('waiting up to'));
    await writeFile(go, '');
    const waiting = await waiter.done;
    const done = await first.done;
    assert.equal(done.exitCode, 0, done.all);
    assert.equal(waiting.exitCode, 0, waiting.all);
    assert.match(waiting.stderr, /is locked by root .*; waiting up to 60s/);
    assert.ok(!existsSync(lockFile), 'the lock is released');
    await app();
  });

  it('a lock from another admin host is never guessed about; `deploy unlock --force` removes it and logs it', async () => {
    const state = join(w.root, 'prod', 'state', w.app);
    await writeFile(join(state, 'lock'), JSON.stringify({ user: 'bob', pid: 4242, host: 'admin2', command: 'deploy shop-prod', started: '2024-05-01T10:00:00.000Z' }));
    const refused = await deploy([w.target, '--json']);
    assert.equal(refused.exitCode, 3, refused.all);
    assert.match(refused.stderr, /locked by bob \(pid 4242 on admin2.*since 2024-05-01T10:00:00.000Z/);
    assert.match(refused.stderr, /deploy unlock shop-prod --force/);
    // a run that never held the lock does not announce itself, and its --json stream is run.finish alone
    assert.doesNotMatch(refused.stderr, /deploying/);
    assert.deepEqual(refused.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type), ['run.finish']);
    const rollback = await deploy(['rollback', w.target]);
    assert.equal(rollback.exitCode, 3, rollback.all);
    assert.doesNotMatch(rollback.stderr, /rolling back/);
    const noForce = await deploy(['unlock', w.target]);
    assert.equal(noForce.exitCode, 2, noForce.all);
    assert.ok(existsSync(join(state, 'lock')));
    const forced = await deploy(['unlock', w.target, '--force']);
    assert.equal(forced.exitCode, 0, forced.all);
    assert.match(forced.stdout, /removed the lock of shop-prod held by bob/);
    assert.match(await readFile(join(state, 'lock.log'), 'utf8'), /"kind":"lock-force-unlocked".*"user":"bob".*"by":"root"/);
    assert.equal((await deploy([w.target])).exitCode, 0);
  });

  it('Ctrl-C mid-staging: stops, closes connections, releases the lock, says what each host is in; the next run cleans up', async () => {
    const before = live();
    await slow(true);
    await bigChange('sigint');
    const run = startDeploy(w, [w.target], {}, outputs);
    await waitFor('staging to start', () => w.fleet.hosts.every((_, i) => partials(w, i).length > 0));
    run.child.kill('SIGINT');
    const r = await run.done;
    await slow(false);
    assert.equal(r.exitCode, 130, r.all);
    assert.match(r.stderr, /SIGINT: stopping/);
    assert.match(r.stderr, /interrupted by SIGINT while shipping r\d+; every host serves a complete release:/);
    for (const h of w.fleet.hosts) assert.match(r.stderr, new RegExp(`  ${h.name}: (not staged|r\\d+ staged but not switched).*still serves`), h.name);
    assert.deepEqual(live(), before, 'no host was switched');
    await assertCompleteEverywhere();
    assert.ok(!existsSync(join(w.root, 'prod', 'state', w.app, 'lock')), 'the lock is released');
    assert.deepEqual(readdirSync(join(w.dir, 'tmp')).filter((n) => n.startsWith('slipway-serve')), [], 'the release server was stopped');

    const again = await deploy([w.target]);
    assert.equal(again.exitCode, 0, again.all);
    for (let i = 0; i < w.fleet.hosts.length; i++) assert.deepEqual(partials(w, i), [], 'half-staged dirs were cleaned');
    await assertCompleteEverywhere();
  });

  it('kill -9 mid-staging leaves a stale lock that the next run takes over; every host serves a complete release', async () => {
    const before = live();
    await slow(true);
    await bigChange('kill9');
    const run = startDeploy(w, [w.target], {}, outputs);
    await waitFor('staging to start', () => w.fleet.hosts.every((_, i) => partials(w, i).length > 0));
    run.child.kill('SIGKILL');
    await run.done;
    await slow(false);
    const lockFile = join(w.root, 'prod', 'state', w.app, 'lock');
    assert.ok(existsSync(lockFile), 'kill -9 leaves the lock');
    assert.deepEqual(live(), before);
    await assertCompleteEverywhere();

    const next = await deploy([w.target]);
    assert.equal(next.exitCode, 0, next.all);
    assert.match(next.stderr, new RegExp(`took over a stale lock of root \\(pid ${run.child.pid} `));
    assert.match(readFileSync(join(w.root, 'prod', 'state', w.app, 'lock.log'), 'utf8'), /lock-stale-taken-over/);
    await assertCompleteEverywhere();
    assert.equal(new Set(live()).size, w.fleet.hosts.length, 'each host has its own live dir');
    assert.ok(live().every((d) => d!.endsWith(live()[0]!.split('/').pop()!)), 'all hosts on the same release');
  });

  it('a host whose sshd dies mid-transfer fails by name; the others are fine and no host switches', async () => {
    const before = live();
    await slow(true);
    await bigChange('sshd-dies');
    const run = startDeploy(w, [w.target], {}, outputs);
    await waitFor('web2 staging', () => partials(w, 1).length > 0);
    await w.fleet.stop('web2');
    const r = await run.done;
    await slow(false);
    await w.fleet.start('web2');
    assert.equal(r.exitCode, 1, r.all);
    assert.match(r.stderr, /web2: .*(SSH connection|closed|reset)/i);
    assert.match(r.stderr, /no host was switched/);
    assert.match(r.stderr, /web1: r\d+ staged but not switched/);
    assert.deepEqual(live(), before);
    await assertCompleteEverywhere();
  });

  it('a frozen sshd mid-transfer is detected by keepalives; the host is named and nothing switches', async () => {
    const before = live();
    await slow(true);
    await bigChange('frozen');
    const run = startDeploy(w, [w.target], {}, outputs);
    await waitFor('web3 staging', () => partials(w, 2).length > 0);
    await w.fleet.freeze('web3');
    const frozenAt = Date.now();
    const r = await run.done;
    const detected = Date.now() - frozenAt;
    await w.fleet.thaw('web3');
    await slow(false);
    process.stderr.write(`# frozen sshd detected; run ended ${detected} ms after the freeze\n`);
    assert.equal(r.exitCode, 1, r.all);
    assert.match(r.stderr, /web3: .*(keepalive|timed out|closed)/i);
    assert.deepEqual(live(), before);
    await assertCompleteEverywhere();
  });

  it('a host with a full disk fails by name and nothing switches', async () => {
    const before = live();
    const pid = readFileSync(join(w.fleet.dir, 'web2.pid'), 'utf8').trim();
    await execa('nsenter', ['-t', pid, '-m', 'mount', '-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', '/data/www']);
    try {
      await bigChange('full-disk');
      const r = await deploy([w.target]);
      assert.equal(r.exitCode, 1, r.all);
      assert.match(r.stderr, /web2: staging failed \(exit \d+\): this host could not write its release: is its disk full\? \(.*(No space left|write failed|I\/O error)/i);
      assert.match(r.stderr, /no host was switched/);
    } finally {
      await execa('nsenter', ['-t', pid, '-m', 'umount', '/data/www']);
    }
    assert.deepEqual(live(), before);
    await assertCompleteEverywhere();
    const ok = await deploy([w.target]);
    assert.equal(ok.exitCode, 0, ok.all);
  });

  it('pruning keeps the last good release however many failed attempts were staged after it', async () => {
    const lastGood = w.liveDir(w.fleet.hosts[0]!)!.split('/').pop()!;
    await w.fleet.stop('web3');
    try {
      for (const n of [1, 2, 3]) {
        await w.commit({ 'index.html': `<h1>failed attempt ${n}</h1>\n` });
        const r = await deploy([w.target]);
        assert.equal(r.exitCode, 1, r.all);
      }
    } finally {
      await w.fleet.start('web3');
    }
    const staged = readdirSync(join(w.remoteBase(w.fleet.hosts[0]!), 'releases')).filter((d) => !d.startsWith('.'));
    assert.ok(staged.length >= 4, `failed attempts left staged releases: ${staged.join(' ')}`);
    // now a rollback target must survive: switch to a new release with keepReleases 2
    await w.commit({ 'index.html': '<h1>after the failures</h1>\n' });
    const r = await deploy([w.target]);
    assert.equal(r.exitCode, 0, r.all);
    const newLive = w.liveDir(w.fleet.hosts[0]!)!.split('/').pop()!;
    const left = readdirSync(join(w.remoteBase(w.fleet.hosts[0]!), 'releases')).filter((d) => !d.startsWith('.')).sort();
    assert.deepEqual(left, [lastGood, newLive].sort(), 'the last good release and the new one; failed attempts are gone');
  });

  it('remote commands never see an SSH agent', () => {
    for (const h of w.fleet.hosts) {
      const env = readFileSync(join(h.dataDir, 'rsync-env.txt'), 'utf8');
      assert.doesNotMatch(env, /^SSH_AUTH_SOCK=/m, h.name);
    }
  });

  it('private files get the configured mode and group on hosts; their contents are never printed', async () => {
    const catSettings = JSON.stringify(['cat', join(w.privateDir, 'app', 'settings_local.py')]);
    await app(`private: { mode: '0640', group: 'slipwayweb' }, tasks: [${catSettings}, ['sh', '-c', 'echo "token $API_TOKEN"']],`);
    await w.commit({ 'index.html': '<h1>private group</h1>\n' });
    const r = await deploy([w.target]);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /\[admin\] \| \[REDACTED\]/);
    const gid = Number(sh('getent group slipwayweb').split(':')[2]);
    for (const h of w.fleet.hosts) {
      const st = statSync(join(w.liveDir(h)!, 'app', 'settings_local.py'));
      assert.equal(st.mode & 0o777, 0o640, h.name);
      assert.equal(st.gid, gid, h.name);
    }
    await app();
  });

  it('admin tasks run as the unprivileged taskUser, and the checkout is root\'s again afterwards', async () => {
    await app(`taskUser: 'slipwaytask', tasks: [['sh', '-c', 'id -un > static/whoami.txt']],`);
    await w.commit({ 'index.html': '<h1>task user</h1>\n' });
    const r = await deploy([w.target]);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /ran sh -c .* as slipwaytask/);
    assert.equal(readFileSync(join(w.liveDir(w.fleet.hosts[0]!)!, 'static', 'whoami.txt'), 'utf8'), 'slipwaytask\n');
    const src = join(w.root, 'prod', 'src', w.app);
    assert.equal(statSync(join(src, 'static', 'whoami.txt')).uid, 0);
    assert.equal(statSync(join(src, 'index.html')).uid, 0);
    await app();
  });

  it('allowGroups: only members may deploy, checked before anything runs (root without sudo is root)', async () => {
    ensureUser('slipwayok', ['slipwayops']);
    await app('', `allowGroups: ['slipwayops']`);
    await w.commit({ 'index.html': '<h1>allowed</h1>\n' });
    const tags = await git(w.www, 'tag', '--list');
    // a SUDO_USER that sudo did not set is not believed (test/integration/sudo.test.ts has the real sudo runs)
    const refused = await deploy([w.target], { SUDO_USER: 'slipwayok' });
    assert.equal(refused.exitCode, 2, refused.all);
    const plain = await deploy([w.target]);
    assert.equal(plain.exitCode, 2, plain.all);
    assert.match(plain.stderr, /root may not deploy shop-prod: only members of slipwayops may/);
    assert.equal(await git(w.www, 'tag', '--list'), tags, 'nothing was released');
    await app('', `allowGroups: ['slipwayops', 'root']`);
    const allowed = await deploy([w.target]);
    assert.equal(allowed.exitCode, 0, allowed.all);
    await app();
  });

  it('the release store cannot be pushed, and refuses to release once it has a remote', async () => {
    const bare = join(w.dir, 'leak.git');
    await git(w.dir, 'init', '-q', '--bare', bare);
    for (const args of [['push', bare, 'HEAD:leak'], ['push', '--no-verify', `file://${bare}`, 'HEAD:leak']]) {
      await assert.rejects(execa('git', ['-C', w.www, ...args]), (err: Error) => /refuses-push|never pushed/.test(err.message), args.join(' '));
    }
    assert.equal(await git(bare, 'branch', '--list'), '', 'nothing arrived');
    await git(w.www, 'remote', 'add', 'origin', bare);
    await w.commit({ 'index.html': '<h1>remote</h1>\n' });
    const r = await deploy([w.target]);
    assert.equal(r.exitCode, 1, r.all);
    assert.match(r.stderr, /has a remote \(origin\).*must never have one/);
    await git(w.www, 'remote', 'remove', 'origin');
  });

  it('no secret ever appeared in any output of any run', () => {
    assert.ok(outputs.length > 10);
    for (const out of outputs) for (const s of SECRETS) assert.ok(!out.includes(s), `a secret leaked into:\n${out}`);
    for (const h of w.fleet.hosts) assert.doesNotMatch(readFileSync(join(h.dataDir, 'rsync-env.txt'), 'utf8'), /tok-9f8e7d6c5b4a/);
  });
});

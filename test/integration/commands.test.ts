/**
 * `deploy apps`, `deploy check` and `deploy init` through the real CLI, on a real loopback
 * fleet: what passes, and each way a check fails naming the file or host and the fix.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type World, makeWorld } from '../support/world.js';

interface CheckJson {
  v: number;
  target: string;
  ok: boolean;
  connect: boolean;
  checks: { subject: string; check: string; status: string; detail: string; fix?: string }[];
}

describe('deploy apps, check and init', { timeout: 600_000 }, () => {
  let w: World;
  const failed = (j: CheckJson) => j.checks.filter((c) => c.status === 'fail').map((c) => `${c.subject} ${c.check}`);
  const checkJson = async (...args: string[]) => {
    const r = await w.deploy('check', w.target, '--json', ...args);
    return { r, j: JSON.parse(r.stdout) as CheckJson };
  };

  before(async () => {
    w = await makeWorld({ net: '127.0.93', size: 3 });
    // the world makes the private dir with the umask's 0755: as deploy init would, closed to others
    await chmod(w.privateDir, 0o700);
  });
  after(async () => {
    await w?.down();
  });

  it('check passes on the admin node, then on every host with --connect, before any release', async () => {
    const r = await w.deploy('check', w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stdout, /^OK +\S+shop\.ts +app-file: loads and validates; 3 hosts in prod$/m);
    assert.match(r.stdout, /shop-prod: all 6 checks passed \(add --connect to check the hosts too\)/);
    const c = await w.deploy('check', w.target, '--connect');
    assert.equal(c.exitCode, 0, c.all);
    for (const h of w.fleet.hosts) {
      for (const check of ['connect', 'remote-path', 'tar', 'rsync', 'disk', 'clock']) assert.match(c.stdout, new RegExp(`^OK +${h.name} +${check}: `, 'm'), check);
    }
    assert.match(c.stdout, /web1 +disk: [0-9.]+ [kMGT]?B free \(no release yet to compare with\)/);
    assert.match(c.stdout, /web1 +clock: (within 1 s of|1 s (ahead of|behind)) the admin node/);
    assert.match(c.stdout, /shop-prod: all 24 checks passed$/m);
    // nothing was left on the hosts: the path a deploy creates is not there yet
    for (const h of w.fleet.hosts) assert.ok(!existsSync(w.remoteBase(h)), h.name);
  });

  it('after a deploy, apps lists it and check compares free disk with the live release', async () => {
    assert.equal((await w.deploy(w.target)).exitCode, 0);
    const { r, j } = await checkJson('--connect');
    assert.equal(r.exitCode, 0, r.all);
    assert.equal(j.v, 1);
    assert.equal(j.ok, true);
    assert.equal(j.connect, true);
    assert.equal(j.checks.length, 24);
    assert.match(j.checks.find((c) => c.subject === 'web2' && c.check === 'disk')!.detail, /free; r1 is [0-9.]+ (B|kB)$/);

    const a = await w.deploy('apps');
    assert.equal(a.exitCode, 0, a.all);
    const lines = a.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^TARGET +HOSTS +BRANCH +RELEASES +LIVE +LAST RUN$/);
    assert.match(lines[1]!, /^shop-prod +3 +main +1 +r1 \d{4}-\d\d-\d\d +\S+Z deploy r1 ok by \S+$/);
    const json = JSON.parse((await w.deploy('apps', '--json')).stdout);
    assert.equal(json.v, 1);
    assert.deepEqual(json.apps.map((x: { app: string }) => x.app), ['shop']);
    const env = json.apps[0].envs[0];
    assert.equal(env.target, 'shop-prod');
    assert.equal(env.hosts, 3);
    assert.equal(env.live.id, 'r1');
    assert.equal(env.releases, 1);
    assert.equal(env.lastRun.kind, 'deploy');
    assert.equal(env.lastRun.result, 'ok');
  });

  it('a private dir open to others, a missing required file, a readable SSH key: each named, with the fix', async () => {
    await chmod(w.privateDir, 0o755);
    await chmod(w.fleet.clientKey, 0o644);
    await w.writeApp({ appExtra: "private: { require: ['.env', 'app/keys.json'] }," });
    try {
      const r = await w.deploy('check', w.target);
      assert.equal(r.exitCode, 1, r.all);
      assert.match(r.stdout, new RegExp(`^FAIL +${w.privateDir} +private-dir: mode 0755 lets others in; fix: chmod 0700 ${w.privateDir}$`, 'm'));
      assert.match(r.stdout, new RegExp(`^FAIL +${w.fleet.clientKey} +ssh-key: mode 0644: group or others can read it; fix: chmod 0600 ${w.fleet.clientKey}$`, 'm'));
      assert.match(r.stderr, /shop-prod: 2 of 6 checks failed/);
      await chmod(w.privateDir, 0o700);
      const { j } = await checkJson();
      assert.deepEqual(failed(j), [`${join(w.privateDir, 'app/keys.json')} private-file`, `${w.fleet.clientKey} ssh-key`]);
      assert.match(j.checks.find((c) => c.check === 'private-file' && c.status === 'fail')!.fix!, /create .*app\/keys\.json \(mode 0600\)/);
    } finally {
      await chmod(w.privateDir, 0o700);
      await chmod(w.fleet.clientKey, 0o600);
      await w.writeApp();
    }
  });

  it('a host missing from known_hosts fails before and when connecting; the others pass', async () => {
    const web2 = w.fleet.hosts[1]!;
    const partial = join(w.dir, 'known_hosts.partial');
    const lines = (await readFile(w.fleet.knownHosts, 'utf8')).split('\n').filter((l) => l && !l.startsWith(`${web2.address} `));
    await writeFile(partial, `${lines.join('\n')}\n`);
    await w.writeApp({ envExtra: `ssh: { knownHosts: '${partial}' },` });
    try {
      const { r, j } = await checkJson('--connect');
      assert.equal(r.exitCode, 1, r.all);
      assert.equal(j.ok, false);
      assert.deepEqual(failed(j), ['web2 known-hosts', 'web2 connect']);
      const known = j.checks.find((c) => c.subject === 'web2' && c.check === 'known-hosts')!;
      assert.equal(known.detail, `no host key for ${web2.address} in ${partial}`);
      assert.match(known.fix!, new RegExp(`^ssh-keyscan -p 22 ${web2.address.replaceAll('.', '\\.')} >> ${partial}`));
      assert.match(j.checks.find((c) => c.subject === 'web2' && c.check === 'connect')!.fix!, /add web2's key to/);
      assert.ok(j.checks.filter((c) => c.subject === 'web1' || c.subject === 'web3').every((c) => c.status === 'ok'));
      assert.match(r.stderr, /shop-prod: 2 of \d+ checks failed \(web2\)/);
    } finally {
      await w.writeApp();
    }
  });

  it('an unwritable remote path, a missing rsync, a host that is down, a key the hosts refuse', async () => {
    const web3 = w.fleet.hosts[2]!;
    // on web3, /data/blocked is a file: nothing can be created under it, even by root
    await writeFile(join(web3.dataDir, 'blocked'), 'not a directory\n');
    await w.writeApp({ envExtra: "remote: { path: '/data/blocked/{app}', rsync: '/opt/none/rsync' }," });
    await w.fleet.stop('web1');
    try {
      const { r, j } = await checkJson('--connect');
      assert.equal(r.exitCode, 1, r.all);
      assert.deepEqual(failed(j), ['web1 connect', 'web2 rsync', 'web3 remote-path', 'web3 rsync']);
      const path = j.checks.find((c) => c.subject === 'web3' && c.check === 'remote-path')!;
      assert.equal(path.detail, '/data/blocked/shop cannot be written: /data/blocked is not a directory');
      assert.match(path.fix!, /^on web3, create \/data\/blocked\/shop owned by the SSH user, or set remote\.path$/);
      assert.equal(j.checks.find((c) => c.subject === 'web2' && c.check === 'remote-path')!.status, 'ok');
      assert.match(j.checks.find((c) => c.subject === 'web2' && c.check === 'rsync')!.fix!, /install rsync at \/opt\/none\/rsync on web2, or set remote\.rsync/);
      assert.match(j.checks.find((c) => c.subject === 'web1' && c.check === 'connect')!.fix!, /check that web1 is up and sshd listens on/);
    } finally {
      await w.fleet.start('web1');
      await rm(join(web3.dataDir, 'blocked'));
    }
    const stranger = join(w.dir, 'stranger');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    await w.writeApp({ envExtra: `ssh: { key: '${stranger}' },` });
    try {
      const { r, j } = await checkJson('--connect');
      assert.equal(r.exitCode, 1, r.all);
      assert.deepEqual(failed(j), ['web1 connect', 'web2 connect', 'web3 connect']);
      assert.match(j.checks.find((c) => c.subject === 'web1' && c.check === 'connect')!.fix!, new RegExp(`add the public key of ${stranger} to ~root/.ssh/authorized_keys on web1`));
    } finally {
      await w.writeApp();
    }
  });

  it('an app file that does not validate: check lists every problem (exit 1), apps lists it and exits 2', async () => {
    await writeFile(join(w.appsDir, 'broken.ts'), "import { defineApp } from 'slipway';\nexport default defineApp({ repo: 'x y', envs: { prod: { hosts: ['a b'] } } } as never);\n");
    try {
      const r = await w.deploy('check', 'broken-prod');
      assert.equal(r.exitCode, 1, r.all);
      assert.match(r.stdout, /^FAIL +\S*broken\.ts +app-file: repo: /m);
      assert.match(r.stdout, /^FAIL +\S*broken\.ts +app-file: envs\.prod\.hosts\[0\]: not a valid host name/m);
      const a = await w.deploy('apps');
      assert.equal(a.exitCode, 2, a.all);
      assert.match(a.stdout, /^shop-prod /m);
      assert.match(a.stdout, /^broken: does not load: /m);
      assert.match(a.stderr, /broken\.ts does not load/);
      assert.equal((await w.deploy('check', 'nosuch-prod')).exitCode, 2);
    } finally {
      await rm(join(w.appsDir, 'broken.ts'));
    }
  });

  it('init writes an app file that check loads, the private dir and .env, and refuses to overwrite or hostile names', async () => {
    const r = await w.deploy('init', 'blog', '--repo', join(w.dir, 'repos', 'shop.git'), '--env', `prod=${w.fleet.hosts.map((h) => h.address).join(',')}`, '--env', 'stage=stage1');
    assert.equal(r.exitCode, 0, r.all);
    const file = join(w.appsDir, 'blog.ts');
    assert.match(r.stdout, /^wrote \S*blog\.ts$/m);
    assert.match(r.stdout, /^ {2}4\. sudo deploy check blog-prod --connect$/m);
    const dir = join(w.root, 'prod', 'private', 'blog');
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, '.env')).mode & 0o777, 0o600);
    // the app file loads; what fails is the default key and known_hosts of a root without them
    const c = await w.deploy('check', 'blog-prod', '--json');
    const j = JSON.parse(c.stdout) as CheckJson;
    assert.equal(j.checks.find((x) => x.check === 'app-file')!.status, 'ok', c.all);
    assert.equal(j.checks.find((x) => x.check === 'private-dir')!.status, 'ok');
    const before = readFileSync(file, 'utf8');
    const again = await w.deploy('init', 'blog', '--repo', 'https://example.com/other.git', '--env', 'prod=web9');
    assert.equal(again.exitCode, 2);
    assert.match(again.stderr, /blog\.ts exists: deploy init never overwrites an app file/);
    assert.equal(readFileSync(file, 'utf8'), before);
    const hostile = await w.deploy('init', 'x;touch /tmp/pwned', '--repo', '$(id)', '--env', 'prod=../../etc');
    assert.equal(hostile.exitCode, 2);
    assert.match(hostile.stderr, /3 problems/);
    assert.ok(!existsSync('/tmp/pwned'));
    const apps = await w.deploy('apps');
    assert.match(apps.stdout, /^blog-stage +1 +main +0 +- +-$/m);
    await rm(file);
  });
});

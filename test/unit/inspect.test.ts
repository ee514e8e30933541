import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Host } from '../../src/config/resolve.js';
import { loadApp } from '../../src/config/load.js';
import { parseKnownHosts } from '../../src/deploy/connect/known-hosts.js';
import type { Connector, HostConnection } from '../../src/exec/runner.js';
import { HostError } from '../../src/errors.js';
import { type FileFacts, judgeKey, judgeKnownHosts, judgePrivateDir } from '../../src/inspect/check.js';
import { formatFindings } from '../../src/inspect/finding.js';
import { connectFindings, judgeHost, parseHostCheck } from '../../src/inspect/host-check.js';
import { formatBytes } from '../../src/report/line.js';
import { type AppRow, formatApps } from '../../src/inspect/apps.js';
import { appFileText, initProblems, parseEnvOption, writeInit } from '../../src/inspect/init.js';
import { sumTreeSizes } from '../../src/inspect/release-size.js';
import { resolveAppEnv } from '../../src/config/resolve.js';
import { appSchema } from '../../src/config/schema.js';

const tmp = mkdtempSync(join(tmpdir(), 'slipway-inspect-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const dir = (uid: number, mode: number): FileFacts => ({ uid, mode: 0o40000 | mode, isDirectory: () => true, isFile: () => false });
const file = (uid: number, mode: number): FileFacts => ({ uid, mode: 0o100000 | mode, isDirectory: () => false, isFile: () => true });

/** An ed25519 public key blob as known_hosts holds it (the key bytes need not be a real key to be matched). */
function keyLine(hosts: string, fill: number, marker = ''): string {
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.alloc(4 + type.length + 4 + 32, fill);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(32, 4 + type.length);
  return `${marker ? `${marker} ` : ''}${hosts} ssh-ed25519 ${blob.toString('base64')}`;
}

const host = (name: string, address = name, port = 22): Host => ({ name, address, port, user: 'root' });

describe('deploy check: the admin node', () => {
  test('the private dir: missing, not a dir, wrong owner, open to others, right', () => {
    const d = '/data/prod/private/shop';
    const missing = judgePrivateDir(d, 'does not exist', 0);
    assert.equal(missing.status, 'fail');
    assert.match(missing.fix!, /install -d -m 0700 \/data\/prod\/private\/shop/);
    assert.match(judgePrivateDir(d, file(0, 0o600), 0).detail, /not a directory/);
    const owner = judgePrivateDir(d, dir(1000, 0o700), 0);
    assert.equal(owner.status, 'fail');
    assert.match(owner.detail, /owned by uid 1000, not by uid 0/);
    const open = judgePrivateDir(d, dir(0, 0o755), 0);
    assert.equal(open.status, 'fail');
    assert.equal(open.fix, `chmod 0700 ${d}`);
    assert.deepEqual(judgePrivateDir(d, dir(0, 0o700), 0).status, 'ok');
    assert.equal(judgePrivateDir(d, 'cannot be read by this user', 1000).fix, 'run deploy check as the user who deploys (sudo deploy check …)');
  });

  test('the SSH key: group or world readable fails, unreadable fails, 0600 passes', () => {
    const k = '/root/.ssh/id_ed25519';
    assert.equal(judgeKey(k, file(0, 0o644), 0, true, 'apps/shop.ts').fix, `chmod 0600 ${k}`);
    assert.equal(judgeKey(k, file(0, 0o640), 0, true, 'apps/shop.ts').status, 'fail');
    assert.match(judgeKey(k, file(0, 0o600), 0, false, 'apps/shop.ts').detail, /cannot be read/);
    assert.match(judgeKey(k, 'does not exist', 0, false, 'apps/shop.ts').fix!, /ssh-keygen -t ed25519 -f \/root\/.ssh\/id_ed25519.*ssh.key in apps\/shop.ts/);
    assert.equal(judgeKey(k, file(0, 0o600), 0, true, 'apps/shop.ts').status, 'ok');
    assert.equal(judgeKey(k, file(0, 0o400), 0, true, 'apps/shop.ts').status, 'ok');
  });

  test('known_hosts: one finding per host, naming the host and the ssh-keyscan to run', () => {
    const text = [keyLine('web1,10.0.0.1', 1), keyLine('[web2]:2222', 2), keyLine('web3', 3, '@revoked'), keyLine('*.example.com', 4, '@cert-authority')].join('\n');
    const known = parseKnownHosts(text, '/k');
    const found = judgeKnownHosts(known, '/k', [host('web1'), host('w1ip', '10.0.0.1'), host('web2', 'web2', 2222), host('web2b', 'web2'), host('web3'), host('a', 'a.example.com')]);
    assert.deepEqual(found.map((f) => [f.subject, f.status]), [['web1', 'ok'], ['w1ip', 'ok'], ['web2', 'ok'], ['web2b', 'fail'], ['web3', 'fail'], ['a', 'fail']]);
    assert.equal(found[3]!.detail, 'no host key for web2 in /k');
    assert.match(found[3]!.fix!, /^ssh-keyscan -p 22 web2 >> \/k, then compare the fingerprint/);
    assert.match(found[2]!.detail, /ssh-ed25519 key for \[web2\]:2222/);
  });

  test('findings print aligned, each failure with what to do', () => {
    const lines = formatFindings([
      { subject: 'web1', check: 'tar', status: 'ok', detail: '/usr/bin/tar' },
      { subject: 'web-long-name-2', check: 'rsync', status: 'fail', detail: 'rsync is not installed', fix: 'install rsync on web-long-name-2' },
    ]);
    assert.deepEqual(lines, [
      'OK    web1             tar: /usr/bin/tar',
      'FAIL  web-long-name-2  rsync: rsync is not installed; fix: install rsync on web-long-name-2',
    ]);
  });
});

describe('deploy check --connect: judging a host', () => {
  const good = 'writable yes /data\ntar /usr/bin/tar\nrsync /usr/bin/rsync\navail 1048576\nclock 1700000000\n';

  test('parses what check.sh prints', () => {
    assert.deepEqual(parseHostCheck(good), { writable: true, where: '/data', tar: '/usr/bin/tar', rsync: '/usr/bin/rsync', availBytes: 1024 ** 3, clock: 1700000000 });
    const bad = parseHostCheck('writable no /data/www/x is not a directory\ntar /bin/tar\nrsync \navail \nclock x\n');
    assert.deepEqual(bad, { writable: false, where: '/data/www/x is not a directory', tar: '/bin/tar', rsync: undefined, availBytes: undefined, clock: undefined });
    assert.equal(parseHostCheck('').writable, false);
  });

  test('every problem names the host and what to do', () => {
    const facts = parseHostCheck('writable no /srv cannot be written to\ntar \nrsync \navail 100\nclock 1\n');
    const found = judgeHost('web2', facts, { base: '/srv/www/shop', rsync: 'rsync', release: { id: 'r7', bytes: 5 * 1024 * 1024 }, offsetS: -42.4 });
    assert.deepEqual(found.map((f) => [f.check, f.status]), [['remote-path', 'fail'], ['tar', 'fail'], ['rsync', 'fail'], ['disk', 'fail'], ['clock', 'fail']]);
    for (const f of found) {
      assert.equal(f.subject, 'web2');
      assert.match(f.fix!, /web2|remote\./);
    }
    assert.match(found[3]!.detail, /^100\.0 kB free, less than r7 \(5\.0 MB\)/);
    assert.equal(found[4]!.detail, '42 s behind the admin node');
    const fine = judgeHost('web1', parseHostCheck(good), { base: '/data/www/shop', rsync: 'rsync', release: { id: 'r7', bytes: 1000 }, offsetS: 0.3 });
    assert.ok(fine.every((f) => f.status === 'ok'), JSON.stringify(fine));
    assert.equal(fine[4]!.detail, 'within 1 s of the admin node');
    assert.equal(judgeHost('web1', parseHostCheck(good), { base: '/b', rsync: '/opt/rsync', offsetS: 11 })[4]!.status, 'fail');
  });

  test('sizes', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GB');
    assert.equal(sumTreeSizes(['100644 blob 0123abcd      12\ta', '100755 blob 4567ef01 30\tb c', '160000 commit 89ab       -\tvendor', ''].join('\0')), 42);
  });

  const config = appSchema.parse({ repo: 'https://e.com/a.git', envs: { prod: { hosts: ['web1', 'web2', 'web3'] } }, parallel: 2 });
  const appEnv = resolveAppEnv(config, 'shop', 'prod', 'apps/shop.ts', '/data');

  test('one connection per host through the connector; a host that cannot be reached is one finding with its fix', async () => {
    const closed: string[] = [];
    const ran: string[][] = [];
    const connect: Connector = async (h) => {
      if (h.name === 'web2') throw new HostError('web2', 'cannot connect to web2:22: All configured authentication methods failed');
      if (h.name === 'web3') throw new HostError('web3', 'host key refused: web3 (web3:22) is not in known_hosts');
      const conn: HostConnection = {
        where: h.name,
        host: h,
        lost: undefined,
        async run(cmd, options) {
          assert.equal(options?.reject, false);
          ran.push([...cmd.slice(0, 2), ...cmd.slice(3)]);
          return { stdout: good.replace('1700000000', '1700000100'), stderr: '', exitCode: 0 };
        },
        forwardIn: () => Promise.reject(new Error('not here')),
        close: () => void closed.push(h.name),
      };
      return conn;
    };
    // the admin clock reads 1700000099.0 then 1700000100.0: the host read 1700000100(.5), half a second ahead
    const times = [1700000099_000, 1700000100_000];
    const found = await connectFindings(appEnv, connect, { id: 'r1', bytes: 10 }, () => times.shift()!);
    assert.deepEqual(ran, [['sh', '-c', 'slipway-check', '/data/www/shop', 'rsync']]);
    assert.deepEqual(closed, ['web1']);
    assert.deepEqual(found.filter((f) => f.status !== 'ok').map((f) => [f.subject, f.check]), [['web2', 'connect'], ['web3', 'connect']]);
    assert.match(found.find((f) => f.subject === 'web2')!.fix!, /public key of .*id_ed25519 to ~root\/.ssh\/authorized_keys on web2/);
    assert.match(found.find((f) => f.subject === 'web3')!.fix!, /add web3's key to .*known_hosts \(ssh-keyscan -p 22 web3/);
    assert.equal(found.find((f) => f.check === 'clock')!.detail, '1 s ahead of the admin node');
  });
});

describe('deploy apps: the table', () => {
  test('columns as wide as their content; long names align; a broken app is one line', () => {
    const rows: AppRow[] = [
      { app: 'shop', file: 'apps/shop.ts', envs: [
        { env: 'prod', target: 'shop-prod', hosts: 12, branch: 'main', releases: 42, live: { id: 'r42', commit: 'c'.repeat(40), date: '2026-12-01T10:00:00+00:00' }, lastRun: { kind: 'deploy', result: 'ok', who: 'alice', at: '2026-12-01T10:00:05Z', to: 'r42' } },
      ] },
      { app: 'a-very-long-application-name', file: 'apps/a.ts', envs: [
        { env: 'stage', target: 'a-very-long-application-name-stage', hosts: 1, branch: 'release/2026', releases: 0, live: null, lastRun: null },
      ] },
      { app: 'broken', file: 'apps/broken.ts', error: 'apps/broken.ts: ssh: unknown key "prot"', envs: [] },
    ];
    assert.deepEqual(formatApps(rows), [
      'TARGET                              HOSTS  BRANCH        RELEASES  LIVE            LAST RUN',
      'shop-prod                              12  main                42  r42 2026-12-01  2026-12-01T10:00:05Z deploy r42 ok by alice',
      'a-very-long-application-name-stage      1  release/2026         0  -               -',
      'broken: does not load: apps/broken.ts: ssh: unknown key "prot" (deploy check broken-<env> for every problem)',
    ]);
  });
});

describe('deploy init', () => {
  const answers = { app: 'shop', repo: 'https://github.com/example/shop.git', branch: 'main', envs: [{ env: 'prod', hosts: ['web1', 'web2'] }, { env: 'stage', hosts: ['10.0.0.5'] }] };

  test('--env prod=a,b', () => {
    assert.deepEqual(parseEnvOption('prod=web1, web2,'), { env: 'prod', hosts: ['web1', 'web2'] });
    assert.deepEqual(parseEnvOption('prod'), { env: 'prod', hosts: [] });
  });

  test('hostile names are refused, every one at once', () => {
    assert.deepEqual(initProblems(answers), []);
    const problems = initProblems({ app: '../etc', repo: 'x; rm -rf /', branch: '-delete', envs: [{ env: 'pr$od', hosts: ['we b', '$(id)'] }, { env: 'prod', hosts: [] }, { env: 'prod', hosts: ['a', 'a'] }] });
    assert.deepEqual(problems.map((p) => p.split(':')[0]), ['app "../etc"', '--repo "x; rm -rf /"', '--branch "-delete"', '--env "pr$od"', '--env "pr$od"', '--env "pr$od"', '--env "prod"', '--env "prod"', '--env "prod"']);
    assert.match(initProblems({ ...answers, envs: [] })[0]!, /at least one --env/);
  });

  test('the app file it writes loads and validates, with the answers', async () => {
    const apps = join(tmp, 'apps-load');
    mkdirSync(apps);
    writeFileSync(join(apps, 'shop.ts'), appFileText(answers));
    const { config } = await loadApp(apps, 'shop');
    assert.equal(config.repo, answers.repo);
    assert.deepEqual(config.envs.prod!.hosts, ['web1', 'web2']);
    assert.deepEqual(config.envs.stage!.hosts, ['10.0.0.5']);
    assert.match(appFileText(answers), /^\/\/ shop: written by `deploy init`/);
  });

  test('writes the private dirs 0700 with an empty .env 0600, and never overwrites', async () => {
    const apps = join(tmp, 'apps-write');
    const root = join(tmp, 'root');
    mkdirSync(apps);
    const r = await writeInit(answers, apps, root);
    assert.equal(statSync(r.file).mode & 0o777, 0o644);
    for (const env of ['prod', 'stage']) {
      const d = join(root, env, 'private', 'shop');
      assert.equal(statSync(d).mode & 0o777, 0o700);
      assert.equal(statSync(join(root, env, 'private')).mode & 0o777, 0o700);
      assert.equal(statSync(join(d, '.env')).mode & 0o777, 0o600);
      assert.equal(readFileSync(join(d, '.env'), 'utf8'), '');
    }
    writeFileSync(join(root, 'prod', 'private', 'shop', '.env'), 'KEEP=1\n');
    const before = readFileSync(r.file, 'utf8');
    await assert.rejects(writeInit({ ...answers, repo: 'https://other.example/x.git' }, apps, root), /exists: deploy init never overwrites/);
    assert.equal(readFileSync(r.file, 'utf8'), before);
    // a second app with an env whose private dir is there: kept as it is
    const again = await writeInit({ ...answers, app: 'shop2', envs: [{ env: 'prod', hosts: ['web1'] }] }, apps, root);
    assert.equal(again.privateDirs[0]!.created, true);
    assert.equal(readFileSync(join(root, 'prod', 'private', 'shop', '.env'), 'utf8'), 'KEEP=1\n');
    await assert.rejects(writeInit({ ...answers, app: 'x;y' }, apps, root), /app "x;y"/);
    await assert.rejects(writeInit(answers, join(tmp, 'nope'), root), /apps directory .* does not exist/);
  });
});

describe('deploy apps: one git process per store', () => {
  test('the same releases, live release and last run as viewStore and readHistory', async () => {
    const { withStore, FACTS } = await import('../support/store.js');
    const { commitRelease } = await import('../../src/release-store/store.js');
    const { appendEvent } = await import('../../src/release-store/history.js');
    const { readHistory, viewStore } = await import('../../src/release-store/index.js');
    const { readStoreSummary } = await import('../../src/inspect/store-summary.js');
    assert.deepEqual(await readStoreSummary(join(tmp, 'no-store')), { releases: [] });
    await withStore(async (www) => {
      assert.deepEqual(await readStoreSummary(www), { releases: [] });
      const ids: string[] = [];
      for (const v of ['1', '2', '3']) {
        writeFileSync(join(www, 'index.html'), v);
        ids.push((await commitRelease(www, FACTS, [])).release.id);
      }
      // no history yet: the newest is taken to be live
      assert.equal((await readStoreSummary(www)).live?.id, 'r3');
      const at = '2026-12-05T07:00:00.000Z';
      await appendEvent(www, { kind: 'deploy', who: 'alice', at, to: 'r2', result: 'ok', hosts: [] });
      await appendEvent(www, { kind: 'deploy', who: 'alice', at, from: 'r2', to: 'r3', result: 'ok', hosts: [] });
      await appendEvent(www, { kind: 'rollback', who: 'bob', at, from: 'r3', to: 'r2', result: 'ok', hosts: [{ host: 'web1', state: 'switched' }] });
      const summary = await readStoreSummary(www);
      const view = await viewStore(www);
      assert.deepEqual(summary.releases, view.releases);
      assert.equal(summary.live?.id, 'r2');
      assert.deepEqual(summary.live, view.live);
      assert.deepEqual(summary.last, (await readHistory(www, 1))[0]);
      assert.equal(summary.last?.who, 'bob');
    });
  });
});

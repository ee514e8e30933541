import assert from 'node:assert/strict';
import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { fullTar } from '../../src/deploy/stage/payload.js';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { identify, passwdEntry } from '../../src/caller.js';
import { checkAdminRoot } from '../../src/config/paths.js';
import { requireTrusted, trustProblem } from '../../src/config/trust.js';
import { checkAbsolutePath, checkAppName, checkEnvName, checkHostName, checkRefName, checkRelativePath } from '../../src/config/names.js';
import { describeHostStates } from '../../src/deploy/ship.js';
import { stageCmd } from '../../src/deploy/remote.js';
import { connectConfig } from '../../src/deploy/connect/ssh.js';
import { storeGit } from '../../src/exec/git.js';
import { commitRelease, listReleases, moveToRelease } from '../../src/release-store/store.js';
import { FACTS, withStore } from '../support/store.js';
import { defaultSsh } from '../../src/config/resolve.js';

const HOSTILE = ['../x', 'a/../b', 'a;id', '$(id)', '`id`', "a'b", 'a"b', 'a b', 'a\nb', 'a\0b', '-x', '--upload-pack=id', 'a|b', 'a&b', 'a>b', 'a\\b'];

describe('names refuse hostile strings everywhere', () => {
  for (const value of HOSTILE) {
    it(JSON.stringify(value), () => {
      assert.ok(checkAppName(value), 'app');
      assert.ok(checkEnvName(value), 'env');
      assert.ok(checkHostName(value), 'host');
      assert.ok(checkRefName(value), 'ref');
      assert.ok(checkAbsolutePath(`/data/${value}`), 'absolute path');
      assert.ok(checkRelativePath(value), 'relative path');
    });
  }
  it('accepts ordinary names', () => {
    assert.equal(checkRefName('release/2024-05'), undefined);
    assert.equal(checkRefName('4f2a9c1e'), undefined);
    assert.equal(checkAbsolutePath('/data/www/shop'), undefined);
    assert.equal(checkHostName('web-3.example.com'), undefined);
  });
});

describe('ssh never offers the agent', () => {
  it('sets no agent and refuses agent forwarding', () => {
    const config = connectConfig(
      { name: 'web1', address: '127.0.0.1', port: 22, user: 'root' },
      { ssh: defaultSsh('/root'), knownHosts: { entries: [] } as never, privateKey: Buffer.from('') },
      () => undefined,
    );
    assert.equal(config.agent, undefined);
    assert.equal(config.agentForward, false);
    assert.equal(config.keepaliveInterval! * config.keepaliveCountMax!, 6000, 'a frozen host fails within about 8 s');
    assert.ok(config.readyTimeout! <= 10_000);
  });
});

describe('the deployer behind sudo', () => {
  const alice = { name: 'alice', uid: 1001, gid: 1001 };
  const passwd = (key: string | number) => (key === 'alice' || key === 1001 ? alice : key === 0 || key === 'root' ? { name: 'root', uid: 0, gid: 0 } : undefined);
  const sudoParent = () => ({ setuidRoot: true, realUid: 1001 });
  const env = { SUDO_USER: 'alice', SUDO_UID: '1001', SUDO_GID: '1001', SUDO_COMMAND: '/usr/local/bin/deploy' };
  const as = (e: NodeJS.ProcessEnv, parent: typeof sudoParent | (() => undefined) = sudoParent, uid = 0, euid = 0) =>
    identify({ uid, euid, ppid: 4242, env: e }, { passwd, parent });

  it('believes SUDO_USER only when sudo really started this process as that user', () => {
    assert.deepEqual(as(env), { user: 'alice', label: 'alice (sudo)', elevated: true });
  });

  it('a spoofed SUDO_USER is recorded as root, unverified, and still counts as sudo', () => {
    // not started by sudo (the parent is a shell or a test runner)
    assert.deepEqual(as(env, () => undefined), { user: 'root', label: 'root (SUDO_USER alice unverified)', elevated: true });
    // SUDO_UID that is not the account's, or a parent whose real uid is someone else's
    assert.equal(as({ ...env, SUDO_UID: '0' }).user, 'root');
    assert.equal(as(env, () => ({ setuidRoot: true, realUid: 1002 })).user, 'root');
    assert.equal(as(env, () => ({ setuidRoot: false, realUid: 1001 })).user, 'root');
    assert.equal(as({ SUDO_USER: 'alice' }).label, 'root (SUDO_USER alice unverified)');
    assert.equal(as({ SUDO_USER: 'a b;c', SUDO_UID: '1001' }).label, 'root (SUDO_USER invalid unverified)');
  });

  it('without sudo the account running is the deployer, whatever USER says', () => {
    assert.deepEqual(as({ USER: 'alice', LOGNAME: 'alice' }), { user: 'root', label: 'root', elevated: false });
    // a non-root user cannot borrow a name with SUDO_USER either
    assert.deepEqual(as(env, sudoParent, 1001, 1001), { user: 'alice', label: 'alice', elevated: false });
  });

  it("its own passwd entry, read without getent, is getent's; other accounts still come from getent", () => {
    const entry = (key: string | number) => {
      const [name, , uid, gid] = execFileSync('getent', ['passwd', '--', String(key)], { encoding: 'utf8' }).split(':');
      return { name, uid: Number(uid), gid: Number(gid) };
    };
    const self = process.geteuid!();
    assert.deepEqual(passwdEntry(self), entry(self));
    assert.deepEqual(passwdEntry('nobody'), entry('nobody'));
    assert.deepEqual(passwdEntry(entry('nobody').uid), entry('nobody'));
    assert.equal(passwdEntry('no-such-user-slipway'), undefined);
  });

  it('setuid: the real uid is the caller', () => {
    assert.deepEqual(as({ SUDO_USER: 'root' }, sudoParent, 1001, 0), { user: 'alice', label: 'alice (setuid)', elevated: true });
  });
});

describe('the tars Slipway writes on the admin node', () => {
  it('are created 0600, even over an older tar that was world-readable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-tar-'));
    try {
      await writeFile(join(dir, 'settings_local.py'), 'SECRET = 1\n');
      const file = join(dir, 'ship.tar');
      await writeFile(file, 'old', { mode: 0o644 });
      await chmod(file, 0o644);
      await fullTar(dir, ['settings_local.py'], file);
      assert.equal(statSync(file).mode & 0o777, 0o600);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('trusted paths under sudo', () => {
  it('a path is trusted only when root owns it and every directory above it, none writable by group or others', async () => {
    const base = await mkdtemp(join('/var/lib', 'slipway-trust-'));
    try {
      await chmod(base, 0o755);
      const file = join(base, 'app.ts');
      await writeFile(file, '', { mode: 0o644 });
      assert.equal(trustProblem(file), undefined);
      assert.equal(trustProblem(join(base, 'missing', 'x')), undefined, 'only root can create what is missing');
      await chmod(file, 0o664);
      assert.match(trustProblem(file)!, /app\.ts is writable by its group \(mode 0664\)/);
      await chmod(file, 0o644);
      await chown(file, 1000, 1000);
      assert.match(trustProblem(file)!, /app\.ts is owned by .*\(uid 1000\)|app\.ts is owned by uid 1000/);
      await chown(file, 0, 0);
      await chmod(base, 0o757);
      assert.match(trustProblem(file)!, /slipway-trust-\w+ is writable by others \(mode 0757\)/);
      await chmod(base, 0o755);
      // a root-owned symlink to a file in a sticky world-writable directory
      const tmp = await mkdtemp(join(tmpdir(), 'slipway-trust-'));
      await writeFile(join(tmp, 'evil.ts'), '');
      await symlink(join(tmp, 'evil.ts'), join(base, 'link.ts'));
      assert.match(trustProblem(join(base, 'link.ts'))!, /writable by others \(mode 1777\).*leads there/);
      assert.throws(() => requireTrusted(join(base, 'link.ts'), 'the app file'), /under sudo Slipway only uses files that root owns and nobody else can write/);
      await rm(tmp, { recursive: true, force: true });
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });

  it('an admin root is never a system directory, a release tree or inside a store', async () => {
    for (const bad of ['/', '/etc', '/usr/local', '/var', '/etc/slipway', '/usr/share/x']) assert.ok(checkAdminRoot(bad), bad);
    assert.equal(checkAdminRoot('/data'), undefined);
    // /dev/shm is for anyone's files, as /tmp is (the benchmark's admin root lives there); /dev itself is not
    assert.equal(checkAdminRoot('/dev/shm/slipway-bench/admin'), undefined);
    assert.ok(checkAdminRoot('/dev/shm'));
    assert.ok(checkAdminRoot('/dev/pts/x'));
    assert.match(checkAdminRoot('/data/www/shop/releases/r3')!, /release tree/);
    const base = await mkdtemp(join(tmpdir(), 'slipway-root-'));
    try {
      await mkdir(join(base, 'store', '.git'), { recursive: true });
      assert.match(checkAdminRoot(join(base, 'store', 'sub'))!, /a git checkout/);
      await mkdir(join(base, 'host', 'releases'), { recursive: true });
      await symlink('releases/r1', join(base, 'host', 'current'));
      assert.match(checkAdminRoot(join(base, 'host', 'x'))!, /a host's release tree/);
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});

describe('release ids are never reused', () => {
  it('a tag is created once and never moved; then the branch does not move either', () =>
    withStore(async (www) => {
      const { release: r1 } = await commitRelease(www, FACTS, []);
      const env = { GIT_AUTHOR_NAME: 'x', GIT_AUTHOR_EMAIL: 'x@x', GIT_COMMITTER_NAME: 'x', GIT_COMMITTER_EMAIL: 'x@x' };
      const tree = (await storeGit(www, ['rev-parse', 'HEAD^{tree}'])).stdout.trim();
      const other = (await storeGit(www, ['commit-tree', tree, '-p', r1.commit, '-m', 'other'], { env })).stdout.trim();
      await assert.rejects(moveToRelease(www, 'r1', other, r1.commit), /release id r1 already exists/);
      assert.equal((await listReleases(www))[0]!.commit, r1.commit, 'r1 still names its own commit');
      assert.equal((await storeGit(www, ['rev-parse', 'HEAD'])).stdout.trim(), r1.commit, 'the branch did not move');
      await assert.rejects(moveToRelease(www, 'r2', other, 'b'.repeat(40)), /store moved/, 'the branch must still be where the release was made from');
      assert.deepEqual((await listReleases(www)).map((r) => r.id), ['r1']);
    }));

  it('a release read back from the store is the one commitRelease returned', () =>
    withStore(async (www) => {
      await writeFile(join(www, 'index.html'), 'v1\n');
      const facts = { ...FACTS, branch: 'main', subject: 'first', submodules: [{ path: 'vendor/x', sha: 'b'.repeat(40) }], build: 'ci #4' };
      const made = await commitRelease(www, facts, ['app/secret.py']);
      assert.ok(made.created);
      assert.deepEqual((await listReleases(www))[0], made.release);
      assert.deepEqual(made.releases, [made.release]);
      const again = await commitRelease(www, facts, ['app/secret.py']);
      assert.equal(again.created, false, 'the same tree makes no new release');
      assert.deepEqual(again.release, made.release);
      await writeFile(join(www, 'index.html'), 'v2\n');
      const r2 = await commitRelease(www, facts, []);
      assert.equal(r2.release.id, 'r2');
      assert.deepEqual((await storeGit(www, ['rev-list', '--parents', '-1', r2.release.commit])).stdout.trim().split(' ')[1], made.release.commit, 'r2 follows r1');
      assert.deepEqual(r2.releases.map((r) => r.id), ['r2', 'r1']);
    }));
});

describe('host states and private groups', () => {
  const release = { id: 'r7', number: 7, commit: 'c'.repeat(40), date: '', deployer: 'a', submodules: [], privateFiles: ['app/settings_local.py', 'we\nird'] };
  it('says what each host serves', () => {
    const lines = describeHostStates(release, [
      { host: 'web1', state: 'switched' },
      { host: 'web2', state: 'staged', previous: 'r6' },
      { host: 'web3', state: 'failed', error: 'not started: interrupted by SIGINT' },
    ]);
    assert.deepEqual(lines, [
      '  web1: switched, serves r7',
      '  web2: r7 staged but not switched; still serves r6',
      '  web3: not staged (not started: interrupted by SIGINT); still serves its previous release',
    ]);
  });
  it('passes the group and the private files as argv, never a name with a newline', () => {
    assert.deepEqual(stageCmd('/data/www/shop', release, 1234, 30, 'rsync').slice(4), [
      '/data/www/shop', 'r7-cccccccccccc', 'c'.repeat(40), '1234', '30', 'rsync', '', '', '', '0640', '', '', '', '', 'app/settings_local.py',
    ]);
    const grouped = stageCmd('/data/www/shop', release, 1234, 30, 'rsync', { group: 'www-data' });
    assert.equal(grouped[10], 'www-data');
    assert.deepEqual(grouped.slice(18), ['app/settings_local.py']);
  });
});

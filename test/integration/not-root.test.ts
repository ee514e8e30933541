/**
 * A user who is not root runs a command on an admin node set up by root (issue 16 item 10):
 * every command says, in one line, which path only root may use and that it needs sudo;
 * no EACCES, no git command line with "dubious ownership", no empty listing; exit 2 and
 * nothing changes. Runs the real CLI as the real user `nobody`.
 */
import assert from 'node:assert/strict';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { snapshot } from '../support/safety.js';
import { CLI, type World, makeWorld } from '../support/world.js';

describe('a command run without sudo says it needs sudo', { timeout: 600_000 }, () => {
  let w: World;
  let baseline: Map<string, string>;

  const asNobody = async (args: string[]) => {
    const r = await execa('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'node', CLI, '--apps', w.appsDir, '--root', w.root, ...args], {
      reject: false,
      all: true,
      cwd: '/',
      extendEnv: false,
      env: { PATH: process.env.PATH, HOME: '/nonexistent', CI: '1' },
      timeout: 120_000,
    });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, all: r.all ?? '' };
  };

  before(async () => {
    w = await makeWorld({ net: '127.0.93', size: 1 });
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    // others may read the app file and enter the world, as on an admin node; the admin dirs stay root's (0700)
    await chmod(w.dir, 0o755);
    await chmod(w.appsDir, 0o755);
    await chmod(join(w.appsDir, `${w.app}.ts`), 0o644);
    baseline = snapshot(w);
  });
  after(async () => {
    await w?.down();
  });

  const cases: [string[], RegExp][] = [
    [['releases'], /cannot read \S+\/prod\/www: only root can; run it with sudo \(sudo deploy --apps \S+ --root \S+ releases shop-prod\)/],
    [['log'], /cannot read \S+\/prod\/www: only root can; run it with sudo/],
    [['diff'], /cannot read \S+\/prod\/www: only root can; run it with sudo/],
    [['status'], /cannot read \S+\/prod\/www: only root can; run it with sudo/],
    [['plan'], /cannot read \S+\/prod\/www: only root can; run it with sudo/],
    [[], /cannot write to \S+\/prod\/www: only root can; run it with sudo \(sudo deploy --apps \S+ --root \S+ shop-prod\)/],
    [['rollback'], /cannot write to \S+\/prod\/www: only root can; run it with sudo/],
    [['sync'], /cannot write to \S+\/prod\/www: only root can; run it with sudo/],
    [['unlock', '--force'], /cannot write to \S+\/prod\/state: only root can; run it with sudo/],
  ];
  for (const [command, expected] of cases) {
    it(`deploy ${command.join(' ') || '<target>'}`, async () => {
      const [name = [], rest = []] = command.length ? [[command[0]!], command.slice(1)] : [];
      const r = await asNobody([...name, w.target, ...rest]);
      assert.equal(r.exitCode, 2, r.all);
      assert.match(r.stderr, expected);
      assert.doesNotMatch(r.all, /EACCES|dubious|no releases|no deploys|\n.*\n.*\n/);
      assert.deepEqual(snapshot(w), baseline, 'nothing changed');
    });
  }

  it('a store others may read but root owns: git would refuse it, so the message says whose it is', async () => {
    const www = join(w.root, 'prod', 'www');
    await chmod(www, 0o755);
    try {
      for (const command of ['releases', 'log']) {
        const r = await asNobody([command, w.target]);
        assert.equal(r.exitCode, 2, r.all);
        assert.match(r.stderr, /cannot use the git repository \S+\/prod\/www\/shop: it belongs to root; run it with sudo/);
        assert.doesNotMatch(r.all, /dubious|-c |no deploys/);
      }
    } finally {
      await chmod(www, 0o700);
    }
  });
});

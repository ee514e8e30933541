import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { simpleGit } from 'simple-git';

import { explainGitFailure, gitEnvironment, parseHeads, withoutPassword } from '../../src/update/checkout.js';

describe('the environment git runs in', () => {
  const operator = { PATH: process.env.PATH, HOME: '/root', EDITOR: 'vi', VISUAL: 'code -w', PAGER: 'less', GIT_PAGER: 'delta', GIT_ASKPASS: '/bin/askpass', GIT_SSH_COMMAND: 'ssh -i /etc/deploy/key' };

  test('drops editors, pagers and askpass; keeps the rest; never prompts', () => {
    const { env } = gitEnvironment(operator);
    for (const k of ['EDITOR', 'VISUAL', 'PAGER', 'GIT_PAGER', 'GIT_ASKPASS']) assert.equal(env[k], undefined, k);
    assert.equal(env.GIT_SSH_COMMAND, 'ssh -i /etc/deploy/key');
    assert.equal(env.HOME, '/root');
    assert.equal(env.GIT_TERMINAL_PROMPT, '0');
    assert.equal(env.LC_ALL, 'C');
  });

  test('lifts only the simple-git guards whose variables are present', () => {
    assert.equal(gitEnvironment(operator).unsafe.allowUnsafeSshCommand, true);
    assert.equal(gitEnvironment({ PATH: '/bin' }).unsafe.allowUnsafeSshCommand, false);
    assert.equal(gitEnvironment({ GIT_CONFIG_GLOBAL: '/etc/gitconfig-deploy' }).unsafe.allowUnsafeConfigPaths, true);
  });

  test('simple-git runs a clone in an operator environment (it refused one with EDITOR set)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-gitenv-'));
    try {
      const gitEnv = { GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@x', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@x' };
      await execa('git', ['init', '-q', join(dir, 'src')], { env: gitEnv });
      await execa('git', ['commit', '-q', '--allow-empty', '-m', 'one'], { cwd: join(dir, 'src'), env: gitEnv });
      const { env, unsafe } = gitEnvironment({ ...operator, ...gitEnv });
      await assert.rejects(simpleGit({ baseDir: dir }).env({ ...operator, ...gitEnv }).clone(join(dir, 'src'), join(dir, 'raw')), /EDITOR/);
      await simpleGit({ baseDir: dir, unsafe }).env(env).clone(join(dir, 'src'), join(dir, 'copy'));
      assert.match((await execa('git', ['log', '--format=%s'], { cwd: join(dir, 'copy') })).stdout, /one/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("git's failures, in words a user can act on", () => {
  const spec = { repo: '/srv/git/shop.git', branch: 'mian' };
  test('a branch that is not there names the branches there are', () => {
    assert.equal(
      explainGitFailure("fatal: couldn't find remote ref refs/heads/mian", spec, ['main', 'release']),
      'branch "mian" not found in /srv/git/shop.git; branches: main, release; set the app\'s (or env\'s) `branch`',
    );
  });
  test("a local-path submodule names the setting that allows it", () => {
    assert.match(explainGitFailure("fatal: transport 'file' not allowed", spec) ?? '', /gitConfig: \{ 'protocol\.file\.allow': 'always' \}/);
  });
  test('other failures are left to git', () => assert.equal(explainGitFailure('fatal: unable to access', spec), undefined));
  test('ls-remote --heads output parses to branch names', () => {
    assert.deepEqual(parseHeads(`${'a'.repeat(40)}\trefs/heads/main\n${'b'.repeat(40)}\trefs/heads/feature/x\n`), ['main', 'feature/x']);
  });
  test('a password in a repository URL is never shown', () => {
    assert.equal(withoutPassword('https://deploy:s3cret@git.example.com/shop.git'), 'https://deploy:***@git.example.com/shop.git');
    assert.equal(withoutPassword('git@github.com:mozilla/shop.git'), 'git@github.com:mozilla/shop.git');
  });
});

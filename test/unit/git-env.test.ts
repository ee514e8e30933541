import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { git } from '../../src/exec/git.js';
import { local } from '../../src/exec/local.js';

import { explainGitFailure, gitEnvironment, parseHeads, withoutPassword } from '../../src/update/checkout.js';

describe('the environment git runs in', () => {
  const operator = { PATH: process.env.PATH, HOME: '/root', EDITOR: 'vi', VISUAL: 'code -w', PAGER: 'less', GIT_PAGER: 'delta', GIT_ASKPASS: '/bin/askpass', GIT_SSH_COMMAND: 'ssh -i /etc/deploy/key' };

  test('unsets editors, pagers and askpass; keeps the rest; never prompts', () => {
    const env = gitEnvironment(operator);
    for (const k of ['EDITOR', 'VISUAL', 'PAGER', 'GIT_PAGER', 'GIT_ASKPASS']) assert.ok(k in env && env[k] === undefined, k);
    assert.equal(env.GIT_SSH_COMMAND, 'ssh -i /etc/deploy/key');
    assert.equal(env.HOME, '/root');
    assert.equal(env.GIT_TERMINAL_PROMPT, '0');
    assert.equal(env.LC_ALL, 'C');
  });

  test('git runs a clone in an operator environment, and sees none of its editors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'slipway-gitenv-'));
    const editor = process.env.EDITOR;
    try {
      const gitEnv = { GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@x', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@x' };
      await execa('git', ['init', '-q', join(dir, 'src')], { env: gitEnv });
      await execa('git', ['commit', '-q', '--allow-empty', '-m', 'one'], { cwd: join(dir, 'src'), env: gitEnv });
      // the runner adds the process's own environment: an EDITOR there must not reach git either
      process.env.EDITOR = 'vi';
      const env = gitEnvironment({ ...operator, ...gitEnv });
      await git(local, { dir, env }).run(['clone', '--quiet', join(dir, 'src'), join(dir, 'copy')]);
      assert.match((await execa('git', ['log', '--format=%s'], { cwd: join(dir, 'copy') })).stdout, /one/);
      assert.equal((await local.run(['sh', '-c', 'echo "${EDITOR-unset} ${GIT_PAGER-unset}"'], { env })).stdout, 'unset unset\n');
    } finally {
      if (editor === undefined) delete process.env.EDITOR;
      else process.env.EDITOR = editor;
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

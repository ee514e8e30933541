import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Cmd } from '../../src/exec/cmd.js';
import { GitError, STORE_SETTINGS, configFlags, git, gitCmd } from '../../src/exec/git.js';
import type { RunOptions, RunResult, Runner } from '../../src/exec/runner.js';

/** Answers the commands it expects, in order, and records what it was asked; anything else fails the test. */
function recorder(...expected: { argv: Cmd; result?: Partial<RunResult> }[]) {
  const calls: { argv: Cmd; options: RunOptions }[] = [];
  const runner: Runner = {
    where: 'admin',
    async run(argv, options = {}) {
      const next = expected.shift();
      assert.ok(next, `unexpected command: ${argv.join(' ')}`);
      assert.deepEqual(argv, next.argv);
      calls.push({ argv, options });
      return { stdout: '', stderr: '', exitCode: 0, ...next.result };
    },
  };
  return { runner, calls, done: () => assert.deepEqual(expected, [], 'every expected command ran') };
}

describe('the git wrapper', () => {
  it('builds git -C <dir>, then each setting as one -c flag, then the arguments', () => {
    assert.deepEqual(configFlags({ 'core.trustctime': 'false', 'http.extraHeader': 'A: b=c' }), ['-c', 'core.trustctime=false', '-c', 'http.extraHeader=A: b=c']);
    assert.deepEqual(gitCmd('/srv/src', {}, ['status']), ['git', '-C', '/srv/src', 'status']);
    const flags = gitCmd('/srv/www', STORE_SETTINGS, ['write-tree']);
    assert.equal(flags.filter((w) => w === '-c').length, Object.keys(STORE_SETTINGS).length, 'one -c per store setting');
    assert.ok(flags.includes('core.hooksPath=/dev/null') && flags.at(-1) === 'write-tree');
  });

  it('runs through the runner it is given: the argv whole, its env under each call’s own, the options passed on', async () => {
    const rec = recorder({ argv: ['git', '-C', '/srv/www', '-c', 'core.quotePath=false', 'commit-tree', 'abc', '-F', '-'], result: { stdout: 'def\n' } });
    const g = git(rec.runner, { dir: '/srv/www', settings: { 'core.quotePath': 'false' }, env: { GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 'x' } });
    const r = await g.run(['commit-tree', 'abc', '-F', '-'], { input: 'release 1\n', env: { GIT_AUTHOR_NAME: 'slipway' }, reject: false });
    assert.equal(r.stdout, 'def\n');
    assert.deepEqual(rec.calls[0]!.options, { input: 'release 1\n', reject: false, env: { GIT_TERMINAL_PROMPT: '0', GIT_AUTHOR_NAME: 'slipway' } });
    rec.done();
  });

  it("out: stdout of a success; a failure is a GitError in git's own words, or its exit code when it said nothing", async () => {
    const rec = recorder(
      { argv: ['git', '-C', '/src', 'rev-parse', 'HEAD'], result: { stdout: 'abc\n' } },
      { argv: ['git', '-C', '/src', 'fetch', 'origin'], result: { exitCode: 128, stderr: "fatal: couldn't find remote ref refs/heads/mian\n" } },
      { argv: ['git', '-C', '/src', 'merge-base', '--is-ancestor', 'a', 'b'], result: { exitCode: 1 } },
    );
    const g = git(rec.runner, { dir: '/src' });
    assert.equal(await g.out(['rev-parse', 'HEAD']), 'abc\n');
    await assert.rejects(g.out(['fetch', 'origin']), (err: unknown) => err instanceof GitError && err.exitCode === 128 && /couldn't find remote ref/.test(err.message));
    await assert.rejects(g.out(['merge-base', '--is-ancestor', 'a', 'b']), { name: 'GitError', message: 'git merge-base exited 1' });
    assert.ok(rec.calls.every((c) => c.options.reject === false), 'out reads the result itself');
    rec.done();
  });
});

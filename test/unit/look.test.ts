/**
 * HostLook with the real look script, run by the real sh: a stand-in connection runs the
 * command locally the way a web server's sshd would (sh -c <line>), with the run options a
 * HostConnection takes (input stream, onLine, signal, reject).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Cmd, shellLine } from '../../src/exec/cmd.js';
import { HostLook } from '../../src/deploy/look.js';
import { parseLines } from '../../src/deploy/remote-output.js';
import { releaseDir } from '../../src/deploy/layout.js';
import type { HostConnection, RunOptions, RunResult } from '../../src/exec/runner.js';

const r1 = { id: 'r1', commit: '1'.repeat(40) };
const r2 = { id: 'r2', commit: '2'.repeat(40) };

/** Runs commands with the local sh; `started` counts them, `runs` are their results. */
function localSession(): HostConnection & { started: number; runs: Promise<RunResult>[] } {
  const session = {
    started: 0,
    runs: [] as Promise<RunResult>[],
    run(cmd: Cmd, options: RunOptions = {}): Promise<RunResult> {
      assert.equal(options.reject, false, 'the look reads a failure from the exit code');
      session.started++;
      const run = new Promise<RunResult>((resolve, reject) => {
        // its own process group, so that a kill reaches what it started, as sshd's would
        const child = spawn('/bin/sh', ['-c', shellLine(cmd)], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
        let stdout = '';
        let stderr = '';
        let sent = 0;
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString('utf8');
          for (let nl = stdout.indexOf('\n', sent); nl >= 0; nl = stdout.indexOf('\n', sent)) {
            options.onLine?.(stdout.slice(sent, nl), 'stdout');
            sent = nl + 1;
          }
        });
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
        options.signal?.addEventListener('abort', () => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            // already gone
          }
          reject(new Error(`sh: ${String(options.signal!.reason)}`));
        });
        child.on('close', (code) => resolve({ exitCode: code ?? -1, stdout, stderr }));
        const input = options.input;
        if (input && typeof input === 'object' && 'pipe' in input) (input as Readable).pipe(child.stdin);
        else child.stdin.end(input ?? '');
      });
      session.runs.push(run);
      return run;
    },
  };
  return session as unknown as HostConnection & { started: number; runs: Promise<RunResult>[] };
}

let tmp: string;
let counter = 0;
before(() => (tmp = mkdtempSync(join(tmpdir(), 'slipway-look-'))));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A host's app dir holding r1 (live) and r2 (staged): empty trees, with their record and (empty) manifest beside them. */
function host(): string {
  const base = join(tmp, `host${++counter}`);
  for (const r of [r1, r2]) {
    mkdirSync(join(base, 'releases', releaseDir(r)), { recursive: true });
    writeFileSync(join(base, 'releases', `.${releaseDir(r)}.rev`), `${r.commit}\n`);
    writeFileSync(join(base, 'releases', `.${releaseDir(r)}.manifest`), '');
  }
  symlinkSync(`releases/${releaseDir(r1)}`, join(base, 'current'));
  return base;
}

const live = (base: string) => readlinkSync(join(base, 'current'));

describe('HostLook: one remote command looks at a host, then switches it when told', () => {
  test('the look resolves while the command waits; switchTo switches in the same command', async () => {
    const base = host();
    const session = localSession();
    const look = new HostLook(session, base, 10_000);
    const state = await look.state;
    assert.equal(state.live, releaseDir(r1));
    assert.deepEqual([...state.have.keys()].sort(), [releaseDir(r1), releaseDir(r2)]);
    assert.equal(live(base), `releases/${releaseDir(r1)}`, 'looking switches nothing');
    const r = await look.switchTo(releaseDir(r2))!;
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(parseLines(r.stdout).get('previous'), [releaseDir(r1)]);
    assert.ok(parseLines(r.stdout).has('switched'));
    assert.ok(!parseLines(r.stdout).has('have'), 'the switch result is only what followed the look');
    assert.equal(live(base), `releases/${releaseDir(r2)}`);
    assert.equal(session.started, 1, 'one remote command for both');
    assert.equal(look.switchTo(releaseDir(r1)), undefined, 'a look switches once; a revert is a fresh command');
    // switched, it waits for a prune; closed instead, it ends with nothing pruned
    look.close();
    const ended = await session.runs[0]!;
    assert.equal(ended.exitCode, 0, ended.stderr);
    assert.ok(!parseLines(ended.stdout).has('pruned'), ended.stdout);
    assert.deepEqual(readdirSync(join(base, 'releases')).filter((d) => !d.startsWith('.')).sort(), [releaseDir(r1), releaseDir(r2)]);
  });

  test('after its switch, prune() prunes in the same command: the release served before goes once keep is 1', async () => {
    const base = host();
    const session = localSession();
    const look = new HostLook(session, base, 10_000);
    await look.state;
    assert.equal(look.prune(1), undefined, 'nothing to prune through a look that has not switched');
    assert.equal((await look.switchTo(releaseDir(r2))!).exitCode, 0);
    assert.throws(() => look.prune(0), /not a number of releases to keep/);
    const r = await look.prune(1)!;
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(parseLines(r.stdout).get('pruned'), [releaseDir(r1)]);
    assert.ok(!parseLines(r.stdout).has('switched'), 'the prune result is only what followed the switch');
    assert.deepEqual(readdirSync(join(base, 'releases')).sort(), [`.${releaseDir(r2)}.manifest`, `.${releaseDir(r2)}.rev`, releaseDir(r2)]);
    assert.equal(live(base), `releases/${releaseDir(r2)}`);
    assert.equal(session.started, 1, 'look, switch and prune: one remote command');
    assert.equal(look.prune(1), undefined, 'the command has ended: a prune is a fresh command');
  });

  test('close() ends the command with nothing switched, and the look can no longer switch', async () => {
    const base = host();
    const session = localSession();
    const look = new HostLook(session, base, 10_000);
    await look.state;
    look.close();
    assert.equal(look.switchTo(releaseDir(r2)), undefined);
    // the command reads the end of its input and exits: still on r1
    const ended = await session.runs[0]!.catch((err: unknown) => ({ code: -1, stdout: '', stderr: String(err) }));
    assert.ok(!parseLines(ended.stdout).has('switched'), ended.stdout);
    assert.equal(live(base), `releases/${releaseDir(r1)}`);
  });

  test('a release that is not staged is refused there, and current stays', async () => {
    const base = host();
    const look = new HostLook(localSession(), base, 10_000);
    await look.state;
    const r = await look.switchTo('r3-333333333333')!;
    assert.equal(r.exitCode, 3);
    assert.match(r.stderr, /release r3-333333333333 is not staged on this host/);
    assert.equal(live(base), `releases/${releaseDir(r1)}`);
  });

  test('only a release directory name is sent', async () => {
    const look = new HostLook(localSession(), host(), 10_000);
    await look.state;
    for (const bad of ['../x', 'r1-abc\nr2-def', '', 'current']) assert.throws(() => look.switchTo(bad), /not a release directory/);
    look.close();
  });

  test('a look that fails rejects the state, and the look leaves the switch to a fresh command', async () => {
    const session = localSession();
    const run = session.run.bind(session);
    session.run = (cmd, options) => run(['sh', '-c', 'echo "no such place" >&2; exit 7'], options);
    const look = new HostLook(session, host(), 10_000);
    await assert.rejects(look.state, /cannot read the host's releases \(exit 7\): no such place/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(look.switchTo(releaseDir(r2)), undefined);
  });

  test('a look that hangs fails after the timeout', async () => {
    const session = localSession();
    const run = session.run.bind(session);
    session.run = (cmd, options) => run(['sh', '-c', 'sleep 30'], options);
    const look = new HostLook(session, host(), 200);
    await assert.rejects(look.state, /timed out/);
  });
});

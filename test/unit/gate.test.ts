/**
 * SwitchGate with the real GATE script, run by the real sh: a stand-in session runs the
 * command locally the way a web server's sshd would (sh -c <line>), with the same exec
 * options HostSession.exec takes (stdin stream, onStdout, signal).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type Cmd, shellLine } from '../../src/exec/cmd.js';
import { SwitchGate } from '../../src/deploy/switch/gate.js';
import { parseLines, releaseDir } from '../../src/deploy/remote.js';
import type { ExecOptions, ExecResult, HostSession } from '../../src/deploy/connect/ssh.js';

const r1 = { id: 'r1', commit: '1'.repeat(40) };
const r2 = { id: 'r2', commit: '2'.repeat(40) };

/** Runs commands with the local sh; `started` counts them, `runs` are their results. */
function localSession(): HostSession & { started: number; runs: Promise<ExecResult>[] } {
  const session = {
    started: 0,
    runs: [] as Promise<ExecResult>[],
    exec(cmd: Cmd, options: ExecOptions = {}): Promise<ExecResult> {
      session.started++;
      const run = new Promise<ExecResult>((resolve, reject) => {
        // its own process group, so that a kill reaches what it started, as sshd's would
        const child = spawn('/bin/sh', ['-c', shellLine(cmd)], { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString('utf8');
          options.onStdout?.(stdout);
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
        child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
        const input = options.stdin;
        if (input && typeof input === 'object' && 'pipe' in input) (input as Readable).pipe(child.stdin);
        else child.stdin.end(input ?? '');
      });
      session.runs.push(run);
      return run;
    },
  };
  return session as unknown as HostSession & { started: number; runs: Promise<ExecResult>[] };
}

let tmp: string;
let counter = 0;
before(() => (tmp = mkdtempSync(join(tmpdir(), 'slipway-gate-'))));
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

describe('SwitchGate: one remote command looks at a host, then switches it when told', () => {
  test('the look resolves while the command waits; switchTo switches in the same command', async () => {
    const base = host();
    const session = localSession();
    const gate = new SwitchGate(session, base, 10_000);
    const state = await gate.state;
    assert.equal(state.live, releaseDir(r1));
    assert.deepEqual([...state.have.keys()].sort(), [releaseDir(r1), releaseDir(r2)]);
    assert.equal(live(base), `releases/${releaseDir(r1)}`, 'looking switches nothing');
    const r = await gate.switchTo(releaseDir(r2))!;
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseLines(r.stdout).get('previous'), [releaseDir(r1)]);
    assert.ok(parseLines(r.stdout).has('switched'));
    assert.ok(!parseLines(r.stdout).has('have'), 'the switch result is only what followed the look');
    assert.equal(live(base), `releases/${releaseDir(r2)}`);
    assert.equal(session.started, 1, 'one remote command for both');
    assert.equal(gate.switchTo(releaseDir(r1)), undefined, 'a gate switches once; a revert is a fresh command');
  });

  test('close() ends the command with nothing switched, and the gate can no longer switch', async () => {
    const base = host();
    const session = localSession();
    const gate = new SwitchGate(session, base, 10_000);
    await gate.state;
    gate.close();
    assert.equal(gate.switchTo(releaseDir(r2)), undefined);
    // the command reads the end of its input and exits: still on r1
    const ended = await session.runs[0]!.catch((err: unknown) => ({ code: -1, stdout: '', stderr: String(err) }));
    assert.ok(!parseLines(ended.stdout).has('switched'), ended.stdout);
    assert.equal(live(base), `releases/${releaseDir(r1)}`);
  });

  test('a release that is not staged is refused there, and current stays', async () => {
    const base = host();
    const gate = new SwitchGate(localSession(), base, 10_000);
    await gate.state;
    const r = await gate.switchTo('r3-333333333333')!;
    assert.equal(r.code, 3);
    assert.match(r.stderr, /release r3-333333333333 is not staged on this host/);
    assert.equal(live(base), `releases/${releaseDir(r1)}`);
  });

  test('only a release directory name is sent', async () => {
    const gate = new SwitchGate(localSession(), host(), 10_000);
    await gate.state;
    for (const bad of ['../x', 'r1-abc\nr2-def', '', 'current']) assert.throws(() => gate.switchTo(bad), /not a release directory/);
    gate.close();
  });

  test('a look that fails rejects the state, and the gate leaves the switch to a fresh command', async () => {
    const session = localSession();
    const exec = session.exec.bind(session);
    session.exec = (cmd, options) => exec(['sh', '-c', 'echo "no such place" >&2; exit 7'], options);
    const gate = new SwitchGate(session, host(), 10_000);
    await assert.rejects(gate.state, /cannot read the host's releases \(exit 7\): no such place/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(gate.switchTo(releaseDir(r2)), undefined);
  });

  test('a look that hangs fails after the timeout', async () => {
    const session = localSession();
    const exec = session.exec.bind(session);
    session.exec = (cmd, options) => exec(['sh', '-c', 'sleep 30'], options);
    const gate = new SwitchGate(session, host(), 200);
    await assert.rejects(gate.state, /timed out/);
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { StepError } from '../../src/errors.js';
import { local } from '../../src/exec/local.js';

describe('the local runner', () => {
  it('returns output as is, under the C locale, with the given env and input', async () => {
    const r = await local.run(['sh', '-c', 'printf "%s|%s|" "$LC_ALL" "$X"; cat'], { env: { X: 'a b' }, input: 'in\n' });
    assert.deepEqual(r, { stdout: 'C|a b|in\n', stderr: '', exitCode: 0 });
  });

  it('throws a StepError naming the command and its last lines of stderr, unless reject is false', async () => {
    await assert.rejects(local.run(['sh', '-c', 'echo boom >&2; exit 3']), (err: unknown) => err instanceof StepError && /sh -c .* exited 3:\nboom/.test(err.message));
    const r = await local.run(['sh', '-c', 'exit 3'], { reject: false });
    assert.equal(r.exitCode, 3);
  });

  it('streams lines as they come, the last one without a newline too', async () => {
    const lines: string[] = [];
    await local.run(['sh', '-c', 'echo one; echo two >&2; printf three'], { onLine: (l, s) => lines.push(`${s}:${l}`) });
    assert.deepEqual(lines.sort(), ['stderr:two', 'stdout:one', 'stdout:three']);
  });

  it('names a timeout and a program that cannot start', async () => {
    await assert.rejects(local.run(['sleep', '5'], { timeoutMs: 100 }), /sleep 5 timed out after 100 ms/);
    assert.equal((await local.run(['sleep', '5'], { timeoutMs: 100, reject: false })).exitCode, 124);
    await assert.rejects(local.run(['no-such-program-slipway']), /ENOENT/);
  });

  it('stops the whole process group when its signal aborts: the shell and what it started', async () => {
    const stop = new AbortController();
    let child = 0;
    const run = local.run(['sh', '-c', 'sleep 300 & echo $!; wait'], {
      signal: stop.signal,
      onLine: (line) => {
        child = Number(line);
        stop.abort('SIGINT');
      },
    });
    await assert.rejects(run, /sh -c .* stopped \(SIGINT\)/);
    let stat = '';
    try {
      stat = readFileSync(`/proc/${child}/stat`, 'utf8');
    } catch {
      // gone
    }
    assert.ok(child > 0 && (stat === '' || /\) Z /.test(stat)), `sleep ${child} is gone`);
  });

  it('collects bytes, and refuses more than asked for', async () => {
    assert.deepEqual(await local.bytes(['head', '-c', '3', '/dev/zero'], '', 10), Buffer.alloc(3));
    await assert.rejects(local.bytes(['head', '-c', '100000', '/dev/zero'], '', 1000), /more than 1000 bytes/);
  });

  it('feeds a stream to stdin', async () => {
    assert.equal((await local.run(['cat'], { input: Readable.from(['a\n', 'b\n']) })).stdout, 'a\nb\n');
  });

  it('starts a long-running process, speaks with it, and stops it', async () => {
    const started = local.start(['sh', '-c', 'read line; echo "got $line $LC_ALL"; exec sleep 300']);
    const closed = new Promise<void>((resolve) => started.on('close', resolve));
    const said = new Promise<string>((resolve) => started.stdout.once('data', (d: Buffer) => resolve(d.toString())));
    started.stdin.write('hello\n');
    assert.equal(await said, 'got hello C\n');
    assert.equal(started.running, true);
    started.stop();
    await closed;
    assert.equal(started.running, false);
  });

  it('reports a long-running process that cannot start', async () => {
    const started = local.start(['no-such-program-slipway']);
    await assert.rejects(new Promise((_, reject) => started.on('error', reject)), /ENOENT/);
  });
});

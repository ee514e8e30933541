/**
 * The ssh2 session as a HostConnection (exec/runner.ts): run() against a real SSH server
 * (ssh2's, in this process) whose "commands" answer with chunks that split lines, so what
 * onLine hands on, what reject does and what reaches the command's input are checked.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import ssh2 from 'ssh2';
import { defaultSsh } from '../../src/config/resolve.js';
import type { SshSettings } from '../../src/config/schema.js';
import { HostSession } from '../../src/deploy/connect/ssh.js';
import { parseKnownHosts } from '../../src/deploy/connect/known-hosts.js';
import type { HostConnection } from '../../src/exec/runner.js';

let dir: string;
let server: ssh2.Server;
let host: HostConnection;
let port: number;
const open = (ssh: Partial<SshSettings> = {}) =>
  HostSession.open(
    { name: 'web1', address: '127.0.0.1', port, user: 'root' },
    { ssh: { ...defaultSsh(), connectTimeout: 5, ...ssh }, knownHosts: parseKnownHosts(`[127.0.0.1]:${port} ${readFileSync(join(dir, 'host.pub'), 'utf8')}`, '/k'), privateKey: readFileSync(join(dir, 'admin')) },
  );

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-ssh-run-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'host', '-f', join(dir, 'host')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'admin', '-f', join(dir, 'admin')]);
  server = new ssh2.Server({ hostKeys: [readFileSync(join(dir, 'host'))] }, (client) => {
    client.on('authentication', (ctx) => ctx.accept());
    client.on('error', () => undefined);
    // a port forward is never answered: ssh2 replies to global requests in order, so no
    // keepalive ping after it is answered either, as when pings queue behind a busy link
    client.on('request', () => undefined);
    client.on('session', (accept) => {
      accept().on('exec', (acceptExec, _reject, info) => {
        const stream = acceptExec();
        // the command line names what to do: `lines` writes two lines in three chunks that
        // split them; `fail` says why on stderr and exits 3; `echo` returns its input
        if (info.command.includes('lines')) {
          stream.write('first li');
          stream.write('ne\nsecond');
          stream.write(' line\nno newline at the end');
          stream.exit(0);
          stream.end();
        } else if (info.command.includes('trickle') || info.command.includes('silent')) {
          // output every 200 ms for 5 s, or nothing for as long
          const talk = info.command.includes('trickle');
          const timer = setInterval(() => talk && stream.write('.'), 200);
          setTimeout(() => {
            clearInterval(timer);
            stream.exit(0);
            stream.end();
          }, 5000);
          stream.on('close', () => clearInterval(timer));
        } else if (info.command.includes('fail')) {
          stream.stderr.write('something went wrong\nit was the disk\n');
          stream.exit(3);
          stream.end();
        } else {
          let input = '';
          stream.on('data', (d: Buffer) => (input += d.toString('utf8')));
          stream.on('end', () => {
            stream.write(input);
            stream.exit(0);
            stream.end();
          });
        }
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
  host = await open();
});

after(() => {
  host?.close();
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('HostSession.run', () => {
  test('hands on each line as it is complete, and the last one without a newline at the end', async () => {
    const lines: string[] = [];
    const r = await host.run(['sh', '-c', 'lines', 'slipway-lines'], { onLine: (line, stream) => lines.push(`${stream}: ${line}`) });
    assert.deepEqual(lines, ['stdout: first line', 'stdout: second line', 'stdout: no newline at the end']);
    assert.equal(r.stdout, 'first line\nsecond line\nno newline at the end');
    assert.equal(r.exitCode, 0);
    assert.equal(host.where, 'web1');
  });

  test('a non-zero exit throws, naming the host, the script and what it said last', async () => {
    await assert.rejects(host.run(['sh', '-c', 'fail', 'slipway-stage']), /^HostError: web1: slipway-stage failed \(exit 3\): something went wrong \/ it was the disk$/);
  });

  test('with reject: false a non-zero exit is a result', async () => {
    const r = await host.run(['sh', '-c', 'fail', 'slipway-stage'], { reject: false });
    assert.equal(r.exitCode, 3);
    assert.equal(r.stderr, 'something went wrong\nit was the disk\n');
  });

  test('its input reaches the command', async () => {
    const r = await host.run(['cat'], { input: 'secret\nC path\n' });
    assert.equal(r.stdout, 'secret\nC path\n');
  });
});

describe('keepalives', () => {
  // pings every second, three unanswered ones lose the host; the server answers none of them
  const unanswered = async () => {
    const session = await open({ keepaliveInterval: 1, keepaliveCountMax: 2 });
    void session.forwardIn(() => undefined).catch(() => undefined);
    return session;
  };

  test('a host that keeps sending data is alive, though its answers to pings are stuck', async () => {
    const session = await unanswered();
    try {
      const r = await session.run(['sh', '-c', 'trickle', 'slipway-stage']);
      assert.equal(r.stdout, '.'.repeat(r.stdout.length));
      assert.ok(r.stdout.length > 10, r.stdout);
      assert.equal(session.lost, undefined);
    } finally {
      session.close();
    }
  });

  test('a host that sends nothing and answers no ping is lost', async () => {
    const session = await unanswered();
    try {
      await assert.rejects(session.run(['sh', '-c', 'silent', 'slipway-stage']), /^HostError: web1: the SSH connection failed: Keepalive timeout$/);
    } finally {
      session.close();
    }
  });
});

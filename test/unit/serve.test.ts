/**
 * The release server with a real rsync client over loopback TCP (standing in for
 * the forwarded port): the secret's holder pulls the tree, symlinks as committed;
 * anyone else gets no daemon at all, and a flood of connections never runs more
 * than MAX_DAEMONS daemons.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { type AddressInfo, type Socket, createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MAX_DAEMONS, MODULE, RSYNC_USER, type ReleaseServer, startReleaseServer } from '../../src/deploy/stage/release-server.js';

/** rsync daemons this process runs now. */
function daemons(): Promise<number> {
  return new Promise((resolve) =>
    execFile('pgrep', ['-P', String(process.pid), '-f', 'rsync --server --daemon'], (err, stdout) => resolve(err ? 0 : stdout.trim().split('\n').length)),
  );
}

/** The most daemons seen at once while `work` runs. */
async function mostDaemonsDuring(work: () => Promise<void>): Promise<number> {
  let most = 0;
  let running = true;
  const watching = (async () => {
    while (running) most = Math.max(most, await daemons());
  })();
  try {
    await work();
  } finally {
    running = false;
    await watching;
  }
  return most;
}

function pull(port: number, password: string, dest: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('rsync', ['-rlpt', '--password-file=-', `rsync://${RSYNC_USER}@127.0.0.1:${port}/${MODULE}/`, `${dest}/`], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.stdin.end(`${password}\n`);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe('release server', () => {
  let dir: string;
  let server: ReleaseServer;
  let listener: ReturnType<typeof createServer>;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-serve-test-'));
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, 'css'), { recursive: true });
    writeFileSync(join(tree, 'index.html'), '<h1>hi</h1>\n');
    writeFileSync(join(tree, 'css', 'site.css'), 'body {}\n');
    symlinkSync('/etc/passwd', join(tree, 'abs'));
    symlinkSync('/rsyncd-munged/x', join(tree, 'munged'));
    symlinkSync('../../up', join(tree, 'up'));
    server = await startReleaseServer(tree);
    listener = createServer((socket) => server.serve(socket));
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    port = (listener.address() as AddressInfo).port;
  });
  after(async () => {
    listener.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the holder of the secret pulls the tree; symlinks arrive exactly as they are', async () => {
    const dest = join(dir, 'ok');
    const r = await pull(port, server.secret, dest);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(join(dest, 'css', 'site.css'), 'utf8'), 'body {}\n');
    assert.equal(readlinkSync(join(dest, 'abs')), '/etc/passwd');
    assert.equal(readlinkSync(join(dest, 'munged')), '/rsyncd-munged/x');
    assert.equal(readlinkSync(join(dest, 'up')), '../../up');
  });

  test('a wrong password is refused and starts no daemon', async () => {
    const most = await mostDaemonsDuring(async () => {
      const r = await pull(port, 'not-the-secret', join(dir, 'wrong'));
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /auth failed/);
    });
    assert.equal(most, 0);
  });

  test(`200 connections at once start no daemon; pulls still work and never more than ${MAX_DAEMONS} daemons run`, async () => {
    const sockets: Socket[] = [];
    const most = await mostDaemonsDuring(async () => {
      for (let i = 0; i < 200; i++) {
        const s = createConnection(port, '127.0.0.1');
        s.on('error', () => undefined);
        // half of them speak the protocol as far as it goes without the secret
        if (i % 2) s.write(`@RSYNCD: 32.0 sha512\n${MODULE}\n`);
        sockets.push(s);
      }
      const pulls = await Promise.all([0, 1, 2, 3].map((i) => pull(port, server.secret, join(dir, `flood${i}`))));
      // four pulls at once on one forward: at least the first MAX_DAEMONS succeed, the rest are turned away
      assert.ok(pulls.filter((p) => p.code === 0).length >= MAX_DAEMONS, pulls.map((p) => p.stderr).join('\n'));
      for (const s of sockets) s.destroy();
    });
    assert.ok(most <= MAX_DAEMONS, `${most} daemons ran at once`);
  });
});

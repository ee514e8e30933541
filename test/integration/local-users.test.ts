/**
 * Users who are not root, on a real loopback fleet: the admin node's task user
 * racing the lending of the checkout with a process left running by its task, and
 * a local user on a web server flooding the port forwarded to it while it stages.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readdirSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { type Socket, createConnection } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { MAX_DAEMONS, MODULE } from '../../src/deploy/stage/release-server.js';
import { runDeploy, startDeploy, waitFor, writeAppFile } from '../support/safety.js';
import { type World, makeWorld } from '../support/world.js';

const TASK_USER = 'slipwaytask';
const DIRS = 60;
const FILES = 10;

/**
 * What the task user runs. `make`: fills gen/ with DIRS directories of FILES files
 * (once; later runs find them there).
 * `swap`: until `stop` exists (or two minutes passed), in every gen/dN it may write,
 * moves each real directory aside and puts a symlink to the sentinel in its place.
 */
const SWAPPER = `
const fs = require('node:fs');
const [mode, sentinel, stop] = process.argv.slice(1);
if (mode === 'make') {
  for (let d = 0; d < ${DIRS}; d++) {
    if (fs.existsSync('gen/d' + d)) continue;
    fs.mkdirSync('gen/d' + d + '/sub', { recursive: true });
    for (let f = 0; f < ${FILES}; f++) fs.writeFileSync('gen/d' + d + '/sub/f' + f, 'built\\n');
  }
  process.exit(0);
}
const until = Date.now() + 120000;
let n = 0;
while (!fs.existsSync(stop) && Date.now() < until) {
  for (let d = 0; d < ${DIRS}; d++) {
    const dir = 'gen/d' + d;
    try {
      for (const name of fs.readdirSync(dir)) {
        if (!fs.lstatSync(dir + '/' + name).isDirectory()) continue;
        fs.symlinkSync(sentinel, dir + '/.lnk');
        fs.renameSync(dir + '/' + name, dir + '/m' + n++);
        fs.renameSync(dir + '/.lnk', dir + '/' + name);
      }
    } catch {}
  }
}
`;

/** Owners and modes of everything under dir, not following links. */
function entries(dir: string): { path: string; uid: number; mode: number; link: boolean }[] {
  const out: { path: string; uid: number; mode: number; link: boolean }[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    out.push({ path, uid: st.uid, mode: st.mode, link: st.isSymbolicLink() });
    if (st.isDirectory()) out.push(...entries(path));
  }
  return out;
}

/** rsync daemons a process runs now (its direct children). */
function daemonsOf(pid: number): Promise<number> {
  return new Promise((resolve) =>
    execFile('pgrep', ['-P', String(pid), '-f', 'rsync --server --daemon'], (err, stdout) => resolve(err ? 0 : stdout.trim().split('\n').length)),
  );
}

describe('users who are not root', { timeout: 600_000 }, () => {
  let w: World;
  const outputs: string[] = [];

  before(async () => {
    w = await makeWorld({ net: '127.0.75', size: 2 });
    await mkdir(join(w.dir, 'tmp'), { recursive: true });
    await execa('sh', ['-c', `id ${TASK_USER} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin ${TASK_USER}`]);
    const r = await runDeploy(w, [w.target], {}, outputs);
    assert.equal(r.exitCode, 0, r.all);
  });
  after(async () => {
    await w?.down();
  });

  it('a process the task user leaves running cannot make root chown anything outside the checkout', async () => {
    const sentinel = join(w.dir, 'sentinel');
    await mkdir(sentinel, { mode: 0o755 });
    for (let f = 0; f < FILES; f++) await writeFile(join(sentinel, `f${f}`), 'root only\n', { mode: 0o600 });
    const stop = join('/tmp', `slipway-swap-stop-${randomBytes(6).toString('hex')}`);
    const token = randomBytes(6).toString('hex');
    const swapper = (mode: string) => `node -e "$(cat tools/swap.js)" ${mode} ${sentinel} ${stop} ${token}`;
    const task = `${swapper('make')} && { setsid ${swapper('swap')} </dev/null >/dev/null 2>&1 & }`;
    await writeAppFile(w, { top: `taskUser: '${TASK_USER}', tasks: [['sh', '-c', ${JSON.stringify(task)}]],` });
    await w.commit({ 'tools/swap.js': SWAPPER, 'gen/.gitkeep': '' }, 'the task user races');
    const src = join(w.root, 'prod', 'src', w.app);
    try {
      // the first run starts the swapper as its task ends; the next ones lend the checkout while it runs
      for (let round = 0; round < 3; round++) {
        if (round) await w.commit({ 'index.html': `<h1>race ${round}</h1>\n` });
        const r = await runDeploy(w, [w.target], {}, outputs);
        for (const e of entries(sentinel)) assert.equal(e.uid, 0, `round ${round}: ${e.path} outside the checkout was chowned to ${e.uid}`);
        assert.equal(r.exitCode, 0, r.all);
        for (const e of entries(src)) {
          assert.equal(e.uid, 0, `round ${round}: ${e.path} is still the task user's`);
          if (!e.link) assert.equal(e.mode & 0o022, 0, `round ${round}: ${e.path} is writable by group or others`);
        }
      }
      assert.ok(readdirSync(join(src, 'gen', 'd0')).some((n) => /^m\d+$/.test(n)), 'the swapper did swap directories for symlinks');
    } finally {
      await writeFile(stop, '');
      await waitFor('the swapper to stop', () => !running(token));
      await rm(stop, { force: true });
      await writeAppFile(w);
    }
  });

  it(`200 connections to a host's forwarded port while it stages start no daemon; the run succeeds with at most ${MAX_DAEMONS}`, async () => {
    // the hosts' rsync: the first time, says which port it pulls from and waits for the flood to be in place
    for (const h of w.fleet.hosts) {
      const wrapper = join(h.dataDir, 'flood-rsync');
      await writeFile(
        wrapper,
        `#!/bin/sh
for a in "$@"; do case $a in rsync://*) port=\${a##*:}; port=\${port%%/*} ;; esac; done
if [ -n "\${port:-}" ] && rm /data/flood-armed 2>/dev/null; then
  echo "$port" > /data/flood-port.tmp && mv /data/flood-port.tmp /data/flood-port
  while [ ! -e /data/flood-done ]; do sleep 0.05; done
fi
exec rsync "$@"
`,
      );
      await chmod(wrapper, 0o755);
    }
    const host = w.fleet.hosts[0]!;
    await writeFile(join(host.dataDir, 'flood-armed'), '');
    await writeAppFile(w, { remote: "rsync: '/data/flood-rsync', transfer: 'rsync'" });
    const big = randomBytes(300 * 1024).toString('base64');
    await w.commit({ 'flood.bin': big, 'index.html': '<h1>flooded</h1>\n' }, 'flooded');
    const run = startDeploy(w, [w.target], {}, outputs);
    const pid = run.child.pid!;
    let most = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) most = Math.max(most, await daemonsOf(pid));
    })();
    const sockets: Socket[] = [];
    try {
      await waitFor('the host to reach its pull', () => existsSync(join(host.dataDir, 'flood-port')), 60_000);
      const port = Number(readFileSync(join(host.dataDir, 'flood-port'), 'utf8'));
      // the fleet's hosts share the test's network namespace: this is the host's 127.0.0.1
      let opened = 0;
      await new Promise<void>((resolve) => {
        for (let i = 0; i < 200; i++) {
          const s = createConnection(port, '127.0.0.1', () => {
            // half of them get as far as naming the module, which needs no secret
            if (i % 2) s.write(`@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\n${MODULE}\n`);
            if (++opened === 200) resolve();
          });
          s.on('error', () => (++opened === 200 ? resolve() : undefined));
          sockets.push(s);
        }
      });
      await writeFile(join(host.dataDir, 'flood-done'), '');
      const r = await run.done;
      assert.equal(r.exitCode, 0, r.all);
    } finally {
      watching = false;
      await watch;
      for (const s of sockets) s.destroy();
      for (const h of w.fleet.hosts) for (const f of ['flood-armed', 'flood-port', 'flood-done']) await rm(join(h.dataDir, f), { force: true });
      await writeAppFile(w);
    }
    assert.ok(most <= MAX_DAEMONS, `${most} rsync daemons ran at once on the admin node`);
    for (const h of w.fleet.hosts) {
      assert.equal(readFileSync(join(w.liveDir(h)!, 'index.html'), 'utf8'), '<h1>flooded</h1>\n', h.name);
      assert.equal(readFileSync(join(w.liveDir(h)!, 'flood.bin'), 'utf8'), big, h.name);
    }
  });
});

/** Whether a process with `token` in its command line still runs. */
function running(token: string): boolean {
  return spawnSync('pgrep', ['-f', token]).status === 0;
}

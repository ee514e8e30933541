/**
 * Relays on a real loopback fleet: per datacenter one host pulls the release from the admin
 * node and serves it, for the run only, to the others, which pull it from there; a relay
 * killed in the middle of a transfer sends its hosts back to the admin node, and every host
 * still ends on the exact release tree. (docs/benchmark.md measures what relays save on a
 * network with bandwidth; on loopback every byte is free.)
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { type World, commitTree, git, makeWorld, treeOf } from '../support/world.js';
import type { FleetHost } from '../support/fleet.js';

/** Pulls from a relay go at 1.5 MB/s, so a test can catch one in the middle; the rest at full speed. */
const SLOW_RSYNC = `#!/bin/sh
case " $* " in *" --daemon "*) exec rsync "$@" ;; esac
case "$*" in *rsync://slipway@127.0.0.1:*) exec rsync "$@" ;; esac
exec rsync --bwlimit=1500 "$@"
`;

describe('relays: a datacenter pulls from its relay, not from the admin node', { timeout: 600_000 }, () => {
  let w: World;
  const host = (i: number): FleetHost => w.fleet.hosts[i - 1]!;
  const dcOf = (i: number) => (i <= 3 ? 'dc1' : 'dc2');

  /** Every host serves exactly the store's live release: the same files, modes and links. */
  const exactEverywhere = async () => {
    const head = await git(w.www, 'rev-parse', 'HEAD');
    const want = await commitTree(w.www, head);
    for (const h of w.fleet.hosts) {
      const live = w.liveDir(h);
      assert.ok(live, `${h.name} serves a release`);
      assert.deepEqual(treeOf(live), want, `${h.name} serves exactly ${head.slice(0, 12)}`);
      assert.deepEqual(readdirSync(join(w.remoteBase(h), 'releases')).filter((n) => n.endsWith('.partial')), [], `${h.name}: nothing half-staged left`);
    }
  };
  /** No relay daemon outlives its run (its command line names the relay's own config). */
  const relayDaemons = async () => (await execa('pgrep', ['-af', 'slipway-relay\\.'], { reject: false })).stdout.trim();

  before(async () => {
    w = await makeWorld({ net: '127.0.99', size: 5 });
    for (const h of w.fleet.hosts) await writeFile(join(h.dataDir, 'rsync'), SLOW_RSYNC, { mode: 0o755 });
    const hosts = w.fleet.hosts.map((h, i) => `{ name: '${h.name}', address: '${h.address}', datacenter: '${dcOf(i + 1)}' }`).join(', ');
    await writeFile(
      join(w.appsDir, `${w.app}.ts`),
      `import { defineApp } from 'slipway';
export default defineApp({
  repo: '${join(w.dir, 'repos', 'shop.git')}',
  branch: 'main',
  gitConfig: { 'protocol.file.allow': 'always' },
  ssh: { key: '${w.fleet.clientKey}', knownHosts: '${w.fleet.knownHosts}', connectTimeout: 5, commandTimeout: 20 },
  remote: { path: '/data/www/{app}', rsync: '/data/rsync' },
  envs: { prod: { hosts: [${hosts}], relays: 1 } },
});
`,
    );
  });

  after(async () => {
    await w?.down();
  });

  it('a first deploy: the admin node sends the tree to one relay per datacenter, the others pull it from their relay', async () => {
    // 3 MB that compress poorly: a pull from a relay takes about 2 s at 1.5 MB/s
    const blob = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 2654435761) >>> 0, i);
    await w.commit({ 'static/blob.bin': blob.toString('base64') }, 'v1 with a blob');
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    for (const [i, relay] of [[2, 'web1'], [3, 'web1'], [5, 'web4']] as const) {
      assert.match(r.stderr, new RegExp(`\\[${host(i).name}\\] staged r1 \\([^)]*received from relay ${relay}\\)`), r.stderr);
    }
    for (const i of [1, 4]) {
      assert.doesNotMatch(r.stderr, new RegExp(`\\[${host(i).name}\\] staged r1 \\([^)]*from relay`));
      assert.match(r.stderr, new RegExp(`\\[${host(i).name}\\] serving on ${host(i).address.replace(/\./g, '\\.')}:31\\d\\d\\d to ${i === 1 ? 2 : 1} host`));
    }
    await exactEverywhere();
    assert.equal(await relayDaemons(), '', 'the relays served for the run only');
  });

  it('a relay killed in the middle of a transfer: its hosts pull from the admin node, and every host ends on the exact release', async () => {
    const blob = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 40503 + 7) >>> 0, i);
    await w.commit({ 'static/blob2.bin': blob.toString('base64') }, 'v2 with a bigger blob');
    const run = w.deploy(w.target);
    // web2 is pulling from web1: its half-built release is there, and web1's daemon is serving it
    const releases = join(w.remoteBase(host(2)), 'releases');
    const until = Date.now() + 60_000;
    while (!readdirSync(releases).some((n) => n.startsWith('.r2-') && n.endsWith('.partial') && existsSync(join(releases, n, 'tree')))) {
      assert.ok(Date.now() < until, 'web2 never started pulling r2');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // while it serves: nothing to list, and no pull without the relay's secret (only its datacenter's hosts are given it)
    const port = /--port=(\d+)/.exec((await execa('pgrep', ['-af', '--', `--address=${host(1).address} `])).stdout)?.[1];
    assert.ok(port, 'web1 serves on a port');
    const listing = await execa('rsync', [`rsync://${host(1).address}:${port}/`], { reject: false });
    assert.equal(listing.stdout.trim(), '', 'no module is listed');
    const stranger = await execa('rsync', ['-r', `rsync://slipway@${host(1).address}:${port}/release/`, join(w.dir, 'stolen')], { reject: false, env: { RSYNC_PASSWORD: 'not-the-secret' } });
    assert.notEqual(stranger.exitCode, 0);
    assert.match(stranger.stderr, /auth failed/);
    assert.equal(existsSync(join(w.dir, 'stolen')), false);
    const killed = await execa('pkill', ['-9', '-f', '--', `--address=${host(1).address} `], { reject: false });
    assert.equal(killed.exitCode, 0, 'web1\'s relay daemon was running and is killed');
    const r = await run;
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /web2: pulling from relay web1 failed \(.*\): pulling from the admin node instead/);
    assert.match(r.stderr, /\[web5\] staged r2 \([^)]*received from relay web4/, 'the other datacenter\'s relay was not disturbed');
    await exactEverywhere();
    assert.equal(await relayDaemons(), '');
  });

  it('a one-file change goes to the relays, and from them to their datacenters', async () => {
    await w.commit({ 'index.html': '<h1>shop v3</h1>\n' }, 'v3');
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    for (const i of [2, 3]) assert.match(r.stderr, new RegExp(`\\[web${i}\\] staged r3 \\(1 file, [^)]*received from relay web1, delta from r2\\)`));
    await exactEverywhere();
    for (const h of w.fleet.hosts) assert.equal(await (await fetch(`${h.httpUrl}/${w.app}/index.html`)).text(), '<h1>shop v3</h1>\n');
  });
});

/**
 * Relays on a fleet with bandwidth (test/fleet/netfleet.sh: hosts in network namespaces, two
 * datacenters, every link shaped with tc tbf): per datacenter one host pulls the release from
 * the admin node and serves it, for the run only, to the others, which pull it from there, as
 * the admin node's egress counter shows; a relay killed in the middle of a transfer sends its
 * hosts back to the admin node, and every host still ends on the exact release tree.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { type World, commitTree, git, makeWorld, treeOf } from '../support/world.js';
import { type NetFleet, type NetFleetHost, hostEntries, startNetFleet } from '../support/netfleet.js';

/** Host links of 25 Mbit/s: a few MB take seconds, long enough to catch a pull in the middle. */
const RATES = { adminRate: '100mbit', dcRate: '1gbit', hostRate: '25mbit' };

describe('relays: a datacenter pulls from its relay, not from the admin node', { timeout: 600_000 }, () => {
  let w: World;
  let net: NetFleet;
  // hosts are dealt to datacenters in turn: dc1 has web1, web3, web5 (relay web1); dc2 web2, web4, web6 (relay web2)
  const host = (i: number): NetFleetHost => net.hosts[i - 1]!;
  /** The bytes of the release's files: what one copy of the tree costs on the wire. */
  const treeBytes = async () => (await git(w.www, 'ls-tree', '-r', '-l', 'HEAD')).split('\n').reduce((n, line) => n + (Number(line.split(/\s+/)[3]) || 0), 0);

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
  /** Until host h has begun building release `id` (its half-built tree is there): it is pulling it. */
  const untilPulling = async (h: NetFleetHost, id: string) => {
    const releases = join(w.remoteBase(h), 'releases');
    const until = Date.now() + 60_000;
    while (!readdirSync(releases).some((n) => n.startsWith(`.${id}-`) && n.endsWith('.partial') && existsSync(join(releases, n, 'tree')))) {
      assert.ok(Date.now() < until, `${h.name} never started pulling ${id}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  /** Kill -9 relay h's daemon, which must be running. */
  const killRelay = async (h: NetFleetHost) => {
    // again until none is left: a transfer the daemon forks while pkill reads the process list outlives it
    let kills = 0;
    while ((await execa('pkill', ['-9', '-f', '--', `--address=${h.address} `], { reject: false })).exitCode === 0) {
      kills++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(kills > 0, `${h.name}'s relay daemon was running and is killed`);
  };
  /** Run `body` with h's link out slowed to `rate` (tc tbf), then give it back its own. */
  const slowedOut = async <T>(h: NetFleetHost, rate: string, body: () => Promise<T>): Promise<T> => {
    const tbf = (r: string) => ['qdisc', 'change', 'dev', 'eth0', 'root', 'tbf', 'rate', r, 'burst', '65536', 'latency', '20ms'];
    await net.inNetns(h.name, 'tc', tbf(rate));
    try {
      return await body();
    } finally {
      await net.inNetns(h.name, 'tc', tbf(RATES.hostRate));
    }
  };
  /** No relay daemon outlives its run (its command line names the relay's own config). */
  const relayDaemons = async () => (await execa('pgrep', ['-af', 'slipway-relay\\.'], { reject: false })).stdout.trim();

  before(async () => {
    w = await makeWorld({ net: 'unused', fleet: async (dir) => (net = await startNetFleet({ dir, dcs: 2, hosts: 6, prefix: '10.215', http: true, ...RATES })) });
    await w.writeApp({ env: `hosts: [${hostEntries(net.hosts)}], relays: 1,` });
  });

  after(async () => {
    await w?.down();
  });

  it('a first deploy: the admin node sends the tree to one relay per datacenter, the others pull it from their relay', async () => {
    // 4 MB that compress poorly: about 2.6 s for a relay's host link to send to its two hosts
    const blob = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 2654435761) >>> 0, i);
    await w.commit({ 'static/blob.bin': blob.toString('base64') }, 'v1 with a blob');
    // the plan says who will pull from whom
    const plan = await w.deploy('plan', w.target);
    assert.equal(plan.exitCode, 0, plan.all);
    assert.match(plan.stdout, /through 2 relays, [^\n]*\n +web1 \(dc1\) serves web3, web5\n +web2 \(dc2\) serves web4, web6\n/);
    const sentBefore = await net.adminEgressBytes();
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    const sent = (await net.adminEgressBytes()) - sentBefore;
    for (const [i, relay] of [[3, 'web1'], [5, 'web1'], [4, 'web2'], [6, 'web2']] as const) {
      assert.match(r.stderr, new RegExp(`\\[${host(i).name}\\] staged r1 \\([^)]*received from relay ${relay}\\)`), r.stderr);
    }
    for (const i of [1, 2]) {
      assert.doesNotMatch(r.stderr, new RegExp(`\\[${host(i).name}\\] staged r1 \\([^)]*from relay`));
      assert.match(r.stderr, new RegExp(`\\[${host(i).name}\\] serving on ${host(i).address.replace(/\./g, '\\.')}:31\\d\\d\\d to 2 hosts`));
    }
    // two copies of the tree (one per relay) and the control traffic, not six copies
    const tree = await treeBytes();
    assert.ok(sent > 2 * tree && sent < 3 * tree, `the admin node sent ${sent} B for a ${tree} B tree`);
    await exactEverywhere();
    assert.equal(await relayDaemons(), '', 'the relays served for the run only');
  });

  it('a relay killed in the middle of a transfer: its hosts pull from the admin node, and every host ends on the exact release', async () => {
    const blob = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 40503 + 7) >>> 0, i);
    await w.commit({ 'static/blob2.bin': blob.toString('base64') }, 'v2 with a bigger blob');
    const run = w.deploy(w.target);
    // web3 is pulling from web1, whose daemon is serving it
    await untilPulling(host(3), 'r2');
    // while it serves: nothing to list, and no pull without the relay's secret (only its datacenter's hosts are given it)
    const port = /--port=(\d+)/.exec((await execa('pgrep', ['-af', '--', `--address=${host(1).address} `])).stdout)?.[1];
    assert.ok(port, 'web1 serves on a port');
    const listing = await execa('rsync', [`rsync://${host(1).address}:${port}/`], { reject: false });
    assert.equal(listing.stdout.trim(), '', 'no module is listed');
    const stranger = await execa('rsync', ['-r', `rsync://slipway@${host(1).address}:${port}/release/`, join(w.dir, 'stolen')], { reject: false, env: { RSYNC_PASSWORD: 'not-the-secret' } });
    assert.notEqual(stranger.exitCode, 0);
    assert.match(stranger.stderr, /auth failed/);
    assert.equal(existsSync(join(w.dir, 'stolen')), false);
    await killRelay(host(1));
    const r = await run;
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /web[35]: pulling from relay web1 failed \(.*\): pulling from the admin node instead/);
    assert.match(r.stderr, /\[web4\] staged r2 \([^)]*received from relay web2/, 'the other datacenter\'s relay was not disturbed');
    await exactEverywhere();
    assert.equal(await relayDaemons(), '');
  });

  it('a one-file change goes to the relays, and from them to their datacenters', async () => {
    await w.commit({ 'index.html': '<h1>shop v3</h1>\n' }, 'v3');
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    for (const i of [3, 5]) assert.match(r.stderr, new RegExp(`\\[web${i}\\] staged r3 \\(1 file, [^)]*received from relay web1, delta from r2\\)`));
    await exactEverywhere();
    for (const h of net.hosts) assert.equal(await (await fetch(`${h.httpUrl}/${w.app}/index.html`)).text(), '<h1>shop v3</h1>\n');
  });

  it('a slow relay: its hosts give up on it once their pull is past its deadline, and pull from the admin node', async () => {
    // web2 serves dc2 through a link of 1 Mbit/s out (its staging, which comes in, is not slowed)
    await slowedOut(host(2), '1mbit', async () => {
      await w.writeApp({ env: `hosts: [${hostEntries(net.hosts)}], relays: 1, relayMinRate: '1MB/s',` });
      // 2 MB in the release: 12 s for a pull from a relay (10 s of grace, then 1 MB/s), where
      // web2's 1 Mbit/s shared by two hosts needs about 32 s
      const blob = Buffer.alloc(1.5 * 1024 * 1024);
      for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 69069 + 1) >>> 0, i);
      await w.commit({ 'static/blob3.bin': blob.toString('base64') }, 'v4 with a third blob');
      const r = await w.deploy(w.target);
      assert.equal(r.exitCode, 0, r.all);
      for (const i of [4, 6]) {
        assert.match(r.stderr, new RegExp(`web${i}: pulling from relay web2 failed \\(too slow: not done within 12 s, under 1\\.0 MB/s\\): pulling from the admin node instead`), r.stderr);
        assert.match(r.stderr, new RegExp(`\\[web${i}\\] staged r4 \\((?![^)]*from relay)`), 'staged from the admin node');
      }
      assert.match(r.stderr, /\[web3\] staged r4 \([^)]*received from relay web1/, 'the other datacenter\'s relay was not slow');
      await exactEverywhere();
      assert.equal(await relayDaemons(), '');
      // nothing of the given-up pulls is left running on the hosts
      assert.equal((await execa('pgrep', ['-af', `rsync://slipway@${host(2).address}`], { reject: false })).stdout.trim(), '');
    });
  });

  it('two relays per datacenter: the hosts of one killed mid-transfer pull from the other, not from the admin node', async () => {
    // dc1's relays are web1 and web3, and web5 pulls from web1; dc2's web2 and web4, for web6
    await w.writeApp({ env: `hosts: [${hostEntries(net.hosts)}], relays: 2,` });
    const blob = Buffer.alloc(6 * 1024 * 1024);
    for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 1103515245 + 12345) >>> 0, i);
    await w.commit({ 'static/blob4.bin': blob.toString('base64') }, 'v5 with a fourth blob');
    const sentBefore = await net.adminEgressBytes();
    // web1's link out at 4 Mbit/s (16 s for web5's 8 MB): the kill lands mid-transfer
    const r = await slowedOut(host(1), '4mbit', async () => {
      const run = w.deploy(w.target);
      await untilPulling(host(5), 'r5');
      await killRelay(host(1));
      return run;
    });
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /web5: pulling from relay web1 failed \(.*\): pulling from relay web3 instead/);
    assert.match(r.stderr, /\[web5\] staged r5 \([^)]*received from relay web3/);
    assert.match(r.stderr, /\[web6\] staged r5 \([^)]*received from relay web2/);
    // the four relays' copies of the 8 MB that changed, and no fifth for web5
    const sent = (await net.adminEgressBytes()) - sentBefore;
    assert.ok(sent < 4.6 * blob.length * (4 / 3), `the admin node sent ${sent} B`);
    await exactEverywhere();
    assert.equal(await relayDaemons(), '');
  });
});


/**
 * A saturated admin uplink (test/fleet/netfleet.sh, shaped with tc tbf): four hosts pull a first
 * release of a few MB each over one 8 Mbit/s link. Each SSH connection then carries megabytes
 * queued behind its keepalive pings, so a ping's answer comes back long after the keepalive
 * timeout (2 s × 3) although the host acknowledges data all along. The host is alive and the
 * run must say so: every host stages and switches (200 hosts on a 1 Gbit/s uplink did not,
 * docs/benchmark.md).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type World, commitTree, git, makeWorld, treeOf } from '../support/world.js';
import { type NetFleet, hostEntries, startNetFleet } from '../support/netfleet.js';

describe('a saturated admin uplink: busy hosts are not taken for frozen ones', { timeout: 300_000 }, () => {
  let w: World;
  let net: NetFleet;

  before(async () => {
    w = await makeWorld({ net: 'unused', fleet: async (dir) => (net = await startNetFleet({ dir, dcs: 1, hosts: 4, prefix: '10.216', http: false, adminRate: '8mbit', dcRate: '1gbit', hostRate: '1gbit' })) });
    // the default keepalives (every 2 s, 3 missed), written out: they are what is tested
    await w.writeApp({ env: `hosts: [${hostEntries(net.hosts)}], ssh: { keepaliveInterval: 2, keepaliveCountMax: 3 }, ` });
  });

  after(async () => {
    await w?.down();
  });

  it('four hosts share 8 Mbit/s for a 4 MB release: all of them stage and switch', async () => {
    // 4 MB that does not compress: 16 MB on the admin uplink, each host's share 2 Mbit/s, so
    // an SSH channel's 2 MB window takes 8 s to drain, well past the keepalive timeout
    const blob = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE((i * 2654435761) >>> 0, i);
    await w.commit({ 'static/blob.bin': blob.toString('base64') }, 'v1 with a blob');
    const sentBefore = await net.adminEgressBytes();
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.doesNotMatch(r.all, /keepalive/i);
    assert.ok((await net.adminEgressBytes()) - sentBefore > 4 * 4 * 1024 * 1024, 'each host got the tree over the shaped uplink');
    const head = await git(w.www, 'rev-parse', 'HEAD');
    const want = await commitTree(w.www, head);
    for (const h of w.fleet.hosts) assert.deepEqual(treeOf(w.liveDir(h)!), want, `${h.name} serves exactly ${head.slice(0, 12)}`);
  });
});

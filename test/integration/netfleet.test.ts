// Smoke test of the netns fleet (test/fleet/netfleet.sh, #21): hosts in network namespaces, in
// datacenters joined by bridges, every link shaped with tc tbf. What benchmarks on it rely on:
// every host is reachable and isolated, a datacenter's hosts reach each other over their own
// bridge (not the admin node's or the datacenter's uplink), the admin uplink really is limited
// to its rate, and `down` leaves nothing behind.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { type NetFleet, type NetFleetHost, rateBits, startNetFleet } from '../support/netfleet.js';
import { fleetSshArgs } from '../support/fleet.js';

const ADMIN_RATE = '50mbit';
/** Its own /16, apart from the benchmark's default (10.213). */
const PREFIX = '10.214';
const MB = 1024 * 1024;


function ssh(fleet: NetFleet, host: NetFleetHost, command: string) {
  return execa('ssh', fleetSshArgs(fleet, host, command), { reject: false, timeout: 30_000 });
}

/** Every process whose command line mentions dir (the sshd configs and http servers live there). */
function processesMentioning(dir: string): string[] {
  const found: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (cmd.includes(dir)) found.push(`${p}: ${cmd}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('netns fleet', { timeout: 90_000 }, () => {
  let dir: string;
  let fleet: NetFleet;
  const byName = (name: string): NetFleetHost => {
    const h = fleet.hosts.find((x) => x.name === name);
    assert.ok(h, `no host ${name}`);
    return h;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-netfleet-test-'));
    fleet = await startNetFleet({ dir, dcs: 2, hosts: 6, adminRate: ADMIN_RATE, prefix: PREFIX, timeout: 30 });
  });

  after(async () => {
    await fleet?.down();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('deals 6 hosts to 2 datacenters, each with an address in the prefix', () => {
    assert.deepEqual(
      fleet.hosts.map((h) => `${h.name} ${h.address} ${h.datacenter}`),
      ['web1 10.214.1.1 dc1', 'web2 10.214.2.1 dc2', 'web3 10.214.1.2 dc1', 'web4 10.214.2.2 dc2', 'web5 10.214.1.3 dc1', 'web6 10.214.2.3 dc2'],
    );
    assert.deepEqual(fleet.datacenters, ['dc1', 'dc2']);
    assert.equal(fleet.adminAddress, '10.214.0.1');
    assert.match(fleet.shaping, /tbf.*no added latency/);
  });

  it('every host answers over SSH with the known_hosts, and sees its own /data and /root', async () => {
    await Promise.all(fleet.hosts.map((h) => writeFile(join(h.dataDir, 'whoami'), `${h.name}\n`)));
    await Promise.all(
      fleet.hosts.map(async (h) => {
        const r = await ssh(fleet, h, 'cat /data/whoami; ls -A /data; ls -A /root/.ssh; ip -4 -o addr show dev eth0');
        assert.equal(r.exitCode, 0, `${h.name}: ${r.stderr}`);
        const [who, data, home, addr] = r.stdout.split('\n');
        assert.equal(who, h.name);
        assert.equal(data, 'whoami', `${h.name}'s /data holds only its own file`);
        assert.equal(home, 'authorized_keys');
        assert.match(addr ?? '', new RegExp(`inet ${h.address.replaceAll('.', '\\.')}/16`));
      }),
    );
    // and its http server, on its own address
    const res = await fetch(`${byName('web4').httpUrl}/__host`);
    assert.equal(await res.text(), 'web4');
  });

  it('hosts of one datacenter talk over their bridge: neither the admin uplink nor the DC uplink carries it', async (t) => {
    const server = byName('web3'); // dc1
    const blob = join(server.dataDir, 'www', 't', 'current', 'blob.bin');
    await mkdir(join(blob, '..'), { recursive: true });
    await writeFile(blob, Buffer.alloc(5 * MB, 7));
    const counters = async () => ({ admin: await fleet.adminEgressBytes(), adminIn: await fleet.adminIngressBytes(), dc1: await fleet.dcUplinkBytes('dc1'), dc2: await fleet.dcUplinkBytes(2) });
    const get = async (client: string) => {
      const r = await fleet.inNetns(client, 'curl', ['-sS', '-o', '/dev/null', '-w', '%{size_download}', `${server.httpUrl}/t/blob.bin`]);
      assert.equal(Number(r.stdout), 5 * MB, `${client} fetched all of web3's blob`);
    };

    let before = await counters();
    await get('web1'); // dc1 too
    let now = await counters();
    const small = 64 * 1024; // ARP and the like; the blob is 80 times that
    t.diagnostic(`web1 ← web3 (both dc1): admin egress +${now.admin - before.admin} B, dc1 uplink +${now.dc1.down - before.dc1.down} B in, +${now.dc1.up - before.dc1.up} B out`);
    assert.ok(now.admin - before.admin < small, `admin egress grew by ${now.admin - before.admin} B`);
    assert.ok(now.adminIn - before.adminIn < small, `admin ingress grew by ${now.adminIn - before.adminIn} B`);
    assert.ok(now.dc1.up - before.dc1.up < small, `dc1 uplink (out) grew by ${now.dc1.up - before.dc1.up} B`);
    assert.ok(now.dc1.down - before.dc1.down < small, `dc1 uplink (in) grew by ${now.dc1.down - before.dc1.down} B`);

    // the control: from the other datacenter it crosses both DC uplinks, still not the admin's
    before = now;
    await get('web2'); // dc2
    now = await counters();
    t.diagnostic(`web2 (dc2) ← web3 (dc1): dc1 uplink +${now.dc1.up - before.dc1.up} B out, dc2 uplink +${now.dc2.down - before.dc2.down} B in, admin egress +${now.admin - before.admin} B`);
    assert.ok(now.dc1.up - before.dc1.up >= 5 * MB, `dc1 uplink (out) grew by ${now.dc1.up - before.dc1.up} B`);
    assert.ok(now.dc2.down - before.dc2.down >= 5 * MB, `dc2 uplink (in) grew by ${now.dc2.down - before.dc2.down} B`);
    assert.ok(now.admin - before.admin < small, `admin egress grew by ${now.admin - before.admin} B`);
  });

  it(`the admin uplink is shaped to ${ADMIN_RATE} both ways`, async (t) => {
    const rate = rateBits(ADMIN_RATE);
    const bytes = 4 * MB; // 0.67 s at 50 Mbit/s
    const host = byName('web5');
    // admin → host: time and the admin egress counter
    const egress0 = await fleet.adminEgressBytes();
    let t0 = performance.now();
    const up = await execa('ssh', fleetSshArgs(fleet, host, 'wc -c'), { input: Buffer.alloc(bytes), timeout: 30_000 });
    let seconds = (performance.now() - t0) / 1000;
    assert.equal(Number(up.stdout.trim()), bytes);
    const sent = (await fleet.adminEgressBytes()) - egress0;
    assert.ok(sent >= bytes, `the admin egress counter grew by ${sent} B, less than the ${bytes} B sent`);
    t.diagnostic(`admin → host: ${bytes} B in ${seconds.toFixed(2)} s (${((bytes * 8) / seconds / 1e6).toFixed(1)} Mbit/s), admin egress counter +${sent} B`);
    assert.ok((bytes * 8) / seconds <= rate * 1.2, `admin → host: ${((bytes * 8) / seconds / 1e6).toFixed(1)} Mbit/s, over ${ADMIN_RATE} × 1.2`);
    // host → admin
    t0 = performance.now();
    const down = await execa('ssh', fleetSshArgs(fleet, host, `head -c ${bytes} /dev/zero`), { encoding: 'buffer', timeout: 30_000 });
    seconds = (performance.now() - t0) / 1000;
    assert.equal(down.stdout.length, bytes);
    t.diagnostic(`host → admin: ${bytes} B in ${seconds.toFixed(2)} s (${((bytes * 8) / seconds / 1e6).toFixed(1)} Mbit/s)`);
    assert.ok((bytes * 8) / seconds <= rate * 1.2, `host → admin: ${((bytes * 8) / seconds / 1e6).toFixed(1)} Mbit/s, over ${ADMIN_RATE} × 1.2`);
  });

  it('a stopped host refuses connections, a started one answers again', async () => {
    const h = byName('web6');
    await fleet.stop('web6');
    assert.notEqual((await ssh(fleet, h, 'true')).exitCode, 0);
    await fleet.start('web6');
    const r = await ssh(fleet, h, 'cat /data/whoami');
    assert.equal(r.stdout, 'web6');
  });

  it('down leaves no namespace, link or process behind', async () => {
    const id = fleet.id;
    assert.ok(existsSync(`/run/netns/sw${id}-fab`));
    await fleet.down();
    const netns = existsSync('/run/netns') ? readdirSync('/run/netns').filter((n) => n.startsWith(`sw${id}-`)) : [];
    assert.deepEqual(netns, []);
    const { stdout: links } = await execa('ip', ['-o', 'link', 'show']);
    assert.deepEqual(links.split('\n').filter((l) => l.includes(`sw${id}`)), []);
    const { stdout: routes } = await execa('ip', ['-4', 'route', 'show']);
    assert.ok(!routes.includes(`${PREFIX}.`), routes);
    assert.deepEqual(processesMentioning(dir), []);
    await fleet.down(); // again: harmless
  });
});

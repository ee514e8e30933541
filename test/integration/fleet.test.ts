// Smoke test of the test fleet itself: if this fails, every other integration test would fail
// for reasons that have nothing to do with the deploy tool.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile, rename } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { fleetNet, fleetSshArgs, startFleet, type Fleet, type FleetHost } from '../support/fleet.js';

/** The system ssh client, trusting only the fleet's known_hosts and nothing from ~/.ssh. */
function ssh(fleet: Fleet, host: FleetHost, command: string, connectTimeout = 5) {
  return execa('ssh', fleetSshArgs(fleet, host, command, connectTimeout), { reject: false, timeout: 20_000 });
}

/** GET with the path sent as is: fetch() would normalise "..", which is what we want to test. */
function rawGetStatus(baseUrl: string, path: string): Promise<number> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    http
      .get({ hostname, port, path }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject);
  });
}

describe('test fleet', { timeout: 120_000 }, () => {
  let dir: string;
  let fleet: Fleet;
  const host = (i: number): FleetHost => {
    const h = fleet.hosts[i];
    assert.ok(h, `fleet has no host #${i}`);
    return h;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'slipway-fleet-test-'));
    fleet = await startFleet({ size: 3, net: '127.0.9', dir });
  });

  after(async () => {
    await fleet?.down();
    await fleet?.down(); // must be harmless
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('lists three hosts with one known_hosts line each', async () => {
    assert.deepEqual(
      fleet.hosts.map((h) => [h.name, h.address, h.httpUrl]),
      [1, 2, 3].map((i) => [`web${i}`, `${fleetNet('127.0.9')}.${i}`, `http://${fleetNet('127.0.9')}.${i}:8080`]),
    );
    const known = (await readFile(fleet.knownHosts, 'utf8')).trim().split('\n');
    assert.deepEqual(
      known.map((line) => line.split(' ')[0]),
      fleet.hosts.map((h) => h.address),
    );
    // Each host has its own key.
    assert.equal(new Set(known.map((line) => line.split(' ')[2])).size, 3);
  });

  it('gives each host its own /data and a clean /root', async () => {
    const wrote = await ssh(fleet, host(0), 'echo hello > /data/marker');
    assert.equal(wrote.exitCode, 0, wrote.stderr);
    assert.equal(await readFile(join(host(0).dataDir, 'marker'), 'utf8'), 'hello\n');
    assert.ok(!existsSync(join(host(1).dataDir, 'marker')));
    assert.ok(!existsSync(join(host(2).dataDir, 'marker')));

    const other = await ssh(fleet, host(1), 'test ! -e /data/marker && ls -A /root');
    assert.equal(other.exitCode, 0, other.stderr);
    assert.equal(other.stdout, '.ssh');
  });

  it('serves /__host and the current release of an app', async () => {
    for (const h of fleet.hosts) {
      const res = await fetch(`${h.httpUrl}/__host`);
      assert.equal(await res.text(), h.name);
    }

    // Publish two releases on web1 and switch between them the way a deploy does.
    const app = join(host(0).dataDir, 'www', 'demo');
    for (const id of ['r1', 'r2']) {
      await mkdir(join(app, 'releases', id), { recursive: true });
      await writeFile(join(app, 'releases', id, 'index.html'), `release ${id}\n`);
    }
    await symlink('releases/r1', join(app, 'current'));
    const first = await fetch(`${host(0).httpUrl}/demo/`);
    assert.equal(await first.text(), 'release r1\n');
    await symlink('releases/r2', join(app, 'current.tmp'));
    await rename(join(app, 'current.tmp'), join(app, 'current'));
    const second = await fetch(`${host(0).httpUrl}/demo/index.html`);
    assert.equal(await second.text(), 'release r2\n');

    assert.equal((await fetch(`${host(0).httpUrl}/demo/missing.html`)).status, 404);
    assert.equal((await fetch(`${host(1).httpUrl}/demo/index.html`)).status, 404);
    assert.equal(await rawGetStatus(host(0).httpUrl, '/demo/../../../etc/passwd'), 400);
    assert.equal(await rawGetStatus(host(0).httpUrl, '/demo/%2e%2e/releases/r1/index.html'), 400);
  });

  it('stops and starts a host', async () => {
    await fleet.stop('web2');
    const refused = await ssh(fleet, host(1), 'true');
    assert.equal(refused.exitCode, 255);
    assert.match(refused.stderr, /Connection refused/);
    await fleet.start('web2');
    assert.equal((await ssh(fleet, host(1), 'true')).exitCode, 0);
  });

  it('freezes and thaws a host', async () => {
    await fleet.freeze('web2');
    const hung = await ssh(fleet, host(1), 'true', 1);
    assert.equal(hung.exitCode, 255);
    assert.match(hung.stderr, /timed out/);
    await fleet.thaw('web2');
    assert.equal((await ssh(fleet, host(1), 'true')).exitCode, 0);
  });

  it('rekey makes strict host key checking fail', async () => {
    await fleet.rekey('web3');
    const res = await ssh(fleet, host(2), 'true');
    assert.equal(res.exitCode, 255);
    assert.match(res.stderr, /Host key verification failed/);
    // The others are untouched.
    assert.equal((await ssh(fleet, host(0), 'true')).exitCode, 0);
  });
});

/** Which hosts relay for which, and the commands a relay and its hosts run: pure. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Host, relayProblems } from '../../src/config/resolve.js';
import { Relays, relayAssignments } from '../../src/deploy/stage/relays.js';
import type { AppEnv } from '../../src/config/resolve.js';
import type { HostConnection } from '../../src/exec/runner.js';
import { quietReporter } from '../support/admin.js';
import { relayDeadline } from '../../src/deploy/stage/stage.js';
import { relayCmd, stageCmd } from '../../src/deploy/remote.js';
import { parseRate } from '../../src/config/schema.js';

const host = (name: string, datacenter?: string): Host => ({ name, address: `10.0.0.${name.replace(/\D/g, '')}`, port: 22, user: 'root', ...(datacenter ? { datacenter } : {}) });
const fleet = [host('web1', 'phx1'), host('web2', 'phx1'), host('web3', 'phx1'), host('web4', 'iad1'), host('web5', 'iad1'), host('web6')];
const release = { id: 'r3', commit: 'a'.repeat(40), number: 3, privateFiles: [] } as unknown as Parameters<typeof stageCmd>[1];

describe('relay assignments', () => {
  it('a count: the first hosts of each datacenter relay; the others are spread over them; a host without a datacenter has none', () => {
    const one = relayAssignments(fleet, 1);
    assert.deepEqual(one.relays.map((h) => h.name), ['web1', 'web4']);
    assert.deepEqual([...one.relayOf], [['web2', 'web1'], ['web3', 'web1'], ['web5', 'web4']]);
    const two = relayAssignments(fleet, 2);
    assert.deepEqual(two.relays.map((h) => h.name), ['web1', 'web2'], 'a datacenter of relays only (iad1 with 2) relays for nobody');
    assert.deepEqual([...two.relayOf], [['web3', 'web1']]);
    assert.deepEqual([...two.peers], [['web1', ['web2']], ['web2', ['web1']]], 'a failed relay\'s hosts try the others of its datacenter');
    assert.deepEqual([...one.peers], [['web1', []], ['web4', []]]);
  });

  it('named relays serve their own datacenter only; none set, nobody relays', () => {
    const named = relayAssignments(fleet, ['web3']);
    assert.deepEqual([...named.relayOf], [['web1', 'web3'], ['web2', 'web3']]);
    assert.deepEqual(relayAssignments(fleet, undefined), { relays: [], relayOf: new Map(), peers: new Map() });
  });

  it('problems: a named relay that is no host, or has no datacenter; a count with no datacenters', () => {
    assert.deepEqual(relayProblems(fleet, ['web9', 'web6']), ['relays: "web9" is not a host of this env', 'relays: "web6" has no datacenter to serve']);
    assert.match(relayProblems([host('a1')], 1)[0]!, /no host has a datacenter/);
    assert.deepEqual(relayProblems(fleet, 1), []);
  });
});

describe('relay commands', () => {
  it('a host pulls from a relay\'s address:port; anything else is refused before it reaches a shell', () => {
    const cmd = stageCmd('/data/www/shop', release, '10.0.0.1:31000', 20, 'rsync');
    assert.equal(cmd[5], 'r3-aaaaaaaaaaaa');
    assert.equal(cmd[7], '10.0.0.1:31000');
    for (const bad of ['10.0.0.1;id:31000', '$(id):1', '-x:31000', '10.0.0.1:', 'a b:1', '10.0.0.1:31000\n']) {
      assert.throws(() => stageCmd('/data/www/shop', release, bad, 20, 'rsync'), /not an address:port/, bad);
    }
  });

  it('a relay serves a release directory on an address, nothing else', () => {
    const cmd = relayCmd('/data/www/shop', 'r3-aaaaaaaaaaaa', '10.0.0.1', 'rsync');
    assert.deepEqual(cmd.slice(3), ['slipway-relay', '/data/www/shop', 'r3-aaaaaaaaaaaa', '10.0.0.1', 'rsync']);
    assert.throws(() => relayCmd('/data/www/shop', '../etc', '10.0.0.1', 'rsync'), /not a release directory/);
    assert.throws(() => relayCmd('/data/www/shop', 'r3-aaaaaaaaaaaa', '10.0.0.1 --config=/etc/x', 'rsync'), /not an address/);
  });
});

describe('a slow relay', () => {
  it('rates are written as people write them, in bytes per second', () => {
    assert.equal(parseRate('256KB/s'), 256 * 1024);
    assert.equal(parseRate('256kB/s'), 256 * 1024);
    assert.equal(parseRate('1.5 MB/s'), 1.5 * 1024 * 1024);
    assert.equal(parseRate('2GB/s'), 2 * 1024 ** 3);
    for (const bad of ['', '1MB', '1 mb/s', '-1MB/s', '0KB/s', '1e3KB/s', '1MB/s;id', '1Mbit/s', ' 1MB/s']) assert.equal(parseRate(bad), undefined, bad);
  });

  it('a pull may take a grace for connecting and listing, then its bytes at the slowest rate allowed', () => {
    assert.equal(relayDeadline(0, 256 * 1024), 10);
    assert.equal(relayDeadline(44 * 1024 * 1024, 256 * 1024), 10 + 176);
    assert.equal(relayDeadline(1, 1e6), 11, 'whole seconds, rounded up');
  });

  it('the deadline reaches the stage script as its own argument, before the private files', () => {
    const withPrivate = { ...release, privateFiles: ['app/settings_local.py'] } as typeof release;
    const cmd = stageCmd('/data/www/shop', withPrivate, '10.0.0.1:31000', 20, 'rsync', { deadline: 181.2 });
    assert.deepEqual(cmd.slice(-3), ['182', '', 'app/settings_local.py']);
    assert.equal(stageCmd('/data/www/shop', withPrivate, 1234, 20, 'rsync').at(-3), '', 'none from the admin node');
  });
});

describe('a failed relay\'s hosts', () => {
  it('try the other relays of their datacenter, spread over them, before the admin node', async () => {
    const dc = ['r1', 'r2', 'r3', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((n) => host(n.replace('r', 'web10').replace('h', 'web2'), 'phx1'));
    const relays = new Relays({ relays: 3, remote: { path: '/data/www/shop', rsync: 'rsync' } } as unknown as AppEnv, dc, 'r3-aaaaaaaaaaaa', quietReporter());
    // a relay's command says the port it serves on, then serves until the run ends
    const serving = (h: typeof dc[number]) => ({ host: h, run: (_cmd: unknown, o: { onLine: (l: string, s: string) => void }) => (o.onLine('relay 31000', 'stdout'), new Promise(() => undefined)) }) as unknown as HostConnection;
    const [r1, r2, r3] = dc;
    relays.start(serving(r1!), false);
    relays.start(serving(r2!), true);
    relays.start(serving(r3!), true);
    // web1's hosts (every third: web21, web24) go to web102 and web103 in turn; the others keep theirs
    const firstChoice = await Promise.all(dc.slice(3).map(async (h) => (await relays.endpointFor(h.name))?.name));
    assert.deepEqual(firstChoice, ['web102', 'web102', 'web103', 'web103', 'web102', 'web103']);
    assert.equal((await relays.endpointFor('web21', new Set(['web101', 'web102'])))?.name, 'web103');
    assert.equal(await relays.endpointFor('web21', new Set(['web101', 'web102', 'web103'])), undefined, 'then the admin node');
  });
});

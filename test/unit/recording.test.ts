import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import type { Host } from '../../src/config/resolve.js';
import { activateCmd, lookCmd, pruneCmd, stageCmd } from '../../src/deploy/remote.js';
import { parseLook } from '../../src/deploy/remote-output.js';
import type { Release } from '../../src/release-store/release.js';
import { look, staged } from '../support/host-answers.js';
import { Recording, nameOf, recorded } from '../support/recording.js';

const host = (name: string): Host => ({ name, address: `10.0.0.${name.slice(-1)}`, port: 22, user: 'root' });
const r1 = { id: 'r1', commit: 'a'.repeat(40) };
const r2 = { id: 'r2', commit: 'b'.repeat(40), privateFiles: [] } as unknown as Release;

describe('the recording runner', () => {
  it('names a remote script by its name and arguments, a plain command by its program', () => {
    assert.deepEqual(nameOf(pruneCmd('/data/www/shop', 5)), { name: 'prune', args: ['/data/www/shop', '5'] });
    assert.deepEqual(nameOf(['systemctl', 'reload', 'shop']), { name: 'systemctl', args: ['reload', 'shop'] });
  });

  it('answers what was expected and records it, stdin included', async () => {
    const rec = new Recording();
    rec.host('web1').expect('stage', staged());
    const c = await rec.connect(host('web1'));
    const r = await c.run(stageCmd('/data/www/shop', r2, 0, 30, 'rsync'), { input: 'secret\n' });
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /^live none\nstaged\n$/);
    assert.equal(rec.callsOn('web1', 'stage')[0]!.stdin!.toString(), 'secret\n');
    assert.deepEqual(rec.timeline, ['web1 connect', 'web1 stage', 'web1 stage done']);
    rec.verify();
  });

  it('refuses a command nobody expected, naming host and command, and verify fails even if the caller swallowed it', async () => {
    const rec = new Recording();
    rec.host('web2').expect('look', {});
    const c = await rec.connect(host('web2'));
    await assert.rejects(c.run(pruneCmd('/data/www/shop', 5)), /^HostError: web2: unexpected command prune/);
    assert.throws(() => rec.verify(), /web2: unexpected command: prune \/data\/www\/shop 5 \(still expected here: look\)/);
  });

  it("fails verify when a test's own answer throws, even though the caller saw a host failure", async () => {
    const rec = new Recording();
    rec.host('web1').expect('prune', () => {
      throw new Error('typo in the test');
    });
    const c = await rec.connect(host('web1'));
    await assert.rejects(c.run(pruneCmd('/data/www/shop', 5)), /web1: typo in the test/);
    assert.throws(() => rec.verify(), /web1: the answer to prune \/data\/www\/shop 5 threw: typo in the test/);
  });

  it('fails verify when an expected command never ran', () => {
    const rec = new Recording();
    rec.host('web1').expect('prune', {});
    assert.throws(() => rec.verify(), /web1: expected prune, ran never/);
  });

  it('fails the test for a host nobody declared, and refuses a host told to', async () => {
    await assert.rejects(
      recorded(async (rec) => {
        rec.host('web1').refuse();
        await assert.rejects(rec.connect(host('web1')), /^HostError: web1: cannot connect to 10\.0\.0\.1:22: connect ECONNREFUSED/);
        await rec.connect(host('web3')).catch(() => undefined);
      }),
      /web3: unexpected connection/,
    );
  });

  it('throws on a non-zero exit unless reject is false', async () => {
    const rec = new Recording();
    rec.host('web1').expect('systemctl', { stderr: 'no such unit\n', exitCode: 5 }, { times: 2 });
    const c = await rec.connect(host('web1'));
    await assert.rejects(c.run(['systemctl', 'reload', 'shop']), /web1: systemctl failed \(exit 5\): no such unit/);
    assert.equal((await c.run(['systemctl', 'reload', 'shop'], { reject: false })).exitCode, 5);
    rec.verify();
  });

  it('a lost connection fails the command, the ones running and every later one', async () => {
    const rec = new Recording();
    rec.host('web1').expect('look', look({ live: r1 })).expect('stage', { lose: 'the SSH connection closed' });
    const c = await rec.connect(host('web1'));
    const input = new PassThrough();
    const waiting = c.run(lookCmd('/data/www/shop'), { input });
    await assert.rejects(c.run(stageCmd('/data/www/shop', r2, 0, 30, 'rsync')), /web1: the SSH connection closed/);
    await assert.rejects(waiting, /web1: the SSH connection closed/);
    assert.equal(c.lost, 'the SSH connection closed');
    await assert.rejects(c.run(activateCmd('/data/www/shop', 'r2-bbbbbbbbbbbb')), /web1: the SSH connection closed/);
    rec.verify();
  });

  it("a look prints what the host has and ready at once, then switches when told, as look.sh does", async () => {
    const rec = new Recording();
    rec.host('web1').expect('look', look({ live: r1 }));
    const c = await rec.connect(host('web1'));
    const input = new PassThrough();
    const lines: string[] = [];
    let ready!: () => void;
    const seen = new Promise<void>((resolve) => (ready = resolve));
    const run = c.run(lookCmd('/data/www/shop'), { input, onLine: (l) => (lines.push(l), l === 'ready' && ready()) });
    await seen;
    assert.deepEqual(parseLook(lines.join('\n')).have, new Map([['r1-aaaaaaaaaaaa', r1.commit]]));
    input.end('r2-bbbbbbbbbbbb\n');
    const r = await run;
    assert.match(r.stdout, /ready\nprevious r1-aaaaaaaaaaaa\nswitched\n$/);
    assert.deepEqual(rec.lines(/switch/), ['web1 switch r2']);
    rec.verify();
  });
});

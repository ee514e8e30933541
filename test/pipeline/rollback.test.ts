/**
 * The rollback flow over recorded hosts (see deploy.test.ts): the store is real, the hosts
 * answer only what each test expects. A rollback looks at hosts with their kept releases
 * verified, switches those that hold the target and stages it on the others.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, afterEach, describe, it } from 'node:test';
import { DeployFailedError, ExitCode, LockHeldError, UsageError } from '../../src/errors.js';
import { acquireLock } from '../../src/flows/lock.js';
import { rollback } from '../../src/flows/rollback.js';
import type { Release } from '../../src/release-store/release.js';
import { type Admin, AdminTemplate, failure, quietReporter } from '../support/admin.js';
import { activated, look, stageArgs, staged } from '../support/host-answers.js';
import { recorded } from '../support/recording.js';

const HOSTS = ['web1', 'web2', 'web3'];
let admin: Admin | undefined;
afterEach(async () => {
  await admin?.down();
  admin = undefined;
});

/** r1; r2 changes index.html; r3 adds a page and a migration. The store, without history, has r3 live. */
let r1!: Release;
let r2!: Release;
let r3!: Release;
const releases = new AdminTemplate(async (a) => {
  r1 = await a.release();
  await a.commit({ 'index.html': '<h1>shop v2</h1>\n' });
  r2 = await a.release();
  await a.commit({ 'about.html': 'about\n', 'migrations/0002_add_price.sql': 'ALTER TABLE item ADD price int;\n' });
  r3 = await a.release();
});
after(() => releases.down());

async function setUp(migrations: string[] = []): Promise<Admin> {
  admin = await releases.make({}, { migrations });
  return admin;
}

const files = (tar: Buffer) => execFileSync('tar', ['-t'], { input: tar }).toString().split('\n').filter((f) => f && !f.endsWith('/')).sort();
const dir = (r: { id: string; commit: string }) => `${r.id}-${r.commit.slice(0, 12)}`;

describe('rollback over recorded hosts', () => {
  it('switches every host that still holds the previous release back to it, sending nothing', () =>
    recorded(async (rec) => {
      const a = await setUp();
      for (const h of HOSTS) rec.host(h).expect('look', look({ live: r3, kept: [r2, r1] }));
      const { plan, hosts } = await rollback(a.appEnv, { connect: rec.connect }, quietReporter());
      assert.equal(plan.from.id, 'r3');
      assert.equal(plan.to.id, 'r2');
      assert.deepEqual(hosts.map((h) => `${h.host} ${h.state}`), ['web1 switched', 'web2 switched', 'web3 switched']);
      assert.deepEqual(rec.lines(/ switch /).sort(), ['web1 switch r2', 'web2 switch r2', 'web3 switch r2']);
      // the look checked the target against its manifest, and only it: a rollback switches to it as it is
      for (const h of HOSTS) assert.deepEqual(rec.callsOn(h, 'look')[0]!.args, ['/data/www/shop', dir(r2)]);
    }));

  it('--to an older release: a host that pruned it is sent its tree as a delta from what it serves; the others only switch', () =>
    recorded(async (rec) => {
      const a = await setUp();
      rec.host('web1').expect('look', look({ live: r3, kept: [r2, r1] }));
      rec.host('web2').expect('look', look({ live: r3, kept: [r2, r1] }));
      rec.host('web3')
        .expect('look', look({ live: r3, kept: [r2] }))
        .expect('stage', staged({ live: r3, delta: { from: r3, by: 'tar' } }));
      const { hosts } = await rollback(a.appEnv, { to: 'r1', connect: rec.connect }, quietReporter());
      assert.ok(hosts.every((h) => h.state === 'switched'));
      assert.deepEqual(rec.lines(/ switch /).sort(), ['web1 switch r1', 'web2 switch r1', 'web3 switch r1']);
      const [stage] = rec.callsOn('web3', 'stage');
      const args = stageArgs(stage!.args);
      assert.equal(args.dir, dir(r1));
      assert.equal(args.from, dir(r3));
      assert.equal(args.payload, 'tar');
      // r3 → r1: the page and the migration go, index.html changes back
      assert.deepEqual(args.arg!.split('\n').sort(), ['about.html', 'migrations/0002_add_price.sql']);
      assert.deepEqual(files(stage!.stdin!), ['index.html']);
      assert.ok(rec.last(/ stage done$/) < rec.first(/ switch /), 'no host switched before every host had the release');
    }));

  it('a kept release edited by hand is staged afresh on that host, never switched to as it is', () =>
    recorded(async (rec) => {
      const a = await setUp();
      rec.host('web1').expect('look', look({ live: r3, kept: [r2] }));
      rec.host('web2')
        .expect('look', look({ live: r3, edited: [{ release: r2, differ: 2 }] }))
        .expect('stage', staged({ live: r3, delta: { from: r3, by: 'tar' } }));
      rec.host('web3').expect('look', look({ live: r3, kept: [r2] }));
      await rollback(a.appEnv, { connect: rec.connect }, quietReporter());
      assert.equal(stageArgs(rec.callsOn('web2', 'stage')[0]!.args).dir, dir(r2));
      assert.deepEqual(rec.lines(/ switch /).sort(), ['web1 switch r2', 'web2 switch r2', 'web3 switch r2']);
    }));

  it('refuses to roll back across changed migrations without --force; no host is switched or sent anything', () =>
    recorded(async (rec) => {
      const a = await setUp(['migrations']);
      // the hosts are connected to while the rollback is planned; the refused plan runs nothing on them
      for (const h of HOSTS) rec.host(h);
      const err = await failure(rollback(a.appEnv, { connect: rec.connect }, quietReporter()));
      assert.ok(err instanceof UsageError, String(err));
      assert.match(err.message, /^refusing to roll back r3 → r2: migrations changed in between \(in r3\):\n {2}migrations\/0002_add_price\.sql\n/);
      assert.deepEqual(rec.lines(/ switch /), []);
      // the connections are closed once the sessions it opened settle (microtasks, no I/O)
      await new Promise(setImmediate);
      for (const h of HOSTS) assert.equal(rec.open(h), 0, `${h} left open`);
    }));

  it('a host whose switch fails is named; the hosts that switched go back to what they served', () =>
    recorded(async (rec) => {
      const a = await setUp();
      const fails = { stderr: `release ${dir(r2)} is not staged on this host\n`, exitCode: 3 };
      rec.host('web2').expect('look', look({ live: r3, kept: [r2] }, { switchFails: fails }));
      for (const h of ['web1', 'web3']) {
        rec.host(h).expect('look', look({ live: r3, kept: [r2] })).expect('activate', activated(r2), { args: ['/data/www/shop', dir(r3)] });
      }
      const err = await failure(rollback(a.appEnv, { connect: rec.connect }, quietReporter()));
      assert.ok(err instanceof DeployFailedError, String(err));
      assert.equal(err.exitCode, ExitCode.reverted);
      assert.match(err.message, /\n {2}web2 \(batch 1\): switch to r2 failed \(exit 3\): release r2-[0-9a-f]{12} is not staged on this host\n/);
      assert.match(err.message, /reverted \(and health-checked\): web1 → r3, web3 → r3/);
      assert.deepEqual(rec.lines(/ switch /).sort(), ['web1 switch r2', 'web1 switch r3', 'web2 switch r2 failed', 'web3 switch r2', 'web3 switch r3']);
    }));

  it('another run holding the lock: refused at once, before any host is contacted', () =>
    recorded(async (rec) => {
      const a = await setUp();
      const held = await acquireLock({ target: 'shop-prod', dir: a.appEnv.paths.state, command: 'deploy shop-prod' });
      try {
        const err = await failure(rollback(a.appEnv, { connect: rec.connect }, quietReporter()));
        assert.ok(err instanceof LockHeldError, String(err));
        assert.equal(err.exitCode, ExitCode.lockHeld);
      } finally {
        await held.release();
      }
      assert.deepEqual(rec.timeline, [], 'no host was contacted');
    }));
});

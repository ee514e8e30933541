/**
 * The sync flow over recorded hosts (see deploy.test.ts): each host is inspected against the
 * store's live release; hand-changed ones are repaired in place, hosts on another release or
 * none are shipped it, intact ones are left alone.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, afterEach, describe, it } from 'node:test';
import { DeployFailedError, ExitCode, LockHeldError, UsageError } from '../../src/errors.js';
import { acquireLock } from '../../src/flows/lock.js';
import { sync } from '../../src/flows/sync.js';
import type { Release } from '../../src/release-store/release.js';
import { type Admin, AdminTemplate, failure, makeAdmin, quietReporter } from '../support/admin.js';
import { forgot, look, inspected, repaired, stageArgs, staged } from '../support/host-answers.js';
import { recorded } from '../support/recording.js';

const HOSTS = ['web1', 'web2', 'web3'];
let admin: Admin | undefined;
afterEach(async () => {
  await admin?.down();
  admin = undefined;
});

async function setUp(): Promise<Admin> {
  admin = await makeAdmin();
  return admin;
}

/** r1, then r2 (index.html changed): the store, without history, has r2 live. */
let r1!: Release;
let r2!: Release;
const releases = new AdminTemplate(async (a) => {
  r1 = await a.release();
  await a.commit({ 'index.html': '<h1>shop v2</h1>\n' });
  r2 = await a.release();
});
after(() => releases.down());

async function released(): Promise<Admin> {
  admin = await releases.make();
  return admin;
}

const files = (tar: Buffer) => execFileSync('tar', ['-t'], { input: tar }).toString().split('\n').filter((f) => f && !f.endsWith('/')).sort();
const outcomes = (hosts: { host: string; state: string }[]) => hosts.map((h) => `${h.host} ${h.state}`);

describe('sync over recorded hosts', () => {
  it('leaves hosts that serve the live release intact alone: one inspection each, nothing more', () =>
    recorded(async (rec) => {
      const a = await released();
      for (const h of HOSTS) rec.host(h).expect('inspect', inspected(r2));
      const result = await sync(a.appEnv, { connect: rec.connect }, quietReporter());
      assert.equal(result.live.id, 'r2');
      assert.deepEqual(outcomes(result.hosts), ['web1 in-sync', 'web2 in-sync', 'web3 in-sync']);
      const [inspect] = rec.callsOn('web2', 'inspect');
      assert.equal(inspect!.args[1], r2.commit, 'compared with the live release');
      assert.match(inspect!.stdin!.toString(), /^[A-Za-z0-9_-]{16,}\n$/, 'the rsync secret, on stdin alone');
    }));

  it('repairs a host whose live release was edited by hand, and forgets its edited kept releases', () =>
    recorded(async (rec) => {
      const a = await released();
      rec.host('web1').expect('inspect', inspected(r2));
      rec.host('web2')
        .expect('inspect', inspected(r2, ['>fcsT...... index.html'], [{ release: r1, differ: 1 }]))
        .expect('forget', forgot({ release: r1, differ: 1 }))
        .expect('repair', repaired(1, 18));
      rec.host('web3').expect('inspect', inspected(r2));
      const reporter = quietReporter();
      const result = await sync(a.appEnv, { connect: rec.connect }, reporter);
      assert.deepEqual(outcomes(result.hosts), ['web1 in-sync', 'web2 repaired', 'web3 in-sync']);
      assert.deepEqual(rec.callsOn('web2', 'repair')[0]!.args.slice(1, 3), [`r2-${r2.commit.slice(0, 12)}`, r2.commit]);
      assert.ok(reporter.steps('web2').includes('web2 inspect done: r2 changed by hand: 1 difference: modified index.html'), reporter.steps('web2').join('\n'));
    }));

  it('ships the live release to hosts on another release (a delta) or none (a host just added), switching only them', () =>
    recorded(async (rec) => {
      const a = await released();
      rec.host('web1').expect('inspect', inspected(r2));
      // a second connection each: the ship phase's, with its own look
      rec.host('web2').expect('inspect', inspected(r1)).expect('look', look({ live: r1 })).expect('stage', staged({ live: r1, delta: { from: r1, by: 'tar' } }));
      rec.host('web3').expect('inspect', inspected(undefined)).expect('look', look({})).expect('stage', staged());
      const result = await sync(a.appEnv, { connect: rec.connect }, quietReporter());
      assert.deepEqual(outcomes(result.hosts), ['web1 in-sync', 'web2 switched', 'web3 switched']);
      const delta = rec.callsOn('web2', 'stage')[0]!;
      assert.equal(stageArgs(delta.args).payload, 'tar');
      assert.deepEqual(files(delta.stdin!), ['index.html']);
      const full = rec.callsOn('web3', 'stage')[0]!;
      assert.equal(stageArgs(full.args).payload, 'full');
      assert.deepEqual(files(full.stdin!), ['app/settings.py', 'app/settings_local.py', 'index.html']);
      assert.deepEqual(rec.lines(/ switch /).sort(), ['web2 switch r2', 'web3 switch r2']);
      for (const h of HOSTS) assert.equal(rec.open(h), 0, `${h}: sync closed every connection it opened`);
    }));

  it('a host that cannot be reached is named; the others are still checked, and the exit says the fleet is partly done', () =>
    recorded(async (rec) => {
      const a = await released();
      rec.host('web1').expect('inspect', inspected(r2));
      rec.host('web2').refuse('connect ETIMEDOUT');
      rec.host('web3').expect('inspect', inspected(r2));
      const err = await failure(sync(a.appEnv, { connect: rec.connect }, quietReporter()));
      assert.ok(err instanceof DeployFailedError, String(err));
      assert.equal(err.exitCode, ExitCode.partial);
      assert.equal(err.message, '1 of 3 hosts are not on r2:\n  web2: cannot connect to 10.0.0.2:22: connect ETIMEDOUT');
    }));

  it('refuses an app-env with no release yet, before connecting to any host', () =>
    recorded(async (rec) => {
      const a = await setUp();
      const err = await failure(sync(a.appEnv, { connect: rec.connect }, quietReporter()));
      assert.ok(err instanceof UsageError, String(err));
      assert.match(err.message, /has no release yet: deploy it first/);
      assert.deepEqual(rec.timeline, []);
    }));

  it('another run holding the lock: refused at once, before any host is contacted', () =>
    recorded(async (rec) => {
      const a = await released();
      const held = await acquireLock({ target: 'shop-prod', dir: a.appEnv.paths.state, command: 'deploy shop-prod' });
      try {
        const err = await failure(sync(a.appEnv, { connect: rec.connect }, quietReporter()));
        assert.ok(err instanceof LockHeldError, String(err));
        assert.equal(err.exitCode, ExitCode.lockHeld);
      } finally {
        await held.release();
      }
      assert.deepEqual(rec.timeline, [], 'no host was contacted');
    }));
});

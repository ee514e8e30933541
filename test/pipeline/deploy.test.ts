/**
 * The deploy flow over recorded hosts: a real source repo, admin root, git and rsync on the
 * admin side; web servers that answer only the commands each test expects (recording.ts).
 * What only a real host can show (files on disk, sshd, rsync over the forward) is left to
 * test/integration.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, afterEach, describe, it } from 'node:test';
import { formatPlan } from '../../src/deploy/plan-text.js';
import { defaultPlan } from '../../src/deploy/ship.js';
import { readLive } from '../../src/deploy/status.js';
import { DeployFailedError, ExitCode, LockHeldError } from '../../src/errors.js';
import { acquireLock } from '../../src/flows/lock.js';
import { deploy } from '../../src/flows/deploy.js';
import type { Release } from '../../src/release-store/release.js';
import { type Admin, AdminTemplate, type EnvInput, failure, makeAdmin, quietReporter } from '../support/admin.js';
import { aheadDone, activated, look, pruned, stageArgs, stageFails, staged, status } from '../support/host-answers.js';
import { type Recording, recorded } from '../support/recording.js';

const HOSTS = ['web1', 'web2', 'web3'];
let admin: Admin | undefined;
afterEach(async () => {
  await admin?.down();
  admin = undefined;
});

async function setUp(env: Partial<EnvInput> = {}, keepReleases = 5): Promise<Admin> {
  admin = await makeAdmin(env, { remote: { path: '/data/www/shop', keepReleases } });
  return admin;
}

/** r1 released (hosts hold it, as each test says), and a change to index.html committed since. */
let r1!: Release;
const withR1 = new AdminTemplate(async (a) => {
  r1 = await a.release();
  await a.commit({ 'index.html': '<h1>shop v2</h1>\n' });
});
after(() => withR1.down());

/** r1 then r2 released (hosts serve r2 and keep r1), and a change to index.html committed since. */
const spareOf: { r1?: Release; r2?: Release } = {};
const withR2 = new AdminTemplate(async (a) => {
  spareOf.r1 = await a.release();
  await a.commit({ 'index.html': '<h1>shop v2</h1>\n' });
  spareOf.r2 = await a.release();
  await a.commit({ 'index.html': '<h1>shop v3</h1>\n' });
});
after(() => withR2.down());

async function fromR1(env: Partial<EnvInput> = {}, keepReleases = 5): Promise<Admin> {
  admin = await withR1.make(env, { remote: { path: '/data/www/shop', keepReleases } });
  return admin;
}


const files = (tar: Buffer) => execFileSync('tar', ['-t'], { input: tar }).toString().split('\n').filter((f) => f && !f.endsWith('/')).sort();

/** No host switched before every host had staged. */
function assertStagedBeforeSwitch(rec: Recording): void {
  const lastStaged = rec.last(/ stage done$/);
  const firstSwitch = rec.first(/ switch /);
  assert.ok(lastStaged >= 0 && firstSwitch > lastStaged, `a host switched before every host had staged:\n${rec.timeline.join('\n')}`);
}

describe('deploy over recorded hosts', () => {
  it('first deploy: every host is sent the tree while the release is committed, stages it, and only then switches', () =>
    recorded(async (rec) => {
      const a = await setUp();
      for (const h of HOSTS) rec.host(h).expect('look', look({})).expect('ahead', aheadDone).expect('stage', staged({ ahead: true }));
      const result = await deploy(a.appEnv, { connect: rec.connect }, quietReporter());
      assert.equal(result.release.id, 'r1');
      assert.deepEqual(result.hosts.map((h) => `${h.host} ${h.state}`), ['web1 switched', 'web2 switched', 'web3 switched']);
      assertStagedBeforeSwitch(rec);
      assert.deepEqual(rec.lines(/ switch /).sort(), ['web1 switch r1', 'web2 switch r1', 'web3 switch r1']);
      for (const h of HOSTS) {
        const [ahead] = rec.callsOn(h, 'ahead');
        assert.deepEqual(files(ahead!.stdin!), ['app/settings.py', 'app/settings_local.py', 'index.html'], 'the tree with its private file, nothing of .git');
        const stage = stageArgs(rec.callsOn(h, 'stage')[0]!.args);
        assert.equal(stage.payload, 'ahead');
        assert.equal(stage.arg, ahead!.args[1], 'the stage moves the tree this run sent ahead');
        assert.deepEqual(stage.privateFiles, ['app/settings_local.py']);
        assert.equal(rec.open(h), 0, `${h}: the run closed its connection`);
      }
      // a first deploy leaves fewer releases than keepReleases: nothing to prune, no round trip for it
      assert.equal(rec.lines(/ prune$/).length, 0, rec.timeline.join('\n'));
    }));

  it('a one-file change goes as a tar delta from the release each host serves; hosts over keepReleases prune after the rollout, through the look that switched them', () =>
    recorded(async (rec) => {
      const a = await fromR1({}, 1);
      for (const h of HOSTS) {
        rec.host(h).expect('look', look({ live: r1 }, { prune: pruned(r1) })).expect('stage', staged({ live: r1, delta: { from: r1, by: 'tar' } }));
      }
      const reporter = quietReporter();
      const result = await deploy(a.appEnv, { connect: rec.connect }, reporter);
      assert.equal(result.release.id, 'r2');
      for (const h of HOSTS) {
        const [stage] = rec.callsOn(h, 'stage');
        assert.deepEqual(stageArgs(stage!.args), { dir: `r2-${result.release.commit.slice(0, 12)}`, commit: result.release.commit, from: `r1-${r1.commit.slice(0, 12)}`, payload: 'tar', arg: '', deadline: undefined, reuse: false, privateFiles: ['app/settings_local.py'] });
        assert.deepEqual(files(stage!.stdin!), ['index.html'], 'only the changed file crosses the wire');
        assert.deepEqual(rec.callsOn(h, 'look')[0]!.args, ['/data/www/shop', '', '1'], 'a deploy\'s look names the spare releases, for keepReleases');
        assert.ok(rec.first(new RegExp(`^${h} prune$`)) > rec.last(/ switch /), `${h} pruned before the whole rollout had switched`);
        assert.equal(rec.callsOn(h, 'prune').length, 0, `${h}: no session of its own for the prune`);
      }
      assertStagedBeforeSwitch(rec);
      assert.ok(reporter.steps().includes('web2 prune done: pruned r1'), reporter.steps().join('\n'));
    }));

  it('a host whose look names a spare release gets the delta from it, applied in its tree; holding no more releases than before, it is not pruned', () =>
    recorded(async (rec) => {
      admin = await withR2.make({}, { remote: { path: '/data/www/shop', keepReleases: 2 } });
      const { r1: spare, r2: live } = spareOf as Required<typeof spareOf>;
      for (const h of HOSTS) {
        rec.host(h).expect('look', look({ live, kept: [spare], spare: [spare] })).expect('stage', staged({ live, delta: { from: spare, by: 'tar', reused: true } }));
      }
      const reporter = quietReporter();
      const result = await deploy(admin.appEnv, { connect: rec.connect }, reporter);
      assert.equal(result.release.id, 'r3');
      for (const h of HOSTS) {
        const stage = stageArgs(rec.callsOn(h, 'stage')[0]!.args);
        assert.deepEqual([stage.payload, stage.from, stage.reuse], ['tar', `r1-${spare.commit.slice(0, 12)}`, true]);
      }
      assert.equal(rec.lines(/ prune$/).length, 0, rec.timeline.join('\n'));
      assert.ok(reporter.steps().some((s) => /^web1 stage done: staged r3 \(.*delta from r1 in its own tree\)$/.test(s)), reporter.steps().join('\n'));
    }));

  it('a canary switches alone first, then the rest', () =>
    recorded(async (rec) => {
      const a = await fromR1({ rollout: { canary: ['web2'], hooks: { postSwitch: [['reload-app', '{release}']] } } });
      for (const h of HOSTS) {
        rec.host(h).expect('look', look({ live: r1 })).expect('stage', staged({ live: r1, delta: { from: r1, by: 'tar' } })).expect('reload-app', {}, { args: ['r2'] });
      }
      const reporter = quietReporter();
      await deploy(a.appEnv, { connect: rec.connect }, reporter);
      const canaryDone = rec.first(/^web2 reload-app done$/);
      assert.ok(canaryDone >= 0 && canaryDone < rec.first(/^web1 switch/) && canaryDone < rec.first(/^web3 switch/), rec.timeline.join('\n'));
      assert.deepEqual(reporter.notes().filter((n) => n.startsWith('phase')), ['phase 1/2 canary: web2', 'phase 2/2 batch 1: web1, web3']);
    }));

  it('a canary that fails its health check stops the rollout: it goes back to what it served, no other host switches', () =>
    recorded(async (rec) => {
      const a = await fromR1({ rollout: { canary: 1, health: { command: ['check-health', '{release}'], retries: 0 } } });
      for (const h of HOSTS) rec.host(h).expect('look', look({ live: r1 })).expect('stage', staged({ live: r1, delta: { from: r1, by: 'tar' } }));
      rec.host('web1')
        .expect('check-health', { stderr: 'r2 answers 500\n', exitCode: 1 }, { args: ['r2'] })
        // the look switched once; going back is a fresh command, checked as a switch is
        .expect('activate', activated(r1), { args: ['/data/www/shop', `r1-${r1.commit.slice(0, 12)}`] })
        .expect('check-health', {}, { args: ['r1'] });
      const err = await failure(deploy(a.appEnv, { connect: rec.connect }, quietReporter()));
      assert.ok(err instanceof DeployFailedError, String(err));
      assert.equal(err.exitCode, ExitCode.reverted);
      assert.match(err.message, /rollout of r2 stopped in phase canary/);
      assert.match(err.message, /web1 \(canary\): unhealthy after 1 attempt: check-health exited 1: r2 answers 500/);
      assert.match(err.message, /reverted \(and health-checked\): web1 → r1/);
      assert.deepEqual(rec.lines(/ switch /), ['web1 switch r2', 'web1 switch r1']);
      assert.deepEqual(rec.lines(/look closed/).sort(), ['web2 look closed', 'web3 look closed'], 'the others were never told to switch');
    }));

  it('staging that fails on one host switches no host; the error names the host and why', () =>
    recorded(async (rec) => {
      const a = await fromR1();
      for (const h of HOSTS) rec.host(h).expect('look', look({ live: r1 }));
      rec.host('web1').expect('stage', staged({ live: r1, delta: { from: r1, by: 'tar' } }));
      rec.host('web2').expect('stage', stageFails());
      rec.host('web3').expect('stage', staged({ live: r1, delta: { from: r1, by: 'tar' } }));
      const reporter = quietReporter();
      const err = await failure(deploy(a.appEnv, { connect: rec.connect }, reporter));
      assert.ok(err instanceof DeployFailedError, String(err));
      assert.equal(err.exitCode, ExitCode.failed);
      assert.match(err.message, /^r2 did not reach 3 of 3 hosts:\n.*\n {2}web2: staging failed \(exit 1\): this host could not write its release: is its disk full\?/);
      assert.match(err.message, /no host was switched; the fleet still serves what it served before/);
      assert.deepEqual(rec.lines(/ switch /), []);
      assert.ok(reporter.notes().some((n) => n.includes('--exclude-hosts web2')), reporter.notes().join('\n'));
    }));

  it('a host whose connection is lost while staging is named; no host switches', () =>
    recorded(async (rec) => {
      const a = await fromR1();
      for (const h of HOSTS) rec.host(h).expect('look', look({ live: r1 }));
      rec.host('web1').expect('stage', staged({ live: r1, delta: { from: r1, by: 'tar' } }));
      rec.host('web2').expect('stage', staged({ live: r1, delta: { from: r1, by: 'tar' } }));
      rec.host('web3').expect('stage', { lose: 'the SSH connection closed' });
      const err = await failure(deploy(a.appEnv, { connect: rec.connect }, quietReporter()));
      assert.ok(err instanceof DeployFailedError, String(err));
      assert.match(err.message, /\n {2}web3: the SSH connection closed\n/);
      assert.deepEqual(rec.lines(/ switch /), []);
    }));

  it('a host that cannot be reached stops the run before anything is released', () =>
    recorded(async (rec) => {
      const a = await setUp();
      rec.host('web1').expect('look', look({}));
      rec.host('web2').expect('look', look({}));
      rec.host('web3').refuse('connect ECONNREFUSED');
      const err = await failure(deploy(a.appEnv, { connect: rec.connect }, quietReporter()));
      assert.ok(err instanceof DeployFailedError, String(err));
      assert.equal(err.exitCode, ExitCode.failed);
      assert.match(err.message, /^1 of 3 hosts cannot be reached.*nothing was released, no host was touched\n {2}web3: cannot connect to 10\.0\.0\.3:22: connect ECONNREFUSED\n.*--exclude-hosts web3$/s);
      assert.equal((await a.releases()).size, 0, 'no release was made');
    }));

  it('another run holding the lock: refused at once, before any host is contacted or anything released', () =>
    recorded(async (rec) => {
      const a = await setUp();
      const held = await acquireLock({ target: 'shop-prod', dir: a.appEnv.paths.state, command: 'deploy shop-prod' });
      try {
        const err = await failure(deploy(a.appEnv, { connect: rec.connect }, quietReporter()));
        assert.ok(err instanceof LockHeldError, String(err));
        assert.equal(err.exitCode, ExitCode.lockHeld);
        assert.match(err.message, /^shop-prod is locked by /);
      } finally {
        await held.release();
      }
      assert.deepEqual(rec.timeline, [], 'no host was contacted');
      assert.equal((await a.releases()).size, 0);
    }));

  it('a failed run releases its lock: the next run gets it', () =>
    recorded(async (rec) => {
      const a = await setUp();
      rec.host('web1').expect('look', look({})).expect('ahead', aheadDone).expect('stage', stageFails());
      for (const h of ['web2', 'web3']) rec.host(h).expect('look', look({})).expect('ahead', aheadDone).expect('stage', staged({ ahead: true }));
      await failure(deploy(a.appEnv, { connect: rec.connect }, quietReporter()));
      const lock = await acquireLock({ target: 'shop-prod', dir: a.appEnv.paths.state, command: 'deploy shop-prod' });
      await lock.release();
    }));

  it('plan: each host is only asked what it serves; nothing else runs anywhere', () =>
    recorded(async (rec) => {
      const a = await fromR1({ rollout: { canary: ['web3'] } });
      rec.host('web1').expect('status', status(r1));
      rec.host('web2').expect('status', status(undefined));
      rec.host('web3').expect('status', status(r1));
      const live = await readLive(a.appEnv, a.appEnv.hosts, { connect: rec.connect });
      assert.deepEqual(Object.fromEntries(live), { web1: { id: 'r1' }, web2: { id: 'none' }, web3: { id: 'r1' } });
      const text = formatPlan(defaultPlan(a.appEnv, { id: 'r2' }), {
        target: 'shop-prod',
        release: { id: 'r2', created: true, source: 'f'.repeat(40), subject: 'v2' },
        base: { id: 'r1', source: r1.source },
        commits: [],
        live,
        parallel: a.appEnv.parallel,
      }).join('\n');
      assert.match(text, /phase 1\/2 canary: web3[^\n]*\n {2}web3 \(serves r1\)\n {4}switch current → r2/);
      assert.match(text, /\n {2}web2 \(serves none\)\n/);
      for (const h of HOSTS) assert.equal(rec.open(h), 0, `${h}: the plan closed its connection`);
    }));
});

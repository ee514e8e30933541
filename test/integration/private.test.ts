/**
 * Missing private settings are never silent, on a real loopback fleet: a file the
 * app requires (`private.require`) stops a deploy with exit 2 before the checkout
 * or any host is touched, and a missing private dir is a warning on every deploy,
 * rollback and sync.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, renameSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunResult, type World, git, makeWorld } from '../support/world.js';

const REQUIRE = "private: { require: ['.env', 'app/settings_local.py'] },";
const NO_DIR = /WARN: the private directory \S+ does not exist: deploys of shop-prod ship no private files and its admin tasks get no variables from \.env/;

describe('required private files and a missing private dir', { timeout: 300_000 }, () => {
  let w: World;
  const src = () => join(w.root, 'prod', 'src', w.app);
  const liveIds = () => w.fleet.hosts.map((h) => w.liveDir(h)?.split('/').pop()?.split('-')[0]);
  const releases = () => git(w.www, 'tag', '--list', 'r*').then((t) => t.split('\n').filter(Boolean));
  const hostEntries = () => w.fleet.hosts.map((h) => (existsSync(w.remoteBase(h)) ? readdirSync(w.remoteBase(h)).sort() : []));
  const refused = (r: RunResult, missing: RegExp) => {
    assert.equal(r.exitCode, 2, r.all);
    assert.match(r.stderr, missing);
    assert.doesNotMatch(r.stderr, /updating|running|staged|FAILED/, 'nothing ran');
  };

  before(async () => {
    w = await makeWorld({ net: '127.0.92', size: 2, appExtra: "private: { require: ['.env', 'app/settings_local.py', 'app/keys.json'] }," });
  });
  after(async () => {
    await w?.down();
  });

  it('a first deploy missing a required file exits 2, naming it and the private dir; no checkout, nothing on the hosts', async () => {
    const r = await w.deploy(w.target);
    refused(r, new RegExp(`shop-prod requires 1 private file missing from ${w.privateDir}: app/keys\\.json \\(private\\.require in \\S+shop\\.ts\\)`));
    assert.doesNotMatch(r.stderr, /app\/settings_local\.py|\.env/, 'files that are there are not named');
    assert.ok(!existsSync(src()), 'no checkout was made');
    assert.deepEqual(hostEntries(), [[], []], 'no host was touched');
    assert.ok(!existsSync(join(w.www, '.git')), 'no release store, so no release');
  });

  it('with the required files there it deploys, without a warning', async () => {
    await w.writeApp({ appExtra: REQUIRE });
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    assert.doesNotMatch(r.stderr, /WARN/);
    assert.deepEqual(liveIds(), ['r1', 'r1']);
  });

  it('a later deploy missing required files stops before the checkout moves: every missing file and the private dir are named', async () => {
    const head = await git(src(), 'rev-parse', 'HEAD');
    const pushed = await w.commit({ 'index.html': '<h1>shop v2</h1>\n' });
    await rm(join(w.privateDir, '.env'));
    await rm(join(w.privateDir, 'app', 'settings_local.py'));
    const r = await w.deploy(w.target);
    refused(r, new RegExp(`shop-prod requires 2 private files missing from ${w.privateDir}: \\.env, app/settings_local\\.py \\(private\\.require in `));
    assert.equal(await git(src(), 'rev-parse', 'HEAD'), head, 'the checkout did not move');
    assert.notEqual(head, pushed);
    assert.deepEqual(await releases(), ['r1'], 'no release was made');
    assert.deepEqual(liveIds(), ['r1', 'r1']);
    const log = await w.deploy('log', w.target);
    assert.equal(log.exitCode, 0, log.all);
    assert.equal(log.stdout.split('\n').filter((l) => /^\S+ +deploy /.test(l)).length, 1, `only the first deploy is in the history:\n${log.stdout}`);
  });

  it('without the private dir, a deploy that requires files says the dir does not exist', async () => {
    renameSync(w.privateDir, `${w.privateDir}.away`);
    const r = await w.deploy(w.target);
    refused(r, new RegExp(`the private directory ${w.privateDir} does not exist; shop-prod requires \\.env, app/settings_local\\.py in it \\(private\\.require in `));
    assert.match(r.stderr, NO_DIR, 'and warns that the dir is missing');
    assert.deepEqual(liveIds(), ['r1', 'r1']);
  });

  it('without the private dir and nothing required: deploy, sync and rollback each warn, and go on', async () => {
    await w.writeApp({ appExtra: '' });
    const deployed = await w.deploy(w.target);
    assert.equal(deployed.exitCode, 0, deployed.all);
    assert.match(deployed.stderr, NO_DIR);
    assert.deepEqual(liveIds(), ['r2', 'r2']);
    assert.ok(!existsSync(join(w.liveDir(w.fleet.hosts[0]!)!, 'app', 'settings_local.py')), 'r2 ships no private settings, as warned');
    for (const args of [['sync', w.target], ['rollback', w.target]]) {
      const r = await w.deploy(...args);
      assert.equal(r.exitCode, 0, `${args.join(' ')}: ${r.all}`);
      assert.match(r.stderr, NO_DIR, args.join(' '));
    }
    assert.deepEqual(liveIds(), ['r1', 'r1']);
  });
});

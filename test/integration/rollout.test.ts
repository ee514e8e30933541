/**
 * Phased rollout on a real 4-host loopback fleet. Every host runs an HTTP
 * server serving its own `current`, so health checks (and these tests) see
 * what the host really serves.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { CLI, type World, git, makeWorld, treeOf } from '../support/world.js';

const HEALTH_HTTP = `http: { url: 'http://{address}:8080/shop/health.txt', body: 'ok', timeout: 3 }`;
// a host is unhealthy for the release named in its /data/unhealthy (a per-host fault)
const HEALTH_CMD = `command: ['sh', '-c', 'test "$(cat /data/unhealthy 2>/dev/null)" != "$1"', 'health', '{release}']`;

describe('phased rollout', { timeout: 300_000 }, () => {
  let w: World;
  const http = async (i: number, path: string) => (await fetch(`${w.fleet.hosts[i]!.httpUrl}/${w.app}/${path}`)).text();
  const served = () => Promise.all(w.fleet.hosts.map((_, i) => http(i, 'index.html')));
  const liveIds = () => w.fleet.hosts.map((h) => w.liveDir(h)?.split('/').pop()?.split('-')[0]);
  const rollout = (body: string) => w.writeApp({ envExtra: `rollout: { ${body} },` });
  /** Index of the first stderr line matching `re`; fails when there is none. */
  const lineOf = (lines: string[], re: RegExp) => {
    const i = lines.findIndex((l) => re.test(l));
    assert.ok(i >= 0, `no line matches ${re}:\n${lines.join('\n')}`);
    return i;
  };
  const seconds = (line: string) => Date.parse(line.slice(0, 20)) / 1000;

  before(async () => {
    // keepReleases 1: the release a revert needs must survive the switch anyway
    w = await makeWorld({ net: '127.0.30', size: 4, remoteExtra: 'keepReleases: 1' });
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
  });
  after(async () => {
    await w?.down();
  });

  it('`plan` and `--dry-run` print phases × hosts × steps and change nothing anywhere', async () => {
    await rollout(`canary: ['web2'], batches: ['50%'], pause: 5, hooks: { postSwitch: [['touch', '{path}/reloaded']] }, health: { ${HEALTH_HTTP} }`);
    await w.commit({ 'index.html': '<h1>shop v2</h1>\n' }, 'shop v2: new front page');
    const snapshot = () => ({
      admin: treeOf(w.root),
      hosts: w.fleet.hosts.map((h) => treeOf(join(h.dataDir, 'www'))),
    });
    const before = snapshot();
    const plan = await w.deploy('plan', w.target);
    assert.equal(plan.exitCode, 0, plan.all);
    const out = plan.stdout;
    assert.match(out, /^plan for shop-prod: ship a new release r2 \(a deploy would create it\)/);
    assert.match(out, /commits added over r1: 1\n {4}[0-9a-f]{12} shop v2: new front page/);
    assert.match(out, /stage r2 on all 4 hosts first/);
    assert.match(out, /phase 1\/3 canary: web2 .*\n {2}web2 \(serves r1\)\n {4}switch current → r2\n {4}post-switch hook: touch \/data\/www\/shop\/reloaded\n {4}health: GET http:\/\/127\.\d+\.30\.2:8080\/shop\/health\.txt expects 200 with "ok"/);
    assert.match(out, /pause 5s\nphase 2\/3 batch 1: web1, web3 /);
    assert.match(out, /phase 3\/3 batch 2: web4 /);
    assert.match(out, /nothing was changed/);
    const dry = await w.deploy(w.target, '--dry-run', '--exclude-hosts', 'web4');
    assert.equal(dry.exitCode, 0, dry.all);
    assert.match(dry.stdout, /stage r2 on all 3 hosts first \(up to 3 at once\): web1, web2, web3/);
    assert.deepEqual(snapshot(), before, 'no file changed on the admin node or any host');
    assert.deepEqual(await served(), Array(4).fill('<h1>shop v1</h1>\n'));
  });

  it('a healthy rollout goes canary → pause → batches, hooks around each switch, run-once hook on the canary only', async () => {
    await rollout(`canary: 1, batches: [1, '100%'], pause: 2, maxSwitching: 1,
      hooks: {
        preSwitch: [['sh', '-c', 'echo "pre $1" >> /data/hooks.log', 'hook', '{release}'], { name: 'warm', run: ['sh', '-c', 'echo "$1" > /data/once.log', 'once', '{release}'], once: true }],
        postSwitch: [['sh', '-c', 'echo "post $(cat "/data/www/shop/releases/.$(basename "$(readlink /data/www/shop/current)").rev")" >> /data/hooks.log']],
      },
      health: { ${HEALTH_HTTP}, ${HEALTH_CMD}, retries: 1, backoff: 0.2 }`);
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    const lines = r.stderr.split('\n');
    const canary = lineOf(lines, /phase 1\/3 canary: web1$/);
    const web1Healthy = lineOf(lines, /\[web1\] healthy: http:\/\/127\.\d+\.30\.1:8080\/shop\/health\.txt/);
    const pause1 = lineOf(lines, /pausing 2s before phase 2\/3 \(batch 1\)/);
    const batch1 = lineOf(lines, /phase 2\/3 batch 1: web2$/);
    const web2Live = lineOf(lines, /\[web2\] live on r2/);
    const pause2 = lineOf(lines, /pausing 2s before phase 3\/3 \(batch 2\)/);
    const batch2 = lineOf(lines, /phase 3\/3 batch 2: web3, web4$/);
    const stagedAll = Math.max(...w.fleet.hosts.map((h) => lineOf(lines, new RegExp(`\\[${h.name}\\] staged r2`))));
    assert.ok(stagedAll < canary, 'every host staged before the first switch');
    assert.ok(canary < web1Healthy && web1Healthy < pause1 && pause1 < batch1 && batch1 < web2Live && web2Live < pause2 && pause2 < batch2, r.stderr);
    assert.ok(lineOf(lines, /\[web3\] live on r2/) > batch2 && lineOf(lines, /\[web4\] live on r2/) > batch2);
    // the pause is real: line timestamps (whole seconds) are at least the pause apart
    assert.ok(seconds(lines[batch1]!) - seconds(lines[pause1]!) >= 2, `${lines[pause1]}\n${lines[batch1]}`);
    assert.ok(seconds(lines[batch2]!) - seconds(lines[pause2]!) >= 2);
    assert.deepEqual(await served(), Array(4).fill('<h1>shop v2</h1>\n'));
    const commit = await git(w.www, 'rev-parse', 'r2');
    for (const h of w.fleet.hosts) {
      assert.equal(readFileSync(join(h.dataDir, 'hooks.log'), 'utf8'), `pre r2\npost ${commit}\n`, `${h.name}: pre hook before, post hook after the switch`);
    }
    assert.equal(readFileSync(join(w.fleet.hosts[0]!.dataDir, 'once.log'), 'utf8'), 'r2\n');
    assert.ok(w.fleet.hosts.slice(1).every((h) => !existsSync(join(h.dataDir, 'once.log'))), 'the run-once hook ran on the first canary only');
    for (const h of w.fleet.hosts) assert.deepEqual(readdirSync(join(w.remoteBase(h), 'releases')).filter((d) => !d.startsWith('.')).map((d) => d.split('-')[0]), ['r2'], 'pruned only after success');
  });

  it('a release whose health endpoint fails stops at the canary, and the fleet is back on the old release', async () => {
    await rollout(`canary: 1, batches: ['100%'], health: { ${HEALTH_HTTP}, retries: 1, backoff: 0.2 }`);
    await w.commit({ 'index.html': '<h1>shop v3</h1>\n', 'health.txt': 'database down\n' });
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 4, r.all);
    assert.match(r.stderr, /rollout of r3 stopped in phase canary: 1 host failed, more than the failure budget of 0/);
    assert.match(r.stderr, /web1 \(canary\): unhealthy after 2 attempts: GET http:\/\/127\.\d+\.30\.1:8080\/shop\/health\.txt: body does not contain "ok" \(got "database down"\)/);
    assert.match(r.stderr, /reverted \(and health-checked\): web1 → r2/);
    assert.match(r.stderr, /the fleet now serves: r2 on web1, web2, web3, web4/);
    assert.doesNotMatch(r.stderr, /\[web[234]\] live on r3/, 'no host after the canary switched');
    assert.deepEqual(await served(), Array(4).fill('<h1>shop v2</h1>\n'), 'every host serves the old release again');
    assert.deepEqual(await Promise.all(w.fleet.hosts.map((_, i) => http(i, 'health.txt'))), Array(4).fill('ok\n'));
    assert.deepEqual(liveIds(), ['r2', 'r2', 'r2', 'r2']);
  });

  it('a failure budget of 1 lets one bad host through and stops at the second', async () => {
    await rollout(`canary: 1, batches: [1], failureBudget: 1, health: { ${HEALTH_HTTP}, ${HEALTH_CMD}, retries: 0 }`);
    await w.commit({ 'index.html': '<h1>shop v4</h1>\n', 'health.txt': 'ok\n' });
    await writeFile(join(w.fleet.hosts[1]!.dataDir, 'unhealthy'), 'r4');
    await writeFile(join(w.fleet.hosts[2]!.dataDir, 'unhealthy'), 'r4');
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 4, r.all);
    const lines = r.stderr.split('\n');
    assert.ok(lineOf(lines, /\[web2\] FAILED after \S+: unhealthy/) < lineOf(lines, /phase 3\/4 batch 2: web3$/), 'the first bad host is within the budget: the rollout goes on');
    assert.doesNotMatch(r.stderr, /phase 4\/4/, 'the rollout stops at the second bad host');
    assert.doesNotMatch(r.stderr, /\[web4\] (live on|switching)/);
    assert.match(r.stderr, /rollout of r4 stopped in phase batch 2: 2 hosts failed, more than the failure budget of 1/);
    assert.match(r.stderr, /web2 \(batch 1\): unhealthy .*sh exited 1/);
    assert.match(r.stderr, /web3 \(batch 2\): unhealthy/);
    assert.match(r.stderr, /the fleet now serves: r2 on web1, web2, web3, web4/);
    assert.deepEqual(await served(), Array(4).fill('<h1>shop v2</h1>\n'));
  });

  it('within the budget the run finishes, the bad host goes back alone, and the exit code says partial', async () => {
    await rm(join(w.fleet.hosts[2]!.dataDir, 'unhealthy'));
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 5, r.all);
    assert.match(r.stderr, /r4 is live on 3 of 4 hosts; failed within the failure budget of 1:\n {2}web2 \(batch 1\): unhealthy/);
    assert.match(r.stderr, /reverted \(and health-checked\): web2 → r2/);
    assert.deepEqual(await served(), ['<h1>shop v4</h1>\n', '<h1>shop v2</h1>\n', '<h1>shop v4</h1>\n', '<h1>shop v4</h1>\n']);
    await rm(join(w.fleet.hosts[1]!.dataDir, 'unhealthy'));
  });

  it('--hosts with an unknown name is refused with exit 2, changing nothing', async () => {
    const before = liveIds();
    const r = await w.deploy(w.target, '--hosts', 'web1,web9');
    assert.equal(r.exitCode, 2, r.all);
    assert.match(r.stderr, /unknown host "web9" \(hosts of this env: web1, web2, web3, web4\)/);
    assert.deepEqual(liveIds(), before);
    const subset = await w.deploy(w.target, '--hosts', 'web2');
    assert.equal(subset.exitCode, 0, subset.all);
    assert.match(subset.stderr, /live on 1\/1 hosts/);
    assert.deepEqual(await served(), Array(4).fill('<h1>shop v4</h1>\n'));
  });

  it('Ctrl-C during the pause: no new host switches, and the operator is told the state and what to run', async () => {
    await rollout(`canary: 1, batches: ['100%'], pause: 60, health: { ${HEALTH_HTTP}, retries: 0 }`);
    await w.commit({ 'index.html': '<h1>shop v5</h1>\n' });
    const child = execa('node', [CLI, w.target], {
      reject: false,
      env: { SLIPWAY_APPS: w.appsDir, SLIPWAY_ROOT: w.root, CI: '1' },
      timeout: 120_000,
    });
    let stderr = '';
    await new Promise<void>((resolve) => {
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/pausing 60s/.test(stderr)) resolve();
      });
      void child.then(() => resolve());
    });
    child.kill('SIGINT');
    const r = await child;
    assert.equal(r.exitCode, 130, r.stderr);
    assert.match(r.stderr, /interrupted after phase canary: no further host was switched/);
    assert.match(r.stderr, /the fleet now serves: r5 on web1; r4 on web2, web3, web4/);
    assert.match(r.stderr, /to finish: deploy shop-prod/);
    assert.match(r.stderr, /to go back: deploy sync shop-prod \(web1 served r4 before; sync puts every host back on the live release\)/);
    assert.deepEqual(await served(), ['<h1>shop v5</h1>\n', '<h1>shop v4</h1>\n', '<h1>shop v4</h1>\n', '<h1>shop v4</h1>\n']);
  });
});

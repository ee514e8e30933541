/** Roles and datacenters in the rollout plan: which hosts switch when, with which hooks, against which budget. Pure. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Host, roleProblems } from '../../src/config/resolve.js';
import { type Roles, rolesSettings, rolloutSettings } from '../../src/config/rollout.js';
import { buildPlan, type RolloutPlan } from '../../src/deploy/plan.js';
import { describeStep, formatPlan } from '../../src/deploy/plan-text.js';

const host = (name: string, roles: string[], datacenter?: string): Host => ({
  name,
  address: `${name}.internal`,
  port: 22,
  user: 'root',
  roles,
  ...(datacenter ? { datacenter } : {}),
  source: 'inventory.ini',
});
const plan = (hosts: Host[], rollout: unknown, roles?: unknown): RolloutPlan =>
  buildPlan({
    release: 'r9',
    hosts,
    rollout: rolloutSettings.parse(rollout),
    ...(roles ? { roles: rolesSettings.parse(roles) } : {}),
    parallel: 25,
    remotePath: '/data/www/shop',
    keepReleases: 5,
  });
const shape = (p: RolloutPlan) => p.phases.map((ph) => `${ph.name}: ${ph.hosts.map((h) => h.host.name).join(',')}`);
const stepsOf = (p: RolloutPlan, name: string) => p.phases.flatMap((ph) => ph.hosts).find((h) => h.host.name === name)!.steps.map(describeStep);

const web = ['web1', 'web2', 'web3', 'web4'].map((n) => host(n, ['web']));
const workers = ['celery1', 'celery2'].map((n) => host(n, ['worker']));
const roles = {
  web: { canary: 1, batches: ['50%'], hooks: { postSwitch: [['systemctl', 'reload', 'gunicorn']] } },
  worker: { hooks: { preSwitch: [['celery-drain', '{host}']], postSwitch: [['systemctl', 'restart', 'celery']] } },
};

describe('roles', () => {
  it('each role rolls out in the env\'s order with its own phases, whatever order the hosts come in', () => {
    const p = plan([workers[0]!, ...web, workers[1]!], { hooks: { postSwitch: [['echo', 'env hook']] } }, roles);
    assert.deepEqual(shape(p), ['web canary: web1', 'web batch 1: web2,web3', 'web batch 2: web4', 'worker batch 1: celery1,celery2']);
    // listing worker first makes workers go first
    const reversed = plan([...web, ...workers], {}, { worker: roles.worker, web: roles.web });
    assert.deepEqual(shape(reversed)[0], 'worker batch 1: celery1,celery2');
  });

  it('a role\'s hooks replace the env\'s for its hosts, one list at a time', () => {
    const p = plan([...web, ...workers], { hooks: { preSwitch: [['echo', 'env pre']], postSwitch: [['echo', 'env post']] } }, roles);
    const w = stepsOf(p, 'celery2');
    assert.ok(w[0]!.includes('celery-drain celery2'), w.join(' | '));
    assert.ok(w.some((s) => s.includes('systemctl restart celery')), w.join(' | '));
    assert.ok(!w.some((s) => s.includes('env')), 'the env\'s hooks are replaced for workers');
    const wb = stepsOf(p, 'web2');
    assert.ok(wb[0]!.includes('env pre'), 'web keeps the env\'s preSwitch, as it sets none');
    assert.ok(wb.some((s) => s.includes('reload gunicorn')) && !wb.some((s) => s.includes('env post')));
  });

  it('run-once hooks run on the first host of each role', () => {
    const once = { web: { hooks: { postSwitch: [{ run: ['warm-cache'], once: true }] } }, worker: { hooks: { postSwitch: [{ run: ['flush-queue'], once: true }] } } };
    const p = plan([...web, ...workers], {}, once);
    const ran = p.phases.flatMap((ph) => ph.hosts).filter((h) => h.steps.some((s) => s.kind === 'hook')).map((h) => h.host.name);
    assert.deepEqual(ran, ['web1', 'celery1']);
  });

  it('each role has its own failure budget, and the plan says so', () => {
    const p = plan([...web, ...workers], {}, { web: { failureBudget: '25%' }, worker: {} });
    assert.deepEqual(p.budgets, [{ name: 'web', hosts: 4, failures: 1 }, { name: 'worker', hosts: 2, failures: 0 }]);
    assert.ok(p.phases.flatMap((ph) => ph.hosts).every((h) => h.budget === (h.host.roles![0] === 'web' ? 'web' : 'worker')));
    const text = formatPlan(p, { target: 'shop-prod', parallel: 25, live: new Map(), commits: [], release: { id: 'r9', created: true } } as unknown as Parameters<typeof formatPlan>[1]).join('\n');
    assert.match(text, /failure budgets: web 1 of 4, worker 0 of 2/);
    assert.match(text, /phase 1\/2 web batch 1: web1, web2, web3, web4/);
    assert.match(text, /phase 2\/2 worker batch 1: celery1, celery2/);
  });

  it('problems: a host with no role or a role the env does not name, a named canary of another role', () => {
    const r = rolesSettings.parse({ web: { canary: ['celery1'] }, worker: {} });
    const problems = roleProblems([host('web1', ['web']), host('celery1', ['worker']), host('db1', []), host('cache1', ['cache'])], rolloutSettings.parse({}), r);
    assert.deepEqual(problems, [
      'hosts: "db1" (inventory.ini) has no role (roles: web, worker)',
      'hosts: "cache1" (inventory.ini) has role "cache", which the env\'s roles do not name (roles: web, worker)',
      'roles.web: rollout.canary: "celery1" is not a host of this env',
    ]);
    assert.deepEqual(roleProblems(web, rolloutSettings.parse({}), {} as Roles), [], 'no roles: a host\'s roles are only informative');
    assert.throws(() => rolesSettings.parse({ 'web server': {} }), /a role is a word/);
    assert.throws(() => rolesSettings.parse({ web: { autoRevert: false } }), /autoRevert/, 'reverting is the env\'s decision, not a role\'s');
  });
});

describe('datacenters', () => {
  const dcs = [
    host('a1', ['web'], 'phx1'), host('a2', ['web'], 'phx1'), host('a3', ['web'], 'phx1'),
    host('b1', ['web'], 'iad1'), host('b2', ['web'], 'iad1'),
    host('c1', ['web'], 'sjc1'), host('c2', ['web'], 'sjc1'), host('c3', ['web'], 'sjc1'), host('c4', ['web'], 'sjc1'),
  ];

  it('a canary in each datacenter first, then one datacenter at a time', () => {
    const p = plan(dcs, { groupBy: 'datacenter', canary: 1 });
    assert.deepEqual(shape(p), ['canary: a1,b1,c1', 'phx1: a2,a3', 'iad1: b2', 'sjc1: c2,c3,c4']);
  });

  it('batches are sized against each datacenter, and named after it', () => {
    const p = plan(dcs, { groupBy: 'datacenter', canary: 1, batches: ['50%'] });
    assert.deepEqual(shape(p), ['canary: a1,b1,c1', 'phx1 batch 1: a2', 'phx1 batch 2: a3', 'iad1: b2', 'sjc1 batch 1: c2,c3', 'sjc1 batch 2: c4']);
  });

  it('the failure budget is counted per datacenter, a canary against its own', () => {
    const p = plan(dcs, { groupBy: 'datacenter', canary: 1, failureBudget: '34%' });
    assert.deepEqual(p.budgets, [{ name: 'phx1', hosts: 3, failures: 1 }, { name: 'iad1', hosts: 2, failures: 0 }, { name: 'sjc1', hosts: 4, failures: 1 }]);
    const canary = p.phases[0]!.hosts.map((h) => [h.host.name, h.budget]);
    assert.deepEqual(canary, [['a1', 'phx1'], ['b1', 'iad1'], ['c1', 'sjc1']]);
  });

  it('any host variable can group the rollout: racks, from the app file or the inventory', async () => {
    const racked = ['a', 'b', 'c', 'd'].map((n, i) => ({ ...host(n, []), vars: { rack: i < 2 ? 'r1' : 'r2' } }));
    const p = plan(racked, { groupBy: 'rack', canary: 1, failureBudget: 1 });
    assert.deepEqual(shape(p), ['canary: a,c', 'r1: b', 'r2: d']);
    assert.deepEqual(p.budgets.map((b) => [b.name, b.failures]), [['r1', 1], ['r2', 1]]);
    assert.deepEqual(roleProblems([host('x1', [])], rolloutSettings.parse({ groupBy: 'rack' }), {} as Roles), ['rollout.groupBy: host "x1" (inventory.ini) has no rack']);
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { inventoryHosts } = await import('../../src/config/hosts.js');
    const { appSchema } = await import('../../src/config/schema.js');
    const dir = mkdtempSync('/tmp/slipway-racks-');
    try {
      const file = join(dir, 'hosts.ini');
      writeFileSync(file, '[web]\nweb1 rack=r1\nweb2 rack=12\n[web:vars]\nowner=ops team\n');
      const config = appSchema.parse({ repo: '/srv/git/x.git', envs: { prod: { hosts: { inventory: file, pattern: 'web' }, rollout: { groupBy: 'rack' } } } });
      const got = await inventoryHosts(config, 'prod', 'apps/x.ts', false);
      assert.deepEqual(got?.hosts.map((h) => h.vars), [{ rack: 'r1' }, { rack: '12' }], 'only the variables a rollout groups by are kept');
      writeFileSync(file, '[web]\nweb1 rack="r1; rm -rf /"\n');
      await assert.rejects(inventoryHosts(config, 'prod', 'apps/x.ts', false), /hosts\.ini:2: host web1: rack "r1; rm -rf \/" is not a word/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('within roles: a role grouped by datacenter, the next role as one', () => {
    const hosts = [...dcs.slice(0, 5), host('w1', ['worker'], 'phx1'), host('w2', ['worker'], 'iad1')];
    const p = plan(hosts, {}, { web: { groupBy: 'datacenter', canary: 1 }, worker: {} });
    assert.deepEqual(shape(p), ['web canary: a1,b1', 'web phx1: a2,a3', 'web iad1: b2', 'worker batch 1: w1,w2']);
    assert.deepEqual(p.budgets.map((b) => b.name), ['web phx1', 'web iad1', 'worker']);
    assert.deepEqual(roleProblems([host('x1', ['web'])], rolloutSettings.parse({}), rolesSettings.parse({ web: { groupBy: 'datacenter' } })), [
      'roles.web.groupBy: host "x1" (inventory.ini) has no datacenter',
    ]);
  });
});

describe('an env\'s hosts from an inventory', () => {
  it('under sudo the inventory must be root\'s alone, as an app file is; groups need an inventory', async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { inventoryHosts } = await import('../../src/config/hosts.js');
    const { appSchema } = await import('../../src/config/schema.js');
    const dir = mkdtempSync('/tmp/slipway-roles-');
    try {
      const file = join(dir, 'hosts.ini');
      writeFileSync(file, '[webservers]\nweb1 ansible_host=10.0.0.1 datacenter=phx1\nweb2 ansible_host=10.0.0.2 datacenter=iad1\n');
      const config = appSchema.parse({ repo: '/srv/git/x.git', envs: { prod: { hosts: { inventory: file, pattern: 'webservers' }, roles: { web: { group: 'webservers' } } } } });
      const got = await inventoryHosts(config, 'prod', 'apps/x.ts', false);
      assert.deepEqual(got?.hosts.map((h) => [h.name, h.address, h.roles, h.datacenter]), [['web1', '10.0.0.1', ['web'], 'phx1'], ['web2', '10.0.0.2', ['web'], 'iad1']]);
      assert.match(got!.hosts[0]!.source, /hosts\.ini:2$/);
      // /tmp is writable by everybody: a root run must not take its hosts from there
      await assert.rejects(inventoryHosts(config, 'prod', 'apps/x.ts', true), /the inventory .*hosts\.ini: .*writable by others/);
      const listed = appSchema.parse({ repo: '/srv/git/x.git', envs: { prod: { hosts: ['web1'], roles: { web: { group: 'webservers' } } } } });
      await assert.rejects(inventoryHosts(listed, 'prod', 'apps/x.ts', false), /envs\.prod\.roles\.web\.group: only hosts from an inventory have groups/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

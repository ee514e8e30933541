/** The rollout plan is a pure value: phases, steps, sizes and budget arithmetic. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Host } from '../../src/config/resolve.js';
import { DEFAULT_ROLLOUT, type RolloutSettings, rolloutProblems, rolloutSettings } from '../../src/config/rollout.js';
import { buildPlan, phaseHosts, selectHosts, sizeOf } from '../../src/deploy/plan.js';
import { formatPlan } from '../../src/deploy/plan-text.js';
import { plannedRelays } from '../../src/deploy/stage/relays.js';
import { UsageError } from '../../src/errors.js';

const fleet = (n: number): Host[] =>
  Array.from({ length: n }, (_, i) => ({ name: `web${i + 1}`, address: `10.0.0.${i + 1}`, port: 22, user: 'root' }));
const rollout = (input: unknown): RolloutSettings => rolloutSettings.parse(input);
const names = (phases: { hosts: Host[] }[]) => phases.map((p) => p.hosts.map((h) => h.name).join(','));
const plan = (hosts: Host[], r: unknown, extra: Partial<Parameters<typeof buildPlan>[0]> = {}) =>
  buildPlan({ release: 'r7', hosts, rollout: rollout(r), parallel: 25, remotePath: '/data/www/shop', keepReleases: 5, ...extra });

describe('sizes: counts and shares of the fleet', () => {
  it('rounds shares down, but a batch is never empty', () => {
    assert.equal(sizeOf('10%', 10), 1);
    assert.equal(sizeOf('10%', 15), 1);
    assert.equal(sizeOf('10%', 3), 1, 'at least one host');
    assert.equal(sizeOf('33%', 10), 3);
    assert.equal(sizeOf('50%', 5), 2);
    assert.equal(sizeOf('100%', 7), 7);
    assert.equal(sizeOf('12.5%', 8), 1);
    assert.equal(sizeOf(4, 100), 4);
  });

  it('a budget may be zero: shares round down with no minimum', () => {
    assert.equal(sizeOf('10%', 5, 0), 0);
    assert.equal(sizeOf('50%', 5, 0), 2);
    assert.equal(sizeOf(0, 5, 0), 0);
    assert.equal(plan(fleet(5), { failureBudget: '10%' }).failureBudget, 0);
    assert.equal(plan(fleet(20), { failureBudget: '10%' }).failureBudget, 2);
    assert.equal(plan(fleet(4), { failureBudget: 1 }).failureBudget, 1);
    assert.equal(plan(fleet(4), {}).failureBudget, 0, 'default: no failure tolerated');
  });
});

describe('phases', () => {
  it('canary by count, then percentage batches of the whole fleet; the last size repeats', () => {
    const phases = phaseHosts(fleet(20), rollout({ canary: 1, batches: [1, '10%', '50%'] }));
    assert.deepEqual(phases.map((p) => p.name), ['canary', 'batch 1', 'batch 2', 'batch 3', 'batch 4']);
    assert.deepEqual(phases.map((p) => p.hosts.length), [1, 1, 2, 10, 6]);
    assert.deepEqual(phases.flatMap((p) => p.hosts.map((h) => h.name)), fleet(20).map((h) => h.name), 'every host once, in env order');
  });

  it("the issue's example [1, '10%', '50%', '100%'] on 10 hosts", () => {
    assert.deepEqual(names(phaseHosts(fleet(10), rollout({ batches: [1, '10%', '50%', '100%'] }))), [
      'web1',
      'web2',
      'web3,web4,web5,web6,web7',
      'web8,web9,web10',
    ]);
  });

  it('canary by name, wherever the hosts are listed', () => {
    const phases = phaseHosts(fleet(4), rollout({ canary: ['web3'], batches: [2] }));
    assert.deepEqual(names(phases), ['web3', 'web1,web2', 'web4']);
  });

  it('a named canary outside the chosen hosts is simply not there', () => {
    const hosts = selectHosts(fleet(4), undefined, ['web3']);
    assert.deepEqual(names(phaseHosts(hosts, rollout({ canary: ['web3'] }))), ['web1,web2,web4']);
  });

  it('no rollout configured: one phase, every host', () => {
    const p = buildPlan({ release: 'r1', hosts: fleet(3), rollout: DEFAULT_ROLLOUT, parallel: 2, remotePath: '/w', keepReleases: 5 });
    assert.deepEqual(names(p.phases.map((ph) => ({ hosts: ph.hosts.map((h) => h.host) }))), ['web1,web2,web3']);
    assert.equal(p.phases[0]!.concurrency, 2, 'switching at once defaults to the env parallel');
    assert.deepEqual(p.phases[0]!.hosts[0]!.steps, [{ kind: 'switch', to: 'r1' }]);
  });

  it('pauses between phases, never before the first', () => {
    const p = plan(fleet(3), { canary: 1, batches: [1], pause: 30 });
    assert.deepEqual(p.phases.map((ph) => ph.pauseBefore), [0, 30, 30]);
  });

  it('maxSwitching as a count or a share', () => {
    assert.equal(plan(fleet(8), { maxSwitching: '25%' }).phases[0]!.concurrency, 2);
    assert.equal(plan(fleet(8), { maxSwitching: 3 }).phases[0]!.concurrency, 3);
    assert.equal(plan(fleet(8), { canary: 1, maxSwitching: 3 }).phases[0]!.concurrency, 1, 'never more than the phase has');
  });
});

describe('steps per host', () => {
  const r = {
    canary: 1,
    batches: ['100%'],
    hooks: {
      preSwitch: [['lb', 'drain', '{host}'], { name: 'warm cache', run: ['warm', '{release}', '{path}'], once: true }],
      postSwitch: [['touch', '{path}/current/app.wsgi']],
    },
    health: { http: { url: 'http://{address}:8080/health', body: 'ok' }, command: ['check', '{host}'], retries: 2, backoff: 0.5 },
  };

  it('hooks around the switch, then the checks, placeholders filled in; run-once only on the first canary', () => {
    const p = plan(fleet(3), r);
    assert.deepEqual(p.phases[0]!.hosts[0]!.steps, [
      { kind: 'hook', when: 'pre-switch', name: 'lb drain web1', cmd: ['lb', 'drain', 'web1'], once: false },
      { kind: 'hook', when: 'pre-switch', name: 'warm cache', cmd: ['warm', 'r7', '/data/www/shop'], once: true },
      { kind: 'switch', to: 'r7' },
      { kind: 'hook', when: 'post-switch', name: 'touch /data/www/shop/current/app.wsgi', cmd: ['touch', '/data/www/shop/current/app.wsgi'], once: false },
      { kind: 'http', url: 'http://10.0.0.1:8080/health', status: 200, body: 'ok', timeoutS: 5, retries: 2, backoffS: 0.5 },
      { kind: 'command', cmd: ['check', 'web1'], retries: 2, backoffS: 0.5 },
    ]);
    const later = p.phases[1]!.hosts.flatMap((h) => h.steps);
    assert.ok(!later.some((s) => s.kind === 'hook' && s.once), 'run-once hooks run on one host only');
    assert.equal(later.filter((s) => s.kind === 'switch').length, 2);
    assert.equal(p.retries, 2);
    assert.equal(p.backoffS, 0.5);
  });

  it('a hostile host value stays one argv word', () => {
    const hosts: Host[] = [{ name: 'web1', address: '10.0.0.1', port: 22, user: 'root' }];
    const p = plan(hosts, { hooks: { preSwitch: [['echo', '{host}; rm -rf /']] } });
    assert.deepEqual(p.phases[0]!.hosts[0]!.steps[0], { kind: 'hook', when: 'pre-switch', name: "echo 'web1; rm -rf /'", cmd: ['echo', 'web1; rm -rf /'], once: false });
  });

  it('prints phases × hosts × steps', () => {
    const text = formatPlan(plan(fleet(3), { ...r, pause: 10 }), {
      target: 'shop-prod',
      release: { id: 'r7', created: true, source: 'a'.repeat(40), subject: 'fix' },
      base: { id: 'r6' },
      commits: [{ sha: 'b'.repeat(40), subject: 'fix' }],
      live: new Map([['web1', { id: 'r6' }], ['web2', { error: 'refused' }]]),
      parallel: 25,
    }).join('\n');
    assert.match(text, /^plan for shop-prod: ship a new release r7/);
    assert.match(text, /commits added over r6: 1\n    bbbbbbbbbbbb fix/);
    assert.match(text, /phase 1\/2 canary: web1 \(at most 1 switching at once\)\n  web1 \(serves r6\)\n    pre-switch hook: lb drain web1/);
    assert.match(text, /pause 10s\nphase 2\/2 batch 1: web2, web3/);
    assert.match(text, /web2 \(unreachable: refused\)/);
    assert.match(text, /health: GET http:\/\/10\.0\.0\.1:8080\/health expects 200 with "ok"/);
    assert.match(text, /failure budget: 0 hosts of 3; health checks retry/);
  });

  it('a host already serving the release has nothing to do; without health checks no retries are promised', () => {
    const text = formatPlan(buildPlan({ release: 'r7', hosts: fleet(3), rollout: DEFAULT_ROLLOUT, parallel: 25, remotePath: '/data/www/shop', keepReleases: 5 }), {
      target: 'shop-prod',
      release: { id: 'r7', created: false },
      live: new Map([['web1', { id: 'r7' }], ['web2', { id: 'r6' }], ['web3', { id: 'r7' }]]),
      parallel: 25,
    }).join('\n');
    assert.match(text, /web1 \(serves r7\)\n    nothing to do: already serves r7\n  web2 \(serves r6\)\n    switch current → r7\n  web3 \(serves r7\)\n    nothing to do/);
    assert.match(text, /failure budget: 0 hosts of 3; no health checks$/m);
    assert.doesNotMatch(text, /retry/);
    assert.doesNotMatch(text, /relay/, 'no relays: every host pulls from the admin node, nothing to say');
  });

  it('with relays: who pulls from whom, and when a host gives up on its relay', () => {
    const hosts = fleet(5).map((h, i) => ({ ...h, datacenter: i % 2 ? 'iad1' : 'phx1' }));
    const text = formatPlan(buildPlan({ release: 'r7', hosts, rollout: DEFAULT_ROLLOUT, parallel: 25, remotePath: '/data/www/shop', keepReleases: 5 }), {
      target: 'shop-prod',
      release: { id: 'r7', created: false },
      live: new Map(),
      parallel: 25,
      relays: { relays: plannedRelays(hosts, 1), minRate: 256 * 1024 },
    }).join('\n');
    assert.match(text, /\n  through 2 relays, which pull it from here and serve their datacenter \(a host whose relay fails or serves it under 256\.0 kB\/s tries another of its datacenter, then pulls from here\):\n    web1 \(phx1\) serves web3, web5\n    web2 \(iad1\) serves web4\n/);
  });
});

describe('host selection and config checks', () => {
  it('--hosts and --exclude-hosts, names checked against the env', () => {
    assert.deepEqual(selectHosts(fleet(4), ['web2', 'web4']).map((h) => h.name), ['web2', 'web4']);
    assert.deepEqual(selectHosts(fleet(4), undefined, ['web1']).map((h) => h.name), ['web2', 'web3', 'web4']);
    assert.throws(() => selectHosts(fleet(4), ['web9']), (e: unknown) => e instanceof UsageError && /unknown host "web9"/.test(e.message));
    assert.throws(() => selectHosts(fleet(2), undefined, ['web1', 'web2']), UsageError);
  });

  it('rejects bad rollout settings with their path', () => {
    for (const bad of [{ batches: ['0%'] }, { batches: ['150%'] }, { batches: [0] }, { failureBudget: -1 }, { health: {} }, { health: { http: { url: 'ftp://x' } } }, { pause: -1 }, { canary: ['bad host'] }, { extra: 1 }]) {
      assert.equal(rolloutSettings.safeParse(bad).success, false, JSON.stringify(bad));
    }
    assert.deepEqual(rolloutProblems(rollout({ canary: ['web9'] }), ['web1']), ['rollout.canary: "web9" is not a host of this env']);
  });
});

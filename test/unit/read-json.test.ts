/** The --json documents of the read commands: built from the values their text is printed from. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Host } from '../../src/config/resolve.js';
import { DEFAULT_ROLLOUT } from '../../src/config/rollout.js';
import type { HostTree } from '../../src/deploy/drift.js';
import type { Outcome } from '../../src/deploy/fanout.js';
import { buildPlan } from '../../src/deploy/plan.js';
import { liveState, type HistoryEvent } from '../../src/release-store/history.js';
import type { Release } from '../../src/release-store/release.js';
import { diffDocument, logDocument, planDocument, printable, releasesDocument, statusDocument } from '../../src/report/read-json.js';

const release = (n: number, extra: Partial<Release> = {}): Release => ({
  id: `r${n}`,
  number: n,
  commit: String(n).repeat(40).slice(0, 40),
  date: `2026-12-0${n}T10:00:00Z`,
  deployer: 'ana',
  source: 'f'.repeat(40),
  branch: 'main',
  submodules: [],
  privateFiles: ['app/settings_local.py'],
  ...extra,
});
const event = (e: Partial<HistoryEvent>): HistoryEvent => ({ kind: 'deploy', who: 'ana', at: '2026-12-05T10:00:00Z', result: 'ok', hosts: [], ...e });
const tree = (t: Partial<HostTree>): HostTree => ({ verdict: 'in-sync', drift: [], kept: [], ...t });

describe('releasesDocument', () => {
  it('lists every release with the mark the text shows, nulls for what is unknown', () => {
    const history = [
      event({ kind: 'rollback', from: 'r3', to: 'r2' }),
      event({ to: 'r3' }),
      event({ to: 'r2' }),
    ];
    const releases = [release(3, { build: 'shop #41' }), release(2, { branch: undefined, source: undefined, submodules: [{ path: 'vendor/lib', sha: 'a'.repeat(40) }] }), release(1)];
    const doc = releasesDocument('shop-prod', releases, releases[1], liveState(history));
    assert.equal(doc.v, 1);
    assert.equal(doc.command, 'releases');
    assert.equal(doc.live, 'r2');
    assert.deepEqual(doc.releases.map((r) => [r.id, r.mark]), [['r3', 'rolled-back'], ['r2', 'live'], ['r1', null]]);
    assert.deepEqual(doc.releases[1], {
      id: 'r2', number: 2, commit: '2'.repeat(40), date: '2026-12-02T10:00:00Z', deployer: 'ana', source: null, branch: null,
      submodules: [{ path: 'vendor/lib', sha: 'a'.repeat(40) }], build: null, mark: 'live',
    });
    assert.equal(doc.releases[0]!.build, 'shop #41');
    assert.ok(!('privateFiles' in doc.releases[0]!), 'private file names are not listed (the text does not show them either)');
  });

  it('an empty store is an empty list, live null', () => {
    assert.deepEqual(releasesDocument('shop-prod', [], undefined, liveState([])), { v: 1, command: 'releases', target: 'shop-prod', live: null, releases: [] });
  });
});

describe('statusDocument', () => {
  const live = release(2);
  const results: Outcome<HostTree>[] = [
    { host: 'web1', ok: true, value: tree({ dir: 'r2-222222222222', revision: live.commit }) },
    { host: 'web2', ok: true, value: tree({ dir: 'r2-222222222222', revision: live.commit, verdict: 'modified', drift: [{ kind: 'modified', path: 'index.html' }], kept: [{ dir: 'r1-111111111111', differ: 1 }] }) },
    { host: 'web3', ok: true, value: tree({ dir: 'r1-111111111111', revision: release(1).commit, verdict: 'other-release' }) },
    { host: 'web4', ok: false, error: 'cannot connect' },
  ];

  it('one entry per host with its verdict, and the problems that make status exit 1', () => {
    const doc = statusDocument({ target: 'shop-prod', live, newest: live, fromHistory: true, results });
    assert.deepEqual(doc.live, { id: 'r2', commit: live.commit, fromHistory: true });
    assert.deepEqual(doc.newest, { id: 'r2', commit: live.commit });
    assert.deepEqual(doc.hosts[0], { host: 'web1', reachable: true, release: 'r2', revision: live.commit, verdict: 'in-sync', newest: true, drift: [], kept: [], needs: { repair: false, ship: false, forget: false } });
    const web2 = doc.hosts[1]!;
    assert.ok(web2.reachable);
    assert.deepEqual(web2.drift, [{ kind: 'modified', path: 'index.html' }]);
    assert.deepEqual(web2.kept, [{ release: 'r1', differ: 1, edited: true }]);
    assert.deepEqual(web2.needs, { repair: true, ship: false, forget: true });
    assert.deepEqual(doc.hosts[2], { host: 'web3', reachable: true, release: 'r1', revision: release(1).commit, verdict: 'other-release', newest: false, drift: [], kept: [], needs: { repair: false, ship: true, forget: false } });
    assert.deepEqual(doc.hosts[3], { host: 'web4', reachable: false, error: 'cannot connect' });
    assert.deepEqual(doc.problems, [
      '1 host could not be reached',
      '2 hosts differ from the live release r2: run deploy sync shop-prod',
      '1 host keeps releases edited by hand: run deploy sync shop-prod to remove them',
    ]);
  });

  it('a fleet in sync has no problems; a store without releases has no live release and no hosts', () => {
    assert.deepEqual(statusDocument({ target: 'shop-prod', live, newest: live, fromHistory: false, results: results.slice(0, 1) }).problems, []);
    const empty = statusDocument({ target: 'shop-prod', live: undefined, newest: undefined, fromHistory: false, results: [] });
    assert.deepEqual({ live: empty.live, newest: empty.newest, hosts: empty.hosts, problems: empty.problems }, { live: null, newest: null, hosts: [], problems: [] });
  });
});

describe('logDocument', () => {
  it('every event as recorded, absent fields as null', () => {
    const doc = logDocument('shop-prod', [
      event({ kind: 'rollback', from: 'r2', to: 'r1', commit: 'c'.repeat(40), result: 'partial', hosts: [{ host: 'web1', state: 'switched' }, { host: 'web2', state: 'failed', error: 'disk full' }], error: '1 host not switched' }),
      event({ to: 'r1' }),
    ]);
    assert.equal(doc.command, 'log');
    assert.deepEqual(doc.events[0], {
      kind: 'rollback', at: '2026-12-05T10:00:00Z', who: 'ana', from: 'r2', to: 'r1', commit: 'c'.repeat(40), result: 'partial',
      hosts: [
        { host: 'web1', state: 'switched', error: null, address: null, roles: [], datacenter: null, source: null },
        { host: 'web2', state: 'failed', error: 'disk full', address: null, roles: [], datacenter: null, source: null },
      ], error: '1 host not switched',
    });
    assert.deepEqual(doc.events[1], { kind: 'deploy', at: '2026-12-05T10:00:00Z', who: 'ana', from: null, to: 'r1', commit: null, result: 'ok', hosts: [], error: null });
  });
});

describe('diffDocument', () => {
  it('the two releases, the files with their private mark; the patch only when asked', () => {
    const doc = diffDocument('shop-prod', release(1), release(2), [{ status: 'M', path: 'index.html', private: false }, { status: 'M', path: 'app/settings_local.py', private: true }]);
    assert.deepEqual(doc.from, { id: 'r1', commit: release(1).commit });
    assert.deepEqual(doc.to, { id: 'r2', commit: release(2).commit });
    assert.deepEqual(doc.files.map((f) => [f.path, f.private]), [['index.html', false], ['app/settings_local.py', true]]);
    assert.equal(doc.patch, null);
    assert.equal(diffDocument('shop-prod', release(1), release(2), [], '').patch, '');
  });

  it('the first release: from is null and nothing changed', () => {
    const doc = diffDocument('shop-prod', undefined, release(1), []);
    assert.equal(doc.from, null);
    assert.deepEqual(doc.files, []);
  });
});

describe('planDocument', () => {
  const hosts: Host[] = [1, 2, 3].map((i) => ({ name: `web${i}`, address: `10.0.0.${i}`, port: 22, user: 'root' }));
  it('phases × hosts × steps, what each host serves, and the same step texts as the plan', () => {
    const plan = buildPlan({ release: 'r7', hosts, rollout: DEFAULT_ROLLOUT, parallel: 25, remotePath: '/data/www/shop', keepReleases: 5 });
    const doc = planDocument(plan, {
      target: 'shop-prod',
      release: { id: 'r7', created: true, source: 'a'.repeat(40), subject: 'fix' },
      base: { id: 'r6' },
      commits: [{ sha: 'b'.repeat(40), subject: 'fix' }],
      live: new Map([['web1', { id: 'r7' }], ['web2', { id: 'r6' }], ['web3', { error: 'refused' }]]),
      parallel: 25,
    });
    assert.deepEqual(doc.release, { id: 'r7', created: true, commit: null, source: 'a'.repeat(40), subject: 'fix' });
    assert.deepEqual(doc.base, { id: 'r6', source: null });
    assert.deepEqual(doc.commits, [{ sha: 'b'.repeat(40), subject: 'fix' }]);
    assert.deepEqual(doc.hosts, ['web1', 'web2', 'web3']);
    const planned = doc.phases.flatMap((p) => p.hosts);
    assert.deepEqual(planned.map((h) => [h.host, h.serves, h.error, h.nothingToDo]), [['web1', 'r7', null, true], ['web2', 'r6', null, false], ['web3', null, 'refused', false]]);
    assert.deepEqual(planned[0]!.steps, []);
    assert.deepEqual(planned[1]!.steps, [{ kind: 'switch', text: 'switch current → r7' }]);
    assert.equal(doc.autoRevert, plan.autoRevert);
    assert.equal(doc.keepReleases, 5);
    assert.deepEqual([doc.relays, doc.relayMinRate], [[], null]);
    const relayed = planDocument(plan, { target: 'shop-prod', release: { id: 'r7', created: false }, live: new Map(), parallel: 25, relays: { relays: [{ name: 'web1', datacenter: 'phx1', serves: ['web2', 'web3'] }], minRate: 1024 } });
    assert.deepEqual([relayed.relays, relayed.relayMinRate], [[{ relay: 'web1', datacenter: 'phx1', serves: ['web2', 'web3'] }], 1024]);
  });
});

describe('printable', () => {
  it('one line of JSON that parses back to the document', () => {
    const doc = logDocument('shop-prod', [event({ to: 'r1', error: 'two\nlines' })]);
    const text = printable(doc);
    assert.equal(text.split('\n').length, 2);
    assert.ok(text.endsWith('\n'));
    assert.deepEqual(JSON.parse(text), doc);
  });
});

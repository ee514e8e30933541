/**
 * The dashboard (deploy serve) without a fleet: who a request is, what each person may see,
 * escaping, headers and the JSON and metrics endpoints, over a feed written in a temporary
 * directory in the feed's own format (test/integration/serve.test.ts uses a real one).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { FeedSummary } from '../../src/feed/index.js';
import { identify, mayView } from '../../src/serve/auth.js';
import { hashToken, newToken, parseServeConfig, type ServeConfig } from '../../src/serve/config.js';
import { listingOf } from '../../src/serve/feed-read.js';
import { escapeHtml, html, when } from '../../src/serve/render.js';
import { buildServer } from '../../src/serve/server.js';

const token = newToken('jenkins');
const config: ServeConfig = parseServeConfig(
  JSON.stringify({ proxy: { addresses: ['127.0.0.1'], userHeader: 'X-Remote-User' }, tokens: [token.entry], admins: ['root'] }),
  'serve.json',
);

describe('who a request is', () => {
  it('a token is known by its hash; a wrong one is nobody', () => {
    assert.equal(token.entry.sha256, hashToken(token.token));
    assert.equal(identify({ address: '10.0.0.9', authorization: `Bearer ${token.token}` }, config), 'jenkins');
    assert.equal(identify({ address: '10.0.0.9', authorization: `Bearer ${token.token.slice(0, -1)}x` }, config), undefined);
    assert.equal(identify({ address: '10.0.0.9', authorization: `Basic ${token.token}` }, config), undefined);
  });
  it("the proxy's header counts only from the proxy's address, and only for a user name", () => {
    assert.equal(identify({ address: '127.0.0.1', proxyUser: 'alice' }, config), 'alice');
    assert.equal(identify({ address: '::ffff:127.0.0.1', proxyUser: 'alice' }, config), 'alice');
    assert.equal(identify({ address: '127.0.0.2', proxyUser: 'alice' }, config), undefined);
    assert.equal(identify({ address: '127.0.0.1', proxyUser: 'root;rm -rf /' }, config), undefined);
    assert.equal(identify({ address: '127.0.0.1', proxyUser: '../alice' }, config), undefined);
    assert.equal(identify({ address: '127.0.0.1' }, parseServeConfig('{}', 'x')), undefined);
  });
  it('who may see an app-env: admins, members of viewGroups or allowGroups; with neither set, admins only', () => {
    const t = { viewGroups: ['ops'], allowGroups: ['deployers'] };
    assert.equal(mayView('alice', ['ops'], t, config), true);
    assert.equal(mayView('dave', ['deployers'], t, config), true);
    assert.equal(mayView('bob', ['dev'], t, config), false);
    assert.equal(mayView('root', [], t, config), true);
    assert.equal(mayView('alice', ['ops'], { viewGroups: null, allowGroups: null }, config), false);
  });
  it('a malformed settings file is refused with the file and the key', () => {
    assert.throws(() => parseServeConfig('{"listen": "0.0.0.0"}', '/etc/slipway/serve.json'), /\/etc\/slipway\/serve.json: listen: an address and port/);
    assert.throws(() => parseServeConfig('{"tokens": [{"user": "x", "sha256": "abc"}]}', 's.json'), /s.json: tokens\[0\].sha256/);
    assert.throws(() => parseServeConfig('{"proxy": {"addresses": ["localhost"]}}', 's.json'), /proxy.addresses\[0\]: not an IP address/);
    assert.throws(() => parseServeConfig('{"admins": ["a"], "open": true}', 's.json'), /unknown key "open"/);
    assert.throws(() => parseServeConfig('{', 's.json'), /s.json: not JSON/);
  });
});

describe('html', () => {
  it('escapes every value, and passes only what html built', () => {
    assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`<p>${inner}${['<', html`<br>`]}</p>`.text, '<p><b>&lt;i&gt;</b>&lt;<br></p>');
  });
  it('times read the same whether they come from an event or from git', () => {
    assert.equal(when('2026-12-05T18:22:51.123Z'), '2026-12-05 18:22:51Z');
    assert.equal(when('2026-12-05T18:22:51+00:00'), '2026-12-05 18:22:51Z');
    assert.equal(when('2026-12-05T19:22:51+01:00'), '2026-12-05 19:22:51+01:00');
    assert.equal(when(null), '-');
  });
  it('a run with no end is running while its process lives, interrupted after', () => {
    const lines = [{ type: 'feed.run', pid: 42, id: 'x', action: 'deploy' }, { type: 'phase.start', phase: 'stage' }];
    assert.equal(listingOf('x', lines, () => true)?.state, 'running');
    assert.equal(listingOf('x', lines, () => true)?.phase, 'stage');
    assert.equal(listingOf('x', lines, () => false)?.state, 'interrupted');
    assert.equal(listingOf('x', [...lines, { type: 'run.finish', exitCode: 3, ms: 5, error: 'e', release: null, counts: {} }], () => true)?.state, 'failed');
    assert.equal(listingOf('x', [{ type: 'run.start' }]), undefined);
  });
});

describe('the server', () => {
  let dir: string;
  let app: FastifyInstance;
  const RUN = '20261205T101500Z-4242';
  const HOSTILE = '<img src=x onerror=alert(1)>';

  const summary = (app: string, extra: Partial<FeedSummary>): FeedSummary => ({
    v: 1,
    target: `${app}-prod`,
    app,
    env: 'prod',
    branch: 'main',
    hosts: ['web1', 'web2'],
    viewGroups: null,
    allowGroups: null,
    releases: [
      { id: 'r2', number: 2, commit: 'b'.repeat(40), date: '2026-12-05T10:15:00Z', deployer: 'ana', source: 'c'.repeat(40), branch: 'main', submodules: [], build: null, mark: 'live' },
      { id: 'r1', number: 1, commit: 'a'.repeat(40), date: '2026-12-04T10:15:00Z', deployer: 'ana', source: 'd'.repeat(40), branch: 'main', submodules: [], build: null, mark: null },
    ],
    live: 'r2',
    history: [
      { kind: 'deploy', who: 'ana', at: '2026-12-05T10:15:09Z', from: 'r1', to: 'r2', commit: 'b'.repeat(40), result: 'ok', hosts: [{ host: 'web1', state: 'switched' }, { host: 'web2', state: 'switched' }] },
      { kind: 'deploy', who: 'ana', at: '2026-12-04T10:15:09Z', to: 'r1', commit: 'a'.repeat(40), result: 'ok', hosts: [{ host: 'web1', state: 'switched' }, { host: 'web2', state: 'switched' }] },
    ],
    historyTotals: [{ kind: 'deploy', result: 'ok', count: 2 }],
    updated: '2026-12-05T10:15:10Z',
    ...extra,
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-serve-'));
    const feed = join(dir, '.feed');
    for (const [name, s] of [['shop', summary('shop', { viewGroups: ['ops'] })], ['vault', summary('vault', { allowGroups: ['finance'] })]] as const) {
      mkdirSync(join(feed, `${name}-prod`, 'runs'), { recursive: true });
      writeFileSync(join(feed, `${name}-prod`, 'summary.json'), JSON.stringify(s));
    }
    const lines = [
      { type: 'feed.run', v: 1, id: RUN, action: 'deploy', target: 'shop-prod', who: 'ana', pid: 4242, started: '2026-12-05T10:15:00.000Z' },
      { v: 1, ts: '2026-12-05T10:15:00.100Z', type: 'run.start', target: 'shop-prod', hosts: ['web1', 'web2'], revision: null, build: null },
      { v: 1, ts: '2026-12-05T10:15:01.000Z', type: 'step.finish', host: 'web1', step: 'stage', ok: true, ms: 1200, text: 'staged r2 (1 file, 3.0 kB received)' },
      { v: 1, ts: '2026-12-05T10:15:02.000Z', type: 'step.finish', host: 'web2', step: 'health', ok: false, ms: 30, text: HOSTILE },
      { v: 1, ts: '2026-12-05T10:15:09.000Z', type: 'run.finish', target: 'shop-prod', ok: true, exitCode: 0, ms: 9000, error: null, release: { id: 'r2' }, counts: { switched: 2, failed: 0 }, bytes: 3000, hosts: [{ host: 'web1', state: 'switched', ms: 8000, bytes: 1500, files: 1 }] },
    ];
    writeFileSync(join(feed, 'shop-prod', 'runs', `${RUN}.jsonl`), lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
    writeFileSync(join(feed, 'shop-prod', 'runs', 'notes.txt'), 'not a run');
    const groups: Record<string, string[]> = { alice: ['ops'], bob: ['dev'], fin: ['finance'] };
    app = await buildServer({ config, root: dir, groupsOf: async (u) => groups[u] ?? [] });
  });
  after(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const as = (user: string, url: string, address = '127.0.0.1') => app.inject({ url, remoteAddress: address, headers: { 'x-remote-user': user } });

  it('nobody gets a 401, also with a user header from another address or an X-Forwarded-For', async () => {
    const r = await app.inject({ url: '/' });
    assert.equal(r.statusCode, 401);
    assert.match(String(r.headers['www-authenticate']), /Bearer/);
    assert.equal((await as('alice', '/', '192.0.2.7')).statusCode, 401);
    const forwarded = await app.inject({ url: '/', remoteAddress: '192.0.2.7', headers: { 'x-remote-user': 'alice', 'x-forwarded-for': '127.0.0.1' } });
    assert.equal(forwarded.statusCode, 401);
    for (const url of ['/api/targets', '/metrics', '/events', `/t/shop-prod/runs/${RUN}/events`]) assert.equal((await app.inject({ url })).statusCode, 401, url);
  });

  it('pages carry a strict CSP and no inline script or style', async () => {
    const r = await as('alice', '/');
    assert.equal(r.statusCode, 200);
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.doesNotMatch(r.body, /<script>|<script(?![^>]*src=)|style=|onerror=|onclick=/);
  });

  it('each person sees only the app-envs their groups may see; the others are 404, as if absent', async () => {
    const alice = (await as('alice', '/')).body;
    assert.match(alice, /shop-prod/);
    assert.doesNotMatch(alice, /vault-prod/);
    assert.equal((await as('alice', '/t/vault-prod')).statusCode, 404);
    assert.equal((await as('alice', '/api/targets/vault-prod')).statusCode, 404);
    assert.equal((await as('bob', '/t/shop-prod')).statusCode, 404);
    assert.match((await as('fin', '/t/vault-prod')).body, /vault-prod/);
    const root = (await as('root', '/')).body;
    assert.match(root, /shop-prod/);
    assert.match(root, /vault-prod/);
    const api = JSON.parse((await app.inject({ url: '/api/targets', headers: { authorization: `Bearer ${token.token}` } })).body);
    assert.deepEqual(api.targets, [], 'a token user in no group sees nothing');
  });

  it("the app-env page: hosts, releases, history and runs; the run page escapes what a run printed", async () => {
    const page = (await as('alice', '/t/shop-prod')).body;
    assert.match(page, /<td><a href="\/t\/shop-prod\/releases\/r2">r2<\/a><\/td>/);
    assert.match(page, /deploy r1 → r2/);
    assert.match(page, new RegExp(`/t/shop-prod/runs/${RUN}`));
    const run = await as('alice', `/t/shop-prod/runs/${RUN}`);
    assert.equal(run.statusCode, 200);
    assert.match(run.body, /\[web1\] staged r2 \(1 file, 3.0 kB received\) in 1.2s/);
    assert.match(run.body, /&lt;img src=x onerror=alert\(1\)&gt;/);
    assert.doesNotMatch(run.body, /<img/);
    assert.match(run.body, /succeeded · r2 in 9.0s/);
  });

  it('names from the URL reach no file: odd targets and run ids are 404', async () => {
    for (const url of ['/t/..%2F..%2Fetc', '/t/shop-prod/runs/..%2Fsummary', '/t/shop-prod/runs/notes', `/t/shop-prod/runs/${RUN}%0A`, '/t/shop-prod;id', '/static/..%2Fpackage.json', '/static/live.js%00']) {
      assert.equal((await as('root', url)).statusCode, 404, url);
    }
  });

  it('/metrics: Prometheus text for what the scraper may see', async () => {
    const r = await as('alice', '/metrics');
    assert.equal(r.statusCode, 200);
    assert.match(String(r.headers['content-type']), /text\/plain; version=0.0.4/);
    assert.match(r.body, /^slipway_runs_total\{app="shop",env="prod",kind="deploy",result="ok"\} 2$/m);
    assert.match(r.body, /^slipway_last_run_duration_seconds\{app="shop",env="prod"\} 9$/m);
    assert.match(r.body, /^slipway_last_run_hosts_failed\{app="shop",env="prod"\} 0$/m);
    assert.match(r.body, /^slipway_live_release_age_seconds\{app="shop",env="prod"\} \d+/m);
    assert.doesNotMatch(r.body, /vault/);
  });

  it('the JSON API gives the run and its events', async () => {
    const r = JSON.parse((await as('alice', `/api/targets/shop-prod/runs/${RUN}`)).body);
    assert.equal(r.run.state, 'ok');
    assert.equal(r.run.meta.who, 'ana');
    assert.equal(r.events.length, 4);
    assert.equal(r.events[0].type, 'run.start');
  });
});

/**
 * The dashboard's write side (src/serve/actions.ts): what a person may ask for, CSRF on
 * proxy sign-ins, bearer tokens, the signed webhook, and what lands in <root>/.spool for
 * root's worker. A temporary feed in the feed's own format, as in dashboard.test.ts; no
 * worker runs here (test/unit/worker.test.ts takes the other side of the spool).
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import type { FeedSummary } from '../../src/feed/index.js';
import { requestSchema } from '../../src/feed/requests.js';
import { parseAsk, validSignature } from '../../src/serve/actions.js';
import { mayDeploy } from '../../src/serve/auth.js';
import { loadWebhookSecrets, newToken, parseServeConfig, type ServeConfig } from '../../src/serve/config.js';
import { buildServer } from '../../src/serve/server.js';
import { ConfigError } from '../../src/errors.js';

const jenkins = newToken('jenkins'); // a deployer
const dave = newToken('dave'); // may look at shop-prod, not deploy it
const config: ServeConfig = parseServeConfig(
  JSON.stringify({ proxy: { addresses: ['127.0.0.1'], userHeader: 'X-Remote-User' }, tokens: [jenkins.entry, dave.entry], admins: ['root'] }),
  'serve.json',
);
const GROUPS: Record<string, string[]> = { alice: ['deployers'], bob: ['deployers'], carol: ['ops'], dave: ['ops'], jenkins: ['deployers'], mallory: ['ops'] };
const groupsOf = async (u: string) => GROUPS[u] ?? [];

const SHA = 'e'.repeat(40);
const ID = /^[0-9a-f]{32}$/;

function summary(app: string, extra: Partial<FeedSummary> = {}): FeedSummary {
  return {
    v: 1,
    target: `${app}-prod`,
    app,
    env: 'prod',
    branch: 'main',
    hosts: ['web1', 'web2'],
    viewGroups: ['ops'],
    allowGroups: ['deployers'],
    releases: [
      { id: 'r2', number: 2, commit: 'b'.repeat(40), date: '2026-12-05T10:15:00Z', deployer: 'ana', source: 'c'.repeat(40), branch: 'main', submodules: [], build: null, mark: 'live' },
      { id: 'r1', number: 1, commit: 'a'.repeat(40), date: '2026-12-04T10:15:00Z', deployer: 'ana', source: 'd'.repeat(40), branch: 'main', submodules: [], build: null, mark: null },
    ],
    live: 'r2',
    history: [],
    historyTotals: [],
    updated: '2026-12-05T10:15:10Z',
    ...extra,
  };
}

/** A root with a feed of these summaries, and a spool unless told not to make one. */
function makeRoot(summaries: FeedSummary[], { spool = true } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'slipway-actions-'));
  for (const s of summaries) {
    mkdirSync(join(dir, '.feed', s.target, 'runs'), { recursive: true });
    writeFileSync(join(dir, '.feed', s.target, 'summary.json'), JSON.stringify(s));
  }
  if (spool) mkdirSync(join(dir, '.spool'));
  return dir;
}

const sign = (secret: string | Buffer, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

describe('parseAsk: what a person asks for, checked as the command line checks it', () => {
  const s = summary('shop');

  it('takes a deploy (with or without a revision), a rollback (with or without a release) and a sync', () => {
    assert.deepEqual(parseAsk({ action: 'deploy' }, s), { action: 'deploy' });
    assert.deepEqual(parseAsk({ action: 'deploy', revision: ' v1.2 ' }, s), { action: 'deploy', revision: 'v1.2' });
    assert.deepEqual(parseAsk({ action: 'deploy', revision: SHA }, s), { action: 'deploy', revision: SHA });
    assert.deepEqual(parseAsk({ action: 'rollback' }, s), { action: 'rollback' });
    assert.deepEqual(parseAsk({ action: 'rollback', to: 'r1' }, s), { action: 'rollback', to: 'r1' });
    assert.deepEqual(parseAsk({ action: 'sync' }, s), { action: 'sync' });
    // empty form fields are no field
    assert.deepEqual(parseAsk({ action: 'sync', revision: '', to: ' ' }, s), { action: 'sync' });
  });

  it('refuses a revision that is no ref name, saying why', () => {
    for (const revision of ['$(id)', '../x', 'a;b', 'a\nb', '-x', '--upload-pack=evil', 'a b', '`id`', 'HEAD@{1}']) {
      const r = parseAsk({ action: 'deploy', revision }, s);
      assert.equal(typeof r, 'string', JSON.stringify(revision));
      assert.match(r as string, /^revision .*: /, JSON.stringify(revision));
    }
    assert.match(parseAsk({ action: 'deploy', revision: '-x' }, s) as string, /cannot start with "-"/);
  });

  it('refuses a release that is not one of the summary, and the live one', () => {
    assert.equal(parseAsk({ action: 'rollback', to: 'r9' }, s), '"r9" is not a release of shop-prod');
    assert.equal(parseAsk({ action: 'rollback', to: '../r1' }, s), '"../r1" is not a release of shop-prod');
    assert.match(parseAsk({ action: 'rollback', to: 'r2' }, s) as string, /r2 is already live/);
  });

  it('refuses a rollback or sync with nothing live, a revision on anything but a deploy, a release on anything but a rollback, an unknown action', () => {
    const none = summary('shop', { live: null });
    assert.equal(parseAsk({ action: 'rollback' }, none), 'shop-prod has no live release yet');
    assert.equal(parseAsk({ action: 'sync' }, none), 'shop-prod has no live release yet');
    assert.deepEqual(parseAsk({ action: 'deploy' }, none), { action: 'deploy' }, 'a first deploy needs nothing live');
    assert.equal(parseAsk({ action: 'sync', revision: 'main' }, s), 'only a deploy takes a revision');
    assert.equal(parseAsk({ action: 'rollback', revision: 'main' }, s), 'only a deploy takes a revision');
    assert.equal(parseAsk({ action: 'deploy', to: 'r1' }, s), 'only a rollback takes a release');
    assert.equal(parseAsk({ action: 'destroy' }, s), 'the action must be deploy, rollback or sync');
    assert.equal(parseAsk({}, s), 'the action must be deploy, rollback or sync');
  });
});

describe('validSignature: the webhook body signed with the app secret', () => {
  const secret = Buffer.from('0123456789abcdef-secret');
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  const good = sign(secret, body.toString());

  it('passes the sha256= HMAC of the exact body', () => {
    assert.equal(validSignature(secret, body, good), true);
  });

  it('fails a wrong secret, a changed body, no header, sha1=, short or non-hex digests', () => {
    assert.equal(validSignature(Buffer.from('another-secret-0123'), body, good), false);
    assert.equal(validSignature(secret, Buffer.from('{"ref":"refs/heads/main" }'), good), false);
    assert.equal(validSignature(secret, undefined, good), false);
    assert.equal(validSignature(secret, body, undefined), false);
    assert.equal(validSignature(secret, body, [good, good]), false);
    assert.equal(validSignature(secret, body, good.replace('sha256=', 'sha1=')), false);
    assert.equal(validSignature(secret, body, good.slice(0, -2)), false);
    assert.equal(validSignature(secret, body, `${good.slice(0, -1)}g`), false);
    assert.equal(validSignature(secret, body, good.toUpperCase()), false);
    assert.equal(validSignature(secret, body, `${good}\n`), false);
  });
});

describe('mayDeploy', () => {
  it("members of the env's allowGroups may; where it names none, only the dashboard's admins", () => {
    const admins = parseServeConfig(JSON.stringify({ admins: ['root'] }), 's.json');
    assert.equal(mayDeploy('alice', ['ops', 'deployers'], { allowGroups: ['deployers'] }, admins), true);
    assert.equal(mayDeploy('carol', ['ops'], { allowGroups: ['deployers'] }, admins), false);
    assert.equal(mayDeploy('root', [], { allowGroups: ['deployers'] }, admins), false, 'allowGroups decide, as under sudo');
    for (const allowGroups of [null, []]) {
      assert.equal(mayDeploy('root', [], { allowGroups }, admins), true);
      assert.equal(mayDeploy('alice', ['deployers'], { allowGroups }, admins), false);
    }
  });
});

describe('the write side over HTTP', () => {
  const HOOK_SECRET = 'a-webhook-secret-of-some-length';
  let root: string;
  let app: FastifyInstance;

  before(async () => {
    // shop: ops may look, deployers may deploy, its webhook deploys as jenkins;
    // blog: its webhook deploys as mallory, who may not; vault: no webhook, and only finance may look
    root = makeRoot([summary('shop'), summary('blog'), summary('vault', { viewGroups: ['finance'], allowGroups: ['finance'] })]);
    app = await buildServer({
      config,
      root,
      groupsOf,
      webhooks: new Map([
        ['shop', { secret: Buffer.from(HOOK_SECRET), as: 'jenkins' }],
        ['blog', { secret: Buffer.from(HOOK_SECRET), as: 'mallory' }],
      ]),
    });
  });
  after(async () => {
    await app?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });
  // each test sees only what it spooled
  beforeEach(() => {
    for (const f of readdirSync(join(root, '.spool'))) rmSync(join(root, '.spool', f));
  });

  const spooled = () => readdirSync(join(root, '.spool'));
  const spooledRequest = (id: string) => requestSchema.parse(JSON.parse(readFileSync(join(root, '.spool', `${id}.json`), 'utf8')));

  const viaProxy = (user: string, opts: InjectOptions & { cookie?: string }) =>
    app.inject({ ...opts, remoteAddress: '127.0.0.1', headers: { 'x-remote-user': user, ...(opts.cookie ? { cookie: opts.cookie } : {}), ...opts.headers } });
  const viaToken = (token: string, opts: InjectOptions) => app.inject({ ...opts, headers: { authorization: `Bearer ${token}`, ...opts.headers } });
  const form = (fields: Record<string, string>) => ({ 'content-type': 'application/x-www-form-urlencoded', payload: new URLSearchParams(fields).toString() });

  /** The confirm page's hidden _csrf and the cookie it came with, as a browser would keep them. */
  async function confirm(user: string, query: string): Promise<{ token: string; cookie: string; page: LightMyRequestResponse }> {
    const page = await viaProxy(user, { url: `/t/shop-prod/confirm?${query}` });
    assert.equal(page.statusCode, 200, page.body);
    const token = /<input type="hidden" name="_csrf" value="([^"]+)">/.exec(page.body)?.[1];
    assert.ok(token, 'the confirm page carries a _csrf field');
    const setCookie = [page.headers['set-cookie']].flat().find((c) => c?.startsWith('_csrf='));
    assert.ok(setCookie, 'the confirm page sets the _csrf cookie');
    return { token, cookie: setCookie.split(';')[0]!, page };
  }

  async function post(user: string, fields: Record<string, string>, cookie?: string) {
    const { payload, ...ct } = form(fields);
    return viaProxy(user, { method: 'POST', url: '/t/shop-prod/requests', payload, headers: ct, ...(cookie ? { cookie } : {}) });
  }

  describe('a proxy sign-in posts only with the CSRF token of a page rendered for the same person', () => {
    it('without a token: 403, nothing spooled', async () => {
      const r = await post('alice', { action: 'deploy' });
      assert.equal(r.statusCode, 403);
      assert.match(r.body, /csrf/i);
      // the JSON API is a browser's too when the proxy signed the person in
      const api = await viaProxy('alice', { method: 'POST', url: '/api/targets/shop-prod/requests', payload: { action: 'deploy' } });
      assert.equal(api.statusCode, 403);
      assert.deepEqual(spooled(), []);
    });

    it('confirm, then post the form: 303 to the request, one request in the spool for alice via the dashboard', async () => {
      const { token, cookie, page } = await confirm('alice', 'action=deploy&revision=v1.2');
      assert.match(page.body, /<form method="post" action="\/t\/shop-prod\/requests"/);
      assert.match(page.body, /<input type="hidden" name="revision" value="v1.2">/);
      const r = await post('alice', { _csrf: token, action: 'deploy', revision: 'v1.2' }, cookie);
      assert.equal(r.statusCode, 303, r.body);
      const id = /^\/requests\/([0-9a-f]{32})$/.exec(String(r.headers.location))?.[1];
      assert.ok(id, `Location ${r.headers.location}`);
      assert.deepEqual(spooled(), [`${id}.json`]);
      const request = spooledRequest(id);
      assert.equal(request.id, id);
      assert.equal(request.person, 'alice');
      assert.equal(request.via, 'dashboard');
      assert.equal(request.action, 'deploy');
      assert.equal(request.revision, 'v1.2');
      assert.equal(request.target, 'shop-prod');
    });

    it('a rollback confirmed and posted names the release', async () => {
      const { token, cookie } = await confirm('bob', 'action=rollback&to=r1');
      const r = await post('bob', { _csrf: token, action: 'rollback', to: 'r1' }, cookie);
      assert.equal(r.statusCode, 303, r.body);
      const [file] = spooled();
      assert.ok(file);
      const request = spooledRequest(file.slice(0, -5));
      assert.equal(request.action, 'rollback');
      assert.equal(request.to, 'r1');
      assert.equal(request.person, 'bob');
    });

    it("alice's token and cookie are no use to bob, though bob may deploy too", async () => {
      const { token, cookie } = await confirm('alice', 'action=deploy');
      const r = await post('bob', { _csrf: token, action: 'deploy' }, cookie);
      assert.equal(r.statusCode, 403);
      assert.match(r.body, /csrf/i);
      // a token without its cookie is none either
      assert.equal((await post('alice', { _csrf: token, action: 'deploy' })).statusCode, 403);
      assert.deepEqual(spooled(), []);
    });

    // a proxy may pass on a bearer value of its own (a JWT): that is still a proxy sign-in, and needs the token
    it('a proxy sign-in that also sends a malformed Authorization: Bearer still needs its CSRF token', async () => {
      const { payload, ...ct } = form({ action: 'deploy' });
      const r = await viaProxy('alice', { method: 'POST', url: '/t/shop-prod/requests', payload, headers: { ...ct, authorization: 'Bearer not.a.slipway.token' } });
      assert.equal(r.statusCode, 403);
      assert.deepEqual(spooled(), []);
    });

    it('a bearer token needs no CSRF token: 202 with the id and where to follow it', async () => {
      const r = await viaToken(jenkins.token, { method: 'POST', url: '/api/targets/shop-prod/requests', payload: { action: 'deploy', revision: SHA } });
      assert.equal(r.statusCode, 202, r.body);
      const body = r.json() as { v: number; id: string; status: string };
      assert.match(body.id, ID);
      assert.equal(body.status, `/api/requests/${body.id}`);
      assert.deepEqual(spooled(), [`${body.id}.json`]);
      const request = spooledRequest(body.id);
      assert.equal(request.person, 'jenkins');
      assert.equal(request.via, 'api');
      assert.equal(request.revision, SHA);
    });
  });

  describe('who may look but not deploy is told so, and nothing is spooled', () => {
    it('the confirm page: 403 with the refusal', async () => {
      const r = await viaProxy('carol', { url: '/t/shop-prod/confirm?action=deploy' });
      assert.equal(r.statusCode, 403);
      assert.match(r.body, /<p class="bad" id="refusal">carol may look at shop-prod but not deploy it: members of deployers may<\/p>/);
      assert.doesNotMatch(r.body, /name="_csrf"/);
    });

    it('the API: 403 and a JSON error', async () => {
      const r = await viaToken(dave.token, { method: 'POST', url: '/api/targets/shop-prod/requests', payload: { action: 'deploy' } });
      assert.equal(r.statusCode, 403);
      assert.match(String(r.headers['content-type']), /application\/json/);
      assert.match((r.json() as { error: string }).error, /dave may not deploy shop-prod: members of deployers may; nothing was done/);
      assert.deepEqual(spooled(), []);
    });

    it('who may not even look gets 404, as if the app-env were not there', async () => {
      assert.equal((await viaProxy('alice', { url: '/t/vault-prod/confirm?action=deploy' })).statusCode, 404);
      assert.equal((await viaToken(jenkins.token, { method: 'POST', url: '/api/targets/vault-prod/requests', payload: { action: 'deploy' } })).statusCode, 404);
      assert.deepEqual(spooled(), []);
    });
  });

  describe('hostile input', () => {
    it('a revision that is shell: 400 on the confirm page, the form and the API; nothing spooled', async () => {
      const evil = '$(touch /tmp/x)';
      const page = await viaProxy('alice', { url: `/t/shop-prod/confirm?action=deploy&revision=${encodeURIComponent(evil)}` });
      assert.equal(page.statusCode, 400);
      assert.match(page.body, /id="refusal">revision &quot;\$\(touch \/tmp\/x\)&quot;: not a valid git ref name/);
      const { token, cookie } = await confirm('alice', 'action=deploy');
      const r = await post('alice', { _csrf: token, action: 'deploy', revision: evil }, cookie);
      assert.equal(r.statusCode, 400);
      assert.match(r.body, /id="refusal">/);
      const api = await viaToken(jenkins.token, { method: 'POST', url: '/api/targets/shop-prod/requests', payload: { action: 'deploy', revision: evil } });
      assert.equal(api.statusCode, 400);
      assert.match((api.json() as { error: string }).error, /not a valid git ref name/);
      // a revision that is not a string is no revision, not a crash
      const odd = await viaToken(jenkins.token, { method: 'POST', url: '/api/targets/shop-prod/requests', payload: { action: 'sync', to: ['r1'] } });
      assert.equal(odd.statusCode, 202, odd.body);
      assert.equal(spooledRequest((odd.json() as { id: string }).id).to, undefined);
      assert.equal(spooled().length, 1);
    });

    it('a target that is a path: 404', async () => {
      for (const url of ['/t/..%2Fetc/requests', '/api/targets/..%2Fetc/requests', '/api/targets/..%2F.spool/requests', '/hooks/..%2Fetc']) {
        const r = await viaToken(jenkins.token, { method: 'POST', url, payload: { action: 'deploy' } });
        assert.equal(r.statusCode, 404, url);
      }
      assert.equal((await viaProxy('alice', { url: '/t/..%2Fetc/confirm?action=deploy' })).statusCode, 404);
      assert.deepEqual(spooled(), []);
    });
  });

  describe('the webhook', () => {
    const push = (target: string, body: string, headers: Record<string, string> = {}) =>
      app.inject({ method: 'POST', url: `/hooks/${target}`, payload: body, headers: { 'content-type': 'application/json', ...headers } });
    const main = JSON.stringify({ ref: 'refs/heads/main', after: SHA });

    it('unsigned or wrongly signed: 401, nothing spooled', async () => {
      assert.equal((await push('shop-prod', main)).statusCode, 401);
      assert.equal((await push('shop-prod', main, { 'x-hub-signature-256': sign('not-the-secret-at-all', main) })).statusCode, 401);
      // signed, but not these bytes: the same JSON re-serialised with a space is another body
      const r = await push('shop-prod', main.replace(',', ', '), { 'x-hub-signature-256': sign(HOOK_SECRET, main) });
      assert.equal(r.statusCode, 401);
      assert.match((r.json() as { error: string }).error, /X-Hub-Signature-256/);
      assert.deepEqual(spooled(), []);
    });

    it('a signed push to the branch: 202 and a request for that commit, as the hook user, via webhook', async () => {
      const r = await push('shop-prod', main, { 'x-hub-signature-256': sign(HOOK_SECRET, main), 'x-github-event': 'push' });
      assert.equal(r.statusCode, 202, r.body);
      const { id } = r.json() as { id: string };
      assert.match(id, ID);
      assert.deepEqual(spooled(), [`${id}.json`]);
      const request = spooledRequest(id);
      assert.equal(request.action, 'deploy');
      assert.equal(request.revision, SHA);
      assert.equal(request.person, 'jenkins');
      assert.equal(request.via, 'webhook');
      assert.equal(request.target, 'shop-prod');
    });

    it('a push sent as a form (GitHub\'s other content type) is verified over the form\'s bytes and read from its payload', async () => {
      const form = `payload=${encodeURIComponent(main)}`;
      const post = (signature: string) => app.inject({ method: 'POST', url: '/hooks/shop-prod', payload: form, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-hub-signature-256': signature } });
      assert.equal((await post(sign(HOOK_SECRET, main))).statusCode, 401, 'the signature is of the form as sent, not of the JSON inside');
      assert.deepEqual(spooled(), []);
      const r = await post(sign(HOOK_SECRET, form));
      assert.equal(r.statusCode, 202, r.body);
      const { id } = r.json() as { id: string };
      assert.equal(spooledRequest(id).revision, SHA);
    });

    it('a push to another branch is acknowledged and ignored', async () => {
      const other = JSON.stringify({ ref: 'refs/heads/feature', after: SHA });
      const r = await push('shop-prod', other, { 'x-hub-signature-256': sign(HOOK_SECRET, other) });
      assert.equal(r.statusCode, 202);
      assert.match((r.json() as { ignored: string }).ignored, /refs\/heads\/feature.*branch main/);
      assert.deepEqual(spooled(), []);
    });

    it('a signed ping gets a pong, and spools nothing', async () => {
      const body = JSON.stringify({ zen: 'Keep it logically awesome.' });
      const r = await push('shop-prod', body, { 'x-hub-signature-256': sign(HOOK_SECRET, body), 'x-github-event': 'ping' });
      assert.equal(r.statusCode, 200);
      assert.deepEqual(r.json(), { v: 1, pong: true });
      assert.deepEqual(spooled(), []);
    });

    it('a signed push with a revision that is shell: 400', async () => {
      const body = JSON.stringify({ ref: 'refs/heads/main', after: '$(id)' });
      assert.equal((await push('shop-prod', body, { 'x-hub-signature-256': sign(HOOK_SECRET, body) })).statusCode, 400);
      assert.deepEqual(spooled(), []);
    });

    it('an app-env with no webhook, or none at all: the same 404', async () => {
      for (const target of ['vault-prod', 'nope-prod']) {
        const r = await push(target, main, { 'x-hub-signature-256': sign(HOOK_SECRET, main) });
        assert.equal(r.statusCode, 404, target);
        assert.equal(r.body, 'not found\n');
      }
    });

    it('a webhook whose user may not deploy its app-env: 403', async () => {
      const r = await push('blog-prod', main, { 'x-hub-signature-256': sign(HOOK_SECRET, main) });
      assert.equal(r.statusCode, 403);
      assert.match((r.json() as { error: string }).error, /deploys as mallory, who may not deploy blog-prod/);
      assert.deepEqual(spooled(), []);
    });
  });

  describe("a request's status and a release's page", () => {
    const statuses = () => join(root, '.feed', '.requests');
    afterEach(() => rmSync(statuses(), { recursive: true, force: true }));

    it("/api/requests/<id> gives what the worker wrote, with the run it became; null before it answers", async () => {
      const id = 'f'.repeat(32);
      mkdirSync(statuses(), { recursive: true });
      const status = { v: 1, id, state: 'running', target: 'shop-prod', action: 'deploy', person: 'alice', via: 'dashboard', updated: '2026-12-05T10:15:00Z', worker: 1 };
      writeFileSync(join(statuses(), `${id}.json`), JSON.stringify(status));
      const run = '20261205T101500Z-4242';
      writeFileSync(join(root, '.feed', 'shop-prod', 'runs', `${run}.jsonl`), `${JSON.stringify({ type: 'feed.run', v: 1, id: run, action: 'deploy', target: 'shop-prod', who: 'alice (dashboard)', pid: 4242, started: '2026-12-05T10:15:00.000Z', request: id })}\n`);
      try {
        const r = await viaProxy('alice', { url: `/api/requests/${id}` });
        assert.equal(r.statusCode, 200);
        const body = r.json() as { status: unknown; run: { id: string; url: string } | null };
        assert.deepEqual(body.status, status);
        assert.equal(body.run?.id, run);
        assert.equal(body.run?.url, `/t/shop-prod/runs/${run}`);
        const page = await viaProxy('alice', { url: `/requests/${id}` });
        assert.equal(page.statusCode, 200);
        assert.match(page.body, /deploy shop-prod for alice/);
        assert.match(page.body, new RegExp(`href="/t/shop-prod/runs/${run}"`));
      } finally {
        rmSync(join(root, '.feed', 'shop-prod', 'runs', `${run}.jsonl`));
      }
      const none = (await viaProxy('alice', { url: `/api/requests/${'0'.repeat(32)}` })).json() as { status: unknown; run: unknown };
      assert.equal(none.status, null);
      assert.equal(none.run, null);
    });

    it("a status of an app-env the person may not see is none to them", async () => {
      const id = '1'.repeat(32);
      mkdirSync(statuses(), { recursive: true });
      writeFileSync(join(statuses(), `${id}.json`), JSON.stringify({ v: 1, id, state: 'done', target: 'vault-prod', person: 'fin', updated: '2026-12-05T10:15:00Z', worker: 1, exitCode: 0 }));
      assert.equal((await viaProxy('alice', { url: `/api/requests/${id}` })).json().status, null);
      assert.equal((await viaProxy('root', { url: `/api/requests/${id}` })).json().status.state, 'done');
    });

    it('an id that is not 32 hex digits: 404', async () => {
      for (const id of ['..%2F..%2Fshop-prod%2Fsummary', 'F'.repeat(32), 'f'.repeat(31), `${'f'.repeat(32)}%0A`]) {
        assert.equal((await viaProxy('alice', { url: `/api/requests/${id}` })).statusCode, 404, id);
        assert.equal((await viaProxy('alice', { url: `/requests/${id}` })).statusCode, 404, id);
      }
      const waiting = await viaProxy('alice', { url: `/requests/${'2'.repeat(32)}` });
      assert.equal(waiting.statusCode, 200);
      assert.match(waiting.body, /waiting for the worker to take it/);
    });

    it("a release's page lists its files against the live release, private ones named but marked", async () => {
      const diffs = { v: 1, live: 'r2', diffs: { r1: { total: 2, files: [{ status: 'M', path: 'index.php', private: false }, { status: 'A', path: 'config/<secret>.php', private: true }] } } };
      writeFileSync(join(root, '.feed', 'shop-prod', 'diffs.json'), JSON.stringify(diffs));
      try {
        const r = await viaProxy('alice', { url: '/t/shop-prod/releases/r1' });
        assert.equal(r.statusCode, 200);
        assert.match(r.body, /2 files differ; going from r2 to r1/);
        assert.match(r.body, /<td>changed<\/td><td><code>index.php<\/code><\/td>/);
        assert.match(r.body, /<code>config\/&lt;secret&gt;.php<\/code> <span class="private">private: contents never shown<\/span>/);
        assert.match((await viaProxy('alice', { url: '/t/shop-prod/releases/r2' })).body, /This is the live release/);
        // a list made against another live release is not shown as this one's
        writeFileSync(join(root, '.feed', 'shop-prod', 'diffs.json'), JSON.stringify({ ...diffs, live: 'r1' }));
        assert.match((await viaProxy('alice', { url: '/t/shop-prod/releases/r1' })).body, /No file list for this release yet/);
      } finally {
        rmSync(join(root, '.feed', 'shop-prod', 'diffs.json'));
      }
      assert.equal((await viaProxy('alice', { url: '/t/shop-prod/releases/r3' })).statusCode, 404);
      assert.equal((await viaProxy('alice', { url: '/t/shop-prod/releases/..%2Fsummary.json' })).statusCode, 404);
      assert.equal((await viaProxy('alice', { url: '/t/vault-prod/releases/r1' })).statusCode, 404);
    });
  });
});

describe('a spool that cannot be written', () => {
  let root: string;
  let app: FastifyInstance;
  before(async () => {
    root = makeRoot([summary('shop')], { spool: false });
    app = await buildServer({ config, root, groupsOf, webhooks: new Map([['shop', { secret: Buffer.from('a-webhook-secret-of-some-length'), as: 'jenkins' }]]) });
  });
  after(async () => {
    await app?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('503 with a message for the API and the webhook, and the server goes on', async () => {
    const r = await app.inject({ method: 'POST', url: '/api/targets/shop-prod/requests', headers: { authorization: `Bearer ${jenkins.token}` }, payload: { action: 'deploy' } });
    assert.equal(r.statusCode, 503);
    assert.match((r.json() as { error: string }).error, /cannot hand the request to the worker \(is deploy worker running\?\): .*ENOENT/);
    const body = JSON.stringify({ ref: 'refs/heads/main', after: SHA });
    const hook = await app.inject({ method: 'POST', url: '/hooks/shop-prod', payload: body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': sign('a-webhook-secret-of-some-length', body) } });
    assert.equal(hook.statusCode, 503);
    assert.match(hook.body, /cannot hand the request to the worker/);
    assert.equal((await app.inject({ url: '/api/targets/shop-prod', headers: { authorization: `Bearer ${jenkins.token}` } })).statusCode, 200);
  });
});

describe('loadWebhookSecrets', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'slipway-hooks-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const secretFile = (name: string, text: string, mode: number) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    chmodSync(file, mode); // set after writing: the umask does not decide
    return file;
  };
  const load = (secretFile: string) => loadWebhookSecrets(parseServeConfig(JSON.stringify({ webhooks: [{ app: 'shop', secretFile, as: 'jenkins' }] }), 's.json'));

  it('loads a 0640 secret, trimmed, with the user it deploys as', () => {
    const hooks = load(secretFile('good.secret', 'a-webhook-secret-of-some-length\n', 0o640));
    assert.deepEqual([...hooks.keys()], ['shop']);
    assert.equal(hooks.get('shop')?.secret.toString(), 'a-webhook-secret-of-some-length');
    assert.equal(hooks.get('shop')?.as, 'jenkins');
  });

  it('refuses a secret every user may read, or one too short, or none', () => {
    assert.throws(() => load(secretFile('open.secret', 'a-webhook-secret-of-some-length', 0o644)), (err: unknown) => err instanceof ConfigError && /readable by every user/.test(err.message));
    assert.throws(() => load(secretFile('short.secret', ' short \n', 0o640)), (err: unknown) => err instanceof ConfigError && /shorter than 16 characters/.test(err.message));
    assert.throws(() => load(join(dir, 'missing.secret')), (err: unknown) => err instanceof ConfigError && /webhook of shop: secretFile .*missing.secret: /.test(err.message));
  });
});

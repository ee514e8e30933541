/**
 * The dashboard's buttons, API and webhook: each leaves a request in the spool for root's
 * worker (src/feed/requests.ts) and nothing else. A page's form first shows the rollout and
 * asks to confirm; the POST needs its CSRF token whenever the person came through the proxy
 * (a cookie-borne sign-in a foreign page could ride on). A bearer token is never sent by a
 * browser on its own, and a webhook proves itself by an HMAC of its body.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { checkRefName } from '../config/names.js';
import type { FeedSummary, ReleaseDiff } from '../feed/index.js';
import { type DeployRequest, RELEASE_ID, readStatus, writeRequest } from '../feed/requests.js';
import { errorMessage } from '../errors.js';
import { type GroupsOf, mayDeploy } from './auth.js';
import type { ServeConfig } from './config.js';
import type { Feed } from './feed-read.js';
import { type Ask, confirmBody, deniedBody, releaseBody, requestBody } from './render-actions.js';
import { page } from './render.js';

export interface ActionContext {
  config: ServeConfig;
  root: string;
  feed: Feed;
  groupsOf: GroupsOf;
  webhooks: Map<string, { secret: Buffer; as: string }>;
  visibleTarget: (user: string, name: string) => Promise<{ target: string; summary: FeedSummary | undefined } | undefined>;
}

type Query = { action?: string; revision?: string; to?: string };

/** What a person asks for, checked as the command line checks it; a string is why it is refused. */
export function parseAsk(input: Query, summary: FeedSummary): Ask | string {
  const { action } = input;
  const revision = input.revision?.trim() || undefined;
  const to = input.to?.trim() || undefined;
  if (action !== 'deploy' && action !== 'rollback' && action !== 'sync') return 'the action must be deploy, rollback or sync';
  if (action !== 'deploy' && revision) return 'only a deploy takes a revision';
  if (action !== 'rollback' && to) return 'only a rollback takes a release';
  if (revision) {
    const bad = checkRefName(revision);
    if (bad) return `revision ${JSON.stringify(revision)}: ${bad}`;
  }
  if (to) {
    if (!RELEASE_ID.test(to) || !summary.releases.some((r) => r.id === to)) return `${JSON.stringify(to)} is not a release of ${summary.target}`;
    if (to === summary.live) return `${to} is already live; to bring hosts that differ back to it, sync`;
  }
  if (action !== 'deploy' && !summary.live) return `${summary.target} has no live release yet`;
  return { action, ...(revision ? { revision } : {}), ...(to ? { to } : {}) };
}

export function registerActions(app: FastifyInstance, ctx: ActionContext): void {
  const notFound = (reply: FastifyReply) => reply.code(404).type('text/plain; charset=utf-8').send('not found\n');
  const wantsHtml = (req: FastifyRequest) => !req.url.startsWith('/api/');

  /** The target, if this person may see it and it has a summary; and whether they may deploy it. */
  const actionable = async (req: FastifyRequest, name: string) => {
    const v = await ctx.visibleTarget(req.user, name);
    if (!v?.summary) return undefined;
    return { ...v, summary: v.summary, allowed: mayDeploy(req.user, await ctx.groupsOf(req.user), v.summary, ctx.config) };
  };

  const refuse = (req: FastifyRequest, reply: FastifyReply, code: number, target: string, why: string) => {
    if (!wantsHtml(req)) return reply.code(code).send({ v: 1, error: why });
    return reply.code(code).type('text/html; charset=utf-8').send(page(target, req.user, deniedBody(target, why), { kind: 'static', src: '' }));
  };

  const spool = async (req: FastifyRequest, reply: FastifyReply, request: DeployRequest) => {
    try {
      await writeRequest(ctx.root, request);
      return undefined;
    } catch (err) {
      return refuse(req, reply, 503, request.target, `cannot hand the request to the worker (is deploy worker running?): ${errorMessage(err)}`);
    }
  };

  const newRequest = (person: string, via: DeployRequest['via'], target: string, ask: Ask): DeployRequest => ({
    v: 1,
    id: randomBytes(16).toString('hex'),
    action: ask.action,
    target,
    person,
    via,
    ...(ask.revision ? { revision: ask.revision } : {}),
    ...(ask.to ? { to: ask.to } : {}),
    requested: new Date().toISOString(),
  });

  const whoMay = (s: FeedSummary) => (s.allowGroups?.length ? `members of ${s.allowGroups.join(', ')}` : 'the dashboard\'s admins');

  /** A proxy-signed-in POST carries the CSRF token of a page this server rendered for the same person. */
  const csrf = async (req: FastifyRequest, reply: FastifyReply) => {
    if (req.authVia !== 'proxy') return;
    await new Promise<void>((resolve, reject) => app.csrfProtection(req, reply, (err?: Error) => (err ? reject(err) : resolve())));
  };

  app.get<{ Params: { target: string }; Querystring: Query }>('/t/:target/confirm', async (req, reply) => {
    const v = await actionable(req, req.params.target);
    if (!v) return notFound(reply);
    if (!v.allowed) return refuse(req, reply, 403, v.target, `${req.user} may look at ${v.target} but not deploy it: ${whoMay(v.summary)} may`);
    const ask = parseAsk(req.query, v.summary);
    if (typeof ask === 'string') return refuse(req, reply, 400, v.target, ask);
    const token = reply.generateCsrf({ userInfo: req.user });
    reply.type('text/html; charset=utf-8');
    return page(`${ask.action} ${v.target}`, req.user, confirmBody(v.target, v.summary, ask, token), { kind: 'static', src: '' });
  });

  const requestRoute = (via: 'dashboard' | 'api') => async (req: FastifyRequest<{ Params: { target: string }; Body: Query | undefined }>, reply: FastifyReply) => {
    const v = await actionable(req, req.params.target);
    if (!v) return notFound(reply);
    if (!v.allowed) return refuse(req, reply, 403, v.target, `${req.user} may not deploy ${v.target}: ${whoMay(v.summary)} may; nothing was done`);
    const body = req.body && typeof req.body === 'object' ? req.body : {};
    const ask = parseAsk({ action: str(body.action), revision: str(body.revision), to: str(body.to) }, v.summary);
    if (typeof ask === 'string') return refuse(req, reply, 400, v.target, ask);
    const request = newRequest(req.user, via, v.target, ask);
    const failed = await spool(req, reply, request);
    if (failed) return failed;
    if (via === 'dashboard') return reply.code(303).header('Location', `/requests/${request.id}`).send();
    return reply.code(202).send({ v: 1, id: request.id, status: `/api/requests/${request.id}` });
  };
  app.post<{ Params: { target: string }; Body: Query | undefined }>('/t/:target/requests', { preHandler: csrf }, requestRoute('dashboard'));
  app.post<{ Params: { target: string }; Body: Query | undefined }>('/api/targets/:target/requests', { preHandler: csrf }, requestRoute('api'));

  /** A request's status, and the run it became, for someone who may see its app-env. */
  const requestView = async (user: string, id: string) => {
    const status = await readStatus(ctx.root, id);
    if (!status?.target) return undefined;
    const v = await ctx.visibleTarget(user, status.target);
    if (!v) return undefined;
    const run = (await ctx.feed.runs(v.target, 30)).find((r) => r.meta.request === id);
    return { status, run: run ? { id: run.id, url: `/t/${v.target}/runs/${run.id}`, state: run.state } : null };
  };

  app.get<{ Params: { id: string } }>('/requests/:id', async (req, reply) => {
    const view = await requestView(req.user, req.params.id);
    // the worker has not answered yet: the page waits for it
    const body = requestBody(req.params.id, view?.status, view?.run ?? null);
    if (!view && !/^[0-9a-f]{32}$/.test(req.params.id)) return notFound(reply);
    reply.type('text/html; charset=utf-8');
    return page('request', req.user, body, { kind: 'request', src: `/api/requests/${req.params.id}` });
  });

  app.get<{ Params: { id: string } }>('/api/requests/:id', async (req, reply) => {
    if (!/^[0-9a-f]{32}$/.test(req.params.id)) return notFound(reply);
    const view = await requestView(req.user, req.params.id);
    return reply.send({ v: 1, id: req.params.id, status: view?.status ?? null, run: view?.run ?? null });
  });

  app.get<{ Params: { target: string; id: string } }>('/t/:target/releases/:id', async (req, reply) => {
    const v = await ctx.visibleTarget(req.user, req.params.target);
    const release = v?.summary?.releases.find((r) => r.id === req.params.id);
    if (!v?.summary || !release) return notFound(reply);
    const doc = await readDiffs(ctx.feed, v.target);
    reply.type('text/html; charset=utf-8');
    return page(`${release.id} ${v.target}`, req.user, releaseBody(v.target, v.summary, release, doc.live === v.summary.live ? doc.diffs[release.id] : undefined), { kind: 'static', src: '' });
  });

  // --- the webhook: no person signs in; the body's HMAC with the app's secret is the proof ---
  app.post<{ Params: { target: string } }>('/hooks/:target', async (req, reply) => {
    const target = await ctx.feed.find(req.params.target);
    const summary = target && (await ctx.feed.summary(target));
    const hook = summary ? ctx.webhooks.get(summary.app) : undefined;
    // the same answer for an unknown target and one without a webhook: nothing to learn by probing
    if (!summary || !hook) return notFound(reply);
    if (!validSignature(hook.secret, req.rawBody, req.headers['x-hub-signature-256'])) {
      return reply.code(401).send({ v: 1, error: 'bad or missing X-Hub-Signature-256: sign the exact body with HMAC-SHA256 and the app\'s secret' });
    }
    if (req.headers['x-github-event'] === 'ping') return reply.send({ v: 1, pong: true });
    const body = webhookBody(req.body);
    if (!body) return reply.code(400).send({ v: 1, error: 'the body is neither JSON nor a form with a JSON payload' });
    if (typeof body.ref === 'string' && body.ref !== `refs/heads/${summary.branch}`) {
      return reply.code(202).send({ v: 1, ignored: `a push to ${body.ref}, not to ${summary.target}'s branch ${summary.branch}` });
    }
    const revision = str(body.revision) ?? str(body.after);
    const ask = parseAsk({ action: 'deploy', ...(revision ? { revision } : {}) }, summary);
    if (typeof ask === 'string') return reply.code(400).send({ v: 1, error: ask });
    if (!mayDeploy(hook.as, await ctx.groupsOf(hook.as), summary, ctx.config)) {
      return reply.code(403).send({ v: 1, error: `the webhook deploys as ${hook.as}, who may not deploy ${summary.target}: ${whoMay(summary)} may` });
    }
    const request = newRequest(hook.as, 'webhook', summary.target, ask);
    const failed = await spool(req, reply, request);
    if (failed) return failed;
    return reply.code(202).send({ v: 1, id: request.id });
  });
}

type HookBody = { revision?: unknown; after?: unknown; ref?: unknown };

/** The event: the JSON body, or a form's `payload` (GitHub's form content type). */
function webhookBody(body: unknown): HookBody | undefined {
  if (!body || typeof body !== 'object') return {};
  const payload = (body as { payload?: unknown }).payload;
  if (typeof payload !== 'string') return body as HookBody;
  try {
    const parsed: unknown = JSON.parse(payload);
    return parsed && typeof parsed === 'object' ? (parsed as HookBody) : undefined;
  } catch {
    return undefined;
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** `sha256=<hex>` of the exact bytes received, compared in constant time. */
export function validSignature(secret: Buffer, body: Buffer | undefined, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !body) return false;
  const m = /^sha256=([0-9a-f]{64})$/.exec(header);
  if (!m) return false;
  const want = createHmac('sha256', secret).update(body).digest();
  return timingSafeEqual(want, Buffer.from(m[1]!, 'hex'));
}

async function readDiffs(feed: Feed, target: string): Promise<{ live: string | null; diffs: Record<string, ReleaseDiff> }> {
  try {
    return JSON.parse(await readFile(join(feed.dir, target, 'diffs.json'), 'utf8')) as { live: string | null; diffs: Record<string, ReleaseDiff> };
  } catch {
    return { live: null, diffs: {} };
  }
}

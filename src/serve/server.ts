/**
 * `deploy serve`: the dashboard. Reads only the feed (src/feed), never a store; every page
 * and endpoint needs a person (auth.ts) and shows only the app-envs that person may see.
 * Live updates are server-sent events: the overview is told when anything changed, a run
 * page gets the run's new lines as the CLI writes them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import helmet from '@fastify/helmet';
import cookie from '@fastify/cookie';
import csrfProtection from '@fastify/csrf-protection';
import { randomBytes } from 'node:crypto';
import { packageRoot } from '../package-root.js';
import type { FeedSummary } from '../feed/index.js';
import { type GroupsOf, mayDeploy, mayView, signIn, unixGroups } from './auth.js';
import { registerActions } from './actions.js';
import type { ServeConfig } from './config.js';
import { Feed, type FeedLine, type RunListing, listingOf } from './feed-read.js';
import { metricsText } from './metrics.js';
import { lineText, overviewBody, page, runBody, runState, targetBody, type OverviewRow } from './render.js';

export interface ServerOptions {
  config: ServeConfig;
  /** The admin root whose feed is shown. */
  root: string;
  groupsOf?: GroupsOf;
  /** How often live endpoints look at the feed. */
  pollMs?: number;
  /** Each app's webhook secret and the user it deploys as (config.ts: loadWebhookSecrets). */
  webhooks?: Map<string, { secret: Buffer; as: string }>;
}

declare module 'fastify' {
  interface FastifyRequest {
    user: string;
    /** How the person signed in: the proxy's header (a browser: POSTs need a CSRF token) or a bearer token. */
    authVia: 'proxy' | 'token' | 'none';
    /** The body's exact bytes, for a webhook's signature. */
    rawBody?: Buffer;
  }
}

const STATIC: Record<string, string> = { 'live.js': 'text/javascript; charset=utf-8', 'style.css': 'text/css; charset=utf-8' };

export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const { config } = options;
  const feed = new Feed(options.root);
  const groupsOf = options.groupsOf ?? unixGroups();
  const pollMs = options.pollMs ?? 250;
  const statics = new Map(Object.keys(STATIC).map((name) => [name, readFileSync(join(packageRoot(), 'web', name))]));

  // the socket's peer is the client: X-Forwarded-For is never believed (trustProxy off)
  const app = Fastify({ logger: false, trustProxy: false, bodyLimit: 64 * 1024 });
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        connectSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: false, // plain HTTP on loopback; the TLS proxy in front sets it
  });
  app.decorateRequest('user', '');
  app.decorateRequest('authVia', 'none');
  app.decorateRequest('rawBody', undefined);
  // JSON bodies keep their bytes: a webhook's HMAC is of exactly what was sent
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    req.rawBody = body as Buffer;
    try {
      done(null, (body as Buffer).length ? JSON.parse(body.toString('utf8')) : {});
    } catch {
      done(Object.assign(new Error('the body is not JSON'), { statusCode: 400 }), undefined);
    }
  });
  // forms too: GitHub sends webhooks as `payload=<json>` unless told otherwise, signed as sent
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer' }, (req, body, done) => {
    req.rawBody = body as Buffer;
    done(null, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
  });
  await app.register(cookie);
  // the token is bound to the person (getUserInfo), so one person's cookie is no use to another;
  // keys live only as long as the process: a restart asks for the confirm page again
  await app.register(csrfProtection, {
    sessionPlugin: '@fastify/cookie',
    cookieOpts: { path: '/', httpOnly: true, sameSite: 'strict', signed: false },
    getUserInfo: (req) => req.user,
    csrfOpts: { hmacKey: randomBytes(32) },
    getToken: (req) => ((req.body as { _csrf?: string } | undefined)?._csrf ?? (req.headers['x-csrf-token'] as string | undefined)),
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('Cache-Control', 'no-store');
    if (req.url.startsWith('/static/') || req.url === '/favicon.ico' || req.url.startsWith('/hooks/')) return;
    const header = config.proxy ? req.headers[config.proxy.userHeader.toLowerCase()] : undefined;
    const who = signIn({ address: req.socket.remoteAddress ?? '', authorization: req.headers.authorization, proxyUser: typeof header === 'string' ? header : undefined }, config);
    if (!who) {
      return reply.code(401).header('WWW-Authenticate', 'Bearer realm="slipway"').type('text/plain; charset=utf-8').send('who are you? sign in through the proxy, or send a token (Authorization: Bearer)\n');
    }
    req.user = who.user;
    req.authVia = who.via;
  });

  /** The summaries of the targets this person may see. */
  const visible = async (user: string): Promise<{ target: string; summary: FeedSummary | undefined }[]> => {
    const groups = await groupsOf(user);
    const out: { target: string; summary: FeedSummary | undefined }[] = [];
    for (const target of await feed.targets()) {
      const summary = await feed.summary(target);
      // a target with no summary yet (its first run is going on): admins only, as nothing says who may look
      if (mayView(user, groups, summary ?? { viewGroups: null, allowGroups: null }, config)) out.push({ target, summary });
    }
    return out;
  };

  /** The target named in a URL, if it exists and this person may see it; otherwise 404 either way. */
  const visibleTarget = async (user: string, name: string): Promise<{ target: string; summary: FeedSummary | undefined } | undefined> => {
    const target = await feed.find(name);
    if (!target) return undefined;
    const summary = await feed.summary(target);
    return mayView(user, await groupsOf(user), summary ?? { viewGroups: null, allowGroups: null }, config) ? { target, summary } : undefined;
  };

  const rowsFor = async (user: string): Promise<OverviewRow[]> => {
    const rows: OverviewRow[] = [];
    for (const { target, summary } of await visible(user)) {
      const runs = await feed.runs(target, 5);
      rows.push({ target, summary, running: runs.find((r) => r.state === 'running'), lastRun: runs.find((r) => r.state !== 'running') });
    }
    return rows;
  };

  const notFound = (reply: FastifyReply) => reply.code(404).type('text/plain; charset=utf-8').send('not found\n');
  const fragment = (req: FastifyRequest) => req.headers['x-fragment'] === '1';

  app.get<{ Params: { name: string } }>('/static/:name', async (req, reply) => {
    const body = statics.get(req.params.name);
    if (!body) return notFound(reply);
    return reply.type(STATIC[req.params.name]!).header('Cache-Control', 'no-cache').send(body);
  });

  // browsers ask for it on every page: no icon, and no 404 in their consoles
  app.get('/favicon.ico', async (_req, reply) => reply.code(204).send());

  app.get('/', async (req, reply) => {
    const body = overviewBody(await rowsFor(req.user));
    reply.type('text/html; charset=utf-8');
    return fragment(req) ? body.text : page('Apps', req.user, body, { kind: 'overview', src: '/events' });
  });

  app.get<{ Params: { target: string } }>('/t/:target', async (req, reply) => {
    const v = await visibleTarget(req.user, req.params.target);
    if (!v) return notFound(reply);
    const canDeploy = v.summary ? mayDeploy(req.user, await groupsOf(req.user), v.summary, config) : false;
    const body = targetBody(v.target, v.summary, await feed.runs(v.target, 30), canDeploy);
    reply.type('text/html; charset=utf-8');
    return fragment(req) ? body.text : page(v.target, req.user, body, { kind: 'overview', src: '/events' });
  });

  app.get<{ Params: { target: string; id: string } }>('/t/:target/runs/:id', async (req, reply) => {
    const v = await visibleTarget(req.user, req.params.target);
    const run = v && (await feed.run(v.target, req.params.id));
    if (!v || !run) return notFound(reply);
    const body = runBody(v.target, run.listing, run.lines);
    reply.type('text/html; charset=utf-8');
    return fragment(req) ? body.text : page(`${run.listing.meta.action} ${v.target}`, req.user, body, { kind: 'run', src: `/t/${v.target}/runs/${run.listing.id}/events`, offset: run.size });
  });

  // --- live ---------------------------------------------------------------------------

  /** Start an event stream on the raw socket; `tick` runs every pollMs until it returns false or the client goes. */
  const stream = (req: FastifyRequest, reply: FastifyReply, tick: (send: (event: string, data: unknown, id?: string) => void) => Promise<boolean>) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Content-Type-Options': 'nosniff' });
    const send = (event: string, data: unknown, id?: string) => res.write(`event: ${event}\n${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(data)}\n\n`);
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const stop = () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      res.end();
    };
    req.raw.on('close', stop);
    const loop = async () => {
      if (stopped) return;
      const more = await tick(send).catch(() => false);
      if (!more) return stop();
      res.write(': keep-alive\n\n');
      timer = setTimeout(() => void loop(), pollMs);
    };
    void loop();
  };

  app.get('/events', async (req, reply) => {
    let seen = await feed.version();
    stream(req, reply, async (send) => {
      const now = await feed.version();
      if (now !== seen) {
        seen = now;
        send('change', { at: new Date().toISOString() });
      }
      return true;
    });
  });

  app.get<{ Params: { target: string; id: string }; Querystring: { from?: string } }>('/t/:target/runs/:id/events', async (req, reply) => {
    const v = await visibleTarget(req.user, req.params.target);
    const run = v && (await feed.run(v.target, req.params.id));
    if (!v || !run) return notFound(reply);
    const resume = Number(req.headers['last-event-id'] ?? req.query.from ?? 0);
    let offset = Number.isSafeInteger(resume) && resume >= 0 && resume <= run.size ? resume : 0;
    // the run's state follows from its lines (and its process): only new bytes are read each tick;
    // lines sent again after a resume from an earlier offset change nothing in that state
    const seen: FeedLine[] = [...run.lines];
    let listing: RunListing = run.listing;
    stream(req, reply, async (send) => {
      const { lines, next } = await feed.tail(v.target, run.listing.id, offset);
      offset = next;
      for (const l of lines) {
        seen.push(l);
        const shown = lineText(l);
        if (shown) send('line', shown, String(offset));
      }
      const fresh = listingOf(run.listing.id, seen) ?? listing;
      if (fresh.state !== listing.state || fresh.phase !== listing.phase) {
        listing = fresh;
        send('state', { state: listing.state, text: runState(listing) });
      }
      if (listing.state !== 'running') {
        send('finish', { state: listing.state });
        return false;
      }
      return true;
    });
  });

  // --- for programs ---------------------------------------------------------------------

  app.get('/api/targets', async (req) => {
    const rows = await rowsFor(req.user);
    return {
      v: 1,
      targets: rows.map((r) => ({
        target: r.target,
        live: r.summary?.live ?? null,
        hosts: r.summary?.hosts ?? [],
        lastEvent: r.summary?.history[0] ?? null,
        running: r.running ? { id: r.running.id, action: r.running.meta.action, who: r.running.meta.who, phase: r.running.phase ?? null } : null,
      })),
    };
  });

  app.get<{ Params: { target: string } }>('/api/targets/:target', async (req, reply) => {
    const v = await visibleTarget(req.user, req.params.target);
    if (!v) return notFound(reply);
    return { v: 1, target: v.target, summary: v.summary ?? null, runs: await feed.runs(v.target, 30) };
  });

  app.get<{ Params: { target: string; id: string } }>('/api/targets/:target/runs/:id', async (req, reply) => {
    const v = await visibleTarget(req.user, req.params.target);
    const run = v && (await feed.run(v.target, req.params.id));
    if (!v || !run) return notFound(reply);
    return { v: 1, run: run.listing, events: run.lines.slice(1) };
  });

  registerActions(app, { config, root: options.root, feed, groupsOf, webhooks: options.webhooks ?? new Map(), visibleTarget });

  app.get('/metrics', async (req, reply) => {
    const inputs = [];
    for (const { target, summary } of await visible(req.user)) {
      if (!summary) continue;
      const runs = await feed.runs(target, 5);
      inputs.push({ summary, lastRun: runs.find((r) => r.state !== 'running'), running: runs.some((r) => r.state === 'running') });
    }
    const { text, contentType } = await metricsText(inputs);
    return reply.type(contentType).send(text);
  });

  return app;
}

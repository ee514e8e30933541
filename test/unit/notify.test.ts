/**
 * Notifications against real sockets in this process: an HTTP server for the
 * webhook, a UDP socket for StatsD. Failures come back as warnings, in bounded
 * time, and never name the webhook's secret path.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { resolveAppEnv } from '../../src/config/resolve.js';
import { appSchema } from '../../src/config/schema.js';
import { notifyRun } from '../../src/notify/index.js';
import { webhookBody } from '../../src/notify/payload.js';
import { addSecrets, redactValue } from '../../src/report/redact.js';
import { RunTracker } from '../../src/report/summary.js';

const info = { action: 'deploy', app: 'shop', env: 'prod', deployer: 'alice' };

function summary(exitCode: number) {
  const t = new RunTracker();
  t.emit({ kind: 'run', state: 'start', target: 'shop-prod', hosts: ['web1'] });
  t.emit({ kind: 'release', id: 'r1', commit: 'a'.repeat(40), created: true });
  t.emit({ kind: 'step', host: 'web1', step: 'switch', state: exitCode ? 'fail' : 'done', text: exitCode ? 'switch failed' : 'live', ms: 3 });
  t.emit({ kind: 'run', state: 'finish', target: 'shop-prod', exitCode, ms: 1234 });
  return t.summary();
}

describe('notifyRun', () => {
  let server: Server;
  let base: string;
  const received: { path: string; type: string; body: string }[] = [];
  const udp = createSocket('udp4');
  const datagrams: string[] = [];
  let udpPort = 0;

  before(async () => {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        if (req.url?.startsWith('/hang')) return; // never answers
        received.push({ path: req.url ?? '', type: req.headers['content-type'] ?? '', body });
        res.statusCode = req.url?.startsWith('/broken') ? 500 : 200;
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    udp.on('message', (m) => datagrams.push(m.toString('utf8')));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    udpPort = udp.address().port;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
    udp.close();
  });

  it('POSTs the summary and sends StatsD lines', async () => {
    const warnings = await notifyRun(
      { webhook: { url: `${base}/hook`, format: 'json', timeout: 5 }, statsd: { host: '127.0.0.1', port: udpPort, prefix: 'ops.deploys', timeout: 2 } },
      info,
      summary(0),
    );
    assert.deepEqual(warnings, []);
    const hook = received.find((r) => r.path === '/hook')!;
    assert.equal(hook.type, 'application/json');
    const body = JSON.parse(hook.body) as Record<string, unknown>;
    assert.equal(body.ok, true);
    assert.equal(body.target, 'shop-prod');
    for (let i = 0; i < 50 && !datagrams.length; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(datagrams[0]!.split('\n'), ['ops.deploys.shop.prod.deploy:1|c', 'ops.deploys.shop.prod.deploy_ms:1234|ms']);
  });

  it('a Slack webhook gets {text}', async () => {
    assert.deepEqual(await notifyRun({ webhook: { url: `${base}/slack`, format: 'slack', timeout: 5 } }, info, summary(1)), []);
    const body = JSON.parse(received.find((r) => r.path === '/slack')!.body) as { text: string };
    assert.match(body.text, /^deploy shop-prod by alice FAILED \(exit 1\)/);
  });

  it('an HTTP error, a refused connection and a server that never answers are warnings, in bounded time', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise((r) => dead.close(r));
    const secretPath = '/services/T000/B000/XXXXSECRET';
    const cases = [
      [`${base}/broken${secretPath}`, /webhook to 127\.0\.0\.1:\d+: answered HTTP 500/],
      [`http://127.0.0.1:${deadPort}${secretPath}`, /webhook to 127\.0\.0\.1:\d+: fetch failed: .*ECONNREFUSED/],
      [`${base}/hang`, /webhook to 127\.0\.0\.1:\d+: no answer within 0\.3s/],
    ] as const;
    for (const [url, expected] of cases) {
      const warnings = await notifyRun({ webhook: { url, format: 'json', timeout: 0.3 } }, info, summary(0));
      assert.equal(warnings.length, 1, url);
      assert.match(warnings[0]!, expected);
      assert.doesNotMatch(warnings[0]!, /SECRET/, 'the webhook path is never shown');
    }
  });

  it('a StatsD host that does not resolve is a warning', async () => {
    const warnings = await notifyRun({ statsd: { host: 'statsd.invalid', port: 8125, prefix: 'x', timeout: 2 } }, info, summary(0));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /^notification failed: statsd to statsd\.invalid:8125: /);
  });
});

describe('notify config', () => {
  const base = { repo: '/src/shop.git', envs: { prod: { hosts: ['web1'] }, stage: { hosts: ['s1'], notify: { statsd: { host: 'graphite' } } } } };

  it('defaults, and an env replaces the app’s webhook or statsd', () => {
    const config = appSchema.parse({ ...base, notify: { webhook: { url: 'https://hooks.example.com/x' }, statsd: { host: 'statsd', prefix: 'deploys' } } });
    const prod = resolveAppEnv(config, 'shop', 'prod', 'apps/shop.ts', '/data');
    assert.deepEqual(prod.notify, { webhook: { url: 'https://hooks.example.com/x', format: 'json', timeout: 5 }, statsd: { host: 'statsd', port: 8125, prefix: 'deploys', timeout: 2 } });
    const stage = resolveAppEnv(config, 'shop', 'stage', 'apps/shop.ts', '/data');
    assert.deepEqual(stage.notify.statsd, { host: 'graphite', port: 8125, prefix: 'slipway', timeout: 2 });
    assert.equal(stage.notify.webhook?.url, 'https://hooks.example.com/x');
  });

  it('refuses a bad URL, format or prefix, with paths', () => {
    const r = appSchema.safeParse({ ...base, notify: { webhook: { url: 'ftp://x', format: 'xml' }, statsd: { host: 'ok', prefix: 'a..b' } } });
    assert.equal(r.success, false);
    const paths = r.error!.issues.map((i) => i.path.join('.')).sort();
    assert.deepEqual(paths, ['notify.statsd.prefix', 'notify.webhook.format', 'notify.webhook.url']);
  });
});

describe('webhook bodies and secrets', () => {
  // a summary whose texts were not redacted yet: the webhook body must redact them itself
  const leaky = (secret: string) => {
    const t = new RunTracker();
    t.emit({ kind: 'run', state: 'start', target: 'shop-prod', hosts: ['web1'] });
    t.emit({ kind: 'step', host: 'web1', step: 'health', state: 'fail', text: `unhealthy: sh exited 1: ${secret}`, ms: 3 });
    t.emit({ kind: 'run', state: 'finish', target: 'shop-prod', exitCode: 1, ms: 10, error: `failed: ${secret}` });
    return t.summary();
  };
  const escapedForms = (s: string) => [s, JSON.stringify(s).slice(1, -1), ...s.split('\n').filter((l) => l.length >= 6)];

  for (const secret of ['quo"ted-secret', 'back\\slash-secret', 'new\nline-secret', `all"of\\them\ntogether`]) {
    it(`redacts ${JSON.stringify(secret)} in both formats, whatever JSON escapes it needs`, () => {
      addSecrets([secret]);
      for (const format of ['json', 'slack'] as const) {
        const body = webhookBody(format, info, leaky(secret));
        for (const form of escapedForms(secret)) assert.ok(!body.includes(form), `${format} body holds ${JSON.stringify(form)}: ${body}`);
        assert.match(body, /\[REDACTED\]/);
        JSON.parse(body);
      }
    });
  }

  it('redactValue redacts every string of a nested value and leaves other values alone', () => {
    addSecrets(['nested"secret\\x']);
    const value = { a: ['ok', 'see nested"secret\\x'], b: { c: 'nested"secret\\x', n: 3, t: true, z: null } };
    assert.deepEqual(redactValue(value), { a: ['ok', 'see [REDACTED]'], b: { c: '[REDACTED]', n: 3, t: true, z: null } });
  });
});

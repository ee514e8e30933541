/** The HTTP health check against a real local server: status, body text, timeouts, retries. */
import assert from 'node:assert/strict';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { probeHttp, runCheck } from '../../src/deploy/switch/health.js';
import type { HostSession } from '../../src/deploy/connect/ssh.js';

describe('http health check', () => {
  let server: Server;
  let base = '';
  let flaky = 0;
  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ok') return res.end('all ok\n');
      if (req.url === '/down') return res.writeHead(503).end('down\n');
      if (req.url === '/slow') return void setTimeout(() => res.end('ok'), 2000);
      if (req.url === '/flaky') return flaky++ < 2 ? res.writeHead(500).end() : res.end('ok');
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const step = (path: string, extra: { status?: number; body?: string; timeoutS?: number } = {}) =>
    ({ kind: 'http', url: `${base}${path}`, status: 200, timeoutS: 5, ...extra }) as const;

  it('passes on the expected status and body text', async () => {
    assert.equal(await probeHttp(step('/ok', { body: 'ok' })), undefined);
    assert.equal(await probeHttp(step('/down', { status: 503 })), undefined);
  });

  it('says what was wrong', async () => {
    assert.match((await probeHttp(step('/down')))!, /status 503, expected 200/);
    assert.match((await probeHttp(step('/ok', { body: 'healthy' })))!, /body does not contain "healthy" \(got "all ok"\)/);
    assert.match((await probeHttp(step('/slow', { timeoutS: 0.2 })))!, /no answer within 0.2s/);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    assert.match((await probeHttp({ kind: 'http', url: `http://127.0.0.1:${port}/`, status: 200, timeoutS: 2 }))!, /ECONNREFUSED/);
  });

  it('retries with back-off, and gives up after the retries', async () => {
    const none = undefined as unknown as HostSession;
    assert.equal(await runCheck(step('/flaky'), none, { retries: 3, backoffS: 0.01 }), 3);
    await assert.rejects(runCheck(step('/down'), none, { retries: 1, backoffS: 0.01 }), /unhealthy after 2 attempts: GET .*status 503/);
  });
});

#!/usr/bin/env node
// The "web server" of one fleet host: serves what the deploy tool published, so integration
// tests can see which release a host is really serving.
//
//   GET /__host        -> the host name (e.g. "web2"), to prove which host answered
//   GET /<app>/<path>  -> /data/www/<app>/current/<path>
//
// Plain Node, no dependencies: it runs inside the host's mount namespace, where only the host's
// own /data is visible. fleet.sh starts it; it writes --pidfile once it listens, which is also
// how fleet.sh knows it is ready.
import http from 'node:http';
import { promises as fs, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8080' },
    name: { type: 'string', default: 'web' },
    root: { type: 'string', default: '/data/www' },
    pidfile: { type: 'string' },
  },
});

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

function send(res, status, body, headers = {}) {
  res.writeHead(status, {
    // A deploy switches `current` under us; nothing may be cached across that switch.
    'cache-control': 'no-store',
    'x-fleet-host': opts.name,
    'content-type': 'text/plain; charset=utf-8',
    ...headers,
  });
  res.end(body);
}

/** Split the raw request path into decoded segments, or null if it tries to leave the tree. */
function segmentsOf(rawPath) {
  const segments = [];
  for (const raw of rawPath.split('/')) {
    if (raw === '') continue;
    let s;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return null;
    }
    // Check after decoding: "%2e%2e" is ".." and "%2F" would smuggle a slash into a segment.
    if (s === '.' || s === '..' || s.includes('/') || s.includes('\0')) return null;
    segments.push(s);
  }
  return segments;
}

async function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    return send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
  }
  const rawPath = (req.url ?? '/').split('?')[0];
  if (rawPath === '/__host') return send(res, 200, opts.name);

  const segments = segmentsOf(rawPath);
  if (segments === null) return send(res, 400, 'bad path\n');
  const [app, ...rest] = segments;
  if (app === undefined) return send(res, 404, 'not found\n');

  // Resolve `current` on every request (never cached) so a switch is visible at once, and
  // serve the whole response from that one resolved release even if it switches mid-request.
  let release;
  try {
    release = await fs.realpath(path.join(opts.root, app, 'current'));
  } catch {
    return send(res, 404, 'no current release\n');
  }
  let file = path.join(release, ...rest);
  try {
    if ((await fs.stat(file)).isDirectory()) file = path.join(file, 'index.html');
    const body = await fs.readFile(file);
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    return send(res, 200, req.method === 'HEAD' ? undefined : body, {
      'content-type': type,
      'x-release': path.basename(release),
    });
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EISDIR') {
      return send(res, 404, 'not found\n');
    }
    throw err;
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(`${opts.name}: ${req.method} ${req.url}: ${err.stack ?? err}`);
    if (!res.headersSent) send(res, 500, 'internal error\n');
    else res.destroy();
  });
});

server.on('error', (err) => {
  console.error(`${opts.name}: http server: ${err.message}`);
  process.exit(1);
});

server.listen(Number(opts.port), opts.host, () => {
  if (opts.pidfile) writeFileSync(opts.pidfile, `${process.pid}\n`);
  console.error(`${opts.name}: serving ${opts.root} on http://${opts.host}:${opts.port}`);
});

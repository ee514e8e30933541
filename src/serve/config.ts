/**
 * `deploy serve`'s settings, a JSON file root writes (default /etc/slipway/serve.json):
 *
 *   { "listen": "127.0.0.1:8430",
 *     "proxy": { "addresses": ["127.0.0.1"], "userHeader": "X-Remote-User" },
 *     "tokens": [{ "user": "jenkins", "sha256": "<64 hex>" }],
 *     "admins": ["alice"],
 *     "webhooks": [{ "app": "shop", "secretFile": "/etc/slipway/hooks/shop.secret", "as": "jenkins" }] }
 *
 * A person is who a reverse proxy says (its header, believed only from its addresses) or
 * whose token is presented (`Authorization: Bearer`); tokens are stored as their SHA-256
 * only (`deploy serve --new-token <user>` makes one). Admins see every app-env; everybody
 * else sees those whose viewGroups or allowGroups they are in. A webhook's secret lives in a
 * file of its own (the dashboard's group may read it, nobody else), never in this one.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { ConfigError, errorMessage } from '../errors.js';
import { formatIssues } from '../config/schema.js';
import { checkAbsolutePath, checkAppName } from '../config/names.js';

export const DEFAULT_SERVE_CONFIG = '/etc/slipway/serve.json';
export const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;

/** `127.0.0.1:8430`, `[::1]:8430`: an IP address and a port, never a name to resolve. */
export const LISTEN = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-fA-F:]+\]):\d{1,5}$/;

const listen = z.string().regex(LISTEN, 'an address and port such as 127.0.0.1:8430');

const serveSchema = z.strictObject({
  listen: listen.default('127.0.0.1:8430'),
  proxy: z
    .strictObject({
      addresses: z.array(z.string().refine((a) => isIP(a) !== 0, 'not an IP address')).min(1),
      userHeader: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, 'a header name such as X-Remote-User').default('X-Remote-User'),
    })
    .optional(),
  tokens: z.array(z.strictObject({ user: z.string().regex(USER_NAME, 'not a valid unix user name'), sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits') })).default([]),
  admins: z.array(z.string().regex(USER_NAME, 'not a valid unix user name')).default([]),
  // a signed request from Jenkins or a git host deploys a revision of one app, as the user `as`
  webhooks: z
    .array(
      z.strictObject({
        app: z.string().refine((a) => checkAppName(a) === undefined, 'not an app name'),
        secretFile: z.string().refine((p) => checkAbsolutePath(p) === undefined, 'an absolute path'),
        as: z.string().regex(USER_NAME, 'not a valid unix user name'),
      }),
    )
    .default([]),
});

export type ServeConfig = z.output<typeof serveSchema>;

export function parseServeConfig(text: string, file: string): ServeConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`${file}: not JSON: ${errorMessage(err)}`]);
  }
  const parsed = serveSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues).map((p) => `${file}: ${p}`));
  return parsed.data;
}

export function loadServeConfig(file: string): ServeConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${file}: ${errorMessage(err)} (see examples/dashboard/serve.json)`]);
  }
  return parseServeConfig(text, file);
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new token and the line for the config: the token is shown once and stored nowhere. */
export function newToken(user: string): { token: string; entry: { user: string; sha256: string } } {
  const token = `slw_${randomBytes(32).toString('base64url')}`;
  return { token, entry: { user, sha256: hashToken(token) } };
}

/** `127.0.0.1:8430` → host and port. */
export function splitListen(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(address.slice(at + 1)) };
}

/** Each webhook's secret, read once at start: a file readable by everyone, or too short, is refused. */
export function loadWebhookSecrets(config: ServeConfig): Map<string, { secret: Buffer; as: string }> {
  const out = new Map<string, { secret: Buffer; as: string }>();
  for (const hook of config.webhooks) {
    let secret: Buffer;
    try {
      if ((statSync(hook.secretFile).mode & 0o004) !== 0) throw new Error('readable by every user: make it 0640 root:slipway-web');
      secret = Buffer.from(readFileSync(hook.secretFile, 'utf8').trim());
    } catch (err) {
      throw new ConfigError([`webhook of ${hook.app}: secretFile ${hook.secretFile}: ${errorMessage(err)}`]);
    }
    if (secret.length < 16) throw new ConfigError([`webhook of ${hook.app}: secretFile ${hook.secretFile}: the secret is shorter than 16 characters`]);
    out.set(hook.app, { secret, as: hook.as });
  }
  return out;
}

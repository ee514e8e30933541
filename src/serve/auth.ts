/**
 * Who is asking, and what they may see. A request names its person in one of two ways:
 * a bearer token (compared by its SHA-256, in constant time), or the reverse proxy's user
 * header, believed only when the connection comes from one of the proxy's addresses (the
 * socket's peer, never X-Forwarded-For). Anything else is nobody.
 */
import { timingSafeEqual } from 'node:crypto';
import { execa } from 'execa';
import { type ServeConfig, USER_NAME, hashToken } from './config.js';

export interface Asker {
  /** The socket's peer address. */
  address: string;
  authorization?: string;
  /** The proxy's user header, if sent. */
  proxyUser?: string;
}

export function identify(asker: Asker, config: ServeConfig): string | undefined {
  return signIn(asker, config)?.user;
}

/**
 * Who is asking, and by what: a token, or the proxy's header. What signed a person in decides
 * whether a POST needs a CSRF token, so a bearer value that is no token of ours (a proxy may
 * pass its own on) never counts as one.
 */
export function signIn(asker: Asker, config: ServeConfig): { user: string; via: 'token' | 'proxy' } | undefined {
  const bearer = /^Bearer ([A-Za-z0-9_-]{16,200})$/.exec(asker.authorization ?? '');
  if (bearer) {
    const hash = Buffer.from(hashToken(bearer[1]!), 'hex');
    // every entry is compared, so the time taken does not tell which one matched
    let user: string | undefined;
    for (const t of config.tokens) if (timingSafeEqual(hash, Buffer.from(t.sha256, 'hex')) && user === undefined) user = t.user;
    return user === undefined ? undefined : { user, via: 'token' };
  }
  if (!config.proxy || asker.proxyUser === undefined) return undefined;
  const peer = asker.address.replace(/^::ffff:/, '');
  if (!config.proxy.addresses.includes(peer)) return undefined;
  return USER_NAME.test(asker.proxyUser) ? { user: asker.proxyUser, via: 'proxy' } : undefined;
}

export type GroupsOf = (user: string) => Promise<string[]>;

/** A user's unix groups (`id -Gn`), none for an unknown user; remembered for a minute. */
export function unixGroups(ttlMs = 60_000, now: () => number = Date.now): GroupsOf {
  const cache = new Map<string, { at: number; groups: Promise<string[]> }>();
  return (user) => {
    const hit = cache.get(user);
    if (hit && now() - hit.at < ttlMs) return hit.groups;
    const groups = execa('id', ['-Gn', '--', user], { reject: false }).then((r) => (r.exitCode === 0 ? r.stdout.trim().split(/\s+/) : []));
    cache.set(user, { at: now(), groups });
    return groups;
  };
}

/** May `user` see an app-env with these groups? Admins see all; no groups named: admins only. */
export function mayView(user: string, userGroups: readonly string[], target: { viewGroups: string[] | null; allowGroups: string[] | null }, config: ServeConfig): boolean {
  if (config.admins.includes(user)) return true;
  const groups = [...(target.viewGroups ?? []), ...(target.allowGroups ?? [])];
  return groups.some((g) => userGroups.includes(g));
}

/**
 * May `user` ask for a deploy, rollback or sync of an app-env? Members of its allowGroups may
 * (as under sudo); where the env names none, only admins may. The worker checks it again.
 */
export function mayDeploy(user: string, userGroups: readonly string[], target: { allowGroups: string[] | null }, config: ServeConfig): boolean {
  if (target.allowGroups?.length) return target.allowGroups.some((g) => userGroups.includes(g));
  return config.admins.includes(user);
}

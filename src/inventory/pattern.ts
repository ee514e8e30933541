/**
 * Ansible host patterns (inventory/manager.py): `all` or `*`, a group or host name, `a:b` or
 * `a,b` (union), `a:&b` (intersection), `a:!b` (exclusion), shell wildcards (`web*.phx1`) and
 * `~regex`. Unlike Ansible, which warns and goes on, a part that matches no group or host is an
 * error: a typo must not shrink a deploy silently.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import type { Inventory, InventoryHost } from './model.js';
import { splitPort } from './ranges.js';

/** A pattern with a subscript, `web[0]` or `web[1:3]`: Ansible picks by its own host order, which this does not follow. */
const SUBSCRIPT = /^(.+)\[(?:-?[0-9]+|[0-9]+[:-][0-9]*)\]$/;

export function selectHosts(inv: Inventory, pattern: string): InventoryHost[] {
  const fail = (why: string) => new ConfigError([`host pattern ${JSON.stringify(pattern)}: ${why}`]);
  const parts = splitPattern(pattern);
  if (parts.length === 0) throw fail('it is empty');
  const members = groupMembers(inv);
  let selected = new Set<InventoryHost>();
  for (const part of orderParts(parts)) {
    const op = part[0] === '!' || part[0] === '&' ? part[0] : '';
    const body = part.slice(op.length);
    if (body === '') throw fail(`"${part}" names nothing`);
    const matched = new Set(matchOne(inv, members, body, op, fail));
    if (op === '!') selected = new Set([...selected].filter((h) => !matched.has(h)));
    else if (op === '&') selected = new Set([...selected].filter((h) => matched.has(h)));
    else for (const h of matched) selected.add(h);
  }
  if (selected.size === 0) throw fail(`it selects no hosts in ${inv.source}`);
  return inv.hosts.filter((h) => selected.has(h));
}

/** Ansible's split_host_pattern: at commas if any; else one address (`fe80::1`, `db:5432`); else at colons outside brackets. */
export function splitPattern(pattern: string): string[] {
  let parts: string[];
  if (pattern.includes(',')) parts = pattern.split(',');
  else if (isIP(pattern) || splitPort(pattern).host !== pattern) parts = [pattern];
  else parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** Plain parts first, then `&` parts, then `!` parts; only `!`/`&` parts start from all hosts. */
function orderParts(parts: string[]): string[] {
  const plain = parts.filter((p) => p[0] !== '!' && p[0] !== '&');
  const and = parts.filter((p) => p[0] === '&');
  const not = parts.filter((p) => p[0] === '!');
  return [...(plain.length > 0 ? plain : ['all']), ...and, ...not];
}

function groupMembers(inv: Inventory): Map<string, InventoryHost[]> {
  const members = new Map<string, InventoryHost[]>([...inv.groups.keys()].map((g) => [g, []]));
  for (const host of inv.hosts) for (const g of host.groups) members.get(g)?.push(host);
  return members;
}

/** A group matched by name brings all its hosts; host names are tried when no group matched, or the part is a wildcard or regex. */
function matchOne(inv: Inventory, members: Map<string, InventoryHost[]>, body: string, op: string, fail: (why: string) => ConfigError): InventoryHost[] {
  // as in Ansible, a plain part that is a host's name is that host, even where a group has the name too
  const exact = inv.hosts.find((h) => h.name === body);
  if (exact && (op === '' || !members.has(body))) return [exact];
  if (body[0] !== '~' && SUBSCRIPT.test(body)) throw fail(`"${body}": subscripts such as [0] or [1:3] are not supported; name the hosts, or use a wildcard`);
  const test = matcher(body, fail);
  const groups = [...members.keys()].filter(test);
  const hosts = groups.flatMap((g) => members.get(g)!);
  if (groups.length === 0 || /^~|[.?*[]/.test(body)) hosts.push(...inv.hosts.filter((h) => test(h.name)));
  if (groups.length === 0 && hosts.length === 0) throw fail(`"${body}" matches no group or host in ${inv.source}`);
  return hosts;
}

function matcher(body: string, fail: (why: string) => ConfigError): (name: string) => boolean {
  try {
    // Python's re.match anchors at the start only
    const re = body[0] === '~' ? new RegExp(`^(?:${body.slice(1)})`) : globToRegExp(body);
    return (name) => re.test(name);
  } catch (err) {
    throw fail(`"${body}" is not a valid ${body[0] === '~' ? 'regular expression' : 'wildcard'} (${(err as Error).message})`);
  }
}

/** Python's fnmatch: `*`, `?`, `[abc]`, `[!abc]`; the whole name must match. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      let j = i + 1;
      if (glob[j] === '!') j++;
      if (glob[j] === ']') j++;
      while (j < glob.length && glob[j] !== ']') j++;
      if (j >= glob.length) {
        re += '\\[';
        continue;
      }
      let set = glob.slice(i + 1, j).replace(/[\\\]]/g, '\\$&');
      set = set.startsWith('!') ? `^${set.slice(1)}` : set.startsWith('^') ? `\\${set}` : set;
      re += `[${set}]`;
      i = j;
    } else re += c.replace(/[.+^${}()|\\/-]/g, '\\$&');
  }
  return new RegExp(`^(?:${re})$`, 's');
}

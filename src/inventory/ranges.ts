/**
 * Host patterns as inventories write them: `web[01:20].phx1`, `db-[a:f].example.com`,
 * `[01:20:2]` with a step, and a `host:port` suffix. Ansible's parse_address and
 * expand_hostname_range (parsing/utils/addresses.py, plugins/inventory/__init__.py).
 */
import { isIP } from 'node:net';
import { problem } from './model.js';

/** More hosts than this from one line is taken for a typo, not a fleet. */
export const MAX_RANGE_HOSTS = 10_000;

const RANGE = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`;
const NUMERIC_RANGE = String.raw`\[[0-9]+:[0-9]+(?::[0-9]+)?\]`;
// Python's \w is Unicode-aware; a label may not end in "-" or "_"
const LABEL = String.raw`(?:[\p{L}\p{N}_]|${RANGE})(?:[\p{L}\p{N}_-]|${RANGE})*(?<![_-])`;
const HOSTNAME = new RegExp(String.raw`^${LABEL}(?:\.${LABEL})*$`, 'iu');
const IPV4_PART = String.raw`(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${NUMERIC_RANGE})`;
const IPV4 = new RegExp(String.raw`^(?:${IPV4_PART}\.){3}${IPV4_PART}$`);
const BRACKETED_HOSTPORT = /^\[(.+)\]:([0-9]+)$/;
const HOSTPORT = /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/;

/**
 * Split `host:port` or `[v6]:port`. As in Ansible, a port counts only when what is left is a
 * host name or address (ranges allowed); otherwise the whole pattern is the name.
 */
export function splitPort(pattern: string): { host: string; port?: number } {
  let host = pattern;
  let port: number | undefined;
  for (const re of [BRACKETED_HOSTPORT, HOSTPORT]) {
    const m = re.exec(host);
    if (m) {
      host = m[1]!;
      port = Number(m[2]);
    }
  }
  if (IPV4.test(host) || isIP(host) === 6 || HOSTNAME.test(host)) return port === undefined ? { host } : { host, port };
  return { host: pattern };
}

/** Expand every `[begin:end(:step)]` in a host pattern, leftmost first. */
export function expandRanges(pattern: string, at: string): string[] {
  const hosts: string[] = [];
  const expand = (name: string) => {
    if (!name.includes('[')) {
      hosts.push(name);
      if (hosts.length > MAX_RANGE_HOSTS) throw problem(at, `host range ${pattern} makes more than ${MAX_RANGE_HOSTS} hosts`);
      return;
    }
    const open = name.indexOf('[');
    const close = name.indexOf(']');
    if (close < open) throw problem(at, `host range in ${pattern} has no closing "]"`);
    const head = name.slice(0, open);
    const tail = name.slice(close + 1);
    for (const item of rangeItems(name.slice(open + 1, close), pattern, at)) expand(head + item + tail);
  };
  expand(pattern);
  return hosts;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** `01:20` → 01 02 … 20 (leading zeros kept), `a:f` → a … f, `1:9:2` → 1 3 5 7 9. */
function rangeItems(range: string, pattern: string, at: string): string[] {
  const fail = (why: string) => problem(at, `host range [${range}] in ${pattern}: ${why}`);
  const bounds = range.split(':');
  if (bounds.length !== 2 && bounds.length !== 3) throw fail('a range is begin:end or begin:end:step');
  const [begin = '', end = '', stepText = '1'] = bounds;
  if (end === '') throw fail('the range has no end');
  const start = begin === '' ? '0' : begin;
  if (!/^[0-9]+$/.test(stepText) || Number(stepText) === 0) throw fail(`the step "${stepText}" is not a positive number`);
  const step = Number(stepText);
  const from = LETTERS.indexOf(start);
  const to = LETTERS.indexOf(end);
  if (start.length === 1 && end.length === 1 && from >= 0 && to >= 0) {
    if (from > to) throw fail('the range must not run backwards');
    return pick(LETTERS.slice(from, to + 1).split(''), step);
  }
  if (!/^[0-9]+$/.test(start) || !/^[0-9]+$/.test(end)) throw fail('a range is two numbers or two letters');
  const width = start.length > 1 && start.startsWith('0') ? start.length : 0;
  if (width && end.length !== width) throw fail('a range with leading zeros needs begin and end of the same length');
  const [first, last] = [Number(start), Number(end)];
  // Ansible makes no hosts of a backward range; that is a typo worth saying
  if (first > last) throw fail('the range must not run backwards');
  if ((last - first) / step >= MAX_RANGE_HOSTS) throw fail(`the range makes more than ${MAX_RANGE_HOSTS} hosts`);
  const items: string[] = [];
  for (let n = first; n <= last; n += step) items.push(String(n).padStart(width, '0'));
  return items;
}

function pick<T>(items: T[], step: number): T[] {
  return items.filter((_, i) => i % step === 0);
}

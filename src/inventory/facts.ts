/**
 * What Slipway reads from an inventory host: where to connect and how, and its datacenter and
 * roles. Each value is checked, since it reaches ssh and the operator's screen; the variables
 * Slipway does not read may hold anything.
 */
import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import type { InventoryHost } from './model.js';
import { VaultEncrypted } from './yaml.js';

export interface HostFacts {
  name: string;
  /** `ansible_host`, else the inventory name. */
  address: string;
  /** `ansible_port`. */
  port?: number;
  /** `ansible_user`. */
  user?: string;
  /** `slipway_datacenter`, else `datacenter`. */
  datacenter?: string;
  /** `slipway_roles`: a list, or a comma-separated string. */
  roles: string[];
  source: string;
}

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
const SHELL_SPECIAL = /[\s;&|<>$`'"\\(){}*?!#~^]/;
const UNIX_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;
const WORD = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

/** A host name (underscores allowed, as inventories use them) or an IP address; the reason when not. */
export function checkAddress(value: string): string | undefined {
  if (value === '') return 'is empty';
  if (CONTROL.test(value)) return 'contains a control character';
  if (value.startsWith('-')) return 'starts with "-"';
  if (SHELL_SPECIAL.test(value)) return 'contains a space, a quote or a shell metacharacter';
  if (value.includes('/')) return 'contains "/"';
  if (isIP(value)) return undefined;
  if (value.length > 253 || !value.split('.').every((label) => LABEL.test(label))) return 'is not a host name or IP address';
  return undefined;
}

/** Facts of one host; a ConfigError listing every bad value otherwise. */
export function hostFacts(h: InventoryHost): HostFacts {
  return allHostFacts([h])[0]!;
}

/** Facts of several hosts, every problem of every host reported at once. */
export function allHostFacts(hosts: readonly InventoryHost[]): HostFacts[] {
  const problems: string[] = [];
  const facts = hosts.map((h) => readFacts(h, problems));
  if (problems.length > 0) throw new ConfigError(problems);
  return facts;
}

function readFacts(h: InventoryHost, problems: string[]): HostFacts {
  const nameProblem = checkAddress(h.name);
  // a hostile name is shown quoted, so that it cannot pass for part of the message
  const who = nameProblem ? JSON.stringify(h.name) : h.name;
  const report = (key: string | undefined, message: string) => problems.push(`${(key && h.varSources[key]) || h.source}: host ${who}: ${message}`);
  if (nameProblem) report(undefined, `the inventory name ${nameProblem}`);

  /** The value of `key` when it is a string passing `check`; reports it otherwise. */
  const text = (key: string, check: (s: string) => string | undefined): string | undefined => {
    const value = h.vars[key];
    if (value === undefined || value === null) return undefined;
    const s = typeof value === 'number' ? String(value) : value;
    if (value instanceof VaultEncrypted) report(key, `${key} is encrypted with ansible-vault, which Slipway cannot read`);
    else if (typeof s !== 'string') report(key, `${key} ${show(value)} is not a string`);
    else if (s.includes('{{') || s.includes('{%')) report(key, `${key} ${show(value)} is a Jinja2 template, which Slipway does not render`);
    else {
      const reason = check(s);
      if (!reason) return s;
      report(key, `${key} ${show(value)} ${reason}`);
    }
    return undefined;
  };

  const address = text('ansible_host', checkAddress);
  const port = text('ansible_port', (s) => (/^[0-9]{1,5}$/.test(s) && Number(s) >= 1 && Number(s) <= 65535 ? undefined : 'is not a port from 1 to 65535'));
  const user = text('ansible_user', (s) => (UNIX_NAME.test(s) ? undefined : 'is not a unix user name'));
  const dcKey = h.vars.slipway_datacenter !== undefined ? 'slipway_datacenter' : 'datacenter';
  const datacenter = text(dcKey, (s) => (WORD.test(s) ? undefined : 'is not a datacenter name (letters, digits, "-" and "_")'));
  const roles = readRoles(h.vars.slipway_roles, (message) => report('slipway_roles', message));
  return {
    name: h.name,
    address: address ?? h.name,
    ...(port !== undefined && { port: Number(port) }),
    ...(user !== undefined && { user }),
    ...(datacenter !== undefined && { datacenter }),
    roles,
    source: h.source,
  };
}

/** `[web, worker]` or `"web,worker"`. */
function readRoles(value: unknown, report: (message: string) => void): string[] {
  if (value === undefined || value === null) return [];
  const list = typeof value === 'string' ? value.split(',').map((r) => r.trim()).filter((r) => r !== '') : value;
  if (!Array.isArray(list)) {
    report(`slipway_roles ${show(value)} is not a list of roles or a comma-separated string`);
    return [];
  }
  const bad = list.filter((r) => typeof r !== 'string' || !WORD.test(r));
  for (const r of bad) report(`slipway_roles: ${show(r)} is not a role name (letters, digits, "-" and "_")`);
  return bad.length > 0 ? [] : (list as string[]);
}

/** A value as JSON, which escapes newlines and control characters; long ones cut short. */
function show(value: unknown): string {
  const json = JSON.stringify(value) ?? String(value);
  return json.length > 80 ? `${json.slice(0, 77)}...` : json;
}

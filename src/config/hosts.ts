/**
 * An env's hosts when they come from an Ansible inventory: read the file (or run the command),
 * take the hosts its pattern names, and give each the roles whose `group` pattern names it.
 * Under sudo the inventory is code-like input to a root process, so it must be root's alone,
 * as an app file is.
 */
import { ConfigError } from '../errors.js';
import type { Inventory } from '../inventory/index.js';
import { checkHostName } from './names.js';
import { LABEL } from './rollout.js';
import type { AppConfig, InventorySpec } from './schema.js';
import type { HostInput } from './resolve.js';
import { requireTrusted } from './trust.js';

export interface EnvHosts {
  hosts: HostInput[];
  /** `the inventory /etc/ansible/hosts, pattern webservers:workers`, for messages. */
  from: string;
}

export function describeSpec(spec: InventorySpec): string {
  return 'inventory' in spec ? `inventory ${spec.inventory}, pattern ${spec.pattern}` : `inventory command ${spec.inventoryCommand.join(' ')}, pattern ${spec.pattern}`;
}

/** undefined when the app file lists the env's hosts itself. */
export async function inventoryHosts(config: AppConfig, env: string, file: string, elevated: boolean): Promise<EnvHosts | undefined> {
  const spec = config.envs[env]?.hosts;
  if (!spec || Array.isArray(spec)) {
    const roles = config.envs[env]?.roles ?? {};
    const grouped = Object.entries(roles).filter(([, r]) => r.group !== undefined).map(([name]) => name);
    if (grouped.length) throw new ConfigError(grouped.map((name) => `${file}: envs.${env}.roles.${name}.group: only hosts from an inventory have groups; give the hosts their roles instead`));
    return undefined;
  }
  const from = describeSpec(spec);
  if (elevated) requireTrusted('inventory' in spec ? spec.inventory : spec.inventoryCommand[0], 'the inventory');
  // loaded only by envs that use an inventory: its YAML parser alone is a fifth of the code every run would parse
  const { hostFacts, loadInventory, selectHosts: selectPattern } = await import('../inventory/index.js');
  const inventory: Inventory = await loadInventory('inventory' in spec ? { file: spec.inventory } : { command: spec.inventoryCommand, timeoutS: spec.timeout });
  const chosen = selectPattern(inventory, spec.pattern);
  const roleMembers = new Map<string, Set<string>>();
  for (const [name, role] of Object.entries(config.envs[env]?.roles ?? {})) {
    if (role.group === undefined) continue;
    try {
      roleMembers.set(name, new Set(selectPattern(inventory, role.group).map((h) => h.name)));
    } catch (err) {
      throw new ConfigError([`${file}: envs.${env}.roles.${name}.group: ${err instanceof ConfigError ? err.problems.join('; ') : String(err)}`]);
    }
  }
  // the variables rollouts group by, besides the datacenter hostFacts reads
  const envConfig = config.envs[env]!;
  const keys = [...new Set([envConfig.rollout?.groupBy, ...Object.values(envConfig.roles ?? {}).map((r) => r.groupBy)])].filter((k): k is string => k !== undefined && k !== 'datacenter');
  const hosts = chosen.map((h): HostInput => {
    const facts = hostFacts(h);
    // the inventory's name for a host is what output, history and --hosts use: a plain name
    const bad = checkHostName(facts.name);
    if (bad) throw new ConfigError([`${facts.source}: host ${JSON.stringify(facts.name)}: ${bad}`]);
    const roles = [...facts.roles];
    for (const [name, members] of roleMembers) if (members.has(h.name) && !roles.includes(name)) roles.push(name);
    const vars: Record<string, string> = {};
    for (const key of keys) {
      const value = h.vars[key];
      if (value === undefined) continue;
      const text = typeof value === 'number' ? String(value) : value;
      if (typeof text !== 'string' || !LABEL.test(text)) throw new ConfigError([`${h.varSources[key] ?? h.source}: host ${h.name}: ${key} ${JSON.stringify(value)} is not a word such as "r12" (it groups the rollout)`]);
      vars[key] = text;
    }
    return {
      name: facts.name,
      address: facts.address,
      ...(facts.port !== undefined ? { port: facts.port } : {}),
      ...(facts.user !== undefined ? { user: facts.user } : {}),
      roles,
      ...(facts.datacenter !== undefined ? { datacenter: facts.datacenter } : {}),
      ...(Object.keys(vars).length ? { vars } : {}),
      source: facts.source,
    };
  });
  return { hosts, from };
}

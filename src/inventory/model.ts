/**
 * Ansible's inventory model, built up while a source is read (InventoryDraft) and then settled
 * the way Ansible settles it (finishInventory): every group under `all`, hosts in no group in
 * `ungrouped`, and each host's variables merged in Ansible's order of precedence.
 */
import { ConfigError } from '../errors.js';

export interface InventoryHost {
  /** The inventory hostname. */
  name: string;
  /** Merged as Ansible merges them: `all` < parent groups < child groups < the host's own. */
  vars: Record<string, unknown>;
  /** Every group the host is in, transitively: `all` first, then in order of precedence. */
  groups: string[];
  /** Where the host first appears: `/etc/ansible/hosts:12`, or `command ./inv.py`. */
  source: string;
  /** Where each of `vars` was set (the setting that won), for messages about a bad value. */
  varSources: Record<string, string>;
}

export interface InventoryGroup {
  /** Hosts named in the group itself (not those of its children). */
  hosts: string[];
  /** Its direct child groups. */
  children: string[];
}

export interface Inventory {
  /** The file, or `command …`, the inventory was read from. */
  source: string;
  /** In inventory order: the order in which hosts first appear. */
  hosts: InventoryHost[];
  groups: Map<string, InventoryGroup>;
}

/** A problem in an inventory source: `file:line: message`. */
export function problem(at: string, message: string): ConfigError {
  return new ConfigError([at ? `${at}: ${message}` : message]);
}

interface Setting {
  value: unknown;
  at: string;
}

interface GroupDraft {
  hosts: string[];
  children: string[];
  parents: string[];
  vars: Map<string, Setting>;
  priority: number;
}

interface HostDraft {
  at: string;
  vars: Map<string, Setting>;
  /** The groups that name it directly. */
  groups: Set<string>;
}

export class InventoryDraft {
  readonly groups = new Map<string, GroupDraft>();
  readonly hosts = new Map<string, HostDraft>();

  constructor() {
    this.addGroup('all', '');
    this.addGroup('ungrouped', '');
    this.addChild('all', 'ungrouped', '');
  }

  addGroup(name: string, at: string): void {
    if (name === '') throw problem(at, 'a group needs a name');
    if (!this.groups.has(name)) this.groups.set(name, { hosts: [], children: [], parents: [], vars: new Map(), priority: 1 });
  }

  /** Ansible reads a `host:port` port only where the host first appears. */
  addHost(name: string, group: string | undefined, at: string, port?: number): void {
    if (name === '') throw problem(at, 'a host needs a name');
    if (!this.hosts.has(name)) {
      const vars = new Map<string, Setting>();
      if (port !== undefined) vars.set('ansible_port', { value: port, at });
      this.hosts.set(name, { at, vars, groups: new Set() });
    }
    if (group === undefined) return;
    const host = this.hosts.get(name)!;
    if (host.groups.has(group)) return;
    this.group(group, at).hosts.push(name);
    host.groups.add(group);
  }

  setHostVar(host: string, key: string, value: unknown, at: string): void {
    const draft = this.hosts.get(host);
    if (!draft) throw problem(at, `no host "${host}"`);
    draft.vars.set(key, { value, at });
  }

  setGroupVar(group: string, key: string, value: unknown, at: string): void {
    const draft = this.group(group, at);
    // Ansible keeps the priority apart: it orders groups and is no variable
    if (key === 'ansible_group_priority') {
      const priority = Number(value);
      if (!Number.isInteger(priority)) throw problem(at, `ansible_group_priority ${JSON.stringify(value)} is not an integer`);
      draft.priority = priority;
    } else {
      draft.vars.set(key, { value, at });
    }
  }

  addChild(parent: string, child: string, at: string): void {
    const p = this.group(parent, at);
    const c = this.group(child, at);
    if (p.children.includes(child)) return;
    if (parent === child || this.ancestors(parent).has(child)) {
      throw problem(at, `group "${child}" cannot be a child of "${parent}": that makes a loop`);
    }
    p.children.push(child);
    c.parents.push(parent);
  }

  private group(name: string, at: string): GroupDraft {
    const draft = this.groups.get(name);
    if (!draft) throw problem(at, `no group "${name}"`);
    return draft;
  }

  /** The group and every group above it. */
  ancestors(name: string, into = new Set<string>()): Set<string> {
    if (into.has(name)) return into;
    into.add(name);
    for (const parent of this.groups.get(name)?.parents ?? []) this.ancestors(parent, into);
    return into;
  }
}

/** Settle a draft the way Ansible's reconcile_inventory does, then merge each host's variables. */
export function finishInventory(draft: InventoryDraft, source: string): Inventory {
  for (const [name, group] of draft.groups) {
    if (name !== 'all' && group.parents.length === 0) draft.addChild('all', name, '');
  }
  placeUngrouped(draft);
  const depths = groupDepths(draft);
  const hosts = [...draft.hosts].map(([name, host]): InventoryHost => {
    const groups = hostGroups(draft, name, depths);
    const settings = new Map<string, Setting>();
    for (const g of groups) for (const [k, s] of draft.groups.get(g)!.vars) settings.set(k, s);
    for (const [k, s] of host.vars) settings.set(k, s);
    const vars: Record<string, unknown> = {};
    const varSources: Record<string, string> = {};
    for (const [k, s] of settings) {
      vars[k] = s.value;
      varSources[k] = s.at || host.at;
    }
    return { name, vars, groups, source: host.at, varSources };
  });
  const groups = new Map([...draft.groups].map(([name, g]) => [name, { hosts: [...g.hosts], children: [...g.children] }]));
  return { source, hosts, groups };
}

function allGroupsOf(draft: InventoryDraft, host: string): Set<string> {
  const groups = new Set(['all']);
  for (const g of draft.hosts.get(host)!.groups) draft.ancestors(g, groups);
  return groups;
}

/** `ungrouped` holds exactly the hosts that are in no other group (a host listed under `all` included). */
function placeUngrouped(draft: InventoryDraft): void {
  const ungrouped = draft.groups.get('ungrouped')!;
  const leaving = new Set<string>();
  for (const [name, host] of draft.hosts) {
    const groups = allGroupsOf(draft, name);
    const elsewhere = [...groups].some((g) => g !== 'all' && g !== 'ungrouped');
    if (elsewhere && host.groups.delete('ungrouped')) leaving.add(name);
    else if (!elsewhere && !groups.has('ungrouped')) draft.addHost(name, 'ungrouped', host.at);
  }
  ungrouped.hosts = ungrouped.hosts.filter((h) => !leaving.has(h));
}

/** A group's depth is its longest path from `all`: deeper groups' variables win. */
function groupDepths(draft: InventoryDraft): Map<string, number> {
  const depths = new Map<string, number>();
  const depth = (name: string): number => {
    const known = depths.get(name);
    if (known !== undefined) return known;
    const parents = draft.groups.get(name)!.parents;
    const d = parents.length === 0 ? 0 : Math.max(...parents.map(depth)) + 1;
    depths.set(name, d);
    return d;
  };
  for (const name of draft.groups.keys()) depth(name);
  return depths;
}

/** `all`, then the host's other groups by depth, priority and name: Ansible's sort_groups, the order their variables apply in. */
function hostGroups(draft: InventoryDraft, host: string, depths: Map<string, number>): string[] {
  const key = (g: string) => [depths.get(g)!, draft.groups.get(g)!.priority] as const;
  const others = [...allGroupsOf(draft, host)].filter((g) => g !== 'all');
  others.sort((a, b) => {
    const [da, pa] = key(a);
    const [db, pb] = key(b);
    return da - db || pa - pb || (a < b ? -1 : a > b ? 1 : 0);
  });
  return ['all', ...others];
}

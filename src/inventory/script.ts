/**
 * A dynamic inventory's `--list` output, read as Ansible's script plugin reads it:
 * `{"_meta": {"hostvars": {h: {…}}}, "web": {"hosts": […], "vars": {…}, "children": […]}, "db": ["h1", "h2"]}`.
 */
import { InventoryDraft, problem } from './model.js';

export interface Listing {
  draft: InventoryDraft;
  /** Every host the groups name, in order. */
  hosts: string[];
  /** `_meta.hostvars`; when absent, Ansible asks the script `--host <name>` for each host. */
  hostvars?: Record<string, unknown>;
}

const isMapping = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function readListing(data: unknown, source: string): Listing {
  if (!isMapping(data)) throw problem(source, 'the output must be a JSON object of groups');
  const draft = new InventoryDraft();
  const hosts = new Set<string>();
  let hostvars: Record<string, unknown> | undefined;
  for (const [group, value] of Object.entries(data)) {
    if (group === '_meta') {
      if (!isMapping(value)) throw problem(source, '"_meta" must be an object');
      if ('hostvars' in value) {
        if (!isMapping(value.hostvars)) throw problem(source, '"_meta.hostvars" must be an object of hosts');
        hostvars = value.hostvars;
      }
      continue;
    }
    for (const host of readGroup(draft, group, value, source)) hosts.add(host);
  }
  return hostvars ? { draft, hosts: [...hosts], hostvars } : { draft, hosts: [...hosts] };
}

/** A group is a list of hosts, an object of hosts, vars and children, or (with none of those keys) one host's vars. */
function readGroup(draft: InventoryDraft, group: string, value: unknown, source: string): string[] {
  draft.addGroup(group, source);
  const data = !isMapping(value) ? { hosts: value } : ['hosts', 'vars', 'children'].some((k) => k in value) ? value : { hosts: [group], vars: value };
  const hosts = data.hosts === undefined ? [] : data.hosts;
  if (!Array.isArray(hosts) || !hosts.every((h) => typeof h === 'string')) throw problem(source, `group ${group}: "hosts" must be a list of host names`);
  for (const host of hosts) draft.addHost(host, group, source);
  if (data.vars !== undefined) {
    if (!isMapping(data.vars)) throw problem(source, `group ${group}: "vars" must be an object`);
    for (const [key, v] of Object.entries(data.vars)) draft.setGroupVar(group, key, v, source);
  }
  if (data.children !== undefined) {
    const children = isMapping(data.children) ? Object.keys(data.children) : data.children;
    if (!Array.isArray(children) || !children.every((c) => typeof c === 'string')) throw problem(source, `group ${group}: "children" must be a list of group names`);
    for (const child of children) {
      draft.addGroup(child, source);
      draft.addChild(group, child, source);
    }
  }
  return hosts;
}

/** One host's variables, from `_meta.hostvars` or `--host <name>`. */
export function setHostVars(draft: InventoryDraft, host: string, vars: unknown, source: string): void {
  if (vars === undefined || vars === null) return;
  if (!isMapping(vars)) throw problem(source, `host ${host}: its variables must be an object`);
  draft.addHost(host, undefined, source);
  for (const [key, value] of Object.entries(vars)) draft.setHostVar(host, key, value, source);
}

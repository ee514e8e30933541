/**
 * The rollout plan: phases × hosts × steps, as a plain value built by pure
 * functions. A deploy executes it; `deploy plan` and `--dry-run` print it.
 * Nothing here touches a host, the store or the clock.
 */
import { type Host, groupOf, primaryRole } from '../config/resolve.js';
import { type Hook, type Roles, type RolloutSettings, type Size, roleRollout } from '../config/rollout.js';
import { UsageError } from '../errors.js';
import { type Cmd, display } from '../exec/cmd.js';

export type Step =
  | { kind: 'hook'; when: 'pre-switch' | 'post-switch'; name: string; cmd: Cmd; once: boolean }
  | { kind: 'switch'; to: string }
  | { kind: 'http'; url: string; status: number; body?: string; timeoutS: number; retries?: number; backoffS?: number }
  | { kind: 'command'; cmd: Cmd; retries?: number; backoffS?: number };

export interface PlannedHost {
  host: Host;
  steps: Step[];
  /** The failure budget this host's failure counts against (see RolloutPlan.budgets). */
  budget: string;
}

/** A failure budget: the hosts it covers (a role, a datacenter, or all) and how many may fail. */
export interface Budget {
  name: string;
  hosts: number;
  failures: number;
}

export interface Phase {
  name: string;
  hosts: PlannedHost[];
  /** Hosts of this phase switching at once. */
  concurrency: number;
  /** Seconds to wait before this phase starts (0 for the first). */
  pauseBefore: number;
}

export interface RolloutPlan {
  /** `r42`: the release to ship. */
  release: string;
  /** Every host of the run: all are staged before any switches. */
  hosts: Host[];
  phases: Phase[];
  /** Hosts that may fail before the rollout stops, in all (the budgets' sum). */
  failureBudget: number;
  /** Each budget; the rollout stops when one is exceeded. One, named "all", without roles or groupBy. */
  budgets: Budget[];
  /** Hosts switching (or reverting) at once. */
  maxSwitching: number;
  autoRevert: boolean;
  retries: number;
  backoffS: number;
  /** Releases each host keeps, pruned only once the rollout succeeded. */
  keepReleases: number;
}

export interface PlanInput {
  release: string;
  hosts: readonly Host[];
  rollout: RolloutSettings;
  /** The env's roles, in the order they switch; each its own phases, hooks and budget. */
  roles?: Roles;
  /** The env's parallel: default for maxSwitching. */
  parallel: number;
  /** The remote base path, for `{path}` in hooks. */
  remotePath: string;
  keepReleases: number;
  autoRevert?: boolean;
}

/** A count, or a share of `total` rounded down; `min` keeps batch sizes from being 0. */
export function sizeOf(size: Size, total: number, min = 1): number {
  const n = typeof size === 'number' ? size : Math.floor((parseFloat(size) * total) / 100 + 1e-9);
  return Math.max(min, n);
}

/** The host subset of a run: `--hosts` and `--exclude-hosts`, checked against the env. */
export function selectHosts(all: readonly Host[], only?: readonly string[], exclude?: readonly string[]): Host[] {
  const names = all.map((h) => h.name);
  const unknown = [...(only ?? []), ...(exclude ?? [])].filter((n) => !names.includes(n));
  if (unknown.length) {
    throw new UsageError(`unknown host${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')} (hosts of this env: ${names.join(', ')})`);
  }
  const chosen = all.filter((h) => (!only?.length || only.includes(h.name)) && !exclude?.includes(h.name));
  if (!chosen.length) throw new UsageError('--hosts/--exclude-hosts leave no host to deploy to');
  return chosen;
}

/** The canary: the first `canary` hosts, or the named ones among these hosts. */
export function canaryOf(hosts: readonly Host[], canary: RolloutSettings['canary']): Host[] {
  return typeof canary === 'number' ? hosts.slice(0, canary) : hosts.filter((h) => canary.includes(h.name));
}

/** Split hosts into phases: the canary first, then batches; the last batch size repeats. */
export function phaseHosts(hosts: readonly Host[], rollout: Pick<RolloutSettings, 'canary' | 'batches'>): { name: string; hosts: Host[] }[] {
  const canary = canaryOf(hosts, rollout.canary);
  const rest = hosts.filter((h) => !canary.includes(h));
  const phases: { name: string; hosts: Host[] }[] = canary.length ? [{ name: 'canary', hosts: canary }] : [];
  for (let at = 0, i = 0; at < rest.length; i++) {
    const size = sizeOf(rollout.batches[Math.min(i, rollout.batches.length - 1)]!, hosts.length);
    phases.push({ name: `batch ${i + 1}`, hosts: rest.slice(at, at + size) });
    at += size;
  }
  return phases;
}

function fill(cmd: readonly string[], vars: Record<string, string>): Cmd {
  const out = cmd.map((word) => word.replace(/\{(host|address|release|path)\}/g, (_, key: string) => vars[key]!));
  return out as unknown as Cmd;
}

function hookSteps(hooks: readonly Hook[], when: 'pre-switch' | 'post-switch', vars: Record<string, string>, first: boolean): Step[] {
  return hooks.flatMap((hook): Step[] => {
    const spec = Array.isArray(hook) ? { run: hook, once: false, name: undefined } : hook;
    if (spec.once && !first) return [];
    const cmd = fill(spec.run, vars);
    return [{ kind: 'hook', when, name: spec.name ?? display(cmd), cmd, once: spec.once }];
  });
}

/** The rollout settings of a host: the env's, with its role's in their place. */
export function settingsFor(host: Host, input: Pick<PlanInput, 'rollout' | 'roles'>): RolloutSettings {
  const role = input.roles ? primaryRole(host, input.roles) : undefined;
  return role ? roleRollout(input.rollout, input.roles![role]) : input.rollout;
}

/** What one host does around its switch. `first`: the host that runs its role's run-once hooks. */
export function hostSteps(host: Host, input: Pick<PlanInput, 'rollout' | 'roles' | 'remotePath'>, release: string, first: boolean): Step[] {
  const vars = { host: host.name, address: host.address, release, path: input.remotePath };
  const { hooks, health } = settingsFor(host, input);
  const checks: Step[] = [];
  // a role's check may retry differently from the env's: each check carries its own policy
  const policy = health ? { retries: health.retries, backoffS: health.backoff } : {};
  if (health?.http) {
    const url = health.http.url.replaceAll('{host}', host.name).replaceAll('{address}', host.address);
    checks.push({ kind: 'http', url, status: health.http.status, body: health.http.body, timeoutS: health.http.timeout, ...policy });
  }
  if (health?.command) checks.push({ kind: 'command', cmd: fill(health.command, vars), ...policy });
  return [...hookSteps(hooks.preSwitch, 'pre-switch', vars, first), { kind: 'switch', to: release }, ...hookSteps(hooks.postSwitch, 'post-switch', vars, first), ...checks];
}

/** Putting one host back on `previous`: the same hooks (never run-once ones) and checks. */
export function revertSteps(host: Host, input: Pick<PlanInput, 'rollout' | 'roles' | 'remotePath'>, previous: string): Step[] {
  return hostSteps(host, input, previous, false);
}

/**
 * The env's hosts in the groups that roll out one after another: each role in the env's
 * order (a host with its first role), or all hosts as one group when the env names none.
 */
export function roleGroups(hosts: readonly Host[], roles: Roles = {}): { role?: string; hosts: Host[] }[] {
  const names = Object.keys(roles);
  if (!names.length) return [{ hosts: [...hosts] }];
  return names.map((role) => ({ role, hosts: hosts.filter((h) => primaryRole(h, roles) === role) })).filter((g) => g.hosts.length);
}

/**
 * One group's phases, and which budget each of its hosts counts against. Grouped by
 * datacenter (or another host variable): the canary count taken in each datacenter (one
 * phase), then each datacenter's other hosts in batches sized against that datacenter, each
 * datacenter with its own budget.
 */
function groupPhases(hosts: readonly Host[], settings: RolloutSettings, prefix: string): { phases: { name: string; hosts: Host[] }[]; budgets: Budget[]; budgetOf: (h: Host) => string } {
  const label = (name: string) => `${prefix}${name}`;
  const key = settings.groupBy;
  if (!key) {
    const budget = prefix.trim() || 'all';
    return {
      phases: phaseHosts(hosts, settings).map((p) => ({ name: label(p.name), hosts: p.hosts })),
      budgets: [{ name: budget, hosts: hosts.length, failures: sizeOf(settings.failureBudget, hosts.length, 0) }],
      budgetOf: () => budget,
    };
  }
  const dcOf = (h: Host) => groupOf(h, key) ?? '-';
  const dcs = [...new Set(hosts.map(dcOf))];
  const inDc = (dc: string) => hosts.filter((h) => dcOf(h) === dc);
  const canaries = dcs.flatMap((dc) => canaryOf(inDc(dc), settings.canary));
  const phases = canaries.length ? [{ name: label('canary'), hosts: canaries }] : [];
  for (const dc of dcs) {
    const rest = inDc(dc).filter((h) => !canaries.includes(h));
    // a share is of the datacenter's hosts, not of the rest after its canary
    const batches = phaseHosts(rest, { canary: 0, batches: settings.batches.map((b) => (typeof b === 'number' ? b : sizeOf(b, inDc(dc).length))) });
    for (const p of batches) phases.push({ name: label(batches.length > 1 ? `${dc} ${p.name}` : dc), hosts: p.hosts });
  }
  return {
    phases,
    budgets: dcs.map((dc) => ({ name: label(dc), hosts: inDc(dc).length, failures: sizeOf(settings.failureBudget, inDc(dc).length, 0) })),
    budgetOf: (h) => label(dcOf(h)),
  };
}

export function buildPlan(input: PlanInput): RolloutPlan {
  const { rollout } = input;
  const total = input.hosts.length;
  const concurrency = sizeOf(rollout.maxSwitching ?? input.parallel, total);
  const phases: Phase[] = [];
  const budgets: Budget[] = [];
  for (const group of roleGroups(input.hosts, input.roles)) {
    const settings = group.role ? roleRollout(rollout, input.roles![group.role]) : rollout;
    const shaped = groupPhases(group.hosts, settings, group.role ? `${group.role} ` : '');
    const groupConcurrency = sizeOf(settings.maxSwitching ?? input.parallel, group.hosts.length);
    budgets.push(...shaped.budgets);
    shaped.phases.forEach((p, i) => {
      phases.push({
        name: p.name,
        concurrency: Math.min(groupConcurrency, p.hosts.length),
        // the first phase of the run starts at once; every other waits the pause of its group
        pauseBefore: phases.length === 0 ? 0 : settings.pause,
        hosts: p.hosts.map((host, j) => ({
          host,
          steps: hostSteps(host, input, input.release, i === 0 && j === 0),
          budget: shaped.budgetOf(host),
        })),
      });
    });
  }
  return {
    release: input.release,
    hosts: [...input.hosts],
    phases,
    failureBudget: budgets.reduce((n, b) => n + b.failures, 0),
    budgets,
    maxSwitching: concurrency,
    autoRevert: input.autoRevert ?? rollout.autoRevert,
    retries: rollout.health?.retries ?? 0,
    backoffS: rollout.health?.backoff ?? 0,
    keepReleases: input.keepReleases,
  };
}

/**
 * The rollout plan: phases × hosts × steps, as a plain value built by pure
 * functions. A deploy executes it; `deploy plan` and `--dry-run` print it.
 * Nothing here touches a host, the store or the clock.
 */
import type { Host } from '../config/resolve.js';
import type { Hook, RolloutSettings, Size } from '../config/rollout.js';
import { UsageError } from '../errors.js';
import { type Cmd, display } from '../exec/cmd.js';

export type Step =
  | { kind: 'hook'; when: 'pre-switch' | 'post-switch'; name: string; cmd: Cmd; once: boolean }
  | { kind: 'switch'; to: string }
  | { kind: 'http'; url: string; status: number; body?: string; timeoutS: number }
  | { kind: 'command'; cmd: Cmd };

export interface PlannedHost {
  host: Host;
  steps: Step[];
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
  /** Hosts that may fail before the rollout stops. */
  failureBudget: number;
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

/** Split hosts into phases: the canary first, then batches; the last batch size repeats. */
export function phaseHosts(hosts: readonly Host[], rollout: Pick<RolloutSettings, 'canary' | 'batches'>): { name: string; hosts: Host[] }[] {
  const canary =
    typeof rollout.canary === 'number'
      ? hosts.slice(0, rollout.canary)
      : hosts.filter((h) => (rollout.canary as string[]).includes(h.name));
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

/** What one host does around its switch. `first`: the host that runs the run-once hooks. */
export function hostSteps(host: Host, input: Pick<PlanInput, 'rollout' | 'remotePath'>, release: string, first: boolean): Step[] {
  const vars = { host: host.name, address: host.address, release, path: input.remotePath };
  const { hooks, health } = input.rollout;
  const checks: Step[] = [];
  if (health?.http) {
    const url = health.http.url.replaceAll('{host}', host.name).replaceAll('{address}', host.address);
    checks.push({ kind: 'http', url, status: health.http.status, body: health.http.body, timeoutS: health.http.timeout });
  }
  if (health?.command) checks.push({ kind: 'command', cmd: fill(health.command, vars) });
  return [...hookSteps(hooks.preSwitch, 'pre-switch', vars, first), { kind: 'switch', to: release }, ...hookSteps(hooks.postSwitch, 'post-switch', vars, first), ...checks];
}

/** Putting one host back on `previous`: the same hooks (never run-once ones) and checks. */
export function revertSteps(host: Host, input: Pick<PlanInput, 'rollout' | 'remotePath'>, previous: string): Step[] {
  return hostSteps(host, input, previous, false);
}

export function buildPlan(input: PlanInput): RolloutPlan {
  const { rollout } = input;
  const total = input.hosts.length;
  const concurrency = sizeOf(rollout.maxSwitching ?? input.parallel, total);
  const phases = phaseHosts(input.hosts, rollout).map((p, i): Phase => ({
    name: p.name,
    concurrency: Math.min(concurrency, p.hosts.length),
    pauseBefore: i === 0 ? 0 : rollout.pause,
    hosts: p.hosts.map((host, j) => ({ host, steps: hostSteps(host, input, input.release, i === 0 && j === 0) })),
  }));
  return {
    release: input.release,
    hosts: [...input.hosts],
    phases,
    failureBudget: sizeOf(rollout.failureBudget, total, 0),
    maxSwitching: concurrency,
    autoRevert: input.autoRevert ?? rollout.autoRevert,
    retries: rollout.health?.retries ?? 0,
    backoffS: rollout.health?.backoff ?? 0,
    keepReleases: input.keepReleases,
  };
}

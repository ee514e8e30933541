/**
 * A rollout's outcome in words and an exit code: what failed, where, what the
 * fleet serves now, and the command to finish or to go back. Pure.
 */
import { DeployFailedError, ExitCode, InterruptedError } from '../../errors.js';
import type { RolloutPlan } from '../plan.js';
import { idOfDir } from '../layout.js';
import type { RolloutResult } from './rollout.js';
import { plural } from '../../report/line.js';

export interface VerdictContext {
  /** `shop-prod`. */
  target: string;
  /** Directory of the release shipped (`r42-…`). */
  dir: string;
}

/** `r4 on web1; r3 on web2, web3` */
export function fleetState(result: RolloutResult): string {
  const by = new Map<string, string[]>();
  for (const run of result.hosts.values()) {
    const id = idOfDir(run.serving) ?? 'nothing';
    by.set(id, [...(by.get(id) ?? []), run.host]);
  }
  return [...by.entries()].map(([id, hosts]) => `${id} on ${hosts.join(', ')}`).join('; ');
}

function nextSteps(result: RolloutResult, ctx: VerdictContext): string[] {
  const id = idOfDir(ctx.dir)!;
  const lines = [`to finish: deploy ${ctx.target} (hosts already on ${id} are left as they are)`];
  const olds = [...new Set([...result.hosts.values()].filter((r) => r.switched && r.before && r.before !== ctx.dir).map((r) => idOfDir(r.before)!))];
  const before = olds.map((old) => {
    const hosts = [...result.hosts.values()].filter((r) => r.switched && idOfDir(r.before) === old).map((r) => r.host);
    return `${hosts.join(', ')} served ${old} before`;
  });
  // the run was not a success, so the store's live release is still the one before it: sync returns to it
  if (before.length) lines.push(`to go back: deploy sync ${ctx.target} (${before.join('; ')}; sync puts every host back on the live release)`);
  return lines;
}

/** Undefined when every host of the run is on the release and healthy; otherwise the error to end the run with. */
export function rolloutVerdict(plan: RolloutPlan, result: RolloutResult, ctx: VerdictContext): DeployFailedError | InterruptedError | undefined {
  const id = idOfDir(ctx.dir)!;
  const runs = [...result.hosts.values()];
  const failed = runs.filter((r) => r.failure);
  const onNew = runs.filter((r) => r.serving === ctx.dir).length;
  const mixed = onNew > 0 && onNew < runs.length;
  if (!failed.length && !result.interrupted && onNew === runs.length) return undefined;

  const lines: string[] = [];
  for (const r of failed) lines.push(`  ${r.host} (${r.failure!.phase}): ${r.failure!.error}`);
  const revertFailed = runs.filter((r) => r.revert === 'failed');
  const reverted = runs.filter((r) => r.revert === 'done').map((r) => `${r.host} → ${idOfDir(r.before)}`);
  const tail = [
    ...(reverted.length ? [`reverted (and health-checked): ${reverted.join(', ')}`] : []),
    ...revertFailed.map((r) => `REVERT FAILED on ${r.host}: ${r.revertError}`),
    `the fleet now serves: ${fleetState(result)}`,
  ];

  if (result.budgetSpent) {
    const spent = result.spentBudget;
    // with roles or datacenters, say whose budget it was
    const budget = spent && plan.budgets.length > 1 ? `${spent.name}'s failure budget of ${spent.failures}` : `the failure budget of ${spent?.failures ?? plan.failureBudget}`;
    const head = `rollout of ${id} stopped in phase ${result.failedPhase}: ${plural(failed.length, 'host')} failed, more than ${budget}:`;
    if (!plan.autoRevert) {
      return new DeployFailedError([head, ...lines, 'not reverted (--no-auto-revert)', ...tail, ...nextSteps(result, ctx)].join('\n'), mixed ? ExitCode.partial : ExitCode.failed);
    }
    const clean = !revertFailed.length && onNew === 0;
    return new DeployFailedError([head, ...lines, ...tail].join('\n'), clean ? ExitCode.reverted : ExitCode.failed);
  }
  if (result.interrupted) {
    const after = result.phasesRun.length ? `after phase ${result.phasesRun.at(-1)}` : 'before any host switched';
    return new InterruptedError(
      [`interrupted ${after}: no further host was switched`, ...lines, ...tail, ...nextSteps(result, ctx)].join('\n'),
    );
  }
  return new DeployFailedError(
    [`${id} is live on ${onNew} of ${runs.length} hosts; failed within ${plan.budgets.length > 1 ? `the failure budgets (${plan.budgets.map((b) => `${b.name}: ${b.failures}`).join(', ')})` : `the failure budget of ${plan.failureBudget}`}:`, ...lines, ...tail].join('\n'),
    ExitCode.partial,
  );
}

/**
 * Execute a rollout plan on hosts where the release is already staged: phase
 * by phase, each host runs its hooks, switches and is health-checked. Failures
 * count against the budget; once it is spent (or Ctrl-C is pressed) no new
 * host switches, and with auto-revert every host switched in this run goes
 * back to the release it served before, health-checked again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AppEnv, Host } from '../../config/resolve.js';
import { errorMessage } from '../../errors.js';
import { type Reporter, step as timed } from '../../report/events.js';
import { runCheck } from './health.js';
import { onEachHost } from '../fanout.js';
import { type Budget, type Phase, type RolloutPlan, type Step, revertSteps } from '../plan.js';
import { describeStep } from '../plan-text.js';
import { activateCmd } from '../remote.js';
import { parseLines } from '../remote-output.js';
import { idOfDir } from '../layout.js';
import type { HostLook } from '../look.js';
import type { HostConnection } from '../../exec/runner.js';
import { lastLines } from '../../report/line.js';

export interface HostRun {
  host: string;
  /** Release directory the host served before this run (undefined: none). */
  before?: string;
  /** Release directory the host serves now, as far as this run knows. */
  serving?: string;
  /** True once `current` was switched to the new release in this run. */
  switched: boolean;
  /** Where and why this host failed. */
  failure?: { phase: string; error: string };
  revert?: 'done' | 'failed' | 'impossible';
  revertError?: string;
}

export interface RolloutResult {
  hosts: Map<string, HostRun>;
  /** Phases that started, by name. */
  phasesRun: string[];
  /** The phase that spent a budget, and which budget, if any. */
  failedPhase?: string;
  spentBudget?: Budget;
  interrupted: boolean;
  budgetSpent: boolean;
  /** Whether the fleet-wide revert ran. */
  reverted: boolean;
}

export interface RolloutContext {
  appEnv: AppEnv;
  /** Directory of the release being shipped (`r42-…`). */
  dir: string;
  sessions: ReadonlyMap<string, HostConnection>;
  /** Per host, its look held open to switch it (look.ts); a host without one gets a fresh command. */
  looks?: ReadonlyMap<string, HostLook>;
  /** What each host served when staging looked (release directory). */
  before: ReadonlyMap<string, string | undefined>;
  reporter: Reporter;
  /** Aborted by Ctrl-C: finish the hosts in progress, start no new one. */
  signal?: AbortSignal;
}

/** Run one host's steps in order; a failing step throws with what failed. */
async function runSteps(host: Host, steps: readonly Step[], dir: string, run: HostRun, plan: RolloutPlan, ctx: RolloutContext): Promise<void> {
  const session = ctx.sessions.get(host.name)!;
  for (const s of steps) {
    if (s.kind === 'hook') {
      await timed(ctx.reporter, host.name, 'hook', describeStep(s), async () => {
        const r = await session.run(s.cmd, { reject: false });
        if (r.exitCode !== 0) {
          const said = lastLines(r.stderr || r.stdout, 2, ' / ');
          throw new Error(`${s.when} hook "${s.name}" exited ${r.exitCode}${said ? `: ${said}` : ''}`);
        }
      }, () => `${s.when} hook "${s.name}" ok`);
    } else if (s.kind === 'switch') {
      await timed(ctx.reporter, host.name, 'switch', `switching to ${s.to}`, async () => {
        const r = await (ctx.looks?.get(host.name)?.switchTo(dir) ?? session.run(activateCmd(ctx.appEnv.remote.path, dir), { reject: false }));
        if (r.exitCode !== 0 || !parseLines(r.stdout).has('switched')) {
          throw new Error(`switch to ${s.to} failed (exit ${r.exitCode}): ${lastLines(r.stderr || r.stdout) || 'no output'}`);
        }
        run.serving = dir;
      }, () => `live on ${s.to}`);
    } else {
      await timed(ctx.reporter, host.name, 'health', describeStep(s), () => runCheck(s, session, { retries: s.retries ?? plan.retries, backoffS: s.backoffS ?? plan.backoffS }), (n) => `healthy${n > 1 ? ` after ${n} attempts` : ''}: ${s.kind === 'http' ? s.url : s.cmd.join(' ')}`);
    }
  }
}

/** Put one host back on what it served before this run, and check it. */
async function revertHost(host: Host, run: HostRun, plan: RolloutPlan, ctx: RolloutContext): Promise<void> {
  if (!run.before || run.before === ctx.dir) {
    run.revert = 'impossible';
    const why = run.before ? `already served ${idOfDir(run.before)} before this run` : 'served no release before this run';
    ctx.reporter.emit({ kind: 'note', level: 'warn', text: `${host.name}: ${why}; left on ${idOfDir(run.serving)}` });
    return;
  }
  const previous = idOfDir(run.before)!;
  try {
    await timed(ctx.reporter, host.name, 'revert', `reverting to ${previous}`, () =>
      runSteps(host, revertSteps(host, { rollout: ctx.appEnv.rollout, roles: ctx.appEnv.roles, remotePath: ctx.appEnv.remote.path }, previous), run.before!, run, plan, ctx), () => `reverted to ${previous}`);
    run.revert = 'done';
  } catch (err) {
    run.revert = 'failed';
    run.revertError = errorMessage(err);
  }
}

const pauseOrAbort = (seconds: number, signal?: AbortSignal) =>
  sleep(seconds * 1000, undefined, { signal }).catch(() => undefined);

export async function runRollout(plan: RolloutPlan, ctx: RolloutContext): Promise<RolloutResult> {
  const result: RolloutResult = { hosts: new Map(), phasesRun: [], interrupted: false, budgetSpent: false, reverted: false };
  for (const h of plan.hosts) result.hosts.set(h.name, { host: h.name, before: ctx.before.get(h.name), serving: ctx.before.get(h.name), switched: false });
  const failures = new Map<string, number>();
  const stopping = () => result.budgetSpent || Boolean(ctx.signal?.aborted);

  for (const [i, phase] of plan.phases.entries()) {
    if (phase.pauseBefore && !stopping()) {
      ctx.reporter.emit({ kind: 'note', level: 'info', text: `pausing ${phase.pauseBefore}s before phase ${i + 1}/${plan.phases.length} (${phase.name})` });
      await pauseOrAbort(phase.pauseBefore, ctx.signal);
    }
    if (stopping()) break;
    result.phasesRun.push(phase.name);
    ctx.reporter.emit({ kind: 'note', level: 'info', text: `phase ${i + 1}/${plan.phases.length} ${phase.name}: ${phase.hosts.map((h) => h.host.name).join(', ')}` });
    const failedHere = await runPhase(phase, plan, ctx, result, (budget) => {
      const n = (failures.get(budget) ?? 0) + 1;
      failures.set(budget, n);
      const limit = plan.budgets.find((b) => b.name === budget);
      if (!result.budgetSpent && n > (limit?.failures ?? 0)) {
        result.budgetSpent = true;
        if (limit) result.spentBudget = limit;
      }
    }, stopping);
    if (result.budgetSpent) {
      result.failedPhase = phase.name;
      break;
    }
    // within the budget: the failed hosts alone go back, and the rollout goes on
    if (plan.autoRevert) {
      await onEachHost(failedHere.filter((h) => result.hosts.get(h.name)!.switched), plan.maxSwitching, (h) => revertHost(h, result.hosts.get(h.name)!, plan, ctx));
    }
  }
  if (ctx.signal?.aborted) result.interrupted = true;

  if (result.budgetSpent && plan.autoRevert) {
    const switched = plan.hosts.filter((h) => result.hosts.get(h.name)!.switched && result.hosts.get(h.name)!.revert === undefined);
    if (switched.length) {
      ctx.reporter.emit({ kind: 'note', level: 'warn', text: `reverting ${switched.map((h) => h.name).join(', ')} to the release each served before` });
      await onEachHost(switched, plan.maxSwitching, (h) => revertHost(h, result.hosts.get(h.name)!, plan, ctx));
    }
    result.reverted = true;
  }
  return result;
}

/** One phase: its hosts, at most `concurrency` at once; returns the hosts that failed. */
async function runPhase(phase: Phase, plan: RolloutPlan, ctx: RolloutContext, result: RolloutResult, countFailure: (budget: string) => void, stopping: () => boolean): Promise<Host[]> {
  const failed: Host[] = [];
  await onEachHost(phase.hosts.map((p) => ({ name: p.host.name, ...p })), phase.concurrency, async ({ host, steps, budget }) => {
    // a host that has not started when the rollout stops keeps what it serves
    if (stopping()) return;
    const run = result.hosts.get(host.name)!;
    if (run.before === ctx.dir) {
      // already serving this very release: no switch, no hooks, nothing to check or revert
      ctx.reporter.emit({ kind: 'step', host: host.name, step: 'switch', state: 'skip', text: `already live on ${idOfDir(ctx.dir)}` });
      return;
    }
    try {
      await runSteps(host, steps, ctx.dir, run, plan, ctx);
    } catch (err) {
      run.failure = { phase: phase.name, error: errorMessage(err).replace(new RegExp(`^${host.name}: `), '') };
      failed.push(host);
      countFailure(budget);
    } finally {
      run.switched = run.serving === ctx.dir && run.before !== ctx.dir;
    }
  });
  return failed;
}

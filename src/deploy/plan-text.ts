/** The rollout plan as text, for `deploy plan` and `--dry-run`. Pure: lines in, lines out. */
import { display } from '../exec/cmd.js';
import type { RolloutPlan, Step } from './plan.js';
import { formatBytes, plural } from '../report/line.js';
import { alignColumns } from '../report/table.js';

export interface PlanContext {
  /** `shop-prod`. */
  target: string;
  /** The release to ship; `created` when a deploy would make it (it does not exist yet). */
  release: { id: string; commit?: string; source?: string; subject?: string; created: boolean };
  /** What the commits are counted from: the newest release in the store. */
  base?: { id: string; source?: string };
  /** Source commits the release adds over `base`; undefined when they cannot be listed. */
  commits?: { sha: string; subject: string }[];
  /** What each host serves now (release id or 'none'), or why it could not be read. */
  live: ReadonlyMap<string, { id?: string; error?: string }>;
  parallel: number;
  /** With relays: each relay, its datacenter and the hosts that pull from it; and the slowest rate a pull from one may have. */
  relays?: { relays: PlannedRelay[]; minRate: number };
}

export interface PlannedRelay {
  name: string;
  datacenter: string;
  serves: string[];
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'hook':
      return `${step.when} hook${step.once ? ' (once per deploy)' : ''}: ${display(step.cmd)}`;
    case 'switch':
      return `switch current → ${step.to}`;
    case 'http':
      return `health: GET ${step.url} expects ${step.status}${step.body === undefined ? '' : ` with ${JSON.stringify(step.body)}`} (timeout ${step.timeoutS}s)`;
    case 'command':
      return `health: ${display(step.cmd)} exits 0`;
  }
}


export function formatPlan(plan: RolloutPlan, ctx: PlanContext): string[] {
  const r = ctx.release;
  const lines: string[] = [];
  const what = r.created ? `a new release ${r.id} (a deploy would create it)` : `${r.id}${r.commit ? ` (${r.commit.slice(0, 12)})` : ''}, already in the store`;
  lines.push(`plan for ${ctx.target}: ship ${what}`);
  if (r.source) lines.push(`  source ${r.source.slice(0, 12)}${r.subject ? ` "${r.subject}"` : ''}`);
  if (ctx.commits === undefined) lines.push(`  commits added: unknown`);
  else if (!ctx.commits.length) lines.push(`  commits added over ${ctx.base?.id ?? 'nothing'}: none`);
  else {
    lines.push(`  commits added over ${ctx.base?.id ?? 'nothing'}: ${ctx.commits.length}`);
    for (const c of ctx.commits.slice(0, 50)) lines.push(`    ${c.sha.slice(0, 12)} ${c.subject}`);
    if (ctx.commits.length > 50) lines.push(`    … and ${ctx.commits.length - 50} more`);
  }
  lines.push(`stage ${plan.release} on all ${plural(plan.hosts.length, 'host')} first (up to ${Math.min(ctx.parallel, plan.hosts.length)} at once): ${plan.hosts.map((h) => h.name).join(', ')}`);
  if (ctx.relays?.relays.length) {
    const { relays, minRate } = ctx.relays;
    lines.push(`  through ${plural(relays.length, 'relay')}, which pull it from here and serve their datacenter (a host whose relay fails or serves it under ${formatBytes(minRate)}/s tries another of its datacenter, then pulls from here):`);
    lines.push(...alignColumns(relays.map((r) => [`    ${r.name}`, `(${r.datacenter})`, `serves ${r.serves.join(', ')}`]), ' '));
  }
  // host names padded to the longest, so what each host serves lines up across the phases
  const planned = plan.phases.flatMap((phase) => phase.hosts.map(({ host }) => host.name));
  const aligned = alignColumns(planned.map((name) => {
    const live = ctx.live.get(name);
    return [`  ${name}`, `(${live?.error ? `unreachable: ${live.error}` : live?.id ? `serves ${live.id}` : 'not read'})`];
  }), ' ');
  const heads = new Map(planned.map((name, i) => [name, aligned[i]!]));
  plan.phases.forEach((phase, i) => {
    if (phase.pauseBefore) lines.push(`pause ${phase.pauseBefore}s`);
    lines.push(`phase ${i + 1}/${plan.phases.length} ${phase.name}: ${phase.hosts.map((h) => h.host.name).join(', ')} (at most ${phase.concurrency} switching at once)`);
    for (const { host, steps } of phase.hosts) {
      const live = ctx.live.get(host.name);
      lines.push(heads.get(host.name)!);
      // a deploy neither switches nor checks a host that already serves the release
      if (live?.id === plan.release) lines.push(`    nothing to do: already serves ${plan.release}`);
      else for (const step of steps) lines.push(`    ${describeStep(step)}`);
    }
  });
  const checked = plan.phases.some((phase) => phase.hosts.some((h) => h.steps.some((step) => step.kind === 'http' || step.kind === 'command')));
  const health = checked ? `health checks retry ${plural(plan.retries, 'time')} (back-off from ${plan.backoffS}s)` : 'no health checks';
  const budgets = plan.budgets.length > 1 ? plan.budgets.map((b) => `${b.name} ${b.failures} of ${b.hosts}`).join(', ') : `${plural(plan.failureBudget, 'host')} of ${plan.hosts.length}`;
  lines.push(`failure budget${plan.budgets.length > 1 ? 's' : ''}: ${budgets}; ${health}`);
  lines.push(
    plan.autoRevert
      ? 'on failure: stop switching and put every host switched in this run back on the release it served before'
      : 'on failure: stop switching and leave the fleet as it is (--no-auto-revert)',
  );
  lines.push(`after success: keep the newest ${plan.keepReleases} releases on each host`);
  return lines;
}

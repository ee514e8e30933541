/** `deploy rollback`: make an earlier release live again. */
import { rollback } from '../flows/rollback.js';
import type { GlobalOptions } from './context.js';
import { type FleetRunOptions, runOnFleet } from './fleet-run.js';

export interface RollbackCliOptions extends FleetRunOptions {
  to?: string;
  force?: boolean;
}

export function rollbackCommand(target: string, options: RollbackCliOptions, globals: GlobalOptions): Promise<void> {
  return runOnFleet(target, options, globals, {
    action: 'rollback',
    work: (appEnv, reporter, flow) => rollback(appEnv, { ...flow, to: options.to, force: options.force }, reporter),
    done: ({ plan, hosts }, name, took) =>
      `${name}: rolled back ${plan.from.id} → ${plan.to.id} (${plan.to.commit.slice(0, 12)}), live on ${hosts.length}/${hosts.length} hosts in ${took}`,
  });
}

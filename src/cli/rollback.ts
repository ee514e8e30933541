/** The commands that change what hosts serve without making a release: rollback and sync. */
import { rollback } from '../flows/rollback.js';
import { sync } from '../flows/sync.js';
import type { GlobalOptions } from './context.js';
import { type FleetRunOptions, runOnFleet } from './fleet-run.js';

export interface RollbackCliOptions extends FleetRunOptions {
  to?: string;
  force?: boolean;
}

export function rollbackCommand(target: string, options: RollbackCliOptions, globals: GlobalOptions): Promise<void> {
  return runOnFleet(target, options, globals, {
    action: 'rollback',
    verb: 'rolling back',
    work: (appEnv, reporter) => rollback(appEnv, { to: options.to, force: options.force }, reporter),
    done: ({ plan, hosts }, name, took) =>
      `${name}: rolled back ${plan.from.id} → ${plan.to.id} (${plan.to.commit.slice(0, 12)}), live on ${hosts.length}/${hosts.length} hosts in ${took}`,
  });
}

export function syncCommand(target: string, options: FleetRunOptions, globals: GlobalOptions): Promise<void> {
  return runOnFleet(target, options, globals, {
    action: 'sync',
    verb: 'syncing',
    work: (appEnv, reporter) => sync(appEnv, reporter),
    done: ({ live, hosts }, name, took) => {
      const count = (state: string) => hosts.filter((h) => h.state === state).length;
      return `${name}: ${live.id} live on ${hosts.length}/${hosts.length} hosts (${count('in-sync')} already intact, ${count('repaired')} repaired, ${count('switched')} switched) in ${took}`;
    },
  });
}

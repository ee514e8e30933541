/** `deploy sync`: bring every host to the live release without making a new one. */
import { sync } from '../flows/sync.js';
import type { GlobalOptions } from './context.js';
import { type FleetRunOptions, runOnFleet } from './fleet-run.js';

export function syncCommand(target: string, options: FleetRunOptions, globals: GlobalOptions): Promise<void> {
  return runOnFleet(target, options, globals, {
    action: 'sync',
    work: (appEnv, reporter, flow) => sync(appEnv, flow, reporter),
    done: ({ live, hosts }, name, took) => {
      const count = (state: string) => hosts.filter((h) => h.state === state).length;
      return `${name}: ${live.id} live on ${hosts.length}/${hosts.length} hosts (${count('in-sync')} already intact, ${count('repaired')} repaired, ${count('switched')} switched) in ${took}`;
    },
  });
}

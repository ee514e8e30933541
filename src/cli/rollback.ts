/** The commands that change what hosts serve without making a release: rollback and sync. */
import { loadTarget } from '../config/load.js';
import { rollback } from '../rollback.js';
import { formatDuration } from '../report/line.js';
import { sync } from '../sync.js';
import { type GlobalOptions, locations, makeReporter } from './context.js';
import { guarded, parseWait, verifyAllowed } from './guard.js';

export interface RollbackCliOptions {
  to?: string;
  force?: boolean;
  parallel?: number;
  /** How long to wait for another run's lock: 30s, 5m, 1h. */
  wait?: string;
}

export async function rollbackCommand(target: string, options: RollbackCliOptions, globals: GlobalOptions): Promise<void> {
  const waitMs = parseWait(options.wait);
  const appEnv = await loadTarget(target, locations(globals));
  if (options.parallel) appEnv.parallel = options.parallel;
  await verifyAllowed(appEnv);
  const reporter = makeReporter();
  const started = performance.now();
  reporter.begin(`rolling back ${appEnv.app}-${appEnv.env} on ${appEnv.hosts.length} host(s)`, appEnv.hosts.map((h) => h.name));
  try {
    const { plan, hosts } = await guarded(appEnv, { waitMs, reporter }, () => rollback(appEnv, { to: options.to, force: options.force }, reporter));
    reporter.emit({
      kind: 'note',
      level: 'info',
      text: `${appEnv.app}-${appEnv.env}: rolled back ${plan.from.id} → ${plan.to.id} (${plan.to.commit.slice(0, 12)}), live on ${hosts.length}/${hosts.length} hosts in ${formatDuration(performance.now() - started)}`,
    });
  } finally {
    await reporter.close();
  }
}

export async function syncCommand(target: string, options: { parallel?: number; wait?: string }, globals: GlobalOptions): Promise<void> {
  const waitMs = parseWait(options.wait);
  const appEnv = await loadTarget(target, locations(globals));
  if (options.parallel) appEnv.parallel = options.parallel;
  await verifyAllowed(appEnv);
  const reporter = makeReporter();
  const started = performance.now();
  reporter.begin(`syncing ${appEnv.app}-${appEnv.env} on ${appEnv.hosts.length} host(s)`, appEnv.hosts.map((h) => h.name));
  try {
    const { live, hosts } = await guarded(appEnv, { waitMs, reporter }, () => sync(appEnv, reporter));
    const count = (state: string) => hosts.filter((h) => h.state === state).length;
    reporter.emit({
      kind: 'note',
      level: 'info',
      text: `${appEnv.app}-${appEnv.env}: ${live.id} live on ${hosts.length}/${hosts.length} hosts (${count('in-sync')} already intact, ${count('repaired')} repaired, ${count('switched')} switched) in ${formatDuration(performance.now() - started)}`,
    });
  } finally {
    await reporter.close();
  }
}

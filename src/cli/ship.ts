import { loadTarget } from '../config/load.js';
import { deploy } from '../pipeline.js';
import type { Reporter } from '../report/events.js';
import { formatDuration } from '../report/line.js';
import { type GlobalOptions, locations, makeReporter } from './context.js';
import { type RunSelection, applySelection, checkRevision } from './selection.js';

export interface ShipOptions extends RunSelection {
  revision?: string;
  force?: boolean;
  parallel?: number;
  dryRun?: boolean;
}

/**
 * The first Ctrl-C stops the rollout from switching more hosts (those in
 * progress finish, so none is left half-done); a second one exits at once.
 */
function interruptible(reporter: Reporter): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
    reporter.emit({ kind: 'note', level: 'warn', text: 'interrupted: no new host will switch; hosts in progress finish (Ctrl-C again to exit at once)' });
  };
  process.on('SIGINT', onSigint);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onSigint) };
}

export async function shipCommand(target: string, options: ShipOptions, globals: GlobalOptions): Promise<void> {
  checkRevision(options.revision);
  if (options.dryRun) {
    const { planCommand } = await import('./plan.js');
    return planCommand(target, options, globals);
  }
  const appEnv = applySelection(await loadTarget(target, locations(globals)), options);
  if (options.parallel) appEnv.parallel = options.parallel;
  const reporter = makeReporter();
  const started = performance.now();
  reporter.begin(`deploying ${appEnv.app}-${appEnv.env} to ${appEnv.hosts.length} host(s)`, appEnv.hosts.map((h) => h.name));
  const interrupt = interruptible(reporter);
  try {
    const result = await deploy(appEnv, { revision: options.revision, force: options.force }, reporter, interrupt.signal);
    reporter.emit({
      kind: 'note',
      level: 'info',
      text: `${appEnv.app}-${appEnv.env}: ${result.release.id} (${result.release.commit.slice(0, 12)}) live on ${result.hosts.length}/${result.hosts.length} hosts in ${formatDuration(performance.now() - started)}`,
    });
  } finally {
    interrupt.dispose();
    await reporter.close();
  }
}

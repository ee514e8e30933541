import { checkRefName } from '../config/names.js';
import { loadTarget } from '../config/load.js';
import { UsageError } from '../errors.js';
import { deploy } from '../pipeline.js';
import { formatDuration } from '../report/line.js';
import { type GlobalOptions, locations, makeReporter } from './context.js';

export interface ShipOptions {
  revision?: string;
  force?: boolean;
  parallel?: number;
}

export async function shipCommand(target: string, options: ShipOptions, globals: GlobalOptions): Promise<void> {
  if (options.revision !== undefined) {
    const bad = checkRefName(options.revision);
    if (bad) throw new UsageError(`--revision ${JSON.stringify(options.revision)}: ${bad}`);
  }
  const appEnv = await loadTarget(target, locations(globals));
  if (options.parallel) appEnv.parallel = options.parallel;
  const reporter = await makeReporter();
  const started = performance.now();
  reporter.begin(`deploying ${appEnv.app}-${appEnv.env} to ${appEnv.hosts.length} host(s)`, appEnv.hosts.map((h) => h.name));
  try {
    const result = await deploy(appEnv, { revision: options.revision, force: options.force }, reporter);
    reporter.emit({
      kind: 'note',
      level: 'info',
      text: `${appEnv.app}-${appEnv.env}: ${result.release.id} (${result.release.commit.slice(0, 12)}) live on ${result.hosts.length}/${result.hosts.length} hosts in ${formatDuration(performance.now() - started)}`,
    });
  } finally {
    await reporter.close();
  }
}

/** `deploy <app>-<env>` (the command `ship`): update, release and ship; with --dry-run, the plan instead. */
import { UsageError } from '../errors.js';
import { deploy } from '../flows/deploy.js';
import { buildFromEnv, checkBuildText } from './ci.js';
import type { GlobalOptions } from './context.js';
import { type FleetRunOptions, runOnFleet } from './fleet-run.js';
import { type RunSelection, applySelection, checkRevision } from './selection.js';

export interface DeployCliOptions extends RunSelection, FleetRunOptions {
  revision?: string;
  force?: boolean;
  dryRun?: boolean;
  allowOffBranch?: boolean;
  build?: string;
}

export async function deployCommand(target: string, options: DeployCliOptions, globals: GlobalOptions): Promise<void> {
  if (options.dryRun) {
    checkRevision(options.revision);
    const { planCommand } = await import('./plan.js');
    return planCommand(target, options, globals);
  }
  const build = options.build ?? buildFromEnv();
  await runOnFleet(target, options, globals, {
    action: 'deploy',
    verify: () => {
      checkRevision(options.revision);
      const bad = options.build === undefined ? undefined : checkBuildText(options.build);
      if (bad) throw new UsageError(`--build: ${bad}`);
    },
    select: (appEnv) => applySelection(appEnv, options),
    work: (appEnv, reporter, flow) =>
      deploy(appEnv, { ...flow, revision: options.revision, force: options.force, allowOffBranch: options.allowOffBranch, build }, reporter),
    done: (r, name, took) => `${name}: ${r.release.id} (${r.release.commit.slice(0, 12)}) live on ${r.hosts.length}/${r.hosts.length} hosts in ${took}`,
  });
}

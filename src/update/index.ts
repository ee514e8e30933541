/** update: bring the source checkout to the wanted revision and run the admin tasks. */
import type { AppEnv } from '../config/resolve.js';
import { ADMIN, type Reporter, step } from '../report/events.js';
import { type SourceState, updateCheckout, withoutPassword } from './checkout.js';
import { readPrivateVars, resolveTaskUsers, runTasks } from './tasks.js';
import { plural } from '../report/line.js';

export type { SourceState } from './checkout.js';

export interface UpdateOptions {
  revision?: string;
  force?: boolean;
  allowOffBranch?: boolean;
}

/** `beforeTasks`: runs once the checkout is at the revision, before the first admin task; it may stop the run. */
export async function updateSource(appEnv: AppEnv, options: UpdateOptions, reporter: Reporter, beforeTasks?: () => Promise<void>): Promise<SourceState> {
  // their values were registered as secrets by the run (src/secrets.ts)
  const vars = await readPrivateVars(appEnv);
  // before the checkout moves: an unknown task user is a config error that changes nothing
  const users = await resolveTaskUsers(appEnv);
  const source = await step(
    reporter,
    ADMIN,
    'update',
    `updating ${appEnv.paths.src}`,
    () =>
      updateCheckout({
        dir: appEnv.paths.src,
        repo: appEnv.repo,
        branch: appEnv.branch,
        revision: options.revision,
        submodules: appEnv.submodules,
        gitConfig: appEnv.gitConfig,
        force: options.force ?? false,
        allowOffBranch: options.allowOffBranch ?? false,
      }),
    (s) =>
      `source at ${s.sha.slice(0, 12)}${s.branch ? ` (${s.branch})` : ''} "${s.subject}"${s.submodules.length ? `, ${plural(s.submodules.length, 'submodule')}` : ''}` +
      (s.originWas ? `; the checkout now fetches from ${withoutPassword(appEnv.repo)} (was ${withoutPassword(s.originWas)})` : ''),
  );
  await beforeTasks?.();
  await runTasks(appEnv, source.sha, vars, reporter, users);
  return source;
}

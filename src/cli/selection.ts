/** Options shared by `deploy` and `deploy plan`: which hosts, and whether to revert on failure. */
import { checkRefName } from '../config/names.js';
import type { AppEnv } from '../config/resolve.js';
import { selectHosts } from '../deploy/plan.js';
import { UsageError } from '../errors.js';

export interface RunSelection {
  hosts?: string[];
  excludeHosts?: string[];
  /** commander's `--no-auto-revert` sets this to false. */
  autoRevert?: boolean;
}

export function checkRevision(revision: string | undefined): void {
  if (revision === undefined) return;
  const bad = checkRefName(revision);
  if (bad) throw new UsageError(`--revision ${JSON.stringify(revision)}: ${bad}`);
}

/** Narrow the env to the chosen hosts and apply --no-auto-revert. */
export function applySelection(appEnv: AppEnv, options: RunSelection): AppEnv {
  const hosts = selectHosts(appEnv.hosts, options.hosts, options.excludeHosts);
  const rollout = options.autoRevert === false ? { ...appEnv.rollout, autoRevert: false } : appEnv.rollout;
  return { ...appEnv, hosts, rollout };
}

/**
 * Rollback: make an earlier release live again, under the app-env's lock (guard.ts).
 * No rebuild, no admin tasks:
 *   choose target → check migrations → ship → record  (hosts connected and looked at meanwhile)
 * The ship is the deploy's own fan-out, so hosts that still hold the target
 * only switch, and hosts that pruned it pull its exact tree from the store.
 */
import type { AppEnv } from '../config/resolve.js';
import { interruption } from '../interrupt.js';
import { type HostReport, shipRelease, verifyAllSwitched } from '../deploy/ship.js';
import { preconnect } from '../deploy/connect/preconnect.js';
import { releaseDir } from '../deploy/layout.js';
import { UsageError } from '../errors.js';
import {
  changedFiles,
  exportStep,
  isWorthRecording,
  previousRelease,
  type Release,
  recordRun,
  releasesTouching,
  resolveRelease,
  type StoreView,
  viewStore,
} from '../release-store/index.js';
import type { Reporter } from '../report/events.js';
import { plural } from '../report/line.js';
import { type FlowOptions, guarded } from './guard.js';

export interface RollbackOptions extends FlowOptions {
  /** r42, a commit or a tag; default: the release live before the current one */
  to?: string;
  /** roll back across migration changes */
  force?: boolean;
}

export interface RollbackPlan {
  from: Release;
  to: Release;
  /** migration files that differ between the two releases */
  migrations: string[];
}

/** Decide what a rollback would do; throws UsageError (nothing changed) when it must not. */
export async function planRollback(appEnv: AppEnv, view: StoreView, options: RollbackOptions): Promise<RollbackPlan> {
  const www = appEnv.paths.www;
  const from = view.live;
  if (!from) throw new UsageError(`${appEnv.app}-${appEnv.env} has no release yet: nothing to roll back`);
  const to = options.to !== undefined ? await resolveRelease(www, options.to) : previousRelease(view.releases, view.state);
  if (!to) throw new UsageError(`${from.id} is the only release of ${appEnv.app}-${appEnv.env}: there is nothing earlier to roll back to`);
  if (to.id === from.id) throw new UsageError(`${to.id} is already the live release; to bring hosts that differ back to it, run deploy sync ${appEnv.app}-${appEnv.env}`);
  const changes = appEnv.migrations.length ? await changedFiles(www, from, to, appEnv.migrations) : [];
  const plan = { from, to, migrations: changes.map((c) => c.path) };
  if (plan.migrations.length && !options.force) {
    const touching = await releasesTouching(www, view.releases, from, to, appEnv.migrations);
    throw new UsageError(
      `refusing to roll back ${from.id} → ${to.id}: migrations changed in between` +
        `${touching.length ? ` (in ${touching.map((r) => r.id).join(', ')})` : ''}:\n` +
        plan.migrations.slice(0, 20).map((p) => `  ${p}`).join('\n') +
        `${plan.migrations.length > 20 ? `\n  … and ${plan.migrations.length - 20} more` : ''}\n` +
        `the database may no longer match ${to.id}'s code. Undo those migrations first (or check they are backwards compatible), then run again with --force`,
    );
  }
  return plan;
}

export interface RollbackResult {
  plan: RollbackPlan;
  hosts: HostReport[];
}

export function rollback(appEnv: AppEnv, options: RollbackOptions, reporter: Reporter): Promise<RollbackResult> {
  return guarded(appEnv, reporter, options.waitMs ?? 0, { verb: 'rolling back' }, (releases) => rollbackLocked(appEnv, options, reporter, releases));
}

async function rollbackLocked(appEnv: AppEnv, options: RollbackOptions, reporter: Reporter, releases: Release[]): Promise<RollbackResult> {
  // hosts are connected to while the rollback is planned; whatever happens, they are closed. A
  // rollback switches to a kept release as it is: each look checks that one against its manifest
  const planned = viewStore(appEnv.paths.www, releases).then(async (view) => ({ view, plan: await planRollback(appEnv, view, options) }));
  const preconnected = preconnect(appEnv, reporter, { connect: options.connect, verify: planned.then(({ plan }) => releaseDir(plan.to)) });
  try {
    const { view, plan } = await planned;
    if (plan.migrations.length) {
      reporter.emit({ kind: 'note', level: 'warn', text: `--force: rolling back across ${plural(plan.migrations.length, 'changed migration file')}: ${plan.migrations.slice(0, 5).join(', ')}` });
    }
    reporter.emit({ kind: 'release', id: plan.to.id, commit: plan.to.commit, created: false });
    let hosts: HostReport[] = [];
    try {
      // checked out only if some host no longer has the release
      const shipped = await shipRelease(appEnv, plan.to, reporter, { tree: () => exportStep(appEnv, plan.to, reporter), signal: interruption, connect: options.connect, preconnected, releases: view.releases });
      hosts = shipped.hosts;
      if (shipped.failure) throw shipped.failure;
      verifyAllSwitched(plan.to, hosts);
      await recordRun(appEnv.paths.www, { kind: 'rollback', fleet: appEnv.hosts, from: plan.from.id, to: plan.to, hosts, tip: view.tip }, reporter);
      return { plan, hosts };
    } catch (err) {
      if (isWorthRecording(err)) await recordRun(appEnv.paths.www, { kind: 'rollback', fleet: appEnv.hosts, from: plan.from.id, to: plan.to, hosts, error: err, tip: view.tip }, reporter);
      throw err;
    }
  } finally {
    preconnected.close();
  }
}

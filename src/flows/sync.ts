/**
 * Sync: bring every host to the store's live release without making a new one,
 * under the app-env's lock (guard.ts):
 *   export live → inspect each host → repair hand-changed hosts → ship to the rest → record
 * Hosts already intact are left alone; hosts on another release (or none, such
 * as a host just added to the env) get the live release through the deploy's
 * own fan-out; hosts whose live tree was edited get a fresh copy, swapped in
 * without ever editing the served tree.
 */
import type { AppEnv } from '../config/resolve.js';
import { forgetEditedOn, type HostTree, inspectOn, repairOn, type Verdict, withEachHost } from '../deploy/drift.js';
import { defaultPlan, shipRelease } from '../deploy/ship.js';
import { interruption } from '../interrupt.js';
import { DeployFailedError, ExitCode, UsageError } from '../errors.js';
import { exportStep, isWorthRecording, type Release, recordRun, viewStore } from '../release-store/index.js';
import type { HostOutcome } from '../release-store/history.js';
import type { Reporter } from '../report/events.js';
import { type FlowOptions, guarded } from './guard.js';

export interface SyncResult {
  live: Release;
  hosts: HostOutcome[];
}

/** What sync does to a host, by what its inspection found; `deploy status` names the same hosts. */
export interface Needs {
  /** Its live tree was changed by hand: a fresh copy is swapped in. */
  repair: boolean;
  /** It serves another release, or none: it is shipped the live one. */
  ship: boolean;
  /** It keeps releases edited by hand (through inodes they share with the live one): they go, so a rollback restages them. */
  forget: boolean;
}

export function needsOf(tree: HostTree): Needs {
  return { repair: tree.verdict === 'modified', ship: tree.verdict === 'other-release' || tree.verdict === 'no-release', forget: tree.kept.some((k) => k.differ) };
}

export function sync(appEnv: AppEnv, options: FlowOptions, reporter: Reporter): Promise<SyncResult> {
  return guarded(appEnv, reporter, options.waitMs ?? 0, { verb: 'syncing' }, (releases) => syncLocked(appEnv, options, reporter, releases));
}

async function syncLocked(appEnv: AppEnv, options: FlowOptions, reporter: Reporter, releases: Release[]): Promise<SyncResult> {
  const { live, tip } = await viewStore(appEnv.paths.www, releases);
  if (!live) throw new UsageError(`${appEnv.app}-${appEnv.env} has no release yet: deploy it first`);
  reporter.emit({ kind: 'release', id: live.id, commit: live.commit, created: false });
  const outcomes = new Map<string, HostOutcome>(appEnv.hosts.map((h) => [h.name, { host: h.name, state: 'failed' }]));
  try {
    const exportDir = await exportStep(appEnv, live, reporter);
    const checked = await withEachHost(appEnv, appEnv.hosts, exportDir, reporter, async (session, server): Promise<Verdict | 'repaired'> => {
      const tree = await inspectOn(session, appEnv, live, server, reporter);
      const needs = needsOf(tree);
      const forgot = needs.forget ? (await forgetEditedOn(session, appEnv, reporter)).length > 0 : false;
      if (!needs.repair) return forgot && tree.verdict === 'in-sync' ? 'repaired' : tree.verdict;
      await repairOn(session, appEnv, live, server, reporter);
      return 'repaired';
    }, { connect: options.connect });
    for (const c of checked) {
      const o = outcomes.get(c.host)!;
      if (!c.ok) o.error = c.error;
      else if (c.value === 'in-sync' || c.value === 'repaired') o.state = c.value;
    }
    const behind = appEnv.hosts.filter((h) => checked.some((c) => c.host === h.name && c.ok && (c.value === 'other-release' || c.value === 'no-release')));
    if (behind.length) {
      const shipped = await shipRelease(appEnv, live, reporter, { tree: () => Promise.resolve(exportDir), plan: defaultPlan(appEnv, live, behind), signal: interruption, connect: options.connect });
      for (const r of shipped.hosts) Object.assign(outcomes.get(r.host)!, { state: r.state, ...(r.error ? { error: r.error } : {}) });
      if (shipped.failure) throw shipped.failure;
    }
    const hosts = [...outcomes.values()];
    const bad = hosts.filter((o) => !['in-sync', 'repaired', 'switched'].includes(o.state));
    if (bad.length) {
      throw new DeployFailedError(
        `${bad.length} of ${hosts.length} hosts are not on ${live.id}:\n${bad.map((o) => `  ${o.host}: ${o.error ?? o.state}`).join('\n')}`,
        bad.length < hosts.length ? ExitCode.partial : ExitCode.failed,
      );
    }
    await recordRun(appEnv.paths.www, { kind: 'sync', fleet: appEnv.hosts, from: live.id, to: live, hosts, tip }, reporter);
    return { live, hosts };
  } catch (err) {
    if (isWorthRecording(err)) await recordRun(appEnv.paths.www, { kind: 'sync', fleet: appEnv.hosts, from: live.id, to: live, hosts: [...outcomes.values()], error: err, tip }, reporter);
    throw err;
  }
}

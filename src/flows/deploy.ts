/**
 * One deploy, as a short list of named phases, under the app-env's lock (guard.ts):
 *   update → release → ship → record
 * Two values run beside the phases and are handed forward to the ship: the
 * pre-connect (each host connected to, and its look at what it has taken, from
 * the start, while the admin node updates) and the send-ahead (the release's
 * tree sent to hosts with no release as soon as the www tree holds it, while the
 * store commits it).
 * Every deploy that gets past its input checks is recorded in the store's
 * history, failures included.
 */
import type { AppEnv } from '../config/resolve.js';
import { describeHostStates, type HostReport, shipRelease, verifyAllSwitched } from '../deploy/ship.js';
import { SendAhead } from '../deploy/stage/ahead.js';
import { cannotSucceed, preconnect } from '../deploy/connect/preconnect.js';
import { InterruptedError } from '../errors.js';
import { checkInterrupted, interruption } from '../interrupt.js';
import { isWorthRecording, maintainStore, makeRelease, type Release, recordRun, viewStore } from '../release-store/index.js';
import type { HostOutcome } from '../release-store/history.js';
import { checkRequiredPrivateFiles } from '../release-store/private.js';
import { phase, type Reporter } from '../report/events.js';
import { type FlowOptions, guarded } from './guard.js';
import { type UpdateOptions, updateSource } from '../update/index.js';

export interface DeployResult {
  release: Release;
  created: boolean;
  hosts: HostReport[];
}

export interface DeployOptions extends UpdateOptions, FlowOptions {
  /** The CI build behind this deploy (job, number, URL), recorded in the release. */
  build?: string;
}

/** Deploy as the only run of the app-env; with a wait, as a queued request for `revision`. */
export function deploy(appEnv: AppEnv, options: DeployOptions, reporter: Reporter, signal: AbortSignal = interruption): Promise<DeployResult> {
  const run = { verb: 'deploying', queue: { revision: options.revision }, revision: options.revision, build: options.build };
  return guarded(appEnv, reporter, options.waitMs ?? 0, run, (releases) => deployLocked(appEnv, options, reporter, signal, releases));
}

async function deployLocked(appEnv: AppEnv, options: DeployOptions, reporter: Reporter, signal: AbortSignal, releases: Release[]): Promise<DeployResult> {
  checkRequiredPrivateFiles(appEnv); // before any host or the checkout is touched
  // the pre-connect: hosts are connected to (and looked at) while the admin node works; the connections wait for the release
  const preconnected = preconnect(appEnv, reporter, { connect: options.connect });
  // the send-ahead: hosts with no release get the tree while the admin node commits it (started by the release phase)
  const ahead = new SendAhead(appEnv, preconnected, reporter);
  // for the history, read while the source is updated: what was live before this run, and the tip its event goes on
  const before = viewStore(appEnv.paths.www, releases).then((view) => ({ from: view.live?.id, tip: view.tip }), () => ({}));
  let release: Release | undefined;
  let hosts: HostOutcome[] = [];
  // stop once the connections show that the run cannot succeed: no admin task (a migration) runs
  // and no release is cut for it. Before admin tasks, every connection is waited for (the list of
  // hosts is then complete); without tasks, the handshakes go on overlapping the release.
  const stopIfDoomed = async (wait: boolean, stopped: string) => {
    const failures = await preconnected.failures(wait);
    const doomed = cannotSucceed(appEnv, failures, stopped);
    if (!doomed) return;
    hosts = appEnv.hosts.map((h) => (failures.has(h.name) ? { host: h.name, state: 'failed', error: failures.get(h.name) } : { host: h.name, state: 'untouched' }));
    throw doomed;
  };
  try {
    const nothingRun = `stopped before ${appEnv.tasks.length ? 'the admin tasks: nothing was run or released' : 'the release: nothing was released'}, no host was touched`;
    const source = await phase(reporter, 'update', () => updateSource(appEnv, options, reporter, () => stopIfDoomed(appEnv.tasks.length > 0, nothingRun)));
    checkInterrupted('making a release; no host was touched');
    await stopIfDoomed(false, `stopped before the release: ${appEnv.tasks.length ? 'the admin tasks ran, ' : ''}nothing was released, no host was touched`);
    await before; // read before the store changes
    const made = await phase(reporter, 'release', async () => {
      const making = makeRelease(appEnv, source, reporter, options.build, releases);
      ahead.start(making.synced);
      const result = await making.committed;
      reporter.emit({ kind: 'release', id: result.release.id, commit: result.release.commit, created: result.created });
      return result;
    });
    release = made.release;
    checkInterrupted(`shipping ${release.id}; no host was touched`);
    // the www tree is exactly the release just committed (or found unchanged): hosts are sent its files
    const www = appEnv.paths.www;
    const upkeep = made.created ? maintainStore(www) : undefined;
    const shipped = await shipRelease(appEnv, release, reporter, { tree: () => Promise.resolve(www), signal, connect: options.connect, preconnected, releases: made.releases, ahead });
    hosts = shipped.hosts;
    await upkeep;
    if (shipped.failure) throw shipped.failure;
    if (signal.aborted) {
      throw new InterruptedError(
        `interrupted by ${String(signal.reason)} while shipping ${release.id}; every host serves a complete release:\n${describeHostStates(release, shipped.hosts).join('\n')}`,
      );
    }
    verifyAllSwitched(release, shipped.hosts);
    await recordRun(appEnv.paths.www, { kind: 'deploy', fleet: appEnv.hosts, ...(await before), to: release, hosts }, reporter);
    return { release, created: made.created, hosts: shipped.hosts };
  } catch (err) {
    if (isWorthRecording(err)) await recordRun(appEnv.paths.www, { kind: 'deploy', fleet: appEnv.hosts, ...(await before), to: release, hosts, error: err }, reporter);
    throw err;
  } finally {
    preconnected.close();
    await ahead.close();
  }
}

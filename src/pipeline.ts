/**
 * One deploy, as a short list of named phases:
 *   update → release → export → ship
 */
import type { AppEnv } from './config/resolve.js';
import { describeHostStates, type HostReport, shipRelease, verifyAllSwitched } from './deploy/execute.js';
import { InterruptedError } from './errors.js';
import { checkInterrupted, interruption } from './interrupt.js';
import { exportRelease, makeRelease, type Release } from './release-store/index.js';
import { ADMIN, type Reporter, step } from './report/events.js';
import { type UpdateOptions, updateSource } from './update/index.js';

export interface DeployResult {
  release: Release;
  created: boolean;
  hosts: HostReport[];
}

export async function deploy(appEnv: AppEnv, options: UpdateOptions, reporter: Reporter): Promise<DeployResult> {
  const source = await updateSource(appEnv, options, reporter);
  checkInterrupted('making a release; no host was touched');
  const { release, created } = await makeRelease(appEnv, source, reporter);
  checkInterrupted(`shipping ${release.id}; no host was touched`);
  const exportDir = await step(reporter, ADMIN, 'export', `checking out ${release.id} from the store`, () =>
    exportRelease(appEnv.paths.www, appEnv.paths.export, release, appEnv.privateMode), () => `${release.id} ready to serve`);
  checkInterrupted(`shipping ${release.id}; no host was touched`);
  const hosts = await shipRelease(appEnv, release, reporter, { exportDir, signal: interruption });
  if (interruption.aborted) {
    throw new InterruptedError(
      `interrupted by ${String(interruption.reason)} while shipping ${release.id}; every host serves a complete release:\n${describeHostStates(release, hosts).join('\n')}`,
    );
  }
  verifyAllSwitched(release, hosts);
  return { release, created, hosts };
}

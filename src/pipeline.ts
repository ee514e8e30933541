/**
 * One deploy, as a short list of named phases:
 *   update → release → export → ship (connections open meanwhile)
 */
import type { AppEnv } from './config/resolve.js';
import { type HostReport, shipRelease, verifyAllSwitched } from './deploy/execute.js';
import { preconnect } from './deploy/preconnect.js';
import { exportRelease, makeRelease, type Release } from './release-store/index.js';
import { ADMIN, type Reporter, step } from './report/events.js';
import { type UpdateOptions, updateSource } from './update/index.js';

export interface DeployResult {
  release: Release;
  created: boolean;
  hosts: HostReport[];
}

export async function deploy(appEnv: AppEnv, options: UpdateOptions, reporter: Reporter): Promise<DeployResult> {
  // hosts are connected to while the admin node works; the connections wait for the release
  const preconnected = preconnect(appEnv, reporter);
  let ready: { release: Release; created: boolean; exportDir: string };
  try {
    const source = await updateSource(appEnv, options, reporter);
    const { release, created } = await makeRelease(appEnv, source, reporter);
    const exportDir = await step(reporter, ADMIN, 'export', `checking out ${release.id} from the store`, () =>
      exportRelease(appEnv.paths.www, appEnv.paths.export, release, appEnv.privateMode), () => `${release.id} ready to serve`);
    ready = { release, created, exportDir };
  } catch (err) {
    await preconnected.close();
    throw err;
  }
  const { release, created, exportDir } = ready;
  const hosts = await shipRelease(appEnv, release, reporter, { exportDir, preconnected });
  verifyAllSwitched(release, hosts);
  return { release, created, hosts };
}

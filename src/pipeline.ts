/**
 * One deploy, as a short list of named phases:
 *   update → release → export → ship
 */
import type { AppEnv } from './config/resolve.js';
import { type HostReport, shipRelease, verifyAllSwitched } from './deploy/execute.js';
import { exportRelease, makeRelease, type Release } from './release-store/index.js';
import { ADMIN, phase, type Reporter, step } from './report/events.js';
import { type UpdateOptions, updateSource } from './update/index.js';

export interface DeployResult {
  release: Release;
  created: boolean;
  hosts: HostReport[];
}

export interface DeployOptions extends UpdateOptions {
  /** The CI build behind this deploy (job, number, URL), recorded in the release. */
  build?: string;
}

export async function deploy(appEnv: AppEnv, options: DeployOptions, reporter: Reporter): Promise<DeployResult> {
  const source = await phase(reporter, 'update', () => updateSource(appEnv, options, reporter));
  const { release, created, exportDir } = await phase(reporter, 'release', async () => {
    const made = await makeRelease(appEnv, source, reporter, options.build);
    reporter.emit({ kind: 'release', id: made.release.id, commit: made.release.commit, created: made.created });
    const dir = await step(reporter, ADMIN, 'export', `checking out ${made.release.id} from the store`, () =>
      exportRelease(appEnv.paths.www, appEnv.paths.export, made.release, appEnv.privateMode), () => `${made.release.id} ready to serve`);
    return { ...made, exportDir: dir };
  });
  const hosts = await shipRelease(appEnv, release, reporter, { exportDir });
  verifyAllSwitched(release, hosts);
  return { release, created, hosts };
}

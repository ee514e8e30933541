/** Read-only commands: what is in the store, and what each host serves. */
import { loadTarget } from '../config/load.js';
import { connect, loadCredentials } from '../deploy/execute.js';
import { onEachHost } from '../deploy/fanout.js';
import { idOfDir, parseLines, statusCmd } from '../deploy/remote.js';
import { DeployFailedError } from '../errors.js';
import { listReleases } from '../release-store/index.js';
import { memoryReporter } from '../report/line.js';
import { type GlobalOptions, locations } from './context.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

export async function releasesCommand(target: string, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  const releases = await listReleases(appEnv.paths.www);
  if (!releases.length) {
    out(`no releases of ${appEnv.app}-${appEnv.env} yet (store: ${appEnv.paths.www})`);
    return;
  }
  for (const r of releases) {
    const subs = r.submodules.map((s) => `${s.path}@${s.sha.slice(0, 8)}`).join(' ');
    out(
      [r.id.padEnd(6), r.commit.slice(0, 12), r.date, r.deployer.padEnd(10), `source ${r.source?.slice(0, 12) ?? '?'}${r.branch ? ` (${r.branch})` : ''}`, subs, r.build ? `build ${r.build}` : '']
        .filter(Boolean)
        .join('  '),
    );
  }
}

export async function statusCommand(target: string, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  const [newest] = await listReleases(appEnv.paths.www);
  const creds = await loadCredentials(appEnv);
  const quiet = memoryReporter();
  const results = await onEachHost(appEnv.hosts, appEnv.parallel, async (host) => {
    const session = await connect(host, appEnv, creds, quiet);
    try {
      const result = await session.exec(statusCmd(appEnv.remote.path));
      const lines = parseLines(result.stdout);
      return { dir: lines.get('live')?.[0] || undefined, revision: lines.get('revision')?.[0] };
    } finally {
      session.close();
    }
  });
  out(`newest release: ${newest ? `${newest.id} (${newest.commit.slice(0, 12)})` : 'none'}`);
  let failures = 0;
  for (const r of results) {
    if (!r.ok) {
      failures++;
      out(`${r.host.padEnd(16)} UNREACHABLE  ${r.error}`);
      continue;
    }
    const live = idOfDir(r.value.dir) ?? 'none';
    const matches = newest && r.value.revision === newest.commit;
    out(`${r.host.padEnd(16)} ${live.padEnd(8)} ${r.value.revision?.slice(0, 12) ?? '-'.padEnd(12)}  ${matches ? 'newest' : 'NOT NEWEST'}`);
  }
  if (failures) throw new DeployFailedError(`${failures} host(s) could not be reached`);
}

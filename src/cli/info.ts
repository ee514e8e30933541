/** Read-only commands: what is in the store, and what each host serves. */
import { loadTarget } from '../config/load.js';
import { inspectOn, summarizeDrift, withEachHost } from '../deploy/drift.js';
import { describeKept } from '../deploy/remote-output.js';
import { idOfDir } from '../deploy/layout.js';
import { DeployFailedError } from '../errors.js';
import { exportRelease, viewStore } from '../release-store/index.js';
import { memoryReporter } from '../report/line.js';
import { redact } from '../report/redact.js';
import { needsOf } from '../flows/sync.js';
import { registerSecrets } from '../secrets.js';
import { requireAccess } from './access.js';
import { type GlobalOptions, locations } from './context.js';
import { plural } from '../report/line.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

export async function releasesCommand(target: string, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  requireAccess([{ path: appEnv.paths.www, need: 'read', git: true }]);
  const { releases, live, state } = await viewStore(appEnv.paths.www);
  if (!releases.length) {
    out(`no releases of ${appEnv.app}-${appEnv.env} yet (store: ${appEnv.paths.www})`);
    return;
  }
  for (const r of releases) {
    const subs = r.submodules.map((s) => `${s.path}@${s.sha.slice(0, 8)}`).join(' ');
    // live per the history; "rolled-back" = a rollback moved the fleet away from it
    const mark = r.id === live?.id ? 'live' : state.rolledBack.has(r.id) ? 'rolled-back' : '';
    out(
      [r.id.padEnd(6), r.commit.slice(0, 12), mark.padEnd(11), r.date, r.deployer.padEnd(10), `source ${r.source?.slice(0, 12) ?? '?'}${r.branch ? ` (${r.branch})` : ''}`, subs, r.build ? `build ${r.build}` : '']
        .filter(Boolean)
        .join('  '),
    );
  }
}

/**
 * What every host serves, against the store's live release: hosts on another
 * release, and hosts whose live tree differs from the release commit (changed
 * by hand), are flagged and make the command exit 1.
 */
export async function statusCommand(target: string, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  // the store, a checkout of the live release in the state dir, the private values to redact, the key
  requireAccess([
    { path: appEnv.paths.www, need: 'read', git: true },
    { path: appEnv.paths.state, need: 'write' },
    { path: appEnv.paths.private, need: 'read' },
    { path: appEnv.ssh.key, need: 'read' },
  ]);
  const { releases, live, state } = await viewStore(appEnv.paths.www);
  const newest = releases[0];
  if (!live) {
    out(`no releases of ${appEnv.app}-${appEnv.env} yet (store: ${appEnv.paths.www})`);
    return;
  }
  await registerSecrets(appEnv);
  const quiet = memoryReporter();
  // a checkout of its own, so a status never moves the export a running deploy serves from
  const verifyDir = await exportRelease(appEnv.paths.www, appEnv.paths.verify, live, appEnv.privateMode);
  const results = await withEachHost(appEnv, appEnv.hosts, verifyDir, quiet, (session, server) => inspectOn(session, appEnv, live, server, quiet));
  out(`live release: ${live.id} (${live.commit.slice(0, 12)})${state.live ? '' : ' (no history yet: taken to be the newest)'}`);
  out(`newest release: ${newest ? `${newest.id} (${newest.commit.slice(0, 12)})` : 'none'}`);
  let unreachable = 0;
  let differ = 0;
  let edited = 0;
  for (const r of results) {
    if (!r.ok) {
      unreachable++;
      out(`${r.host.padEnd(16)} UNREACHABLE  ${redact(r.error)}`);
      continue;
    }
    const t = r.value;
    const verdict =
      t.verdict === 'in-sync' ? 'ok'
      : t.verdict === 'modified' ? `MODIFIED: ${summarizeDrift(t.drift)}`
      : t.verdict === 'no-release' ? 'NO RELEASE'
      : `DRIFT: not the live ${live.id}`;
    const needs = needsOf(t);
    if (needs.repair || needs.ship) differ++;
    const isNewest = newest && t.revision === newest.commit;
    out(`${r.host.padEnd(16)} ${(idOfDir(t.dir) ?? 'none').padEnd(8)} ${t.revision?.slice(0, 12) ?? '-'.padEnd(12)}  ${verdict}${isNewest ? ', newest' : ''}`);
    // kept releases too: a rollback switches to one, and an edit of a shared file changed it
    for (const k of t.kept) out(`${''.padEnd(16)} ${(idOfDir(k.dir) ?? k.dir).padEnd(8)} kept  ${k.differ ? 'EDITED: ' : ''}${describeKept(k)}`);
    if (needs.forget) edited++;
  }
  const problems = [
    ...(unreachable ? [`${plural(unreachable, 'host')} could not be reached`] : []),
    ...(differ ? [`${plural(differ, 'host')} ${differ === 1 ? 'differs' : 'differ'} from the live release ${live.id}: run deploy sync ${appEnv.app}-${appEnv.env}`] : []),
    ...(edited ? [`${plural(edited, 'host')} ${edited === 1 ? 'keeps' : 'keep'} releases edited by hand: run deploy sync ${appEnv.app}-${appEnv.env} to remove them`] : []),
  ];
  if (problems.length) throw new DeployFailedError(problems.join('; '));
}

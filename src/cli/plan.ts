/**
 * `deploy plan <app>-<env>` and `deploy <app>-<env> --dry-run`: print the
 * rollout a deploy would run. Only reads: the store, the source repository
 * (into a throw-away repo) and what each host serves now.
 */
import { loadTarget } from '../config/load.js';
import { defaultPlan } from '../deploy/ship.js';
import { plannedRelays } from '../deploy/stage/relays.js';
import { readLive } from '../deploy/status.js';
import { formatPlan, type PlanContext } from '../deploy/plan-text.js';
import { DeployFailedError } from '../errors.js';
import { listReleases } from '../release-store/index.js';
import { previewSource } from '../update/preview.js';
import { planDocument, printable } from '../report/read-json.js';
import { requireAccess } from './access.js';
import { type GlobalOptions, locations } from './context.js';
import { type RunSelection, applySelection, checkRevision } from './selection.js';
import { plural } from '../report/line.js';

export async function planCommand(target: string, options: RunSelection & { revision?: string; parallel?: number; json?: boolean }, globals: GlobalOptions): Promise<void> {
  checkRevision(options.revision);
  const appEnv = applySelection(await loadTarget(target, locations(globals)), options);
  if (options.parallel) appEnv.parallel = options.parallel;
  requireAccess([
    { path: appEnv.paths.www, need: 'read', git: true },
    { path: appEnv.ssh.key, need: 'read' },
  ]);
  const [newest] = await listReleases(appEnv.paths.www);
  const source = await previewSource(appEnv, newest?.source, options.revision);
  const created = !newest || newest.source !== source.sha;
  const id = created ? `r${(newest?.number ?? 0) + 1}` : newest.id;
  const live = await readLive(appEnv, appEnv.hosts);
  const plan = defaultPlan(appEnv, { id }, appEnv.hosts);
  const ctx: PlanContext = {
    target: `${appEnv.app}-${appEnv.env}`,
    release: { id, created, commit: created ? undefined : newest?.commit, source: source.sha, subject: source.subject },
    base: newest ? { id: newest.id, source: newest.source } : undefined,
    commits: created ? source.commits : [],
    live,
    parallel: appEnv.parallel,
    ...(appEnv.relays !== undefined ? { relays: { relays: plannedRelays(appEnv.hosts, appEnv.relays), minRate: appEnv.relayMinRate } } : {}),
  };
  if (options.json) process.stdout.write(printable(planDocument(plan, ctx)));
  else process.stdout.write(`${formatPlan(plan, ctx).join('\n')}\nnothing was changed: this is a plan\n`);
  const unreachable = [...live.entries()].filter(([, v]) => v.error);
  if (unreachable.length) {
    throw new DeployFailedError(`cannot read what ${plural(unreachable.length, 'host')} serve:\n${unreachable.map(([h, v]) => `  ${h}: ${v.error}`).join('\n')}`);
  }
}

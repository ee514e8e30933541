/** Read-only commands: what is in the store, and what each host serves. */
import { loadTarget } from '../config/load.js';
import { inspectOn, summarizeDrift, withEachHost } from '../deploy/drift.js';
import { describeKept } from '../deploy/remote-output.js';
import { DeployFailedError } from '../errors.js';
import { exportRelease, viewStore } from '../release-store/index.js';
import { memoryReporter } from '../report/line.js';
import { redact } from '../report/redact.js';
import { registerSecrets } from '../secrets.js';
import { requireAccess } from './access.js';
import { type GlobalOptions, locations } from './context.js';
import { printable, releaseMark, releasesDocument, type StatusDocument, statusDocument } from '../report/read-json.js';
import { alignColumns } from '../report/table.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

/** `deploy hosts`: the env's hosts as a run would resolve them (from the app file or an inventory), with roles and origin. */
export async function hostsCommand(target: string, options: { json?: boolean }, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  const name = `${appEnv.app}-${appEnv.env}`;
  const roles = Object.keys(appEnv.roles);
  if (options.json) {
    const hosts = appEnv.hosts.map((h) => ({ name: h.name, address: h.address, port: h.port, user: h.user, roles: h.roles ?? [], datacenter: h.datacenter ?? null, source: h.source ?? null }));
    process.stdout.write(printable({ v: 1, command: 'hosts', target: name, from: appEnv.hostsFrom, roles, hosts }));
    return;
  }
  out(`${name}: ${appEnv.hosts.length} host${appEnv.hosts.length === 1 ? '' : 's'} from ${appEnv.hostsFrom}${roles.length ? `; roles in switching order: ${roles.join(', ')}` : ''}`);
  const rows = appEnv.hosts.map((h) => [h.name, `${h.user}@${h.address}:${h.port}`, h.roles?.join(',') || '-', h.datacenter ?? '-', h.source ?? '']);
  for (const line of alignColumns([['HOST', 'REACHED AT', 'ROLES', 'DATACENTER', 'NAMED IN'], ...rows])) out(line);
}

export async function releasesCommand(target: string, options: { json?: boolean }, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  requireAccess([{ path: appEnv.paths.www, need: 'read', git: true }]);
  const { releases, live, state } = await viewStore(appEnv.paths.www);
  const name = `${appEnv.app}-${appEnv.env}`;
  if (options.json) {
    process.stdout.write(printable(releasesDocument(name, releases, live, state)));
    return;
  }
  if (!releases.length) {
    out(`no releases of ${name} yet (store: ${appEnv.paths.www})`);
    return;
  }
  const rows = releases.map((r) => {
    const subs = r.submodules.map((s) => `${s.path}@${s.sha.slice(0, 8)}`).join(' ');
    const rest = [`source ${r.source?.slice(0, 12) ?? '?'}${r.branch ? ` (${r.branch})` : ''}`, subs, r.build ? `build ${r.build}` : ''].filter(Boolean).join('  ');
    return [r.id, r.commit.slice(0, 12), releaseMark(r, live, state) ?? '', r.date, r.deployer, rest];
  });
  for (const line of alignColumns(rows)) out(line);
}

/**
 * What every host serves, against the store's live release: hosts on another
 * release, and hosts whose live tree differs from the release commit (changed
 * by hand), are flagged and make the command exit 1.
 */
export async function statusCommand(target: string, options: { json?: boolean }, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  // the store, a checkout of the live release in the state dir, the private values to redact, the key
  requireAccess([
    { path: appEnv.paths.www, need: 'read', git: true },
    { path: appEnv.paths.state, need: 'write' },
    { path: appEnv.paths.private, need: 'read' },
    { path: appEnv.ssh.key, need: 'read' },
  ]);
  const { releases, live, state } = await viewStore(appEnv.paths.www);
  const name = `${appEnv.app}-${appEnv.env}`;
  const newest = releases[0];
  if (!live) {
    if (options.json) process.stdout.write(printable(statusDocument({ target: name, live, newest, fromHistory: false, results: [] })));
    else out(`no releases of ${name} yet (store: ${appEnv.paths.www})`);
    return;
  }
  await registerSecrets(appEnv);
  const quiet = memoryReporter();
  // a checkout of its own, so a status never moves the export a running deploy serves from
  const verifyDir = await exportRelease(appEnv.paths.www, appEnv.paths.verify, live, appEnv.privateMode);
  const results = await withEachHost(appEnv, appEnv.hosts, verifyDir, quiet, (session, server) => inspectOn(session, appEnv, live, server, quiet));
  const doc = statusDocument({
    target: name,
    live,
    newest,
    fromHistory: Boolean(state.live),
    results: results.map((r) => (r.ok ? r : { ...r, error: redact(r.error) })),
  });
  if (options.json) process.stdout.write(printable(doc));
  else for (const line of statusLines(doc)) out(line);
  if (doc.problems.length) throw new DeployFailedError(doc.problems.join('; '));
}

/** The text of `status`, from its document. */
function statusLines(doc: StatusDocument): string[] {
  const live = doc.live!;
  const rows: string[][] = [];
  for (const h of doc.hosts) {
    if (!h.reachable) {
      rows.push([h.host, `UNREACHABLE  ${h.error}`]);
      continue;
    }
    const verdict =
      h.verdict === 'in-sync' ? 'ok'
      : h.verdict === 'modified' ? `MODIFIED: ${summarizeDrift(h.drift)}`
      : h.verdict === 'no-release' ? 'NO RELEASE'
      : `DRIFT: not the live ${live.id}`;
    rows.push([h.host, h.release ?? 'none', h.revision?.slice(0, 12) ?? '-', `${verdict}${h.newest ? ', newest' : ''}`]);
    // kept releases too: a rollback switches to one, and an edit of a shared file changed it
    for (const k of h.kept) rows.push(['', k.release, `kept  ${k.edited ? 'EDITED: ' : ''}${describeKept({ differ: k.differ ?? undefined })}`]);
  }
  return [
    `live release: ${live.id} (${live.commit.slice(0, 12)})${live.fromHistory ? '' : ' (no history yet: taken to be the newest)'}`,
    `newest release: ${doc.newest ? `${doc.newest.id} (${doc.newest.commit.slice(0, 12)})` : 'none'}`,
    ...alignColumns(rows),
  ];
}

/** Read-only views of the store's history: `deploy log` and `deploy diff`. */
import { loadTarget } from '../config/load.js';
import { UsageError } from '../errors.js';
import { changedFiles, publicPatch, readHistory, resolveRelease, viewStore } from '../release-store/index.js';
import type { HistoryEvent } from '../release-store/history.js';
import { requireAccess } from './access.js';
import { type GlobalOptions, locations } from './context.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

const GOOD = new Set(['switched', 'already-live', 'in-sync', 'repaired']);

/** `3 switched` or `2 switched, 1 failed (web2)`: short for any fleet size. */
export function summarizeHosts(hosts: HistoryEvent['hosts']): string {
  const byState = new Map<string, string[]>();
  for (const h of hosts) byState.set(h.state, [...(byState.get(h.state) ?? []), h.host]);
  return [...byState].map(([state, names]) => `${names.length} ${state}${GOOD.has(state) ? '' : ` (${names.join(', ')})`}`).join(', ') || 'no hosts';
}

export function formatEvent(e: HistoryEvent): string[] {
  const move = e.kind === 'sync' ? (e.to ?? '?') : `${e.from ?? 'none'} -> ${e.to ?? 'none'}`;
  const lines = [[e.at, e.kind.padEnd(8), move.padEnd(12), e.result.toUpperCase() === 'OK' ? 'ok      ' : e.result.toUpperCase().padEnd(8), e.who.padEnd(10), summarizeHosts(e.hosts)].join('  ')];
  if (e.error) lines.push(...e.error.split('\n').map((l) => `    ${l}`));
  return lines;
}

export async function logCommand(target: string, options: { limit?: number }, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  requireAccess([{ path: appEnv.paths.www, need: 'read', git: true }]);
  const history = await readHistory(appEnv.paths.www, options.limit);
  if (!history.length) {
    out(`no deploys of ${appEnv.app}-${appEnv.env} recorded yet (store: ${appEnv.paths.www})`);
    return;
  }
  for (const e of history) for (const line of formatEvent(e)) out(line);
}

export async function diffCommand(target: string, from: string | undefined, to: string | undefined, options: { patch?: boolean }, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  requireAccess([{ path: appEnv.paths.www, need: 'read', git: true }]);
  const www = appEnv.paths.www;
  const view = await viewStore(www);
  if (!view.releases.length) throw new UsageError(`${appEnv.app}-${appEnv.env} has no release yet: nothing to compare`);
  // by default, what the live release changed: against the release live before it (what a rollback returns to)
  const b = to !== undefined ? await resolveRelease(www, to) : (view.live ?? view.releases[0]!);
  const before = view.releases.find((r) => r.id === view.state.previous) ?? view.releases.find((r) => r.number < b.number);
  if (from === undefined && !before) {
    out(`${b.id} (${b.commit.slice(0, 12)}) is the first release: nothing before it to compare with (deploy diff ${appEnv.app}-${appEnv.env} <from> [<to>])`);
    return;
  }
  const a = from !== undefined ? await resolveRelease(www, from) : before!;
  const changes = await changedFiles(www, a, b);
  out(`${a.id} (${a.commit.slice(0, 12)}) → ${b.id} (${b.commit.slice(0, 12)}): ${changes.length} ${changes.length === 1 ? 'file' : 'files'} changed`);
  for (const c of changes) out(`${c.status}  ${c.path}${c.private ? '  (private: contents not shown)' : ''}`);
  if (options.patch && changes.some((c) => !c.private)) {
    out('');
    process.stdout.write(await publicPatch(www, a, b));
  }
}

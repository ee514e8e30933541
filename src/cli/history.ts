/** Read-only views of the store's history: `deploy log` and `deploy diff`. */
import { loadTarget } from '../config/load.js';
import { UsageError } from '../errors.js';
import { changedFiles, publicPatch, readHistory, resolveRelease, viewStore } from '../release-store/index.js';
import type { HistoryEvent } from '../release-store/history.js';
import { diffDocument, logDocument, printable } from '../report/read-json.js';
import { alignColumns } from '../report/table.js';
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

/** The events as lines: one row each, columns sized to the content, then the event's error indented. */
export function formatEvents(events: readonly HistoryEvent[]): string[] {
  const rows = alignColumns(events.map((e) => {
    const move = e.kind === 'sync' ? (e.to ?? '?') : `${e.from ?? 'none'} -> ${e.to ?? 'none'}`;
    return [e.at, e.kind, move, e.result.toUpperCase() === 'OK' ? 'ok' : e.result.toUpperCase(), e.who, summarizeHosts(e.hosts)];
  }));
  return events.flatMap((e, i) => [rows[i]!, ...(e.error ? e.error.split('\n').map((l) => `    ${l}`) : [])]);
}

export async function logCommand(target: string, options: { limit?: number; json?: boolean }, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  requireAccess([{ path: appEnv.paths.www, need: 'read', git: true }]);
  const history = await readHistory(appEnv.paths.www, options.limit);
  if (options.json) {
    process.stdout.write(printable(logDocument(`${appEnv.app}-${appEnv.env}`, history)));
    return;
  }
  if (!history.length) {
    out(`no deploys of ${appEnv.app}-${appEnv.env} recorded yet (store: ${appEnv.paths.www})`);
    return;
  }
  for (const line of formatEvents(history)) out(line);
}

export async function diffCommand(target: string, from: string | undefined, to: string | undefined, options: { patch?: boolean; json?: boolean }, globals: GlobalOptions): Promise<void> {
  const appEnv = await loadTarget(target, locations(globals));
  requireAccess([{ path: appEnv.paths.www, need: 'read', git: true }]);
  const www = appEnv.paths.www;
  const view = await viewStore(www);
  if (!view.releases.length) throw new UsageError(`${appEnv.app}-${appEnv.env} has no release yet: nothing to compare`);
  // by default, what the live release changed: against the release live before it (what a rollback returns to)
  const b = to !== undefined ? await resolveRelease(www, to) : (view.live ?? view.releases[0]!);
  const before = view.releases.find((r) => r.id === view.state.previous) ?? view.releases.find((r) => r.number < b.number);
  const name = `${appEnv.app}-${appEnv.env}`;
  if (from === undefined && !before) {
    if (options.json) {
      process.stdout.write(printable(diffDocument(name, undefined, b, [])));
      return;
    }
    out(`${b.id} (${b.commit.slice(0, 12)}) is the first release: nothing before it to compare with (deploy diff ${appEnv.app}-${appEnv.env} <from> [<to>])`);
    return;
  }
  const a = from !== undefined ? await resolveRelease(www, from) : before!;
  const changes = await changedFiles(www, a, b);
  if (options.json) {
    const patch = options.patch ? (changes.some((c) => !c.private) ? await publicPatch(www, a, b) : '') : undefined;
    process.stdout.write(printable(diffDocument(name, a, b, changes, patch)));
    return;
  }
  out(`${a.id} (${a.commit.slice(0, 12)}) → ${b.id} (${b.commit.slice(0, 12)}): ${changes.length} ${changes.length === 1 ? 'file' : 'files'} changed`);
  for (const c of changes) out(`${c.status}  ${c.path}${c.private ? '  (private: contents not shown)' : ''}`);
  if (options.patch && changes.some((c) => !c.private)) {
    out('');
    process.stdout.write(await publicPatch(www, a, b));
  }
}

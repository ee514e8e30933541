/**
 * `deploy apps`: every app and env in the apps directory, with what its store says (the
 * live release, the last run). Reads app files and stores only; never the network.
 */
import { join } from 'node:path';
import pMap from 'p-map';
import { checkLoaded, compileCache, displayPath, listApps, loadApp } from '../config/load.js';
import { adminPaths } from '../config/paths.js';
import { ConfigError, errorMessage } from '../errors.js';
import { readStoreSummary } from './store-summary.js';

export interface EnvRow {
  env: string;
  /** `<app>-<env>`, as commands take it. */
  target: string;
  /** null: the env's hosts come from an inventory, read only when a run or `deploy hosts` needs them. */
  hosts: number | null;
  branch: string;
  /** The release the history says is live (or, with no history yet, the newest); null: none. */
  live: { id: string; commit: string; date: string } | null;
  releases: number;
  lastRun: { kind: string; result: string; who: string; at: string; to: string | null } | null;
  /** Why the store could not be read (e.g. not root); the other fields are then as if empty. */
  error?: string;
}

export interface AppRow {
  app: string;
  file: string;
  /** Why the app file does not load; no envs then. */
  error?: string;
  envs: EnvRow[];
}

/** Stores are read this many at a time: each read is a few git processes. */
const STORE_READS = 8;

async function envRow(app: string, env: string, hosts: number | null, branch: string, www: string): Promise<EnvRow> {
  const row: EnvRow = { env, target: `${app}-${env}`, hosts, branch, live: null, releases: 0, lastRun: null };
  try {
    const { releases, live, last } = await readStoreSummary(www);
    if (live) row.live = { id: live.id, commit: live.commit, date: live.date };
    row.releases = releases.length;
    if (last) row.lastRun = { kind: last.kind, result: last.result, who: last.who, at: last.at, to: last.to ?? null };
  } catch (err) {
    row.error = errorMessage(err).split('\n')[0];
  }
  return row;
}

/**
 * Every app and env. Under sudo (`elevated`), every module an app file loads must be in
 * the apps directory and root's alone, as for any other command (config/load.ts).
 */
export async function collectApps(appsDir: string, root: string, elevated: boolean): Promise<AppRow[]> {
  const cache = elevated ? false : compileCache();
  const apps = await listApps(appsDir);
  const rows: AppRow[] = [];
  const pending: { row: AppRow; env: string; hosts: number | null; branch: string; www: string }[] = [];
  for (const app of apps) {
    const file = displayPath(join(appsDir, `${app}.ts`));
    try {
      const guard = elevated ? (loaded: string) => checkLoaded(appsDir, file, loaded) : undefined;
      const { config } = await loadApp(appsDir, app, cache, guard);
      const row: AppRow = { app, file, envs: [] };
      rows.push(row);
      for (const [env, e] of Object.entries(config.envs)) {
        pending.push({ row, env, hosts: Array.isArray(e.hosts) ? e.hosts.length : null, branch: e.branch ?? config.branch, www: adminPaths(root, env, app, config.private.dir).www });
      }
    } catch (err) {
      rows.push({ app, file, error: err instanceof ConfigError ? err.problems.join('\n') : errorMessage(err), envs: [] });
    }
  }
  const envs = await pMap(pending, (p) => envRow(p.row.app, p.env, p.hosts, p.branch, p.www), { concurrency: STORE_READS });
  pending.forEach((p, i) => p.row.envs.push(envs[i]!));
  return rows;
}

/** The table, each column as wide as its widest cell; an app that does not load is one line saying why. */
export function formatApps(rows: readonly AppRow[]): string[] {
  const header = ['TARGET', 'HOSTS', 'BRANCH', 'RELEASES', 'LIVE', 'LAST RUN'];
  const cells = rows.flatMap((r) =>
    r.envs.map((e) => [
      e.target,
      e.hosts === null ? 'inventory' : String(e.hosts),
      e.branch,
      String(e.releases),
      e.error ? `? (${e.error})` : e.live ? `${e.live.id} ${e.live.date.slice(0, 10)}` : '-',
      e.lastRun ? `${e.lastRun.at} ${e.lastRun.kind} ${e.lastRun.to ?? '-'} ${e.lastRun.result} by ${e.lastRun.who}` : '-',
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  // numbers right-aligned, the last column not padded (no trailing blanks)
  const line = (c: readonly string[]) =>
    c.map((cell, i) => (i === c.length - 1 ? cell : i === 1 || i === 3 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ');
  const out = cells.length ? [line(header), ...cells.map(line)] : [];
  for (const r of rows) if (r.error) out.push(`${r.app}: does not load: ${r.error.split('\n')[0]} (deploy check ${r.app}-<env> for every problem)`);
  return out;
}

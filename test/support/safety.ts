/** Helpers for the safety tests: the CLI with any environment, in the background, and whole-world snapshots. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLI, type RunResult, type World, treeOf } from './world.js';

export interface Running {
  child: ChildProcess;
  done: Promise<RunResult>;
}

export function baseEnv(w: World): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', SLIPWAY_APPS: w.appsDir, SLIPWAY_ROOT: w.root, CI: '1', TMPDIR: join(w.dir, 'tmp') };
}

/** Start `deploy ...args` without waiting; every byte of output is kept for the secrets check. */
export function startDeploy(w: World, args: string[], env: Record<string, string> = {}, outputs?: string[]): Running {
  const child = spawn('node', [CLI, ...args], { env: { ...baseEnv(w), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let all = '';
  child.stdout!.on('data', (d: Buffer) => ((stdout += d), (all += d)));
  child.stderr!.on('data', (d: Buffer) => ((stderr += d), (all += d)));
  const done = new Promise<RunResult>((resolve) =>
    child.on('close', (code, signal) => {
      outputs?.push(all);
      resolve({ exitCode: code ?? (signal ? 128 : -1), stdout, stderr, all });
    }),
  );
  return { child, done };
}

export function runDeploy(w: World, args: string[], env: Record<string, string> = {}, outputs?: string[]): Promise<RunResult> {
  return startDeploy(w, args, env, outputs).done;
}

export async function waitFor(what: string, check: () => boolean, timeoutMs = 30_000, everyMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Half-staged release dirs on a host. */
export function partials(w: World, hostIndex: number): string[] {
  const dir = join(w.remoteBase(w.fleet.hosts[hostIndex]!), 'releases');
  return existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith('.partial')) : [];
}

export interface AppParts {
  /** extra top-level keys, TypeScript source ending in a comma */
  top?: string;
  /** extra keys of envs.prod */
  env?: string;
  remote?: string;
  ssh?: string;
  /** replaces the hosts list */
  hosts?: string;
}

/** An app file for the world's fleet, with pieces swapped in. */
export async function writeAppFile(w: World, parts: AppParts = {}): Promise<void> {
  const hosts = parts.hosts ?? w.fleet.hosts.map((h) => `{ name: '${h.name}', address: '${h.address}' }`).join(', ');
  const repo = join(w.dir, 'repos', 'shop.git');
  await writeFile(
    join(w.appsDir, `${w.app}.ts`),
    `import { defineApp } from 'slipway';
export default defineApp({
  repo: ${JSON.stringify(repo)},
  branch: 'main',
  gitConfig: { 'protocol.file.allow': 'always' },
  ssh: { key: '${w.fleet.clientKey}', knownHosts: '${w.fleet.knownHosts}', connectTimeout: 5, commandTimeout: 20, ${parts.ssh ?? ''} },
  remote: { path: '/data/www/{app}', ${parts.remote ?? ''} },
  ${parts.top ?? ''}
  envs: { prod: { hosts: [${hosts}], ${parts.env ?? ''} } },
});
`,
  );
}

/** Everything a run could change: the admin root and every host's /data. */
export function snapshot(w: World): Map<string, string> {
  const out = new Map<string, string>();
  // FETCH_HEAD is git's note of the last fetch: checking that a --revision exists fetches
  for (const [k, v] of treeOf(w.root, (rel) => rel.endsWith('/.git/FETCH_HEAD'))) out.set(`admin/${k}`, v);
  for (const h of w.fleet.hosts) for (const [k, v] of treeOf(h.dataDir)) out.set(`${h.name}/${k}`, v);
  return out;
}

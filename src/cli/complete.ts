/**
 * `deploy __complete target|release <target>`: the dynamic words of the completion scripts,
 * one a line. Only local files are read (the apps dir, the admin root's directories, a store's
 * tags), as the caller: nothing that `ls` would not show them. Every failure prints nothing,
 * and so does a run under sudo, which would read as root what the caller may not see.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { caller } from '../caller.js';
import { listApps } from '../config/load.js';
import { ENV_NAME, splitTarget } from '../config/names.js';
import { adminPaths } from '../config/paths.js';
import { RELEASE_TAG } from '../release-store/release.js';
import { type GlobalOptions, locations } from './context.js';

/**
 * `<app>-<env>` for every app file, with the envs its admin root has directories for (the
 * envs are in the app file, but running app code on a Tab would be slow and run code); an
 * app with none yet is offered as `<app>-`, the env to be typed.
 */
export async function completeTargets(appsDir: string, root: string): Promise<string[]> {
  const apps = await listApps(appsDir).catch(() => []);
  const envs = readNames(root).filter((e) => ENV_NAME.test(e));
  return apps.flatMap((app) => {
    const known = envs.filter((env) => ['www', 'src', 'private'].some((part) => existsSync(join(root, env, part, app))));
    return known.length ? known.map((env) => `${app}-${env}`) : [`${app}-`];
  });
}

/** The release ids of a target's store, newest first: its tags r<N>, loose or packed. */
export function completeReleases(target: string, root: string): string[] {
  const parts = splitTarget(target);
  if (!parts) return [];
  const www = adminPaths(root, parts.env, parts.app).www;
  const gitDir = existsSync(join(www, '.git')) ? join(www, '.git') : www;
  const tags = new Set(readNames(join(gitDir, 'refs', 'tags')));
  let packed = '';
  try {
    packed = readFileSync(join(gitDir, 'packed-refs'), 'utf8');
  } catch {
    // no packed refs
  }
  for (const m of packed.matchAll(/^[0-9a-f]+ refs\/tags\/(\S+)$/gm)) tags.add(m[1]!);
  return [...tags]
    .map((t) => ({ t, n: RELEASE_TAG.exec(t)?.[1] }))
    .filter((x) => x.n !== undefined)
    .sort((a, b) => Number(b.n) - Number(a.n))
    .map((x) => x.t);
}

function readNames(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export async function completeCommand(kind: string, target: string | undefined, globals: GlobalOptions): Promise<void> {
  if (caller().elevated) return;
  let words: string[] = [];
  try {
    const { appsDir, root } = locations(globals);
    if (kind === 'target') words = await completeTargets(appsDir, root);
    else if (kind === 'release' && target) words = completeReleases(target, root);
  } catch {
    return;
  }
  if (words.length) process.stdout.write(`${words.join('\n')}\n`);
}

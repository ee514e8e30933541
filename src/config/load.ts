/**
 * Find and load app files (`<appsDir>/<app>.ts`), validate them, and resolve
 * `<app>-<env>` against what exists. Files starting with "_" are shared
 * modules apps may import (common hosts, defaults), not apps.
 */
import { existsSync, lstatSync, mkdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import { ConfigError, UsageError, errorMessage } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { checkAppName, splitTarget } from './names.js';
import { type AppEnv, resolveAppEnv } from './resolve.js';
import { type AppConfig, appSchema, formatIssues } from './schema.js';

// jiti's CommonJS build: required rather than imported (its ES module only wraps it), so
// Node does not parse it at start-up looking for named exports
const { createJiti } = createRequire(import.meta.url)('jiti') as typeof import('jiti');

export interface LoadOptions {
  appsDir: string;
  root: string;
}

/** The module app files get for `import { defineApp } from 'slipway'`, compiled or not. */
function slipwayModule(): string {
  const js = join(packageRoot(), 'dist', 'src', 'config', 'index.js');
  return existsSync(js) ? js : join(packageRoot(), 'src', 'config', 'index.ts');
}

export function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

export async function listApps(appsDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(appsDir);
  } catch (err) {
    throw new UsageError(`cannot read the apps directory ${appsDir}: ${errorMessage(err)} (set --apps or SLIPWAY_APPS)`);
  }
  return names
    .filter((n) => n.endsWith('.ts') && !n.startsWith('_') && !n.endsWith('.d.ts'))
    .map((n) => n.slice(0, -3))
    .filter((n) => !checkAppName(n))
    .sort();
}

/**
 * Where jiti keeps the app files it compiled: in Slipway's own node_modules, as private as
 * its code. Left to itself, jiti uses <tmpdir>/jiti whenever the apps directory has no
 * node_modules (as in /etc/slipway/apps). On a shared admin node anyone may create that
 * directory first and put a compiled app file in it, which root would then run. A cache
 * directory that others could write to (another owner, group or world writable, a symlink)
 * is not used: app files are then compiled on every run.
 */
export function compileCache(modules = join(packageRoot(), 'node_modules')): string | false {
  if (!existsSync(modules)) return false;
  const dir = join(modules, '.cache', 'jiti');
  try {
    mkdirSync(join(modules, '.cache'), { recursive: true });
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
  }
  const ours = (path: string) => {
    const st = lstatSync(path);
    return st.isDirectory() && (process.getuid === undefined || st.uid === process.getuid()) && (st.mode & 0o022) === 0;
  };
  try {
    return ours(join(modules, '.cache')) && ours(dir) ? dir : false;
  } catch {
    return false;
  }
}

export async function loadApp(appsDir: string, app: string, cache: string | false = false): Promise<{ config: AppConfig; file: string }> {
  const file = join(appsDir, `${app}.ts`);
  const shown = displayPath(file);
  const jiti = createJiti(import.meta.url, { alias: { slipway: slipwayModule() }, moduleCache: false, fsCache: cache });
  let raw: unknown;
  try {
    raw = await jiti.import(file, { default: true });
  } catch (err) {
    throw new ConfigError([`${shown}: cannot be loaded: ${errorMessage(err).split('\n')[0]}`]);
  }
  if (raw === undefined || raw === null || typeof raw !== 'object') {
    throw new ConfigError([`${shown}: must \`export default defineApp({ ... })\``]);
  }
  const parsed = appSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues).map((p) => `${shown}: ${p}`));
  return { config: parsed.data, file: shown };
}

/** Show a user-supplied string safely in a message: quoted, control characters escaped. */
export function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** Resolve `<app>-<env>` against the apps directory; only known apps and envs pass. */
export async function loadTarget(target: string, options: LoadOptions): Promise<AppEnv> {
  const parts = splitTarget(target);
  if (!parts) throw new UsageError(`${shown(target)} is not <app>-<env> (for example: caseconductor-prod)`);
  const apps = await listApps(options.appsDir);
  if (!apps.includes(parts.app)) {
    throw new UsageError(`unknown app ${shown(parts.app)} in ${displayPath(options.appsDir)} (apps: ${apps.join(', ') || 'none'})`);
  }
  const { config, file } = await loadApp(options.appsDir, parts.app, compileCache());
  if (!Object.hasOwn(config.envs, parts.env)) {
    throw new UsageError(`unknown env ${shown(parts.env)} for app ${parts.app} (envs: ${Object.keys(config.envs).join(', ')})`);
  }
  return resolveAppEnv(config, parts.app, parts.env, file, options.root);
}

/**
 * Find and load app files (`<appsDir>/<app>.ts`), validate them, and resolve
 * `<app>-<env>` against what exists. Files starting with "_" are shared
 * modules apps may import (common hosts, defaults), not apps.
 */
import { existsSync, lstatSync, mkdirSync, readFileSync, realpathSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { createRequire } from 'node:module';
import { passwdEntry } from '../caller.js';
import { ConfigError, UsageError, errorMessage } from '../errors.js';
import { local } from '../exec/local.js';
import { packageRoot } from '../package-root.js';
import { checkAppName, splitTarget } from './names.js';
import { inventoryHosts } from './hosts.js';
import { type AppEnv, resolveAppEnv } from './resolve.js';
import { type AppConfig, appSchema, formatIssues } from './schema.js';
import { requireTrusted, requireTrustedTree } from './trust.js';

// jiti's CommonJS build: required rather than imported (its ES module only wraps it), so
// Node does not parse it at start-up looking for named exports
const { createJiti } = createRequire(import.meta.url)('jiti') as typeof import('jiti');

export interface LoadOptions {
  appsDir: string;
  root: string;
  /** Root through sudo or setuid: every file used must be root's alone (trust.ts). */
  elevated?: boolean;
  /**
   * Who may run this: called with the env's `allowGroups` before any app code runs as
   * root (under sudo, from a reading of the app file as `nobody`).
   */
  gate?: (allowGroups: string[] | undefined) => Promise<void>;
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

/**
 * Load an app file. With `guard` (under sudo), every file jiti compiles is passed to it
 * first, and nothing is taken from the compile cache, so no module escapes the check.
 */
export async function loadApp(
  appsDir: string,
  app: string,
  cache: string | false = false,
  guard?: (file: string) => void,
): Promise<{ config: AppConfig; file: string }> {
  const file = join(appsDir, `${app}.ts`);
  const shown = displayPath(file);
  const compiler = guard ? createJiti(import.meta.url, { fsCache: false }) : undefined;
  const jiti = createJiti(import.meta.url, {
    alias: { slipway: slipwayModule() },
    moduleCache: false,
    fsCache: compiler ? false : cache,
    ...(compiler && guard
      ? { transform: (opts: Parameters<typeof compiler.transform>[0]) => {
          if (opts.filename) guard(opts.filename);
          return { code: compiler.transform(opts) };
        } }
      : {}),
  });
  let raw: unknown;
  try {
    raw = await jiti.import(file, { default: true });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new ConfigError([loadFailure(shown, errorMessage(err))]);
  }
  if (raw === undefined || raw === null || typeof raw !== 'object') {
    throw new ConfigError([`${shown}: must \`export default defineApp({ ... })\``]);
  }
  const parsed = appSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(formatIssues(parsed.error.issues).map((p) => `${shown}: ${p}`));
  return { config: parsed.data, file: shown };
}

/**
 * Why an app file cannot be loaded. jiti reports a syntax error as `<code>: <reason> \n <file>:<line>:<column>`
 * (babel's column, counted from 0): that becomes `file:line:column: cannot be loaded: syntax error: <reason>`
 * and the line itself with a caret under the column. Anything else: its first line.
 */
export function loadFailure(appFile: string, message: string, mayRead: (file: string) => boolean = () => true): string {
  const m = /^(\w+): (.*?)\s*\n\s*(\/.+):(\d+):(\d+)\s*$/s.exec(message);
  const line = m ? Number(m[4]) : 0;
  if (!m || line < 1) return `${appFile}: cannot be loaded: ${message.split('\n')[0]}`;
  const column = Number(m[5]);
  const file = displayPath(m[3]!);
  const reason = `${m[1] === 'ParseError' ? 'syntax error' : m[1]}: ${m[2]!.split('\n')[0]}`;
  const where = `${file}:${line}:${column + 1}`;
  const head = file === appFile ? `${where}: cannot be loaded: ${reason}` : `${appFile}: cannot be loaded: ${where}: ${reason}`;
  let text: string | undefined;
  try {
    text = mayRead(m[3]!) ? readFileSync(m[3]!, 'utf8').split('\n')[line - 1] : undefined;
  } catch {
    text = undefined;
  }
  if (text === undefined) return head;
  const shownLine = text.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' ').slice(0, 200);
  const pad = shownLine.slice(0, column).replace(/[^\t]/g, ' ');
  const gutter = String(line);
  return `${head}\n  ${gutter} | ${shownLine}\n  ${' '.repeat(gutter.length)} | ${pad}^`;
}

/** Show a user-supplied string safely in a message: quoted, control characters escaped. */
export function shown(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** Resolve `<app>-<env>` against the apps directory; only known apps and envs pass. */
export async function loadTarget(target: string, options: LoadOptions): Promise<AppEnv> {
  const parts = splitTarget(target);
  if (!parts) throw new UsageError(`${shown(target)} is not <app>-<env> (for example: caseconductor-prod)`);
  if (options.elevated) {
    requireTrusted(packageRoot(), "Slipway's own directory");
    requireTrustedTree(options.appsDir, 'the apps directory');
    requireTrusted(options.root, 'the admin root');
  }
  const apps = await listApps(options.appsDir);
  if (!apps.includes(parts.app)) {
    throw new UsageError(`unknown app ${shown(parts.app)} in ${displayPath(options.appsDir)} (apps: ${apps.join(', ') || 'none'})`);
  }
  if (options.elevated) {
    const peek = await peekApp(options.appsDir, parts.app);
    if (!peek.envs.includes(parts.env)) throw new UsageError(`unknown env ${shown(parts.env)} for app ${parts.app} (envs: ${peek.envs.join(', ')})`);
    await options.gate?.(peek.allowGroups[parts.env]);
  }
  const guard = options.elevated ? (loaded: string) => checkLoaded(options.appsDir, `${parts.app}.ts`, loaded) : undefined;
  const { config, file } = await loadApp(options.appsDir, parts.app, compileCache(), guard);
  if (!Object.hasOwn(config.envs, parts.env)) {
    throw new UsageError(`unknown env ${shown(parts.env)} for app ${parts.app} (envs: ${Object.keys(config.envs).join(', ')})`);
  }
  const listed = await inventoryHosts(config, parts.env, file, Boolean(options.elevated));
  const appEnv = resolveAppEnv(config, parts.app, parts.env, file, options.root, listed?.hosts, listed?.from);
  if (!options.elevated) await options.gate?.(appEnv.allowGroups);
  if (options.elevated) {
    requireTrusted(appEnv.paths.private, 'the private directory');
    requireTrusted(appEnv.ssh.knownHosts, 'known_hosts');
    requireTrusted(appEnv.ssh.key, 'the SSH key');
  }
  return appEnv;
}

/** What `peekApp` learns about an app file without running it as root. */
export interface AppPeek {
  envs: string[];
  allowGroups: Record<string, string[] | undefined>;
}

// Run as `nobody`: evaluate the app file with jiti and print its envs, their allowGroups
// and every file the evaluation loaded, as the last line of stdout.
const PEEK = `
const [jitiPath, alias, file] = process.argv.slice(1);
const { createJiti } = require(jitiPath);
const jiti = createJiti(file, { alias: { slipway: alias }, moduleCache: true, fsCache: false });
jiti.import(file, { default: true }).then((raw) => {
  const envs = raw && typeof raw === 'object' && raw.envs && typeof raw.envs === 'object' ? raw.envs : {};
  const allowGroups = {};
  for (const [name, env] of Object.entries(envs)) allowGroups[name] = env && typeof env === 'object' ? env.allowGroups : undefined;
  process.stdout.write('\\n' + JSON.stringify({ envs: Object.keys(envs), allowGroups, files: Object.keys(require.cache) }) + '\\n');
}, (err) => { process.stdout.write('\\n' + JSON.stringify({ error: String(err && err.message || err) }) + '\\n'); process.exit(1); });
`;

const UNIX_NAME = /^[a-z_][a-z0-9_.-]{0,31}$/;

/**
 * Under sudo, read an app file's envs and `allowGroups` by evaluating it in a child
 * process running as `nobody`, so that the decision who may deploy comes before any
 * app code runs as root. The files it loaded must all be in the apps directory (or
 * Slipway's own): an import from anywhere else is refused under sudo.
 */
export async function peekApp(appsDir: string, app: string): Promise<AppPeek> {
  const file = join(appsDir, `${app}.ts`);
  const shownFile = displayPath(file);
  const nobody = passwdEntry('nobody') ?? { uid: 65534, gid: 65534 };
  const jitiPath = createRequire(import.meta.url).resolve('jiti');
  // reject: false: a failure's output says why the file did not load
  const r = await local.run([process.execPath, '-e', PEEK, jitiPath, slipwayModule(), file], { uid: nobody.uid, gid: nobody.gid, cwd: '/', timeoutMs: 60_000, reject: false });
  const { stdout, exitCode: code } = r;
  let { stderr } = r;
  const last = stdout.trimEnd().split('\n').pop() ?? '';
  let peek: { envs?: unknown; allowGroups?: unknown; files?: unknown; error?: unknown } | undefined;
  try {
    peek = JSON.parse(last);
  } catch {
    peek = undefined;
  }
  // a file that does not parse says where, as it would without sudo
  if (typeof peek?.error === 'string' && /\n\s*\/.+:\d+:\d+\s*$/.test(peek.error)) {
    // the report comes from a process running the app file: show a line only of a file in the apps directory
    const apps = realpathSync(appsDir) + sep;
    throw new ConfigError([loadFailure(shownFile, peek.error, (f) => existsSync(f) && realpathSync(f).startsWith(apps))]);
  }
  if (code !== 0 && typeof peek?.error === 'string') stderr += `\n${peek.error.split('\n')[0]}`;
  if (code !== 0 || !peek || typeof peek.error === 'string') {
    const why = stderr.trim().split('\n').pop() || `exit ${code}`;
    throw new ConfigError([`${shownFile}: cannot be loaded as nobody (under sudo an app file is read as nobody before it runs as root; it must be readable by others): ${why}`]);
  }
  const envs = Array.isArray(peek.envs) ? peek.envs.filter((e): e is string => typeof e === 'string') : [];
  const groups = (peek.allowGroups ?? {}) as Record<string, unknown>;
  const allowGroups: AppPeek['allowGroups'] = {};
  for (const env of envs) {
    const value = groups[env];
    if (value === undefined) continue;
    if (!Array.isArray(value) || !value.every((g) => typeof g === 'string' && UNIX_NAME.test(g))) {
      throw new ConfigError([`${shownFile}: envs.${env}.allowGroups: must be a list of unix group names`]);
    }
    allowGroups[env] = value as string[];
  }
  for (const loaded of Array.isArray(peek.files) ? peek.files : []) {
    if (typeof loaded === 'string' && loaded.startsWith('/')) checkLoaded(appsDir, shownFile, loaded);
  }
  return { envs, allowGroups };
}

/** Under sudo, a module an app file loads must be in the apps directory (or Slipway's own) and root's alone. */
export function checkLoaded(appsDir: string, appFile: string, loaded: string): void {
  const inside = (dir: string, path: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
  const real = existsSync(loaded) ? realpathSync(loaded) : loaded;
  if (!inside(realpathSync(appsDir), real) && !inside(realpathSync(packageRoot()), real)) {
    throw new UsageError(`${appFile} loads ${loaded}, outside the apps directory ${appsDir}; under sudo app files may only import from the apps directory`);
  }
  requireTrusted(loaded, `${appFile} loads`);
}

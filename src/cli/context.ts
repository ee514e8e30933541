/** What every command needs: where apps and the admin root are, and how to report. */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { caller } from '../caller.js';
import { DEFAULT_ROOT, checkAdminRoot } from '../config/paths.js';
import { importWithColour, useColour } from '../report/colour.js';
import { lineReporter } from '../report/line.js';
import { redacting } from '../report/redact.js';
import { type Reporter, type RunEvent, tee } from '../report/events.js';
import { jsonReporter } from '../report/json.js';
import { checkAbsolutePath } from '../config/names.js';
import { UsageError } from '../errors.js';
import { packageRoot } from '../package-root.js';

export interface GlobalOptions {
  apps?: string;
  root?: string;
  verbose?: boolean;
  /** false with --no-color */
  color?: boolean;
}

/**
 * The default apps directory. An installed Slipway (`make install` leaves INSTALLED_MARKER
 * in its directory, with an `apps=` line: APPS_DIR, /etc/slipway/apps by default) keeps app
 * files outside its own directory; a clone uses its apps/.
 */
export const INSTALLED_MARKER = '.slipway-install';
export const INSTALLED_APPS = '/etc/slipway/apps';

export function defaultApps(root = packageRoot()): string {
  const marker = join(root, INSTALLED_MARKER);
  if (!existsSync(marker)) return join(root, 'apps');
  const line = readFileSync(marker, 'utf8').match(/^apps=(\/.*)$/m);
  return line ? line[1]! : INSTALLED_APPS;
}

export interface Locations {
  appsDir: string;
  root: string;
  /** Root through sudo or setuid: only files root owns are used (config/trust.ts). */
  elevated: boolean;
}

/**
 * Where the app files and the admin root are. What the user typed is checked before
 * it is resolved: a ".." part is refused. Under sudo, --apps, --root, SLIPWAY_APPS and
 * SLIPWAY_ROOT are honoured only for paths that pass the trust checks (loadTarget
 * checks them), like every other file Slipway uses then.
 */
export function locations(options: GlobalOptions): Locations {
  const typedApps = options.apps ?? process.env.SLIPWAY_APPS;
  const typedRoot = options.root ?? process.env.SLIPWAY_ROOT;
  for (const [flag, typed] of [['--apps', typedApps], ['--root', typedRoot]] as const) {
    if (typed !== undefined && typed.split('/').includes('..')) throw new UsageError(`${flag} ${JSON.stringify(typed)}: must not contain ".." parts`);
  }
  const appsDir = resolve(typedApps ?? defaultApps());
  const root = resolve(typedRoot ?? DEFAULT_ROOT);
  const bad = checkAbsolutePath(root) ?? checkAdminRoot(root);
  if (bad) throw new UsageError(`--root ${JSON.stringify(root)}: ${bad}`);
  const badApps = checkAbsolutePath(appsDir);
  if (badApps) throw new UsageError(`--apps ${JSON.stringify(appsDir)}: ${badApps}`);
  return { appsDir, root, elevated: caller().elevated };
}

/**
 * A person is watching only when both stdout and stderr are terminals and CI is
 * not set (Jenkins, GitHub Actions, GitLab… set CI=true; `CI=0` or `CI=false`
 * count as unset). Otherwise: no spinners, one line per event.
 */
export function isInteractive(
  env: NodeJS.ProcessEnv = process.env,
  streams: { stdout: { isTTY?: boolean }; stderr: { isTTY?: boolean } } = process,
): boolean {
  const ci = (env.CI ?? '').trim().toLowerCase();
  return Boolean(streams.stdout.isTTY && streams.stderr.isTTY) && ['', '0', 'false'].includes(ci);
}

export interface ReporterOptions {
  /** JSON lines on stdout (human lines still go to stderr, never the listr2 view). */
  json?: boolean;
  /** More reporters that see every (redacted) event, e.g. a RunTracker. */
  also?: Reporter[];
  /** false: no colour whatever the environment says (--no-color); see useColour. */
  color?: boolean;
}

/**
 * The listr2 view on a terminal (loaded only then: start-up time); timestamped
 * lines in CI, pipes and logs; JSON lines with --json.
 */
export async function makeReporter(options: ReporterOptions = {}): Promise<Reporter> {
  const colour = useColour({ noColor: options.color === false });
  const human = isInteractive() && !options.json ? notesAfterTitle((await importWithColour(colour, () => import('../report/tty.js'))).ttyReporter()) : lineReporter();
  return redacting(tee(human, ...(options.json ? [jsonReporter()] : []), ...(options.also ?? [])));
}

/**
 * The title (the banner) comes once the run holds its lock, but notes may come before it
 * (waiting for the lock, a stale lock taken over). The live view takes its first note to be
 * the title; the earlier notes are kept until the title is there.
 */
export function notesAfterTitle(inner: Reporter): Reporter {
  let begun = false;
  const early: RunEvent[] = [];
  return {
    begin(title, hosts) {
      inner.begin(title, hosts);
      begun = true;
      for (const e of early.splice(0)) inner.emit(e);
    },
    emit(event) {
      if (begun || event.kind !== 'note') inner.emit(event);
      else early.push(event);
    },
    async close() {
      await inner.close();
      // a run refused before its title (the lock not free after --wait): its notes still show
      for (const e of early.splice(0)) if (e.kind === 'note') process.stderr.write(`${e.text}\n`);
    },
  };
}

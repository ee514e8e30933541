/** What every command needs: where apps and the admin root are, and how to report. */
import { join, resolve } from 'node:path';
import { DEFAULT_ROOT } from '../config/paths.js';
import { lineReporter } from '../report/line.js';
import { redacting } from '../report/redact.js';
import { type Reporter, tee } from '../report/events.js';
import { jsonReporter } from '../report/json.js';
import { checkAbsolutePath } from '../config/names.js';
import { UsageError } from '../errors.js';
import { packageRoot } from '../package-root.js';

export interface GlobalOptions {
  apps?: string;
  root?: string;
  verbose?: boolean;
  /** Answer yes to every confirmation (required when not interactive). */
  yes?: boolean;
}

/** The apps/ directory shipped with Slipway. */
function bundledApps(): string {
  return join(packageRoot(), 'apps');
}

export function locations(options: GlobalOptions): { appsDir: string; root: string } {
  const appsDir = resolve(options.apps ?? process.env.SLIPWAY_APPS ?? bundledApps());
  const root = resolve(options.root ?? process.env.SLIPWAY_ROOT ?? DEFAULT_ROOT);
  const bad = checkAbsolutePath(root);
  if (bad) throw new UsageError(`--root ${JSON.stringify(root)}: ${bad}`);
  const badApps = checkAbsolutePath(appsDir);
  if (badApps) throw new UsageError(`--apps ${JSON.stringify(appsDir)}: ${badApps}`);
  return { appsDir, root };
}

/**
 * A person is watching only when both stdout and stderr are terminals and CI is
 * not set (Jenkins, GitHub Actions, GitLab… set CI=true; `CI=0` or `CI=false`
 * count as unset). Otherwise: no prompts, no spinners, one line per event.
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
}

/**
 * The listr2 view on a terminal (loaded only then: start-up time); timestamped
 * lines in CI, pipes and logs; JSON lines with --json.
 */
export async function makeReporter(options: ReporterOptions = {}): Promise<Reporter> {
  const human = isInteractive() && !options.json ? (await import('../report/tty.js')).ttyReporter() : lineReporter();
  return redacting(tee(human, ...(options.json ? [jsonReporter()] : []), ...(options.also ?? [])));
}

/** What every command needs: where apps and the admin root are, and how to report. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ROOT } from '../config/paths.js';
import { lineReporter } from '../report/line.js';
import { redacting } from '../report/redact.js';
import type { Reporter } from '../report/events.js';
import { checkAbsolutePath } from '../config/names.js';
import { UsageError } from '../errors.js';

export interface GlobalOptions {
  apps?: string;
  root?: string;
  verbose?: boolean;
}

/** The apps/ directory shipped beside the code (dist/src/cli → ../../../apps, src/cli → ../../apps). */
function bundledApps(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.includes('/dist/') ? resolve(here, '../../../apps') : resolve(here, '../../apps');
}

export function locations(options: GlobalOptions): { appsDir: string; root: string } {
  const appsDir = resolve(options.apps ?? process.env.SLIPWAY_APPS ?? bundledApps());
  const root = resolve(options.root ?? process.env.SLIPWAY_ROOT ?? DEFAULT_ROOT);
  const bad = checkAbsolutePath(root);
  if (bad) throw new UsageError(`--root ${JSON.stringify(root)}: ${bad}`);
  return { appsDir, root };
}

/** The listr2 view on a terminal (loaded only then: start-up time); timestamped lines in CI, pipes and logs. */
export async function makeReporter(): Promise<Reporter> {
  const interactive = Boolean(process.stderr.isTTY) && !process.env.CI;
  return redacting(interactive ? (await import('../report/tty.js')).ttyReporter() : lineReporter());
}

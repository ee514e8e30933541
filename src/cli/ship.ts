import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadTarget } from '../config/load.js';
import type { AppEnv } from '../config/resolve.js';
import { ExitCode, UsageError, errorMessage, exitCodeOf } from '../errors.js';
import { notifyRun } from '../notify/index.js';
import { deploy } from '../pipeline.js';
import type { Reporter, RunEvent } from '../report/events.js';
import { writeJunit } from '../report/junit.js';
import { formatDuration } from '../report/line.js';
import { redact } from '../report/redact.js';
import { RunTracker } from '../report/summary.js';
import { deployerName } from '../release-store/store.js';
import { buildFromEnv, checkBuildText } from './ci.js';
import { type GlobalOptions, locations, makeReporter } from './context.js';
import { guarded, parseWait, verifyAllowed } from './guard.js';
import { type RunSelection, applySelection, checkRevision } from './selection.js';

export interface ShipOptions extends RunSelection {
  revision?: string;
  force?: boolean;
  parallel?: number;
  dryRun?: boolean;
  allowOffBranch?: boolean;
  build?: string;
  json?: boolean;
  junit?: string;
  /** How long to wait for another run's lock: 30s, 5m, 1h. */
  wait?: string;
}

export async function shipCommand(target: string, options: ShipOptions, globals: GlobalOptions): Promise<void> {
  if (options.dryRun) {
    checkRevision(options.revision);
    const { planCommand } = await import('./plan.js');
    return planCommand(target, options, globals);
  }
  const started = performance.now();
  const tracker = new RunTracker();
  const reporter = makeReporter({ json: options.json, also: [tracker] });
  const build = options.build ?? buildFromEnv();
  let appEnv: AppEnv | undefined;
  let failure: unknown;
  try {
    verifyOptions(options);
    const waitMs = parseWait(options.wait);
    const env = applySelection(await loadTarget(target, locations(globals)), options);
    appEnv = env;
    if (options.parallel) env.parallel = options.parallel;
    await verifyAllowed(env);
    const hosts = appEnv.hosts.map((h) => h.name);
    reporter.begin(`deploying ${appEnv.app}-${appEnv.env} to ${hosts.length} host(s)`, hosts);
    reporter.emit({ kind: 'run', state: 'start', target: `${appEnv.app}-${appEnv.env}`, hosts, ...(options.revision ? { revision: options.revision } : {}), ...(build ? { build } : {}) });
    const result = await guarded(env, { waitMs, reporter, queue: { revision: options.revision } }, () =>
      deploy(env, { revision: options.revision, force: options.force, allowOffBranch: options.allowOffBranch, build }, reporter));
    reporter.emit({
      kind: 'note',
      level: 'info',
      text: `${appEnv.app}-${appEnv.env}: ${result.release.id} (${result.release.commit.slice(0, 12)}) live on ${result.hosts.length}/${result.hosts.length} hosts in ${formatDuration(performance.now() - started)}`,
    });
  } catch (err) {
    failure = err;
  }
  try {
    await finishRun(reporter, tracker, {
      target: appEnv ? `${appEnv.app}-${appEnv.env}` : target,
      exitCode: failure === undefined ? ExitCode.ok : exitCodeOf(failure),
      ms: performance.now() - started,
      ...(failure === undefined ? {} : { error: redact(errorMessage(failure)) }),
    }, appEnv, options.junit);
  } finally {
    await reporter.close();
  }
  if (failure !== undefined) throw failure;
}

/** Bad options end the run before anything is touched (exit 2). */
function verifyOptions(options: ShipOptions): void {
  checkRevision(options.revision);
  if (options.build !== undefined) {
    const bad = checkBuildText(options.build);
    if (bad) throw new UsageError(`--build: ${bad}`);
  }
  if (options.junit !== undefined) {
    const dir = dirname(resolve(options.junit));
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--junit ${JSON.stringify(options.junit)}: the directory ${dir} does not exist`);
  }
}

/**
 * The end of every run, also a failed one: the JUnit file, notifications (their
 * failures are warnings only), then `run.finish` as the last event.
 */
async function finishRun(
  reporter: Reporter,
  tracker: RunTracker,
  finish: Omit<Extract<RunEvent, { kind: 'run'; state: 'finish' }>, 'kind' | 'state'>,
  appEnv: AppEnv | undefined,
  junit: string | undefined,
): Promise<void> {
  const event: RunEvent = { kind: 'run', state: 'finish', ...finish };
  tracker.emit(event); // so the summary below knows the verdict; the tee sees the event last
  const summary = tracker.summary();
  const warnings: string[] = [];
  if (junit) await writeJunit(junit, summary).catch((err) => warnings.push(`cannot write the JUnit report ${junit}: ${errorMessage(err)}`));
  if (appEnv) warnings.push(...(await notifyRun(appEnv.notify, { action: 'deploy', app: appEnv.app, env: appEnv.env, deployer: deployerName() }, summary)));
  for (const text of warnings) reporter.emit({ kind: 'note', level: 'warn', text });
  reporter.emit(event);
}

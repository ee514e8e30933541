/**
 * What every command that changes a fleet (deploy, rollback, sync) does around
 * its flow, in one place: check options, load the app-env (deciding who may run
 * it before its file runs as root), report (TTY, lines, --json), and at the end,
 * whatever happened, write the JUnit file, notify, and emit `run.finish` last.
 * The lock, the queue and the policy are the flow's own (src/flows/guard.ts).
 */
import { closeSync, existsSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { loadTarget } from '../config/load.js';
import type { AppEnv } from '../config/resolve.js';
import { ExitCode, UsageError, errorMessage, exitCodeOf } from '../errors.js';
import { notifyRun } from '../notify/index.js';
import type { Reporter, RunEvent } from '../report/events.js';
import { writeJunit } from '../report/junit.js';
import { formatDuration } from '../report/line.js';
import { redact } from '../report/redact.js';
import { RunTracker } from '../report/summary.js';
import { deployerName } from '../caller.js';
import { type GlobalOptions, locations, makeReporter } from './context.js';
import { type FlowOptions, verifyAllowed } from '../flows/guard.js';
import { parseWait } from './duration.js';
import { requireAccess } from './access.js';
import { FeedWriter } from '../feed/index.js';

export interface FleetRunOptions {
  parallel?: number;
  /** How long to wait for another run's lock: 30s, 5m, 1h. */
  wait?: string;
  json?: boolean;
  junit?: string;
}

export interface FleetRun<T> {
  action: 'deploy' | 'rollback' | 'sync';
  /** Checks of the command's own options; throw UsageError. */
  verify?: () => void;
  /** Narrow the env (e.g. --hosts) before anything runs. */
  select?: (appEnv: AppEnv) => AppEnv;
  /** The flow, given what it takes from every command that changes a fleet (--wait). */
  work: (appEnv: AppEnv, reporter: Reporter, flow: FlowOptions) => Promise<T>;
  /** The closing line of a successful run. */
  done: (result: T, target: string, took: string) => string;
}

export async function runOnFleet<T>(target: string, options: FleetRunOptions, globals: GlobalOptions, run: FleetRun<T>): Promise<void> {
  const started = performance.now();
  const tracker = new RunTracker();
  // the dashboard follows the run in its feed (src/feed): opened once the target is known to be an app-env
  const feed = new FeedWriter(run.action, deployerName());
  const reporter = await makeReporter({ json: options.json, also: [tracker, feed], color: globals.color });
  let appEnv: AppEnv | undefined;
  let failure: unknown;
  // a --junit that cannot be written is a usage error like any other: reported once, not tried again at the end
  const junitProblem = options.junit === undefined ? undefined : checkJunit(options.junit);
  const junit = junitProblem ? undefined : options.junit;
  try {
    if (junitProblem) throw new UsageError(junitProblem);
    run.verify?.();
    const waitMs = parseWait(options.wait);
    // allowGroups is decided inside loadTarget (under sudo before the app file runs as root), and again by the flow
    const loaded = await loadTarget(target, { ...locations(globals), gate: (groups) => verifyAllowed(target, groups) });
    const env = run.select ? run.select(loaded) : loaded;
    appEnv = env;
    if (options.parallel) env.parallel = options.parallel;
    requireAccess([
      { path: env.paths.www, need: 'write', git: true },
      { path: env.paths.state, need: 'write' },
      ...(run.action === 'deploy' ? [{ path: env.paths.src, need: 'write' as const }] : []),
      { path: env.paths.private, need: 'read' },
      { path: env.ssh.key, need: 'read' },
    ]);
    feed.open(env);
    if (feed.problem) reporter.emit({ kind: 'note', level: 'warn', text: feed.problem });
    const result = await run.work(env, reporter, { waitMs });
    reporter.emit({ kind: 'note', level: 'info', text: run.done(result, `${env.app}-${env.env}`, formatDuration(performance.now() - started)) });
  } catch (err) {
    failure = err;
  }
  try {
    await finishRun(reporter, tracker, {
      target: appEnv ? `${appEnv.app}-${appEnv.env}` : target,
      exitCode: failure === undefined ? ExitCode.ok : exitCodeOf(failure),
      ms: performance.now() - started,
      ...(failure === undefined ? {} : { error: redact(errorMessage(failure)) }),
    }, appEnv, run.action, junit, feed);
  } finally {
    await reporter.close();
  }
  if (failure !== undefined) throw failure;
}

/** Why the --junit file cannot be written, or undefined. Opened for appending: an existing report is only replaced at the end. */
function checkJunit(junit: string): string | undefined {
  const dir = dirname(resolve(junit));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return `--junit ${JSON.stringify(junit)}: the directory ${dir} does not exist`;
  try {
    closeSync(openSync(junit, 'a'));
    return undefined;
  } catch (err) {
    return `--junit ${JSON.stringify(junit)}: cannot be written: ${errorMessage(err)}`;
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
  action: FleetRun<unknown>['action'],
  junit: string | undefined,
  feed: FeedWriter,
): Promise<void> {
  const event: RunEvent = { kind: 'run', state: 'finish', ...finish };
  tracker.emit(event); // so the summary below knows the verdict; the tee sees the event last
  const summary = tracker.summary();
  const warnings: string[] = [];
  if (junit) await writeJunit(junit, summary).catch((err) => warnings.push(`cannot write the JUnit report ${junit}: ${errorMessage(err)}`));
  if (appEnv) warnings.push(...(await notifyRun(appEnv.notify, { action, app: appEnv.app, env: appEnv.env, deployer: deployerName() }, summary)));
  if (appEnv) await feed.finish(appEnv, finish.exitCode === ExitCode.usage).catch((err) => warnings.push(`cannot update the dashboard's feed: ${errorMessage(err)}`));
  if (feed.problem && feed.opened && finish.exitCode !== ExitCode.usage) warnings.push(feed.problem);
  for (const text of warnings) reporter.emit({ kind: 'note', level: 'warn', text });
  reporter.emit(event);
}

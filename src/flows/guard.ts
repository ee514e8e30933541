/**
 * What every flow that changes a fleet (deploy, rollback, sync) does around its
 * work, so a program calling a flow gets the same policy as the command line:
 * `allowGroups` (may this person touch this env?), the admin dirs made private,
 * the app-env's lock (or a wait for it, queued with --wait), SIGINT/SIGTERM
 * turned into an orderly stop, the secrets registered for redaction, and the
 * lock released however the run ends.
 */
import { caller } from '../caller.js';
import { prepareAdminDirs } from '../config/paths.js';
import type { AppEnv } from '../config/resolve.js';
import { SupersededError, UsageError } from '../errors.js';
import { display } from '../exec/cmd.js';
import { local } from '../exec/local.js';
import type { Connector } from '../exec/runner.js';
import { handleSignals } from '../interrupt.js';
import type { Release } from '../release-store/release.js';
import type { Reporter } from '../report/events.js';
import { plural } from '../report/line.js';
import { registerSecrets } from '../secrets.js';
import { acquireLock, describeHolder } from './lock.js';
import { leaveQueue, markDone, supersededBy, takeTicket } from './queue.js';

/**
 * `allowGroups`: refuse before anything runs unless the caller (src/caller.ts: the
 * sudo user only when sudo really started this process) is in one of them.
 */
export async function verifyAllowed(target: string, allowed: string[] | undefined, user = caller().user): Promise<void> {
  if (!allowed?.length) return;
  const r = await local.run(['id', '-Gn', '--', user], { reject: false });
  if (r.exitCode !== 0) throw new UsageError(`${target} may only be deployed by members of ${allowed.join(', ')}; cannot read the groups of ${JSON.stringify(user)}: ${r.stderr.trim()}`);
  const groups = r.stdout.trim().split(/\s+/);
  if (!allowed.some((g) => groups.includes(g))) {
    throw new UsageError(`${user} may not deploy ${target}: only members of ${allowed.join(', ')} may (${user} is in ${groups.join(', ')}); nothing was done`);
  }
}

/** What every flow (deploy, rollback, sync) takes besides its own options. */
export interface FlowOptions {
  /** ms to wait for another run's lock; 0 (the default) refuses at once. */
  waitMs?: number;
  /** Opens the hosts' connections: ssh by default, a recording connector in pipeline tests. */
  connect?: Connector;
}

/** How a flow names itself under the guard. */
export interface GuardedRun {
  /** `deploying`, `rolling back`, … for the title line. */
  verb: string;
  /**
   * With a wait, a deploy queues: when it gets the lock and a newer request is
   * waiting (or already ran), it ends superseded instead of deploying.
   */
  queue?: { revision?: string };
  /** For the run's start event. */
  revision?: string;
  build?: string;
}

/**
 * Run `body` as the only run of this app-env, interruptible by SIGINT/SIGTERM. It is given
 * the store's releases, read under the lock: no other run can add one while it holds it.
 */
export async function guarded<T>(appEnv: AppEnv, reporter: Reporter, waitMs: number, run: GuardedRun, body: (releases: Release[]) => Promise<T>): Promise<T> {
  const target = `${appEnv.app}-${appEnv.env}`;
  await verifyAllowed(target, appEnv.allowGroups);
  await prepareAdminDirs(appEnv.paths);
  const state = appEnv.paths.state;
  const ticket = run.queue && waitMs > 0 ? await takeTicket(state, run.queue.revision) : undefined;
  const lock = await acquireLock({
    target,
    dir: state,
    command: display(['deploy', ...process.argv.slice(2)] as [string, ...string[]]),
    waitMs,
    onWait: (holder) => reporter.emit({ kind: 'note', level: 'warn', text: `${target} is locked by ${describeHolder(holder)}; waiting up to ${Math.round(waitMs / 1000)}s` }),
    onEvent: (event) => {
      if (event.kind === 'lock-stale-taken-over') {
        reporter.emit({ kind: 'note', level: 'warn', text: `took over a stale lock of ${describeHolder(event.stale)}: that process is gone; its hosts are checked and completed by this run` });
      }
    },
  }).catch(async (err: unknown) => {
    if (ticket) await leaveQueue(state, ticket);
    throw err;
  });
  const unhandle = handleSignals(
    (signal) => reporter.emit({ kind: 'note', level: 'warn', text: `${signal}: stopping: no new work starts, connections are closed (again to quit at once)` }),
    () => lock.releaseSync(),
  );
  try {
    if (ticket) {
      const newer = await supersededBy(state, ticket);
      if (newer) throw new SupersededError(`${target}: superseded: ${newer}; nothing was deployed by this run`);
      await markDone(state, ticket);
    }
    // the banner only once this run holds the lock: a run refused (locked, superseded) never says it is deploying
    const hosts = appEnv.hosts.map((h) => h.name);
    reporter.begin(`${run.verb} ${target} on ${plural(hosts.length, 'host')}`, hosts);
    reporter.emit({ kind: 'run', state: 'start', target, hosts, ...(run.revision ? { revision: run.revision } : {}), ...(run.build ? { build: run.build } : {}) });
    // under the lock, so a release the previous holder made is read too; before any host is touched
    const releases = await registerSecrets(appEnv, reporter);
    return await body(releases);
  } finally {
    unhandle();
    if (ticket) await leaveQueue(state, ticket);
    await lock.release();
  }
}

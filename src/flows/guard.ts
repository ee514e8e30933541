/**
 * What every command that changes a fleet (deploy, rollback, sync) does around
 * its work: first `verifyAllowed` (may this person touch this env?), then
 * `guarded`: take the app-env's lock (or wait for it), turn SIGINT/SIGTERM
 * into an orderly stop, and release the lock however the run ends.
 */
import { caller } from '../caller.js';
import type { AppEnv } from '../config/resolve.js';
import { SupersededError, UsageError } from '../errors.js';
import { leaveQueue, markDone, supersededBy, takeTicket } from './queue.js';
import { display } from '../exec/cmd.js';
import { local } from '../exec/local.js';
import { handleSignals } from '../interrupt.js';
import { acquireLock, describeHolder, parseDuration } from './lock.js';
import type { Reporter } from '../report/events.js';

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

/** `--wait 30s|5m|1h` → ms; undefined → refuse at once. */
export function parseWait(text: string | undefined): number {
  if (text === undefined) return 0;
  const ms = parseDuration(text);
  if (ms === undefined) throw new UsageError(`--wait ${JSON.stringify(text)}: expected a duration such as 30s, 5m or 1h`);
  return ms;
}

export interface GuardOptions {
  /** ms to wait for a held lock. */
  waitMs: number;
  reporter: Reporter;
  /**
   * With a wait, the run queues: when it gets the lock and a newer request is
   * waiting (or already ran), it ends superseded instead of deploying.
   */
  queue?: { revision?: string };
}

/** Run `body` as the only run of this app-env, interruptible by SIGINT/SIGTERM. */
export async function guarded<T>(appEnv: AppEnv, options: GuardOptions, body: () => Promise<T>): Promise<T> {
  const target = `${appEnv.app}-${appEnv.env}`;
  const { reporter } = options;
  const ticket = options.queue && options.waitMs > 0 ? await takeTicket(appEnv.paths.state, options.queue.revision) : undefined;
  const lock = await acquireLock({
    target,
    dir: appEnv.paths.state,
    command: display(['deploy', ...process.argv.slice(2)] as [string, ...string[]]),
    waitMs: options.waitMs,
    onWait: (holder) => reporter.emit({ kind: 'note', level: 'warn', text: `${target} is locked by ${describeHolder(holder)}; waiting up to ${Math.round(options.waitMs / 1000)}s` }),
    onEvent: (event) => {
      if (event.kind === 'lock-stale-taken-over') {
        reporter.emit({ kind: 'note', level: 'warn', text: `took over a stale lock of ${describeHolder(event.stale)}: that process is gone; its hosts are checked and completed by this run` });
      }
    },
  }).catch(async (err: unknown) => {
    if (ticket) await leaveQueue(appEnv.paths.state, ticket);
    throw err;
  });
  const unhandle = handleSignals(
    (signal) => reporter.emit({ kind: 'note', level: 'warn', text: `${signal}: stopping: no new work starts, connections are closed (again to quit at once)` }),
    () => lock.releaseSync(),
  );
  try {
    if (ticket) {
      const newer = await supersededBy(appEnv.paths.state, ticket);
      if (newer) throw new SupersededError(`${target}: superseded: ${newer}; nothing was deployed by this run`);
      await markDone(appEnv.paths.state, ticket);
    }
    return await body();
  } finally {
    unhandle();
    if (ticket) await leaveQueue(appEnv.paths.state, ticket);
    await lock.release();
  }
}

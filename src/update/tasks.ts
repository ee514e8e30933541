/**
 * Admin tasks (asset compression, migrations, …) run in the source checkout,
 * in order, with live output. The first failure stops the run before anything
 * is released.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseDotenv } from 'dotenv';
import type { AppEnv } from '../config/resolve.js';
import type { Task, TaskContext } from '../config/schema.js';
import { InterruptedError, StepError, errorMessage } from '../errors.js';
import { type Cmd, display } from '../exec/cmd.js';
import { local } from '../exec/local.js';
import { ADMIN, type Reporter, step } from '../report/events.js';
import { join } from 'node:path';
import { interruption } from '../interrupt.js';
import { type TaskUser, lendCheckout, lookupUser } from './task-user.js';

/** Variables from the private dotenv file; missing file means none. Values are secrets. */
export async function readPrivateVars(appEnv: AppEnv): Promise<Record<string, string>> {
  const file = join(appEnv.paths.private, appEnv.privateEnvFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new StepError(`cannot read ${file}: ${errorMessage(err)}`);
  }
  return parseDotenv(text);
}

export function taskName(task: Task): string {
  if (Array.isArray(task)) return display(task as unknown as Cmd);
  const named = task as { name: string };
  return named.name;
}

function taskUserName(appEnv: AppEnv, task: Task): string | undefined {
  return (!Array.isArray(task) && (task as { runAs?: string }).runAs) || appEnv.taskUser;
}

/** Look up every user a task runs as, before anything is changed: an unknown user is a config error. */
export async function resolveTaskUsers(appEnv: AppEnv): Promise<Map<string, TaskUser>> {
  const users = new Map<string, TaskUser>();
  for (const task of appEnv.tasks) {
    const name = taskUserName(appEnv, task);
    if (name && !users.has(name)) users.set(name, await lookupUser(name));
  }
  return users;
}

export async function runTasks(
  appEnv: AppEnv,
  revision: string,
  vars: Record<string, string>,
  reporter: Reporter,
  users?: Map<string, TaskUser>,
): Promise<void> {
  users ??= await resolveTaskUsers(appEnv);
  const env = { ...vars, SLIPWAY_APP: appEnv.app, SLIPWAY_ENV: appEnv.env, SLIPWAY_REVISION: revision };
  const cwd = appEnv.paths.src;
  let as: TaskUser | undefined;
  const run = async (cmd: readonly [string, ...string[]]): Promise<void> => {
    const who = as ? { uid: as.uid, gid: as.gid, env: { ...env, HOME: as.home, USER: as.name, LOGNAME: as.name } } : { env };
    await local.run(cmd, { cwd, ...who, signal: interruption, onLine: (line) => reporter.emit({ kind: 'output', host: ADMIN, line }) });
  };
  const ctx: TaskContext = {
    cwd,
    app: appEnv.app,
    env: appEnv.env,
    revision,
    vars: { ...process.env, ...env } as Record<string, string>,
    run,
    log: (line) => reporter.emit({ kind: 'output', host: ADMIN, line }),
  };
  for (const task of appEnv.tasks) {
    const name = taskName(task);
    const body = Array.isArray(task) ? () => run(task as unknown as Cmd) : async () => {
      const t = task as { run: unknown };
      if (typeof t.run === 'function') await (t.run as (c: TaskContext) => Promise<void>)(ctx);
      else await run(t.run as Cmd);
    };
    const userName = taskUserName(appEnv, task);
    as = userName ? users.get(userName) : undefined;
    await step(reporter, ADMIN, 'task', `running ${name}${as ? ` as ${as.name}` : ''}`, async () => {
      const takeBack = as ? await lendCheckout(cwd, as) : undefined;
      try {
        await body();
      } catch (err) {
        if (interruption.aborted) {
          throw new InterruptedError(`interrupted by ${String(interruption.reason)} while running admin task "${name}": its processes were stopped; nothing was released, no host was touched`);
        }
        throw new StepError(`admin task "${name}" failed: ${errorMessage(err)}`);
      } finally {
        await takeBack?.();
      }
    }, () => `ran ${name}${as ? ` as ${as.name}` : ''}`);
  }
}

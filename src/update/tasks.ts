/**
 * Admin tasks (asset compression, migrations, …) run in the source checkout,
 * in order, with live output. The first failure stops the run before anything
 * is released.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseDotenv } from 'dotenv';
import type { AppEnv } from '../config/resolve.js';
import type { Task, TaskContext } from '../config/schema.js';
import { StepError, errorMessage } from '../errors.js';
import { type Cmd, display } from '../exec/cmd.js';
import { runLocal } from '../exec/local.js';
import { ADMIN, type Reporter, step } from '../report/events.js';
import { join } from 'node:path';

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

export async function runTasks(
  appEnv: AppEnv,
  revision: string,
  vars: Record<string, string>,
  reporter: Reporter,
): Promise<void> {
  const env = { ...vars, SLIPWAY_APP: appEnv.app, SLIPWAY_ENV: appEnv.env, SLIPWAY_REVISION: revision };
  const cwd = appEnv.paths.src;
  const run = async (cmd: readonly [string, ...string[]]): Promise<void> => {
    await runLocal(cmd, { cwd, env, onLine: (line) => reporter.emit({ kind: 'output', host: ADMIN, line }) });
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
    await step(reporter, ADMIN, 'task', `running ${name}`, async () => {
      try {
        await body();
      } catch (err) {
        throw new StepError(`admin task "${name}" failed: ${errorMessage(err)}`);
      }
    }, () => `ran ${name}`);
  }
}

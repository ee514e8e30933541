/**
 * The private dir and the files in it are optional unless the app says otherwise:
 * without them a deploy ships no settings file and the tasks see empty variables,
 * which must not happen silently. `private.require` names the files a deploy cannot
 * go without; a missing private dir is a warning on every run that reads it.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { AppEnv } from '../config/resolve.js';
import { ConfigError } from '../errors.js';
import { plural } from '../report/line.js';

type PrivateParts = Pick<AppEnv, 'app' | 'env' | 'file' | 'paths' | 'privateEnvFile' | 'privateRequire'>;

/** What is wrong with the private dir: `does not exist`, `is not a directory`, or undefined. */
function dirProblem(dir: string): string | undefined {
  const st = statSync(dir, { throwIfNoEntry: false });
  return !st ? 'does not exist' : st.isDirectory() ? undefined : 'is not a directory';
}

/** The required private files that are not there (or not files); symlinks count by what they point to. */
export function missingPrivateFiles(appEnv: PrivateParts): string[] {
  return appEnv.privateRequire.filter((f) => !(statSync(join(appEnv.paths.private, f), { throwIfNoEntry: false })?.isFile() ?? false));
}

/** Refuse a deploy that lacks a required private file: exit 2, before the checkout or any host is touched. */
export function checkRequiredPrivateFiles(appEnv: PrivateParts): void {
  const missing = missingPrivateFiles(appEnv);
  if (!missing.length) return;
  const dir = appEnv.paths.private;
  const problem = dirProblem(dir);
  const why = `(private.require in ${appEnv.file})`;
  const target = `${appEnv.app}-${appEnv.env}`;
  throw new ConfigError([
    problem
      ? `the private directory ${dir} ${problem}; ${target} requires ${missing.join(', ')} in it ${why}`
      : `${target} requires ${plural(missing.length, 'private file')} missing from ${dir}: ${missing.join(', ')} ${why}`,
  ]);
}

/** The warning for a run whose app-env has no private dir, or undefined. */
export function privateDirWarning(appEnv: PrivateParts): string | undefined {
  const dir = appEnv.paths.private;
  const problem = dirProblem(dir);
  if (!problem) return undefined;
  return `the private directory ${dir} ${problem}: deploys of ${appEnv.app}-${appEnv.env} ship no private files and its admin tasks get no variables from ${appEnv.privateEnvFile}`;
}

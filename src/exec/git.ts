/**
 * Git, the one way Slipway runs it: `git -C <dir> -c key=value… <args>` as a Cmd, run by a
 * runner, so a recording runner sees each git command whole. Settings become `-c` flags here
 * only. Used for the source checkout (update/), its preview, and the release store.
 */
import type { Cmd } from './cmd.js';
import { local } from './local.js';
import type { RunOptions, RunResult, Runner } from './runner.js';

/** Git settings for one command line (`-c`), never written to a config file. */
export type GitSettings = Readonly<Record<string, string>>;

export interface GitOptions {
  /** The repository (or, for a clone, the directory it is made in): `git -C`. */
  dir: string;
  settings?: GitSettings;
  /** Environment for every command, under each call's own. */
  env?: Record<string, string | undefined>;
}

/** A git failure in git's own words: its stderr (or its exit code when it said nothing). */
export class GitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'GitError';
  }
}

export interface Git {
  /** Run a git command; like any command it throws StepError on failure unless reject is false. */
  run(args: readonly string[], options?: RunOptions): Promise<RunResult>;
  /** stdout of a git command that must succeed; a failure throws GitError. */
  out(args: readonly string[], options?: RunOptions): Promise<string>;
}

/** `-c key=value` for each setting, in order. */
export function configFlags(settings: GitSettings): string[] {
  return Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
}

export function gitCmd(dir: string, settings: GitSettings, args: readonly string[]): Cmd {
  return ['git', '-C', dir, ...configFlags(settings), ...args];
}

export function git(runner: Runner, { dir, settings = {}, env }: GitOptions): Git {
  const run = (args: readonly string[], options: RunOptions = {}) => runner.run(gitCmd(dir, settings, args), { ...options, env: { ...env, ...options.env } });
  return {
    run,
    async out(args, options = {}) {
      const r = await run(args, { ...options, reject: false });
      if (r.exitCode !== 0) throw new GitError(r.stderr || `git ${args[0] ?? ''} exited ${r.exitCode}`, r.exitCode);
      return r.stdout;
    },
  };
}

/** The release store's settings: no user or system config may change what is committed. */
export const STORE_SETTINGS: GitSettings = {
  'core.autocrlf': 'false',
  'core.safecrlf': 'false',
  'core.fileMode': 'true',
  'core.symlinks': 'true',
  'core.hooksPath': '/dev/null',
  // the www tree's files are hard links to the checkout's: a new link changes their ctime
  'core.trustctime': 'false',
  'core.excludesFile': '/dev/null',
  'core.quotePath': 'false',
  'commit.gpgSign': 'false',
  'tag.gpgSign': 'false',
  'advice.detachedHead': 'false',
  // loose objects are written on every release and packed later by gc; zlib on them cost
  // more than half of a first release's commit (most of a web app's bytes are assets that
  // do not compress), and the export then reads them back without inflating
  'core.looseCompression': '0',
  // objects, packs and refs fsync'd as git writes them (git's default leaves refs and loose
  // objects to the page cache): a release and its history event are on disk before a host
  // switches or the run reports (see release-store/pack.ts). batch: a release's loose trees
  // are written out one by one and flushed by one fsync at the end (54 fsyncs of a first
  // release's write-tree become 1); refs and packs are fsync'd one by one whatever the method
  'core.fsync': 'committed',
  'core.fsyncMethod': 'batch',
};

/** Git on the release store (or an export of it) at `dir`, on the admin node, under STORE_SETTINGS. */
export function storeGit(dir: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return git(local, { dir, settings: STORE_SETTINGS, env: { GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' } }).run(args, options);
}

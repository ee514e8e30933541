/**
 * The app's source checkout on the admin node: clone if absent, fetch, move to
 * the wanted revision, bring submodules along. Verb-first functions over
 * exec/git.ts; `verify*` throws with the next step to take.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StepError, UsageError, errorMessage } from '../errors.js';
import { type Git, git as gitIn } from '../exec/git.js';
import { local } from '../exec/local.js';

export interface SubmoduleState {
  path: string;
  sha: string;
}

export interface SourceState {
  sha: string;
  /** The branch followed, or undefined when an exact revision was asked for. */
  branch?: string;
  subject: string;
  submodules: SubmoduleState[];
  /** The URL the checkout fetched from before the app file's `repo` changed. */
  originWas?: string;
}

export interface CheckoutSpec {
  dir: string;
  repo: string;
  branch: string;
  revision?: string;
  submodules: boolean;
  gitConfig: Record<string, string>;
  /** Discard local modifications instead of refusing. */
  force: boolean;
  /** Deploy a --revision that is not on the branch instead of refusing. */
  allowOffBranch?: boolean;
}

/** A deploy never edits, pages or prompts: these are dropped from git's environment. */
const INTERACTIVE_ENV = ['EDITOR', 'VISUAL', 'GIT_EDITOR', 'GIT_SEQUENCE_EDITOR', 'PAGER', 'GIT_PAGER', 'GIT_ASKPASS', 'SSH_ASKPASS'];

/**
 * The environment git runs in. The operator's environment is trusted (it is root's, or
 * Jenkins'): a GIT_SSH_COMMAND naming a deploy key or a GIT_CONFIG_GLOBAL is honoured.
 * Editors, pagers and askpass programs are unset (undefined), never prompted with.
 */
export function gitEnvironment(env: NodeJS.ProcessEnv): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = INTERACTIVE_ENV.includes(k.toUpperCase()) ? undefined : v;
  return Object.assign(out, { LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' });
}

/**
 * Git on the checkout. core.trustctime=false: the www tree hard-links the checkout's
 * files, and each new link changes a file's ctime; by ctime git would re-read every file.
 */
function git(dir: string, gitConfig: Record<string, string>): Git {
  return gitIn(local, { dir, settings: { 'core.trustctime': 'false', ...gitConfig }, env: gitEnvironment(process.env) });
}

async function wrap<T>(what: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof StepError || err instanceof UsageError) throw err;
    throw new StepError(`${what}: ${errorMessage(err).trim()}`);
  }
}

/** Clone the source if it is not there yet; true when it was just cloned. */
export async function ensureClone(spec: CheckoutSpec): Promise<boolean> {
  if (existsSync(spec.dir)) {
    if (!existsSync(`${spec.dir}/.git`)) throw new StepError(`${spec.dir} exists but is not a git checkout; move it away or remove it`);
    return false;
  }
  await mkdir(dirname(spec.dir), { recursive: true });
  await wrap(`cloning ${spec.repo}`, () => git(dirname(spec.dir), spec.gitConfig).out(['clone', spec.repo, spec.dir]));
  return true;
}

/**
 * Refuse to reset over local work unless forced: a reset would destroy it. Returns the
 * commit checked out when nothing tracked is modified (so a checkout of it has nothing to do).
 */
export async function verifyClean(spec: CheckoutSpec): Promise<string | undefined> {
  const g = git(spec.dir, spec.gitConfig);
  const status = await wrap('reading the checkout status', () => g.out(['status', '--porcelain=v2', '--branch', '--untracked-files=no']));
  const lines = status.split('\n').filter(Boolean);
  const head = /^# branch\.oid ([0-9a-f]{40,64})$/m.exec(status)?.[1];
  const changed = lines.filter((l) => !l.startsWith('# ')).map(changedPath);
  if (!changed.length) return head;
  if (!spec.force) {
    throw new StepError(
      `the checkout ${spec.dir} has local modifications that a reset would destroy:\n  ${changed.slice(0, 10).join('\n  ')}` +
        `\ncommit or discard them, or run again with --force to discard them`,
    );
  }
  return undefined;
}

/** The path of a `git status --porcelain=v2` entry: after 8 fields (1: changed), 9 (2: renamed, then a tab and the old path), 10 (u: unmerged). */
function changedPath(line: string): string {
  const fields = { '1': 8, '2': 9, u: 10 }[line[0] ?? ''] ?? 1;
  return line.split(' ').slice(fields).join(' ').split('\t')[0]!;
}

/**
 * The checkout fetches from the app file's `repo`, also after it was edited: origin is moved
 * to it when it differs. Returns the URL origin had when it was moved.
 */
export async function followRepo(spec: CheckoutSpec): Promise<string | undefined> {
  const g = git(spec.dir, spec.gitConfig);
  const url = (await g.out(['config', '--get', 'remote.origin.url']).catch(() => '')).trim();
  if (url === spec.repo) return undefined;
  await wrap(`pointing the checkout at ${spec.repo}`, () => (url ? g.out(['remote', 'set-url', 'origin', spec.repo]) : g.out(['remote', 'add', 'origin', spec.repo])));
  return url || undefined;
}

/** A repository URL as shown to people: a password in it (https://user:token@host) is left out. */
export function withoutPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:***@');
}

/** Branch names from `git ls-remote --heads`. */
export function parseHeads(out: string): string[] {
  return out.split('\n').flatMap((line) => /\trefs\/heads\/(.+)$/.exec(line)?.[1] ?? []);
}

/** The branches of the checkout's origin, for a message naming the one that is not there. */
async function remoteBranches(spec: CheckoutSpec): Promise<string[]> {
  return parseHeads(await git(spec.dir, spec.gitConfig).out(['ls-remote', '--heads', 'origin']).catch(() => ''));
}

/** Say what git's own words hide: a branch that is not there, a transport a setting allows. */
export function explainGitFailure(message: string, spec: Pick<CheckoutSpec, 'repo' | 'branch'>, branches?: string[]): string | undefined {
  if (/couldn't find remote ref refs\/heads\//.test(message)) {
    const known = branches?.length ? `; branches: ${branches.slice(0, 20).join(', ')}${branches.length > 20 ? ', …' : ''}` : '';
    return `branch ${JSON.stringify(spec.branch)} not found in ${spec.repo}${known}; set the app's (or env's) \`branch\``;
  }
  if (/transport 'file' not allowed/.test(message)) {
    return `a submodule's URL is a local path, which git refuses by default since 2.38.1; allow it with \`gitConfig: { 'protocol.file.allow': 'always' }\` in the app file if its repositories are trusted`;
  }
  return undefined;
}

/** Fetch and resolve what to deploy (the exact revision, or the branch head): its commit and subject. */
export async function fetchTarget(spec: CheckoutSpec): Promise<{ sha: string; subject: string }> {
  const g = git(spec.dir, spec.gitConfig);
  try {
    await g.out(['fetch', '--verbose', '--prune', '--tags', '--force', 'origin', `+refs/heads/${spec.branch}:refs/remotes/origin/${spec.branch}`]);
  } catch (err) {
    const message = errorMessage(err);
    const missing = /couldn't find remote ref/.test(message);
    const explained = explainGitFailure(message, spec, missing ? await remoteBranches(spec) : undefined);
    if (missing && explained) throw new UsageError(explained);
    throw new StepError(`fetching ${spec.repo}: ${explained ?? message.trim()}`);
  }
  const wanted = spec.revision ?? `refs/remotes/origin/${spec.branch}`;
  try {
    const out = await g.out(['log', '-1', '--no-walk', '--format=%H%x00%s', '--end-of-options', `${wanted}^{commit}`]);
    const [sha, subject = ''] = out.replace(/\n$/, '').split('\0');
    if (!sha || !/^[0-9a-f]{40,64}$/.test(sha)) throw new Error('not a commit');
    return { sha, subject: subject.trim() };
  } catch {
    throw new UsageError(
      spec.revision
        ? `revision ${JSON.stringify(spec.revision)} is not a commit in ${spec.repo}`
        : `branch ${JSON.stringify(spec.branch)} does not exist in ${spec.repo}`,
    );
  }
}

export async function checkoutRevision(spec: CheckoutSpec, sha: string, cleanAt?: string): Promise<void> {
  const g = git(spec.dir, spec.gitConfig);
  // already there with nothing tracked modified: the checkout would change nothing (submodules still follow)
  if (cleanAt !== sha) await wrap(`checking out ${sha}`, () => g.out(['-c', 'advice.detachedHead=false', 'checkout', '--force', '--detach', sha]));
  // no .gitmodules at this revision: nothing to sync or update, and two git runs saved
  if (!hasSubmodules(spec)) return;
  await wrap('syncing submodules', () => g.out(['submodule', 'sync', '--recursive']));
  await g.out(['submodule', 'update', '--init', '--recursive', '--force']).catch((err: unknown) => {
    const message = errorMessage(err);
    throw new StepError(`updating submodules: ${explainGitFailure(message, spec) ?? message.trim()}`);
  });
}

export async function getSourceState(spec: CheckoutSpec, sha: string, subject: string): Promise<SourceState> {
  const g = git(spec.dir, spec.gitConfig);
  const submodules: SubmoduleState[] = [];
  if (hasSubmodules(spec)) {
    const out = await g.out(['submodule', 'status', '--recursive']);
    for (const line of out.split('\n')) {
      // ` <sha> <path> (<describe>)`; a path may contain spaces
      const m = /^[ +-U]?([0-9a-f]{40,64}) (.+?)(?: \(.*\))?$/.exec(line);
      if (m) submodules.push({ sha: m[1]!, path: m[2]! });
    }
  }
  return { sha, branch: spec.revision ? undefined : spec.branch, subject, submodules };
}

/** Is the commit in the history of the branch just fetched? */
export async function isOnBranch(spec: CheckoutSpec, sha: string): Promise<boolean> {
  const r = await git(spec.dir, spec.gitConfig).run(['merge-base', '--is-ancestor', sha, `refs/remotes/origin/${spec.branch}`], { reject: false });
  if (r.exitCode > 1) throw new StepError(`checking that ${sha} is on ${spec.branch}: git merge-base exited ${r.exitCode}: ${r.stderr.trim()}`);
  return r.exitCode === 0;
}

/** A --revision must be a commit of the app's branch: CI tested that branch, not a stray commit. */
export async function verifyOnBranch(spec: CheckoutSpec, sha: string): Promise<void> {
  if (!spec.revision || spec.allowOffBranch || (await isOnBranch(spec, sha))) return;
  throw new UsageError(
    `revision ${JSON.stringify(spec.revision)} (${sha.slice(0, 12)}) is not on the branch ${JSON.stringify(spec.branch)} of ${spec.repo}; ` +
      `nothing was deployed. Deploy a commit of ${spec.branch}, or pass --allow-off-branch to deploy it anyway`,
  );
}

function hasSubmodules(spec: CheckoutSpec): boolean {
  return spec.submodules && existsSync(join(spec.dir, '.gitmodules'));
}

/** The whole update of the checkout, in order. */
export async function updateCheckout(spec: CheckoutSpec): Promise<SourceState> {
  // a checkout just cloned has no local work; its status would re-hash every file (all look racily clean)
  const cloned = await ensureClone(spec);
  const cleanAt = cloned ? (await git(spec.dir, spec.gitConfig).out(['rev-parse', 'HEAD'])).trim() : await verifyClean(spec);
  const originWas = cloned ? undefined : await followRepo(spec);
  const { sha, subject } = await fetchTarget(spec);
  await verifyOnBranch(spec, sha);
  await checkoutRevision(spec, sha, cleanAt);
  return { ...(await getSourceState(spec, sha, subject)), ...(originWas ? { originWas } : {}) };
}

/**
 * The release store: the www tree is a git repository, and every release is a
 * commit of it, private settings included, so any release can be restored
 * exactly. It never has a remote.
 */
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { AppEnv } from '../config/resolve.js';
import { StepError, UsageError } from '../errors.js';
import { runLocal } from '../exec/local.js';
import { storeGit } from './git.js';
import { RELEASE_TAG, type Release, type ReleaseFacts, parseTrailers, releaseId, releaseMessage } from './release.js';

/** What never leaves the source checkout: VCS metadata (but .gitkeep keeps empty dirs). */
export const VCS_FILTERS = ['--include=.gitkeep', '--exclude=.git*', '--exclude=.hg*'];

export async function initStore(www: string): Promise<void> {
  if (existsSync(join(www, '.git'))) return;
  await mkdir(www, { recursive: true });
  await storeGit(www, ['init', '--quiet', '--initial-branch=releases']);
}

/** rsync the checkout into the www tree, then overlay the private files. Returns their paths. */
export async function syncIntoWww(appEnv: AppEnv): Promise<string[]> {
  const { src, www, private: priv } = appEnv.paths;
  const excludes = appEnv.exclude.map((p) => `--exclude=${p}`);
  // -rlpt, not -a: owners and devices mean nothing in a git tree. Nanosecond mtimes
  // (--modify-window=-1): by whole seconds, a same-size change checked out within the
  // second of the previous deploy would look unchanged and be left out of the release
  await runLocal(['rsync', '-rlpt', '--modify-window=-1', '--delete', ...VCS_FILTERS, ...excludes, '--', `${src}/`, `${www}/`]);
  if (!existsSync(priv)) return [];
  await runLocal(['rsync', '-rlpt', ...VCS_FILTERS, `--exclude=/${appEnv.privateEnvFile}`, '--', `${priv}/`, `${www}/`]);
  return listPrivateFiles(priv, appEnv.privateEnvFile);
}

async function listPrivateFiles(dir: string, envFile: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(dir.length + 1))
    .filter((p) => p !== envFile && !p.split('/').some((part) => part.startsWith('.git') && part !== '.gitkeep') && !p.split('/').some((part) => part.startsWith('.hg')))
    .sort();
}

export async function listReleases(www: string): Promise<Release[]> {
  if (!existsSync(join(www, '.git'))) return [];
  const format = ['%(refname:strip=2)', '%(objectname)', '%(authordate:iso-strict)', '%(trailers:unfold)'].join('%00') + '%00%1e';
  const { stdout } = await storeGit(www, ['for-each-ref', '--sort=-version:refname', `--format=${format}`, 'refs/tags/']);
  const releases: Release[] = [];
  for (const record of stdout.split('\x1e')) {
    const [name, commit, date, trailers] = record.replace(/^\n/, '').split('\0');
    const m = name ? RELEASE_TAG.exec(name) : null;
    if (!m || !commit || !date) continue;
    releases.push({ id: name!, number: Number(m[1]), commit, date, ...parseTrailers(trailers ?? '') });
  }
  return releases;
}

/** Find a release by id (`r42`) or by commit (full or abbreviated). */
export async function resolveRelease(www: string, ref: string): Promise<Release> {
  if (!/^(r[1-9][0-9]{0,8}|[0-9a-f]{7,64})$/.test(ref)) {
    throw new UsageError(`${JSON.stringify(ref)} is not a release id (r42) or a commit id`);
  }
  const releases = await listReleases(www);
  const found = releases.filter((r) => r.id === ref || r.commit.startsWith(ref));
  if (found.length === 1) return found[0]!;
  throw new UsageError(found.length ? `${ref} is ambiguous: ${found.map((r) => r.id).join(', ')}` : `no release ${ref} in the store ${www}`);
}

/** The real user behind sudo, as a safe name for the commit author. */
export function deployerName(env: NodeJS.ProcessEnv = process.env): string {
  const name = env.SUDO_USER || env.USER || env.LOGNAME || userInfo().username;
  return /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31}$/.test(name) ? name : 'unknown';
}

export interface CommitResult {
  release: Release;
  /** False when the tree did not change: no new release was made. */
  created: boolean;
}

/** Commit the www tree as a new release, unless it is the same tree as the last one. */
export async function commitRelease(www: string, facts: Omit<ReleaseFacts, 'privateFiles'>, privateFiles: string[]): Promise<CommitResult> {
  await storeGit(www, ['add', '--all', '--force', '.']);
  const releases = await listReleases(www);
  const latest = releases[0];
  const hasHead = (await storeGit(www, ['rev-parse', '--verify', '--quiet', 'HEAD^{commit}'], { reject: false })).exitCode === 0;
  if (hasHead) {
    const unchanged = (await storeGit(www, ['diff', '--cached', '--quiet', 'HEAD'], { reject: false })).exitCode === 0;
    const head = (await storeGit(www, ['rev-parse', 'HEAD'])).stdout.trim();
    if (unchanged && latest?.commit === head) return { release: latest, created: false };
    if (unchanged) throw new StepError(`the store ${www} has an untagged HEAD ${head}; inspect it with git -C ${www} log`);
  }
  const id = releaseId((latest?.number ?? 0) + 1);
  const message = releaseMessage(id, { ...facts, privateFiles });
  const author = `${facts.deployer} <${facts.deployer}@${hostname()}>`;
  await storeGit(
    www,
    ['-c', 'user.name=Slipway', '-c', `user.email=slipway@${hostname()}`, 'commit', '--quiet', '--no-verify', '--allow-empty', `--author=${author}`, '--file=-'],
    { input: message },
  );
  const commit = (await storeGit(www, ['rev-parse', 'HEAD'])).stdout.trim();
  // the tag is created with create-only semantics: a release id is never reused
  await storeGit(www, ['update-ref', `refs/tags/${id}`, commit, '0000000000000000000000000000000000000000']);
  const release = (await listReleases(www)).find((r) => r.id === id);
  if (!release) throw new StepError(`release ${id} was committed but cannot be read back from ${www}`);
  return { release, created: true };
}

/**
 * Check out the exact tree of a release commit into the export directory that
 * the deploy serves. A git worktree of the store: moving it between releases
 * rewrites only the files that differ, so unchanged files keep their mtimes
 * and web servers hard-link them instead of transferring them.
 */
export async function exportRelease(www: string, exportDir: string, release: Release, privateMode: number): Promise<string> {
  const ready = existsSync(join(exportDir, '.git'));
  if (ready) {
    // chmod of private files changed their ctime; refresh so git does not think them
    // modified and rewrite them (a new mtime would make hosts transfer them again)
    await storeGit(exportDir, ['update-index', '-q', '--refresh'], { reject: false });
    await storeGit(exportDir, ['checkout', '--quiet', '--detach', '--force', release.commit]);
    await storeGit(exportDir, ['clean', '-ffdxq']);
  } else {
    await rm(exportDir, { recursive: true, force: true });
    await storeGit(www, ['worktree', 'prune']);
    await mkdir(join(exportDir, '..'), { recursive: true });
    await storeGit(www, ['worktree', 'add', '--quiet', '--detach', '--force', exportDir, release.commit]);
  }
  for (const file of release.privateFiles) {
    const path = join(exportDir, file);
    const st = await lstat(path).catch(() => undefined);
    if (st?.isFile()) await chmod(path, privateMode);
  }
  return exportDir;
}

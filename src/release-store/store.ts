/**
 * The release store: the www tree is a git repository, and every release is a
 * commit of it, private settings included, so any release can be restored
 * exactly. It never has a remote.
 */
import { existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { AppEnv } from '../config/resolve.js';
import { checkRefName } from '../config/names.js';
import { StepError, UsageError } from '../errors.js';
import { runLocal } from '../exec/local.js';
import { storeGit } from './git.js';
import { RELEASE_TAG, type Release, type ReleaseFacts, parseTrailers, releaseId, releaseMessage } from './release.js';

/** What never leaves the source checkout: VCS metadata (but .gitkeep keeps empty dirs). */
export const VCS_FILTERS = ['--include=.gitkeep', '--exclude=.git*', '--exclude=.hg*'];

export async function initStore(www: string): Promise<void> {
  if (!existsSync(join(www, '.git'))) {
    await mkdir(www, { recursive: true });
    await storeGit(www, ['init', '--quiet', '--initial-branch=releases']);
  }
  await protectStore(www);
}

/** A URL scheme no git has: every push from the store is rewritten to it and fails. */
export const NO_PUSH_SCHEME = 'slipway-release-store-refuses-push://';

const PRE_PUSH = `#!/bin/sh
echo "this is a Slipway release store: it holds private settings and is never pushed anywhere" >&2
exit 1
`;

/**
 * The store holds private settings, so it must never leave the admin node.
 * git cannot forbid `remote add`, so: refuse to release into a store that has
 * a remote, and make every push fail, even with --no-verify (an empty
 * pushInsteadOf prefix matches every URL), with a pre-push hook to say why.
 */
export async function protectStore(www: string): Promise<void> {
  const remotes = (await storeGit(www, ['remote'])).stdout.trim();
  if (remotes) {
    throw new StepError(`the release store ${www} has a remote (${remotes.split('\n').join(', ')}); it holds private settings and must never have one: remove it with git -C ${www} remote remove <name>`);
  }
  await storeGit(www, ['config', '--replace-all', `url.${NO_PUSH_SCHEME}.pushInsteadOf`, '']);
  const hook = join(www, '.git', 'hooks', 'pre-push');
  await mkdir(join(www, '.git', 'hooks'), { recursive: true });
  await writeFile(hook, PRE_PUSH, { mode: 0o755 });
}

/** rsync the checkout into the www tree, then overlay the private files. Returns their paths. */
export async function syncIntoWww(appEnv: AppEnv): Promise<string[]> {
  const { src, www, private: priv } = appEnv.paths;
  const excludes = appEnv.exclude.map((p) => `--exclude=${p}`);
  // -rlpt, not -a: owners and devices mean nothing in a git tree. Nanosecond mtimes
  // (--modify-window=-1): by whole seconds, a same-size change checked out within the
  // second of the previous deploy would look unchanged and be left out of the release.
  // --link-dest=src: files are hard links to the checkout's (git replaces a file it
  // changes, never writes into it), so the first release copies no bytes; on another
  // filesystem rsync copies them instead
  await runLocal(['rsync', '-rlpt', '--modify-window=-1', '--delete', `--link-dest=${src}`, ...VCS_FILTERS, ...excludes, '--', `${src}/`, `${www}/`]);
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
    .sort()
    .map((p) => {
      // eslint-disable-next-line no-control-regex
      if (/[\x00-\x1f\x7f]/.test(p)) throw new StepError(`private file ${JSON.stringify(p)} has a control character in its name; rename it`);
      return p;
    });
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

/**
 * Find a release by id (`r42`), by commit (the store's or the source's, full or
 * abbreviated) or by any tag in the store that points at a release commit.
 */
export async function resolveRelease(www: string, ref: string): Promise<Release> {
  const isHex = /^[0-9a-f]{7,64}$/.test(ref);
  if (!RELEASE_TAG.test(ref) && !isHex && checkRefName(ref)) {
    throw new UsageError(`${JSON.stringify(ref)} is not a release id (r42), a commit id or a tag`);
  }
  const releases = await listReleases(www);
  let found = releases.filter((r) => r.id === ref);
  if (!found.length && isHex) {
    found = releases.filter((r) => r.commit.startsWith(ref));
    if (!found.length) found = releases.filter((r) => r.source?.startsWith(ref));
  }
  if (!found.length && !isHex && releases.length) {
    const tag = await storeGit(www, ['rev-parse', '--verify', '--quiet', `refs/tags/${ref}^{commit}`], { reject: false });
    if (tag.exitCode === 0) found = releases.filter((r) => r.commit === tag.stdout.trim());
  }
  if (found.length === 1) return found[0]!;
  throw new UsageError(found.length ? `${ref} is ambiguous: ${found.map((r) => r.id).join(', ')}` : `no release ${ref} in the store ${www} (deploy releases lists them)`);
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
  await tagRelease(www, id, commit);
  const release = (await listReleases(www)).find((r) => r.id === id);
  if (!release) throw new StepError(`release ${id} was committed but cannot be read back from ${www}`);
  return { release, created: true };
}

/** Tag a release with create-only semantics: an existing tag is never moved, so an id is never reused. */
export async function tagRelease(www: string, id: string, commit: string): Promise<void> {
  const r = await storeGit(www, ['update-ref', `refs/tags/${id}`, commit, '0000000000000000000000000000000000000000'], { reject: false });
  if (r.exitCode !== 0) throw new StepError(`release id ${id} already exists in ${www}; refusing to reuse it (is another run releasing?): ${r.stderr.trim()}`);
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

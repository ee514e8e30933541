/**
 * The release store: the www tree is a git repository, and every release is a
 * commit of it, private settings included, so any release can be restored
 * exactly. It never has a remote.
 */
import { type Dirent, existsSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import type { AppEnv } from '../config/resolve.js';
import { checkRefName } from '../config/names.js';
import { StepError, UsageError } from '../errors.js';
import { local } from '../exec/local.js';
import { storeGit } from '../exec/git.js';
import { ADD_INTO_PACK, clearStaleIndexLock, releaseDirs, syncDirs } from './pack.js';
import { RELEASE_TAG, type Release, type ReleaseFacts, parseTrailers, releaseId, releaseMessage } from './release.js';

/** What never leaves the source checkout: VCS metadata (but .gitkeep keeps empty dirs). */
export const VCS_FILTERS = ['--include=.gitkeep', '--exclude=.git*', '--exclude=.hg*'];

export async function initStore(www: string): Promise<void> {
  if (!existsSync(join(www, '.git'))) {
    await mkdir(www, { recursive: true });
    await storeGit(www, ['init', '--quiet', '--initial-branch=releases']);
    // every push is rewritten to a URL no git can reach (an empty prefix matches every URL)
    await storeGit(www, ['config', '--replace-all', `url.${NO_PUSH_SCHEME}.pushInsteadOf`, '']);
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
 * a remote, and make every push fail, even with --no-verify (the pushInsteadOf
 * set when the store was made), with a pre-push hook to say why.
 */
export async function protectStore(www: string): Promise<void> {
  const hook = join(www, '.git', 'hooks', 'pre-push');
  await mkdir(join(www, '.git', 'hooks'), { recursive: true });
  const [remotes] = await Promise.all([storeGit(www, ['remote']).then((r) => r.stdout.trim()), writeFile(hook, PRE_PUSH, { mode: 0o755 })]);
  if (remotes) {
    throw new StepError(`the release store ${www} has a remote (${remotes.split('\n').join(', ')}); it holds private settings and must never have one: remove it with git -C ${www} remote remove <name>`);
  }
}

/** rsync the checkout into the www tree, then overlay the private files. Returns their paths. */
export async function syncIntoWww(appEnv: AppEnv): Promise<string[]> {
  const { src, www, private: priv } = appEnv.paths;
  const excludes = appEnv.exclude.map((p) => `--exclude=${p}`);
  // -rlpt, not -a: owners and devices mean nothing in a git tree. Nanosecond mtimes
  // (--modify-window=-1): by whole seconds, a same-size change checked out within the
  // second of the previous deploy would look unchanged and be left out of the release.
  // Into an empty tree, --link-dest=src: files are hard links to the checkout's (git
  // replaces a file it changes, never writes into it), so the first release copies no
  // bytes (on another filesystem rsync copies them instead). Not later: rsync then opens
  // every unchanged file to look for a link, which doubled a no-change sync's time, to
  // spare the copy of the few files that changed
  const linkDest = (await isEmptyTree(www)) ? [`--link-dest=${src}`] : [];
  await local.run(['rsync', '-rlpt', '--modify-window=-1', '--delete', ...linkDest, ...VCS_FILTERS, ...excludes, '--', `${src}/`, `${www}/`]);
  if (!existsSync(priv)) return [];
  await local.run(['rsync', '-rlpt', ...VCS_FILTERS, `--exclude=/${appEnv.privateEnvFile}`, '--', `${priv}/`, `${www}/`]);
  return listPrivateFiles(priv, appEnv.privateEnvFile);
}

/** Nothing in the www tree but the store's own .git: no release was synced into it yet. */
async function isEmptyTree(www: string): Promise<boolean> {
  const entries = await readdir(www).catch(() => []);
  return entries.every((e) => e === '.git');
}

async function listPrivateFiles(dir: string, envFile: string): Promise<string[]> {
  return (await filesUnder(dir))
    .filter((p) => p !== envFile && !p.split('/').some((part) => part.startsWith('.git') && part !== '.gitkeep') && !p.split('/').some((part) => part.startsWith('.hg')))
    .map((p) => {
      // eslint-disable-next-line no-control-regex
      if (/[\x00-\x1f\x7f]/.test(p)) throw new StepError(`private file ${JSON.stringify(p)} has a control character in its name; rename it`);
      return p;
    });
}

/**
 * The files and symlinks under `dir` (what git and rsync -rlpt carry; no dirs), as sorted
 * paths relative to it. Top-level entries named in `skip` are not entered at all.
 */
export async function filesUnder(dir: string, skip: readonly string[] = []): Promise<string[]> {
  const files: string[] = [];
  const keep = (e: Dirent, path: string) => (e.isFile() || e.isSymbolicLink()) && files.push(path);
  for (const top of await readdir(dir, { withFileTypes: true })) {
    if (skip.includes(top.name)) continue;
    if (!top.isDirectory()) {
      keep(top, top.name);
      continue;
    }
    for (const e of await readdir(join(dir, top.name), { recursive: true, withFileTypes: true })) {
      keep(e, relative(dir, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)));
    }
  }
  return files.sort();
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

export interface CommitResult {
  release: Release;
  /** False when the tree did not change: no new release was made. */
  created: boolean;
  /** Every release in the store, newest first, this one included. */
  releases: Release[];
}

/**
 * Commit the www tree as a new release, unless it is the same tree as the last one.
 * Plumbing, not `git commit`: the tree, the commit and then, in one transaction, the
 * branch and the release tag; a handful of git runs fewer on every deploy. `known`: the
 * store's releases, if the caller read them under the app-env's lock.
 */
export async function commitRelease(www: string, facts: Omit<ReleaseFacts, 'privateFiles'>, privateFiles: string[], known?: Release[]): Promise<CommitResult> {
  await clearStaleIndexLock(www);
  await storeGit(www, [...ADD_INTO_PACK, 'add', '--all', '--force', '.']);
  const [releases, head, tree] = await Promise.all([
    known ?? listReleases(www),
    storeGit(www, ['log', '-1', '--format=%H %T', 'HEAD'], { reject: false }).then((r) => (r.exitCode === 0 ? r.stdout.trim().split(' ') : undefined)),
    storeGit(www, ['write-tree']).then((r) => r.stdout.trim()),
  ]);
  const latest = releases[0];
  if (head && head[1] === tree) {
    if (latest && latest.commit === head[0]) return { release: latest, created: false, releases };
    throw new StepError(`the store ${www} has an untagged HEAD ${head[0]}; inspect it with git -C ${www} log`);
  }
  const id = releaseId((latest?.number ?? 0) + 1);
  const message = releaseMessage(id, { ...facts, privateFiles });
  const now = Math.floor(Date.now() / 1000);
  const env = {
    GIT_AUTHOR_NAME: facts.deployer,
    GIT_AUTHOR_EMAIL: `${facts.deployer.split(' ')[0]}@${hostname()}`,
    GIT_AUTHOR_DATE: `${now} +0000`,
    GIT_COMMITTER_NAME: 'Slipway',
    GIT_COMMITTER_EMAIL: `slipway@${hostname()}`,
    GIT_COMMITTER_DATE: `${now} +0000`,
  };
  const commit = (await storeGit(www, ['commit-tree', tree, ...(head ? ['-p', head[0]!] : []), '-F', '-'], { input: message, env })).stdout.trim();
  await moveToRelease(www, id, commit, head?.[0]);
  await syncDirs(www, releaseDirs(commit)); // on disk before any host switches to it
  const release: Release = { id, number: (latest?.number ?? 0) + 1, commit, date: new Date(now * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00'), ...parseTrailers(message) };
  return { release, created: true, releases: [release, ...releases] };
}

/**
 * What `git commit` would have started after a commit: pack loose objects once there
 * are enough of them. gc --auto returns at once (it works in the background, if at all).
 */
export async function maintainStore(www: string): Promise<void> {
  await storeGit(www, ['gc', '--auto', '--quiet'], { reject: false });
}

/**
 * Point the branch at a new release commit and tag it, in one transaction: the tag is
 * create-only (an id is never reused) and the branch must still be at `parent`; if
 * either fails, neither moves.
 */
export async function moveToRelease(www: string, id: string, commit: string, parent: string | undefined): Promise<void> {
  const zero = '0'.repeat(commit.length);
  const moved = await storeGit(www, ['update-ref', '--stdin', '-m', `release ${id}`], {
    input: `update HEAD ${commit} ${parent ?? zero}\ncreate refs/tags/${id} ${commit}\n`,
    reject: false,
  });
  if (moved.exitCode !== 0) throw new StepError(`release id ${id} already exists in ${www}, or the store moved (is another run releasing?); refusing to reuse it: ${moved.stderr.trim()}`);
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

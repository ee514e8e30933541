/**
 * How the release store's writes reach a disk (#22). A release's new files go into one
 * pack, written front to back, instead of one loose object (a file, a link and an unlink)
 * per file; a history event is one loose commit and a ref. What is written is fsync'd by git
 * itself (core.fsync, see STORE_SETTINGS in exec/git.ts), and the directories that name it are fsync'd here, so a
 * release and its event survive a crash once the run goes on to switch hosts or report.
 */
import { existsSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { storeGit } from '../exec/git.js';
import type { RunResult } from '../exec/runner.js';

/**
 * Not batch for the `git add`: git 2.39 (Debian 12) fails a bulk check-in whose first file is
 * of 0 or 1 byte (written loose, into batch mode's temporary object directory, which is then
 * moved away before the pack being written inside it is renamed: "unable to rename temporary
 * file"). Its objects are in the pack anyway; batch still serves write-tree's loose trees.
 */
const ADD_FSYNC = ['-c', 'core.fsyncMethod=fsync'];

/**
 * For the `git add` of a release: every new blob is streamed into one pack (git's bulk
 * check-in takes any file above core.bigFileThreshold), stored without zlib, as loose objects
 * were: most of a web app's bytes are assets that do not compress.
 */
export const ADD_INTO_PACK = ['-c', 'core.bigFileThreshold=1', '-c', 'pack.compression=0', ...ADD_FSYNC];

/**
 * Runs hold the app's lock while they write the store, so an index.lock found then was left
 * by a run that was killed during its `git add`; without this every later release would fail.
 */
export async function clearStaleIndexLock(www: string): Promise<void> {
  await rm(join(www, '.git', 'index.lock'), { force: true });
}

/**
 * fsync directories of the store (paths under .git): git fsyncs the files it writes but not
 * the directories its renames and links write the names into.
 */
export async function syncDirs(www: string, dirs: readonly string[]): Promise<void> {
  await Promise.all(
    dirs.map(async (dir) => {
      const path = join(www, '.git', dir);
      if (!existsSync(path)) return;
      const handle = await open(path, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    }),
  );
}

/** The directories a release commit's names live in: its pack, its commit, the branch and the tag. */
export function releaseDirs(commit: string): string[] {
  return ['objects/pack', `objects/${commit.slice(0, 2)}`, 'refs/heads', 'refs/tags'];
}

/** git's empty tree, which every history event has. */
const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

export interface EventCommit {
  ref: string;
  message: string;
  author: string;
  /** seconds since the epoch */
  when: number;
  parent?: string;
}

/**
 * Write one history event: its commit (loose, fsync'd) and then the ref moved from `parent`
 * (compare-and-swap: update-ref refuses if another run moved it). Two fsyncs and two git runs;
 * `git fast-import` also fsync'd a pack that its unpack-objects then deleted. The empty tree
 * is written with the first event: git knows it without the object, fsck does not.
 */
export async function writeEvent(www: string, e: EventCommit): Promise<RunResult> {
  if (!e.parent) await storeGit(www, ['mktree'], { input: '' });
  const stamp = `${e.when} +0000`;
  const env = {
    GIT_AUTHOR_NAME: e.author,
    GIT_AUTHOR_EMAIL: `${e.author.split(' ')[0]}@localhost`,
    GIT_AUTHOR_DATE: stamp,
    GIT_COMMITTER_NAME: 'Slipway',
    GIT_COMMITTER_EMAIL: 'slipway@localhost',
    GIT_COMMITTER_DATE: stamp,
  };
  const commit = (await storeGit(www, ['commit-tree', EMPTY_TREE, ...(e.parent ? ['-p', e.parent] : []), '-F', '-'], { input: e.message, env })).stdout.trim();
  const moved = await storeGit(www, ['update-ref', e.ref, commit, e.parent ?? '0'.repeat(commit.length)], { reject: false });
  if (moved.exitCode === 0) await syncDirs(www, [`objects/${commit.slice(0, 2)}`, 'refs/slipway', ...(e.parent ? [] : ['refs'])]);
  return moved;
}

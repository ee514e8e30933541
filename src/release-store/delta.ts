/**
 * What a host that already has one release needs to turn it into another: the paths
 * that differ between the two commits (added, changed, deleted, mode). Read from the
 * store, so it is exact without walking either tree.
 */
import { storeGit } from '../exec/git.js';
import type { Release } from './release.js';

export interface Delta {
  from: Release;
  /** Paths added or changed (content, type or mode), then paths deleted; relative, sorted. */
  changed: string[];
  deleted: string[];
}

/** The newest release older than `release`: what most hosts serve when it ships. */
export function baseOf(release: Release, releases: readonly Release[]): Release | undefined {
  return releases.filter((r) => r.number < release.number).sort((a, b) => b.number - a.number)[0];
}

/**
 * The paths that differ, or undefined when some path holds a line break (the hosts'
 * list is line-based): those hosts then pull the whole tree, as without a base.
 */
export async function deltaBetween(www: string, from: Release, to: Release): Promise<Delta | undefined> {
  const { stdout } = await storeGit(www, ['diff', '--name-status', '-z', '--no-renames', '--no-ext-diff', from.commit, to.commit]);
  const fields = stdout.split('\0');
  const delta: Delta = { from, changed: [], deleted: [] };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const [status, path] = [fields[i]!, fields[i + 1]!];
    if (/[\n\r]/.test(path)) return undefined;
    (status === 'D' ? delta.deleted : delta.changed).push(path);
  }
  delta.changed.sort();
  delta.deleted.sort();
  return delta;
}

/** Path to size of each blob in `git ls-tree -r -l -z` output (submodules count 0). */
export function parseTreeSizes(lsTree: string): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const entry of lsTree.split('\0')) {
    const m = /^\d+ (\w+) [0-9a-f]+ +(\d+|-)\t(.*)$/s.exec(entry);
    if (m) sizes.set(m[3]!, m[1] === 'blob' ? Number(m[2]) : 0);
  }
  return sizes;
}

/** Every path of a release with its size, from the store: what a transfer of it moves. */
export async function releaseSizes(www: string, release: Pick<Release, 'commit'>): Promise<Map<string, number>> {
  const { stdout } = await storeGit(www, ['ls-tree', '-r', '-l', '-z', '--full-tree', release.commit]);
  return parseTreeSizes(stdout);
}

/** Every path of a release (files and symlinks; git has no empty dirs), from the store. */
export async function releasePaths(www: string, release: Pick<Release, 'commit'>): Promise<string[]> {
  const { stdout } = await storeGit(www, ['ls-tree', '-r', '-z', '--name-only', '--full-tree', release.commit]);
  return stdout.split('\0').filter(Boolean);
}

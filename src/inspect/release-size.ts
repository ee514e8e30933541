/** How big a release is: what a host without any release receives. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { storeGit } from '../exec/git.js';
import { parseTreeSizes } from '../release-store/delta.js';
import { viewStore } from '../release-store/index.js';

/** The sizes of the blobs in `git ls-tree -r -l -z` output (submodules count 0). */
export function sumTreeSizes(lsTree: string): number {
  let total = 0;
  for (const size of parseTreeSizes(lsTree).values()) total += size;
  return total;
}

/** The live release (or, with no history yet, the newest) and its size; undefined when the store has none. */
export async function releaseSize(www: string): Promise<{ id: string; bytes: number } | undefined> {
  if (!existsSync(join(www, '.git'))) return undefined;
  const { live } = await viewStore(www);
  if (!live) return undefined;
  const r = await storeGit(www, ['ls-tree', '-r', '-l', '-z', '--full-tree', live.commit]);
  return { id: live.id, bytes: sumTreeSizes(r.stdout) };
}

/**
 * The changed files of a small delta as one tar, built once on the admin node and sent
 * to every host on its stage command's stdin: no forwarded port, no rsync daemon, no
 * rsync run on the host, no file list. Bigger deltas (or huge deletion lists) go
 * through rsync instead, whose delta transfer pays off there.
 */
import type { Cmd } from '../exec/cmd.js';
import { runLocalBytes } from '../exec/local.js';
import type { Delta } from '../release-store/delta.js';
import type { StageDelta } from './remote.js';

export const MAX_TAR_BYTES = 16 * 1024 * 1024;
/** The deleted paths travel as one argument of the stage command. */
export const MAX_DELETED_BYTES = 64 * 1024;

/** Owner root, numeric, and pax headers so mtimes keep their nanoseconds (hosts compare them later). */
export function tarCmd(exportDir: string): Cmd {
  // -b 1: no padding to 10 kB records; a one-file delta stays a few kB
  return ['tar', '-c', '-b', '1', '-f', '-', '--format=posix', '--owner=0', '--group=0', '--numeric-owner', '--no-recursion', '-C', exportDir, '--null', '--verbatim-files-from', '-T', '-'];
}

export interface Payload extends StageDelta {
  tar?: Buffer;
  files: number;
}

export async function payloadFor(exportDir: string, delta: Delta): Promise<Payload> {
  const list: Payload = { from: delta.from, files: delta.changed.length };
  if (delta.deleted.join('\n').length > MAX_DELETED_BYTES) return list;
  try {
    const tar = await runLocalBytes(tarCmd(exportDir), delta.changed.map((p) => `${p}\0`).join(''), MAX_TAR_BYTES);
    return { ...list, deleted: delta.deleted, tar };
  } catch {
    // too big for one buffer (or tar missing): the hosts pull the listed paths with rsync
    return list;
  }
}

/**
 * Tars of a release, built once on the admin node and sent to every host that needs
 * one on its stage command's stdin: no forwarded port, no rsync daemon, no rsync on
 * the host, no file list exchanged, no checksums. Two kinds:
 *   - the changed files of a small delta, in memory (deltaTar);
 *   - the whole release, in a file in the app-env's state dir (fullTar), for hosts
 *     that have no release at all: the first deploy, a new host; streamed from there.
 * Bigger deltas go through rsync instead, whose file-by-file transfer pays off there.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Cmd } from '../exec/cmd.js';
import { runLocal, runLocalBytes } from '../exec/local.js';
import type { Delta } from '../release-store/delta.js';

export const MAX_TAR_BYTES = 16 * 1024 * 1024;
/** The deleted paths travel as one argument of the stage command. */
export const MAX_DELETED_BYTES = 64 * 1024;

/**
 * tar of the NUL-separated paths on stdin, relative to `tree`, to `out` ('-': stdout).
 * Owner root, numeric, modes as git has them. GNU format: one 512-byte header per file
 * (pax would add a second one, for sub-second mtimes nothing here needs: deltas come
 * from the store, not from mtimes). Directories are not listed: tar creates them as it goes.
 */
export function tarCmd(tree: string, out = '-', blocks = 1): Cmd {
  return ['tar', '-c', '-b', String(blocks), '-f', out, '--format=gnu', '--owner=0', '--group=0', '--numeric-owner', `--mode=${GIT_MODES}`, '--no-recursion', '-C', tree, '--null', '--verbatim-files-from', '-T', '-'];
}

/**
 * The modes git gives a checkout (0644, or 0755 when the owner may execute), whatever
 * modes the tree being read has: what hosts get is what the release commit says.
 */
export const GIT_MODES = 'u+rw,go-w,go+rX';

const nulList = (paths: readonly string[]) => paths.map((p) => `${p}\0`).join('');

/** The changed files of a delta as one tar, or undefined when it is too big for one buffer (or has too many deletions). */
export async function deltaTar(tree: string, delta: Delta): Promise<Buffer | undefined> {
  if (delta.deleted.join('\n').length > MAX_DELETED_BYTES) return undefined;
  try {
    // -b 1: no padding to 10 kB records; a one-file delta stays a few kB
    return await runLocalBytes(tarCmd(tree), nulList(delta.changed), MAX_TAR_BYTES);
  } catch {
    // too big for one buffer (or tar missing): the hosts pull the listed paths with rsync
    return undefined;
  }
}

export interface FullTar {
  file: string;
  bytes: number;
  files: number;
}

/** Every path of the release (from the store's tree, so exactly the commit's) in one tar file. */
export async function fullTar(tree: string, paths: readonly string[], file: string): Promise<FullTar> {
  // 32 kB records: few writes, and at most 32 kB of padding
  await runLocal(tarCmd(tree, file, 64), { input: nulList(paths) });
  return { file, bytes: (await stat(file)).size, files: paths.length };
}

/** A full tar's bytes, read for one host's stage command (large reads: few wake-ups). */
export function readTar(tar: FullTar): Readable {
  return createReadStream(tar.file, { highWaterMark: 256 * 1024 });
}

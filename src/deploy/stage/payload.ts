/**
 * Tars of a release, built once on the admin node and sent to every host that needs
 * one on its stage command's stdin: no forwarded port, no rsync daemon, no rsync on
 * the host, no file list exchanged, no checksums. Two kinds:
 *   - the changed files of a small delta, in memory (deltaTar);
 *   - the whole release, in a file in the app-env's state dir (fullTar), for hosts
 *     that have no release at all: the first deploy, a new host; streamed from there,
 *     each chunk read once for all of them.
 * Bigger deltas go through rsync instead, whose file-by-file transfer pays off there.
 */
import { open, rm, stat, writeFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Cmd } from '../../exec/cmd.js';
import { local } from '../../exec/local.js';
import type { Delta } from '../../release-store/delta.js';

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
    return await local.bytes(tarCmd(tree), nulList(delta.changed), MAX_TAR_BYTES);
  } catch {
    // too big for one buffer (or tar missing): the hosts pull the listed paths with rsync
    return undefined;
  }
}

/**
 * A tar in memory as a stream of 1 MB slices, so what a host has been handed can be
 * counted (a Buffer given whole is one write, its progress unknowable).
 */
export function sliced(tar: Buffer, sent: (bytes: number) => void, sliceBytes = 1024 * 1024): Readable {
  let at = 0;
  return new Readable({
    read() {
      if (at >= tar.length) return void this.push(null);
      const slice = tar.subarray(at, at + sliceBytes);
      at += slice.length;
      sent(slice.length);
      this.push(slice);
    },
  });
}

/** Every path of the release (from the store's tree, so exactly the commit's) in one tar file. */
export async function fullTar(tree: string, paths: readonly string[], file: string): Promise<FullTar> {
  // created 0600 before tar writes into it (tar keeps an existing file's mode): it holds private files
  await rm(file, { force: true });
  await writeFile(file, '', { mode: 0o600, flag: 'wx' });
  // 32 kB records: few writes, and at most 32 kB of padding
  await local.run(tarCmd(tree, file, 64), { input: nulList(paths) });
  return new FullTar(file, (await stat(file)).size, paths.length);
}

/**
 * A tar of a whole release in a file, streamed to many hosts at once, in chunks each read
 * from the file once and handed to every host's stream: ssh2 copies what it sends, so one
 * buffer serves them all. (Each host reading the file itself cost the admin node a copy of
 * it per host, about a third of its CPU in a first deploy to 20 hosts.) Hosts sent the tar
 * together move in step (20 hosts read each chunk once), so a few chunks in memory are
 * enough: a host that falls `kept` chunks behind the others (or starts later) reads a
 * dropped chunk again.
 */
export class FullTar {
  /** By chunk index, oldest read first. */
  private readonly held = new Map<number, Promise<Buffer>>();

  constructor(
    readonly file: string,
    readonly bytes: number,
    /** How many files (and symlinks) it holds. */
    readonly files: number,
    readonly chunkBytes = 1024 * 1024,
    readonly kept = 8,
  ) {}

  get count(): number {
    return Math.ceil(this.bytes / this.chunkBytes);
  }

  /** Chunk i: from memory if a host asked for it recently, else read from the file. */
  chunk(i: number): Promise<Buffer> {
    let chunk = this.held.get(i);
    if (!chunk) {
      chunk = this.read(i);
      this.held.set(i, chunk);
      chunk.catch(() => this.held.delete(i));
      if (this.held.size > this.kept) this.held.delete(this.held.keys().next().value!);
    }
    return chunk;
  }

  protected async read(i: number): Promise<Buffer> {
    const start = i * this.chunkBytes;
    const length = Math.min(this.chunkBytes, this.bytes - start);
    const handle = await open(this.file, 'r');
    try {
      const buf = Buffer.allocUnsafeSlow(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, start + done);
        if (!bytesRead) throw new Error(`${this.file} is shorter than the ${this.bytes} bytes it had`);
        done += bytesRead;
      }
      return buf;
    } finally {
      await handle.close();
    }
  }

  /** The whole file, chunk by chunk, as one host's stream (its stage command's stdin); `sent` counts what it hands on. */
  stream(sent?: (bytes: number) => void): Readable {
    let next = 0;
    const stream: Readable = new Readable({
      read: () => {
        if (next >= this.count) return void stream.push(null);
        this.chunk(next++).then(
          (buf) => {
            sent?.(buf.length);
            stream.push(buf);
          },
          (err: unknown) => stream.destroy(err instanceof Error ? err : new Error(String(err))),
        );
      },
    });
    return stream;
  }
}

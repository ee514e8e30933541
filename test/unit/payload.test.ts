import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { FullTar } from '../../src/deploy/stage/payload.js';

/** A FullTar that counts its reads of the file. */
class Counted extends FullTar {
  reads = 0;
  protected override read(i: number): Promise<Buffer> {
    this.reads++;
    return super.read(i);
  }
}

async function drain(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function withFile(bytes: Buffer, body: (file: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-chunks-'));
  try {
    await writeFile(join(dir, 'tree.tar'), bytes);
    await body(join(dir, 'tree.tar'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('a full tar streamed to many hosts', () => {
  const data = randomBytes(95);

  it('gives every host the whole file, reading each chunk from disk once', () =>
    withFile(data, async (file) => {
      const chunks = new Counted(file, data.length, 0, 10, 32);
      const got = await Promise.all([chunks.stream(), chunks.stream(), chunks.stream()].map(drain));
      for (const g of got) assert.deepEqual(g, data);
      assert.equal(chunks.reads, 10, '10 chunks of 10 bytes, each read once for three hosts');
    }));

  it('keeps only so many chunks: a host far behind the others reads the dropped ones again', () =>
    withFile(data, async (file) => {
      const chunks = new Counted(file, data.length, 0, 10, 2);
      assert.deepEqual(await drain(chunks.stream()), data);
      assert.deepEqual(await drain(chunks.stream()), data, 'the late host still gets every byte, in order');
      assert.equal(chunks.reads, 20, 'two chunks held at most: the second host read all ten again (by the time it got to 8 and 9, they had made room for 0 and 1)');
    }));

  it('fails the host\'s stream if the file shrank under it', () =>
    withFile(data, async (file) => {
      const chunks = new FullTar(file, data.length, 0, 10, 2);
      await truncate(file, 50);
      await assert.rejects(drain(chunks.stream()), /shorter than the 95 bytes/);
    }));
});

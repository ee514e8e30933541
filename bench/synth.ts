/**
 * A synthetic web app, the same bytes on every run: ~3,000 text sources and
 * ~400 binary assets (incompressible, like images), about 3,400 files and 45 MB.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['const', 'return', 'function', 'value', 'items', 'render', 'state', 'props', 'await', 'fetch', 'user', 'order', 'price', 'cart', 'if', 'else', 'for', 'of', 'map', 'filter', 'export', 'import', 'from', 'null', 'true', 'false', 'length', 'index', 'event', 'handler'];

function sourceText(rand: () => number, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  while (size < bytes) {
    const n = 3 + Math.floor(rand() * 9);
    const indent = '  '.repeat(Math.floor(rand() * 4));
    const line = indent + Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(' ') + ';';
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

function binary(rand: () => number, bytes: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  for (let i = 0; i + 4 <= bytes; i += 4) buf.writeUInt32LE(Math.floor(rand() * 4294967296), i);
  for (let i = bytes - (bytes % 4); i < bytes; i++) buf[i] = Math.floor(rand() * 256);
  return buf;
}

export interface SynthStats {
  files: number;
  bytes: number;
}

/** Write the app into dir (which must exist or will be created). */
export async function writeSyntheticApp(dir: string, seed = 7): Promise<SynthStats> {
  const rand = prng(seed);
  let files = 0;
  let bytes = 0;
  const put = async (rel: string, data: string | Buffer) => {
    const full = join(dir, rel);
    await mkdir(join(full, '..'), { recursive: true });
    await writeFile(full, data);
    files++;
    bytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  };
  // 3,000 sources in 30 modules, 1–5 kB each (≈ 9 MB)
  for (let m = 0; m < 30; m++) {
    for (let f = 0; f < 100; f++) {
      const ext = f % 10 === 0 ? 'css' : f % 10 === 1 ? 'html' : 'js';
      await put(`src/module${String(m).padStart(2, '0')}/file${String(f).padStart(3, '0')}.${ext}`, sourceText(rand, 1000 + Math.floor(rand() * 4000)));
    }
  }
  // 400 assets, 30–150 kB each (≈ 36 MB)
  for (let a = 0; a < 400; a++) {
    const ext = a % 3 === 0 ? 'png' : a % 3 === 1 ? 'jpg' : 'woff2';
    await put(`static/assets/${String(a % 20).padStart(2, '0')}/asset${String(a).padStart(3, '0')}.${ext}`, binary(rand, 32_000 + Math.floor(rand() * 124_000)));
  }
  await put('index.html', '<!doctype html><h1>bench</h1>\n');
  await put('health.txt', 'ok\n');
  return { files, bytes };
}

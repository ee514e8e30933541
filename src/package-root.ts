/**
 * Where Slipway is installed: the directory of its package.json. Found by walking up
 * from this module, so it holds whether the code runs from src/ (tsx), from dist/src/
 * (tsc) or from the bundle in dist/bin/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let found: { dir: string; version: string } | undefined;

function find(): { dir: string; version: string } {
  if (found) return found;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'slipway') return (found = { dir, version: pkg.version ?? 'unknown' });
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find Slipway's package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

export const packageRoot = (): string => find().dir;
export const packageVersion = (): string => find().version;

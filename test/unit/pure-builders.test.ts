/**
 * The builders of remote commands only build (#17 item 2): remote.ts (and the readers of
 * what the scripts print, and the host layout) and everything they import at run time must
 * reach nothing that runs a command, so they can be read, tested
 * and reused without a process, a shell or a connection behind them.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const RUNNERS = new Set(['execa', 'node:child_process', 'child_process', 'ssh2']);
const LOCAL_RUNNER = join(root, 'src/exec/local.ts');

/** The specifiers a module loads at run time: `import type` and `export type` are erased, so they do not count. */
export function runtimeImports(source: string): string[] {
  const found: string[] = [];
  const statement = /^\s*(import|export)\s+(type\s+)?([^'";]*?\bfrom\s+)?['"]([^'"]+)['"]/gm;
  for (const m of source.matchAll(statement)) {
    if (m[2]) continue;
    // `export { x }` without from is no import; `import 'x'` (side effects) is
    if (m[1] === 'export' && !m[3]) continue;
    found.push(m[4]!);
  }
  for (const m of source.matchAll(/\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g)) found.push(m[1]!);
  return found;
}

/** Every module reachable from `entry`, with the chain that reached it. */
function importGraph(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length) {
    const file = queue.shift()!;
    if (!file.endsWith('.ts')) continue;
    for (const spec of runtimeImports(readFileSync(file, 'utf8'))) {
      const target = spec.startsWith('.') ? resolve(dirname(file), spec.replace(/\.js$/, '.ts')) : spec;
      if (seen.has(target)) continue;
      seen.set(target, [...seen.get(file)!, target]);
      queue.push(target);
    }
  }
  return seen;
}

describe('builders of remote commands', () => {
  test('runtimeImports skips type-only imports and finds the others', () => {
    const src = [
      "import type { A } from 'ssh2';",
      "import { type B, c } from './b.js';",
      "export type { D } from 'execa';",
      "export { e } from './e.js';",
      "import 'node:child_process';",
      "const f = await import('./f.js');",
    ].join('\n');
    assert.deepEqual(runtimeImports(src), ['./b.js', './e.js', 'node:child_process', './f.js']);
  });

  test('the walk finds a runner reached through another module', () => {
    // the check must be able to fail: ship.ts reaches ssh2 through connect/
    const graph = importGraph(join(root, 'src/deploy/ship.ts'));
    assert.ok([...graph.keys()].some((m) => m === 'node:child_process' || m === 'ssh2' || m === 'execa'));
  });

  for (const file of ['remote.ts', 'remote-output.ts', 'layout.ts']) {
    test(`${file} reaches no execa, child_process, ssh2 or local runner`, () => {
      const graph = importGraph(join(root, 'src/deploy', file));
      const bad = [...graph.entries()].filter(([m]) => RUNNERS.has(m) || m === LOCAL_RUNNER);
      assert.deepEqual(
        bad.map(([, chain]) => chain.map((f) => (f.startsWith('/') ? relative(root, f) : f)).join(' → ')),
        [],
      );
    });
  }
});

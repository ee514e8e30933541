// The `deploy` command as one ES module bundle (plus lazily loaded chunks, one per
// command's code): Node then parses a few files instead of resolving and loading
// hundreds, which took about a third of a short deploy's time. tsc still builds
// dist/src, for `import { defineApp } from 'slipway'` in app files and for the types.
// ssh2 (native crypto bindings) and jiti (loads its own transpiler) stay packages.
import { build } from 'esbuild';

await build({
  entryPoints: ['bin/deploy.ts'],
  outdir: 'dist/bin',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  external: ['ssh2', 'jiti', 'cpu-features'],
  // CommonJS packages in the bundle call require() for Node's own modules
  banner: { js: "import { createRequire as __slipwayRequire } from 'node:module'; const require = __slipwayRequire(import.meta.url);" },
  logLevel: 'warning',
});

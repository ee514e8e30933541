// The `deploy` command as one ES module bundle (plus lazily loaded chunks, one per
// command's code): Node then parses a few files instead of resolving and loading
// hundreds, which took about a third of a short deploy's time. tsc still builds
// dist/src, for `import { defineApp } from 'slipway'` in app files and for the types.
// ssh2 (native crypto bindings) and jiti (loads its own transpiler) stay packages.
import { build } from 'esbuild';

// zod re-exports all its locales, a third of its code, which every run parsed at start-up; the
// CLI's messages are English, so in the bundle zod's locales module holds English alone
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (/[\\/]node_modules[\\/]zod[\\/]/.test(args.importer) ? { path: args.path, namespace: 'zod-locales', pluginData: args.resolveDir } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({ contents: "export { default as en } from '../locales/en.js';", resolveDir: args.pluginData, loader: 'js' }));
  },
};

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
  plugins: [zodEnglishOnly],
  // whitespace and comments out, names kept (stack traces): fewer bytes for Node to parse at each start
  minifyWhitespace: true,
  minifySyntax: true,
  // CommonJS packages in the bundle call require() for Node's own modules
  banner: { js: "import { createRequire as __slipwayRequire } from 'node:module'; const require = __slipwayRequire(import.meta.url);" },
  logLevel: 'warning',
});

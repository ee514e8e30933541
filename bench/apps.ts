/**
 * How long `deploy apps` takes with many apps: APPS apps (default 50) × 3 envs, each env a
 * store with 2 releases and 2 runs in its history, listed by the compiled CLI.
 * Run: make build && node --import tsx bench/apps.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { appendEvent } from '../src/release-store/history.js';
import { commitRelease, initStore } from '../src/release-store/store.js';

const APPS = Number(process.env.APPS ?? 50);
const ENVS = ['prod', 'stage', 'dev'];
const RUNS = 5;
// what the listing reads does not grow with a store's releases (one for-each-ref), so few are made
const RELEASES = 2;
const CLI = fileURLToPath(new URL('../dist/bin/deploy.js', import.meta.url));

const dir = await mkdtemp(join(tmpdir(), 'slipway-bench-apps-'));
try {
  const apps = join(dir, 'apps');
  const root = join(dir, 'admin');
  await mkdir(apps);
  const made = Date.now();
  await Promise.all(Array.from({ length: APPS }, async (_, i) => {
    const app = `app${String(i).padStart(2, '0')}`;
    const envs = ENVS.map((e, k) => `${e}: { hosts: [${Array.from({ length: 2 + k * 3 }, (_, h) => `'${e}${h}.${app}.example.com'`).join(', ')}] }`).join(', ');
    await writeFile(join(apps, `${app}.ts`), `import { defineApp } from 'slipway';\nexport default defineApp({ repo: 'https://git.example.com/${app}.git', envs: { ${envs} } });\n`);
    for (const env of ENVS) {
      const www = join(root, env, 'www', app);
      await initStore(www);
      for (let r = 1; r <= RELEASES; r++) {
        await writeFile(join(www, 'index.html'), `${app} ${env} v${r}\n`);
        const { release } = await commitRelease(www, { app, env, deployer: 'alice', source: 'a'.repeat(40), subject: 's', submodules: [] }, []);
        await appendEvent(www, { kind: 'deploy', who: 'alice', at: new Date().toISOString(), to: release.id, commit: release.commit, result: 'ok', hosts: [] });
      }
    }
  }));
  console.log(`${APPS} apps × ${ENVS.length} envs made in ${((Date.now() - made) / 1000).toFixed(1)} s`);
  const time = (args: string[]) => {
    const t = process.hrtime.bigint();
    execFileSync('node', [CLI, 'apps', ...args], { env: { ...process.env, SLIPWAY_APPS: apps, SLIPWAY_ROOT: root, CI: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  const first = time([]);
  const rest = Array.from({ length: RUNS }, () => time([])).sort((a, b) => a - b);
  const json = Array.from({ length: RUNS }, () => time(['--json'])).sort((a, b) => a - b);
  const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!.toFixed(0);
  console.log(`deploy apps: first run ${first.toFixed(0)} ms (app files compiled), then median ${median(rest)} ms (min ${rest[0]!.toFixed(0)}); --json median ${median(json)} ms`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

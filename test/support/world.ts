/**
 * A complete world for integration tests: a loopback fleet, a source repo with
 * a submodule, private settings, an apps dir with one app pointing at the
 * fleet, and a way to run the real, compiled `deploy` CLI against it.
 */
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { type Fleet, type FleetHost, startFleet } from './fleet.js';

export const CLI = fileURLToPath(new URL('../../dist/bin/deploy.js', import.meta.url));

const GIT_ENV = {
  GIT_AUTHOR_NAME: 'dev',
  GIT_AUTHOR_EMAIL: 'dev@example.com',
  GIT_COMMITTER_NAME: 'dev',
  GIT_COMMITTER_EMAIL: 'dev@example.com',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
};

export async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await execa('git', ['-c', 'protocol.file.allow=always', '-c', 'init.defaultBranch=main', ...args], { cwd, env: GIT_ENV });
  return stdout.trim();
}

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  all: string;
}

export interface WorldOptions {
  net: string;
  size?: number;
  app?: string;
  /** Extra top-level keys for the app file, as TypeScript source (`keepReleases` goes in remote). */
  appExtra?: string;
  remoteExtra?: string;
  /** How many of the fleet's hosts the app file lists (default: all), so a test can add one later. */
  appHosts?: number;
  /** The prod env's keys, its hosts included, as TypeScript source: instead of the fleet's hosts and envExtra. */
  env?: string;
  /** Extra keys for the prod env (e.g. `rollout: {...}`), as TypeScript source. */
  envExtra?: string;
  /** Where the world's directory is made (default: the system's temp dir); under sudo, a directory only root may write. */
  tmp?: string;
  /** Another fleet than the loopback one (test/support/netfleet.ts), started in `dir`. */
  fleet?: (dir: string) => Promise<Fleet>;
}

export type AppParts = Pick<WorldOptions, 'appExtra' | 'remoteExtra' | 'envExtra' | 'appHosts' | 'env'>;

export interface World {
  dir: string;
  fleet: Fleet;
  app: string;
  target: string;
  appsDir: string;
  root: string;
  /** A clone of the source repo to commit and push from. */
  work: string;
  privateDir: string;
  www: string;
  deploy(...args: string[]): Promise<RunResult>;
  /** Write (or with null, delete) files in the work clone, commit and push. Returns the commit. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  /** The directory `current` points to on a host, or undefined. */
  liveDir(host: FleetHost): string | undefined;
  remoteBase(host: FleetHost): string;
  /** Rewrite the app file; what is not given comes from the world's options. */
  writeApp(parts?: AppParts): Promise<void>;
  down(): Promise<void>;
}

export async function makeWorld(options: WorldOptions): Promise<World> {
  const dir = await mkdtemp(join(options.tmp ?? tmpdir(), 'slipway-it-'));
  const app = options.app ?? 'shop';
  const fleet = options.fleet ? await options.fleet(join(dir, 'fleet')) : await startFleet({ size: options.size ?? 3, net: options.net, dir: join(dir, 'fleet') });
  const repos = join(dir, 'repos');
  const work = join(dir, 'work');
  const appsDir = join(dir, 'apps');
  const root = join(dir, 'admin');
  const privateDir = join(root, 'prod', 'private', app);
  await mkdir(repos, { recursive: true });
  await mkdir(appsDir, { recursive: true });

  // the vendor library, a submodule of the app
  const vendorWork = join(dir, 'vendor-work');
  await git(dir, 'init', '-q', vendorWork);
  await writeFile(join(vendorWork, 'lib.py'), 'VERSION = "1.0"\n');
  await git(vendorWork, 'add', '-A');
  await git(vendorWork, 'commit', '-qm', 'vendor 1.0');
  await git(dir, 'clone', '-q', '--bare', vendorWork, join(repos, 'vendor.git'));

  await git(dir, 'init', '-q', work);
  await mkdir(join(work, 'static'), { recursive: true });
  await mkdir(join(work, 'app'), { recursive: true });
  await writeFile(join(work, 'index.html'), '<h1>shop v1</h1>\n');
  await writeFile(join(work, 'health.txt'), 'ok\n');
  await writeFile(join(work, 'app', 'settings.py'), 'from .settings_local import *\n');
  await writeFile(join(work, 'static', '.gitkeep'), '');
  await writeFile(join(work, '.gitignore'), '*.pyc\n');
  await writeFile(join(work, '.hgignore'), 'syntax: glob\n');
  await git(work, 'submodule', 'add', '-q', join(repos, 'vendor.git'), 'vendor/lib');
  await git(work, 'add', '-A');
  await git(work, 'commit', '-qm', 'shop v1');
  await git(dir, 'clone', '-q', '--bare', work, join(repos, 'shop.git'));
  await git(work, 'remote', 'set-url', 'origin', join(repos, 'shop.git')).catch(() => git(work, 'remote', 'add', 'origin', join(repos, 'shop.git')));

  await mkdir(join(privateDir, 'app'), { recursive: true });
  await writeFile(join(privateDir, 'app', 'settings_local.py'), 'SECRET_KEY = "private-v1"\n');
  await writeFile(join(privateDir, '.env'), 'API_TOKEN=tok-9f8e7d6c5b4a\n');
  await chmod(join(privateDir, '.env'), 0o600);

  const writeApp = async (parts: AppParts = {}) => {
    const { appExtra: extra = '', remoteExtra = '', envExtra = '', appHosts = fleet.hosts.length, env } = { ...options, ...parts };
    const hosts = fleet.hosts.slice(0, appHosts).map((h) => `{ name: '${h.name}', address: '${h.address}' }`).join(', ');
    await writeFile(
      join(appsDir, `${app}.ts`),
      `import { defineApp } from 'slipway';
export default defineApp({
  repo: '${join(repos, 'shop.git')}',
  branch: 'main',
  gitConfig: { 'protocol.file.allow': 'always' },
  ssh: { key: '${fleet.clientKey}', knownHosts: '${fleet.knownHosts}', connectTimeout: 5, commandTimeout: 20 },
  remote: { path: '/data/www/{app}', ${remoteExtra} },
  ${extra}
  envs: { prod: { ${env ?? `hosts: [${hosts}], ${envExtra}`} } },
});
`,
    );
  };
  await writeApp();

  const world: World = {
    dir,
    fleet,
    app,
    target: `${app}-prod`,
    appsDir,
    root,
    work,
    privateDir,
    www: join(root, 'prod', 'www', app),
    async deploy(...args) {
      const r = await execa('node', [CLI, ...args], {
        reject: false,
        all: true,
        // an operator's login shell: editor, pager and an ssh command for git are commonly set
        env: { SLIPWAY_APPS: appsDir, SLIPWAY_ROOT: root, CI: '1', EDITOR: 'vi', PAGER: 'less', GIT_SSH_COMMAND: 'ssh -o BatchMode=yes' },
        timeout: 120_000,
      });
      return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, all: r.all ?? '' };
    },
    async commit(files, message = 'change') {
      for (const [path, content] of Object.entries(files)) {
        const full = join(work, path);
        if (content === null) await rm(full, { force: true });
        else {
          await mkdir(join(full, '..'), { recursive: true });
          await writeFile(full, content);
        }
      }
      await git(work, 'add', '-A');
      await git(work, 'commit', '-qm', message);
      await git(work, 'push', '-q', 'origin', 'HEAD:main');
      return git(work, 'rev-parse', 'HEAD');
    },
    remoteBase: (host) => join(host.dataDir, 'www', app),
    liveDir(host) {
      const link = join(host.dataDir, 'www', app, 'current');
      if (!existsSync(link)) return undefined;
      return join(host.dataDir, 'www', app, readlinkSync(link));
    },
    writeApp,
    async down() {
      await fleet.down();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}

/** Every file under a directory (relative path → sha256 of content, or `-> target` for links). */
export function treeOf(dir: string, ignore: (rel: string) => boolean = () => false): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${name}` : name;
      if (ignore(r)) continue;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) out.set(r, `-> ${readlinkSync(join(dir, r))}`);
      else out.set(r, createHash('sha256').update(readFileSync(join(dir, r))).digest('hex'));
    }
  };
  walk('');
  return out;
}

/** The tree of a commit in the release store, checked out fresh into a temp dir. */
export async function commitTree(store: string, commit: string): Promise<Map<string, string>> {
  const tmp = await mkdtemp(join(tmpdir(), 'slipway-tree-'));
  try {
    await execa('sh', ['-c', `git -C "$0" archive "$1" | tar -x -C "$2"`, store, commit, tmp]);
    return treeOf(tmp);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

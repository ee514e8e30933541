/**
 * The admin node's side of a pipeline test, real and fast: a source repository and an admin
 * root in a temp dir, and the AppEnv of an app whose web servers are a recording's
 * (recording.ts). Real git and local rsync build and store the releases; no host is real.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppEnv } from '../../src/config/resolve.js';
import { resolveAppEnv } from '../../src/config/resolve.js';
import { appSchema, type AppInput } from '../../src/config/schema.js';
import { listReleases, makeRelease } from '../../src/release-store/index.js';
import { updateSource } from '../../src/update/index.js';
import type { Release } from '../../src/release-store/release.js';
import { memoryReporter } from '../../src/report/line.js';
import type { RunEvent } from '../../src/report/events.js';
import { git } from './world.js';

export interface Admin {
  dir: string;
  /** The source repository the app deploys from (branch main). */
  source: string;
  root: string;
  appEnv: AppEnv;
  /** Write (or with null, delete) files in the source and commit them. Returns the commit. */
  commit(files: Record<string, string | null>, message?: string): Promise<string>;
  /** Every release in the store, by id. */
  releases(): Promise<Map<string, Release>>;
  /** Update and release as a deploy does, without shipping: what hosts hold is the test's to say. */
  release(): Promise<Release>;
  down(): Promise<void>;
}

export type EnvInput = AppInput['envs'][string];

/**
 * A source with a few files (one of them private, overlaid from the private dir) and an app
 * `shop` whose env `prod` has `hosts` (default web1..web3).
 */
export async function makeAdmin(env: Partial<EnvInput> = {}, app: Partial<AppInput> = {}): Promise<Admin> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-pipe-'));
  const source = join(dir, 'source');
  await git(dir, 'init', '-q', source);
  const admin = adminAt(dir, env, app);
  await admin.commit({ 'index.html': '<h1>shop v1</h1>\n', 'app/settings.py': 'from .settings_local import *\n' }, 'shop v1');
  const privateDir = join(admin.root, 'prod', 'private', 'shop');
  await mkdir(join(privateDir, 'app'), { recursive: true });
  await writeFile(join(privateDir, 'app', 'settings_local.py'), 'SECRET_KEY = "private"\n');
  // never read: the recording's connector replaces SSH; present so nothing fails for want of them
  await writeFile(join(dir, 'id_test'), '');
  await writeFile(join(dir, 'known_hosts'), '');
  return admin;
}

/** The Admin of a directory makeAdmin made (or a copy of one), with this env and app config. */
function adminAt(dir: string, env: Partial<EnvInput>, app: Partial<AppInput>): Admin {
  const source = join(dir, 'source');
  const root = join(dir, 'admin');
  const config = appSchema.parse({
    repo: source,
    branch: 'main',
    submodules: false,
    ssh: { key: join(dir, 'id_test'), knownHosts: join(dir, 'known_hosts') },
    remote: { path: '/data/www/shop' },
    ...app,
    envs: { prod: { hosts: ['web1', 'web2', 'web3'].map((name, i) => ({ name, address: `10.0.0.${i + 1}` })), ...env } },
  });
  const appEnv = resolveAppEnv(config, 'shop', 'prod', 'apps/shop.ts', root);
  return {
    dir,
    source,
    root,
    appEnv,
    async commit(files, message = 'change') {
      for (const [path, content] of Object.entries(files)) {
        const full = join(source, path);
        if (content === null) await rm(full, { force: true });
        else {
          await mkdir(join(full, '..'), { recursive: true });
          await writeFile(full, content);
        }
      }
      await git(source, 'add', '-A');
      await git(source, 'commit', '-qm', message);
      return git(source, 'rev-parse', 'HEAD');
    },
    releases: async () => new Map((await listReleases(appEnv.paths.www)).map((r) => [r.id, r])),
    async release() {
      const reporter = quietReporter();
      return (await makeRelease(appEnv, await updateSource(appEnv, {}, reporter), reporter).committed).release;
    },
    down: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * Admins alike for every test of a file: the first is built by `build` (commits, releases),
 * each test gets a copy of it (one `cp -a`, hard links in the store kept), so a test pays
 * for its own run only. A copy's checkout still names the first one's source as its origin;
 * the next update points it at the copy's (update/checkout.ts followRepo).
 */
export class AdminTemplate {
  private built?: Promise<Admin>;

  constructor(private readonly build: (admin: Admin) => Promise<void>) {}

  async make(env: Partial<EnvInput> = {}, app: Partial<AppInput> = {}): Promise<Admin> {
    const template = await (this.built ??= makeAdmin().then(async (a) => (await this.build(a), a)));
    const dir = await mkdtemp(join(tmpdir(), 'slipway-pipe-'));
    execFileSync('cp', ['-a', `${template.dir}/.`, dir]);
    return adminAt(dir, env, app);
  }

  async down(): Promise<void> {
    await (await this.built?.catch(() => undefined))?.down();
  }
}

/** A reporter that keeps every event; `notes` and `steps` for assertions. */
export function quietReporter() {
  const reporter = memoryReporter();
  return Object.assign(reporter, {
    notes: () => reporter.events.flatMap((e: RunEvent) => (e.kind === 'note' ? [e.text] : [])),
    steps: (host?: string) =>
      reporter.events.flatMap((e: RunEvent) => (e.kind === 'step' && (host === undefined || e.host === host) ? [`${e.host} ${e.step} ${e.state}: ${e.text}`] : [])),
  });
}

/** The error a run ended with; fails the test if it succeeded. */
export async function failure(run: Promise<unknown>): Promise<Error> {
  try {
    await run;
  } catch (err) {
    if (err instanceof Error) return err;
    throw err;
  }
  throw new Error('the run succeeded, and was expected to fail');
}

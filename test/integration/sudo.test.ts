/**
 * `sudo deploy` by someone who is not root (issue 15 §2): every file Slipway runs or
 * believes must be root's alone, allowGroups is decided before the app file runs as
 * root, SUDO_USER is believed only when sudo really set it, and `..` in --root is
 * refused as typed. Runs the real sudo with real users, and a simulated sudo (root
 * with SUDO_* set, as `sudo -E` or a root shell from `sudo -s` looks).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { CLI, type World, git, makeWorld } from '../support/world.js';
import { writeAppFile } from '../support/safety.js';

const OK = 'slwsudook';
const NOPE = 'slwsudono';
const GROUP = 'slwsudoops';
const SUDOERS = '/etc/sudoers.d/slipway-sudo-test';
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8' });
const uidOf = (user: string) => Number(sh('id', ['-u', user]).trim());

describe('sudo deploy is not root for whoever may run it', { timeout: 600_000 }, () => {
  let base: string;
  let w: World;
  let wrapper: string;
  let markers: string;
  let simulated: Record<string, string>;
  /** An installed copy of Slipway: under sudo, Slipway's own files must be root's along their whole path, wherever the tests run from. */
  let cli: string;

  /** The app file of the world, with top-level code that leaves a marker named after the uid running it. */
  const app = async (env = '', imports = '') => {
    await writeAppFile(w, { env });
    const file = join(w.appsDir, `${w.app}.ts`);
    const code = await readFile(file, 'utf8');
    await writeFile(
      file,
      `import { writeFileSync } from 'node:fs';\n${imports}try { writeFileSync(${JSON.stringify(markers)} + '/' + process.getuid(), ''); } catch {}\n${code}`,
    );
  };
  const rootMarker = () => existsSync(join(markers, '0'));
  const clearMarkers = async () => {
    for (const name of readdirSync(markers)) await rm(join(markers, name), { force: true });
  };

  /** As root with SUDO_* set but not started by sudo. */
  const asRootWithSudoEnv = async (args: string[], env: Record<string, string> = {}) => {
    const r = await execa('node', [cli, '--apps', w.appsDir, '--root', w.root, ...args], {
      reject: false,
      all: true,
      env: { PATH: process.env.PATH, CI: '1', ...simulated, ...env },
      extendEnv: false,
    });
    return { exitCode: r.exitCode ?? -1, stderr: r.stderr, all: r.all ?? '' };
  };
  /** `sudo deploy …` run by `user`, through the real sudo and a sudoers line like the documented one. */
  const viaSudo = async (user: string, args: string[]) => {
    const r = await execa('sudo', ['-n', wrapper, '--apps', w.appsDir, '--root', w.root, ...args], {
      reject: false,
      all: true,
      uid: uidOf(user),
      gid: uidOf(user),
      cwd: '/',
      env: { PATH: '/usr/bin:/bin', SLIPWAY_APPS: '/tmp', HOME: '/' },
      extendEnv: false,
    });
    return { exitCode: r.exitCode ?? -1, stderr: r.stderr, all: r.all ?? '' };
  };

  before(async () => {
    // a place only root can write, so that the world's files pass the trust checks
    base = await mkdtemp(join('/var/lib', 'slipway-sudo-'));
    await chmod(base, 0o755);
    w = await makeWorld({ net: '127.0.81', size: 1, tmp: base });
    await chmod(w.dir, 0o755);
    // where the app file's top-level code records who ran it: anyone may write here
    markers = await mkdtemp(join(tmpdir(), 'slipway-markers-'));
    await chmod(markers, 0o1777);

    execFileSync('sh', ['-c', `getent group ${GROUP} >/dev/null || groupadd ${GROUP}`]);
    execFileSync('sh', ['-c', `id ${OK} >/dev/null 2>&1 || useradd -M -U -s /bin/sh -G ${GROUP} ${OK}`]);
    execFileSync('sh', ['-c', `id ${NOPE} >/dev/null 2>&1 || useradd -M -U -s /bin/sh ${NOPE}`]);
    execFileSync('bash', [fileURLToPath(new URL('../../scripts/install.sh', import.meta.url)), 'install', join(base, 'slipway'), join(base, 'bin'), join(base, 'etc-apps'), ...['bash-completion', 'zsh', 'man'].map((d) => join(base, 'share', d))], { stdio: 'ignore' });
    cli = join(base, 'slipway', 'dist', 'bin', 'deploy.js');
    wrapper = join(base, 'deploy');
    await writeFile(wrapper, `#!/bin/sh\nexec ${process.execPath} ${cli} "$@"\n`, { mode: 0o755 });
    await writeFile(SUDOERS, `Defaults:${OK},${NOPE} env_reset\n${OK},${NOPE} ALL=(root) NOPASSWD: ${wrapper}\n`, { mode: 0o440 });
    simulated = { SUDO_USER: OK, SUDO_UID: String(uidOf(OK)), SUDO_GID: String(uidOf(OK)), SUDO_COMMAND: wrapper };
  });

  after(async () => {
    await rm(SUDOERS, { force: true });
    for (const user of [OK, NOPE]) execFileSync('sh', ['-c', `userdel ${user} 2>/dev/null; getent group ${user} >/dev/null && groupdel ${user}; true`]);
    execFileSync('sh', ['-c', `groupdel ${GROUP} 2>/dev/null; true`]);
    await w?.down();
    if (markers) await rm(markers, { recursive: true, force: true });
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('allowGroups is decided before the app file runs as root: a caller outside the group never runs it as root', async () => {
    await app(`allowGroups: ['${GROUP}']`);
    await clearMarkers();
    const r = await viaSudo(NOPE, [w.target]);
    assert.equal(r.exitCode, 2, r.all);
    assert.match(r.stderr, new RegExp(`${NOPE} may not deploy shop-prod: only members of ${GROUP} may`));
    assert.equal(rootMarker(), false, 'the app file never ran as root');
    assert.equal(existsSync(w.www), false, 'nothing was done');
  });

  it('a member of allowGroups deploys through the real sudo; the history says who, verified by sudo', async () => {
    await app(`allowGroups: ['${GROUP}']`);
    const r = await viaSudo(OK, [w.target]);
    assert.equal(r.exitCode, 0, r.all);
    const log = await asRootWithSudoEnv(['log', w.target], {});
    assert.match(log.all, new RegExp(`deploy +none -> r1 +ok +${OK} \\(sudo\\)`));
    assert.match(await git(w.www, 'log', '-1', '--format=%B', 'r1'), new RegExp(`^Deployed-By: ${OK} \\(sudo\\)$`, 'm'));
  });

  it("a spoofed SUDO_USER (root's process, not started by sudo) is not believed, and is recorded as unverified", async () => {
    await app(`allowGroups: ['${GROUP}']`);
    const r = await asRootWithSudoEnv([w.target]);
    assert.equal(r.exitCode, 2, r.all);
    assert.match(r.stderr, new RegExp(`root may not deploy shop-prod: only members of ${GROUP} may`));
    await app(`allowGroups: ['${GROUP}', 'root']`);
    await w.commit({ 'index.html': '<h1>spoofed</h1>\n' });
    const ok = await asRootWithSudoEnv([w.target]);
    assert.equal(ok.exitCode, 0, ok.all);
    assert.match(await git(w.www, 'log', '-1', '--format=%B', 'r2'), new RegExp(`^Deployed-By: root \\(SUDO_USER ${OK} unverified\\)$`, 'm'));
  });

  it('every file Slipway runs or believes must be root\'s alone: each one handed to another user is refused, naming it', async () => {
    await writeFile(join(w.appsDir, '_shared.ts'), 'export const groups = [];\n');
    // root may deploy too, so that the simulated sudo gets past allowGroups to the files the app file names
    await app(`allowGroups: ['${GROUP}', 'root']`, `import { groups } from './_shared.js';\nvoid groups;\n`);
    const tags = await git(w.www, 'tag', '--list');
    const cases: [string, string][] = [
      [w.appsDir, 'the apps directory'],
      [join(w.appsDir, `${w.app}.ts`), 'the apps directory'],
      [join(w.appsDir, '_shared.ts'), 'the apps directory'],
      [w.privateDir, 'the private directory'],
      [w.fleet.knownHosts, 'known_hosts'],
      [w.fleet.clientKey, 'the SSH key'],
      [w.root, 'the admin root'],
    ];
    for (const [path, what] of cases) {
      await clearMarkers();
      await chown(path, 1000, 1000);
      try {
        for (const run of [() => viaSudo(OK, [w.target]), () => asRootWithSudoEnv([w.target])]) {
          const r = await run();
          assert.equal(r.exitCode, 2, `${path}: ${r.all}`);
          assert.ok(r.stderr.includes(`${what} `), `${path}: ${r.stderr}`);
          assert.match(r.stderr, new RegExp(`${path.replaceAll('.', '\\.')} is owned by \\S+ \\(uid 1000\\); under sudo Slipway only uses files that root owns and nobody else can write`));
        }
        if (what === 'the apps directory') assert.equal(rootMarker(), false, `${path}: the app file never ran as root`);
      } finally {
        await chown(path, 0, 0);
      }
    }
    // writable by its group is as bad as someone else's
    await chmod(join(w.appsDir, '_shared.ts'), 0o664);
    const grp = await viaSudo(OK, [w.target]);
    assert.equal(grp.exitCode, 2, grp.all);
    assert.match(grp.stderr, /_shared\.ts is writable by its group \(mode 0664\)/);
    await chmod(join(w.appsDir, '_shared.ts'), 0o644);
    assert.equal(await git(w.www, 'tag', '--list'), tags, 'nothing was released');
  });

  it('under sudo an import from outside the apps directory, or an apps dir in /tmp, is refused before it runs as root', async () => {
    const outside = join(base, 'outside.ts');
    await writeFile(outside, 'export const x = 1;\n');
    await app(`allowGroups: ['${GROUP}']`, `import { x } from ${JSON.stringify(outside)};\nvoid x;\n`);
    await clearMarkers();
    const r = await viaSudo(OK, [w.target]);
    assert.equal(r.exitCode, 2, r.all);
    assert.match(r.stderr, new RegExp(`loads ${outside.replaceAll('.', '\\.')}, outside the apps directory`));
    assert.equal(rootMarker(), false);

    // an outside module that forges the nobody reading's report (leaving itself out of the files
    // it lists) is still refused by root before it runs: every file compiled in-process is checked
    const forge = join(base, 'forge.ts');
    await writeFile(
      forge,
      `import { writeFileSync } from 'node:fs';
if (process.getuid() === 0) writeFileSync(${JSON.stringify(join(markers, 'forge-ran-as-root'))}, '');
else { process.stdout.write('\\n' + JSON.stringify({ envs: ['prod'], allowGroups: {}, files: [] }) + '\\n'); process.exit(0); }
export const y = 1;
`,
    );
    await app(`allowGroups: ['${GROUP}']`, `import { y } from ${JSON.stringify(forge)};\nvoid y;\n`);
    const forged = await viaSudo(OK, [w.target]);
    assert.equal(forged.exitCode, 2, forged.all);
    assert.match(forged.stderr, new RegExp(`loads ${forge.replaceAll('.', '\\.')}, outside the apps directory`));
    assert.equal(existsSync(join(markers, 'forge-ran-as-root')), false, 'the forging module never ran as root');
    await app(`allowGroups: ['${GROUP}']`);

    // the same app files in a directory under the sticky, world-writable /tmp (sudo -E passing SLIPWAY_APPS looks like this)
    const tmpApps = await mkdtemp(join(tmpdir(), 'slipway-apps-'));
    await chmod(tmpApps, 0o755);
    await writeFile(join(tmpApps, `${w.app}.ts`), await readFile(join(w.appsDir, `${w.app}.ts`)));
    for (const args of [['--apps', tmpApps, w.target], [w.target]]) {
      const t = await asRootWithSudoEnv(args, { SLIPWAY_APPS: tmpApps });
      assert.equal(t.exitCode, 2, t.all);
    }
    const t = await asRootWithSudoEnv(['--apps', tmpApps, w.target]);
    assert.match(t.stderr, /\/tmp is writable by others \(mode 1777\)/);
    assert.equal(rootMarker(), false);
    await rm(tmpApps, { recursive: true, force: true });
  });

  it('--root: ".." is refused as typed, and so are system directories and a root inside a store or a release tree', async () => {
    const cases: [string, RegExp][] = [
      [`${w.dir}/x/../admin`, /must not contain "\.\." parts/],
      ['/', /system directory/],
      ['/etc/slipway', /inside a system directory/],
      [join(w.www, 'nested'), /a git checkout/],
      [join(w.fleet.hosts[0]!.dataDir, 'www', w.app, 'releases', 'x'), /release tree/],
    ];
    for (const [root, why] of cases) {
      const r = await execa('node', [CLI, '--apps', w.appsDir, '--root', root, 'plan', w.target], { reject: false, all: true, env: { CI: '1' } });
      assert.equal(r.exitCode, 2, `${root}: ${r.all}`);
      assert.match(r.stderr, why, root);
    }
    const apps = await execa('node', [CLI, '--apps', `${w.appsDir}/../apps`, '--root', w.root, 'plan', w.target], { reject: false, all: true, env: { CI: '1' } });
    assert.equal(apps.exitCode, 2, apps.all);
    assert.match(apps.stderr, /--apps .*must not contain "\.\." parts/);
  });

  it("the admin node's store, www tree, private and state dirs are root's alone after a deploy", async () => {
    const env = join(w.root, 'prod');
    for (const dir of ['www', 'state', 'private']) {
      const st = statSync(join(env, dir));
      assert.equal(st.uid, 0, dir);
      assert.equal((st.mode & 0o777).toString(8), '700', `${dir} is 0700`);
    }
    // what is below them (the store, the export and verify trees, the tars) is out of everyone else's reach
    assert.equal(statSync(join(env, 'src')).mode & 0o777, 0o755, 'the checkout stays reachable for a taskUser');
  });
});

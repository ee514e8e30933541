/**
 * `make install` (issue 16 item 2, issue 15 §2): only Slipway's own files go into PREFIX, a
 * directory Slipway owns; they are root's and writable by nobody else even when the clone
 * belongs to someone else; users' files in PREFIX and BINDIR survive; a `deploy` that is not
 * Slipway's is never replaced; the installed CLI's default apps directory is APPS_DIR. The bash
 * and zsh completion and the man page (issue 18 item 5) are linked in and removed the same way.
 */
import assert from 'node:assert/strict';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Every entry below `dir` (not following links), but not what `skip` says. */
function walk(dir: string, skip: (path: string) => boolean, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (skip(path)) continue;
    out.push(path);
    if (lstatSync(path).isDirectory()) walk(path, skip, out);
  }
  return out;
}

describe('make install', { timeout: 300_000 }, () => {
  let base: string;
  let clone: string;
  let prefix: string;
  let bindir: string;
  let apps: string;
  let share: string;
  const shared = () => [join(share, 'bash-completion', 'completions'), join(share, 'zsh', 'site-functions'), join(share, 'man')];
  const install = (action: 'install' | 'uninstall', p = prefix, b = bindir) =>
    execa('bash', [join(clone, 'scripts', 'install.sh'), action, p, b, apps, ...shared()], { reject: false, all: true, env: { PATH: process.env.PATH } });

  before(async () => {
    base = await mkdtemp(join(tmpdir(), 'slipway-install-'));
    clone = join(base, 'clone');
    prefix = join(base, 'opt', 'slipway');
    bindir = join(base, 'bin');
    apps = join(base, 'etc', 'slipway', 'apps');
    share = join(base, 'usr', 'share');
    // a clone owned by an ordinary user, some of it writable by group and others
    await mkdir(clone);
    await execa('rsync', ['-a', ...['package.json', 'package-lock.json', 'README.md', 'dist', 'remote', 'web', 'node_modules', 'docs', 'examples', 'apps', 'scripts'].map((f) => join(REPO, f)), `${clone}/`]);
    await execa('chown', ['-R', '1000:1000', clone]);
    await execa('chmod', ['-R', 'g+w,o+w', join(clone, 'dist'), join(clone, 'node_modules', 'jiti')]);
  });

  after(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });

  it("installs root's files only, twice, keeping a user's files in PREFIX and BINDIR", async () => {
    const first = await install('install');
    assert.equal(first.exitCode, 0, first.all);
    // what an operator following the old README left in PREFIX, and another tool in BINDIR
    await mkdir(join(prefix, 'apps'));
    await writeFile(join(prefix, 'apps', 'mine.ts'), 'user file\n');
    await writeFile(join(bindir, 'other-tool'), 'user tool\n');
    const second = await install('install');
    assert.equal(second.exitCode, 0, second.all);
    assert.equal(readFileSync(join(prefix, 'apps', 'mine.ts'), 'utf8'), 'user file\n');
    assert.equal(readFileSync(join(bindir, 'other-tool'), 'utf8'), 'user tool\n');
    assert.equal(readlinkSync(join(bindir, 'deploy')), join(prefix, 'dist', 'bin', 'deploy.js'));
    assert.ok(existsSync(join(prefix, 'remote', 'stage.sh')), 'the scripts web servers run are installed');
    assert.ok(existsSync(join(prefix, 'web', 'live.js')), "the dashboard's script is installed");
    const [bashDir, zshDir, manDir] = shared() as [string, string, string];
    assert.equal(readlinkSync(join(bashDir, 'deploy')), join(prefix, 'dist', 'share', 'bash-completion', 'completions', 'deploy'));
    assert.equal(readlinkSync(join(zshDir, '_deploy')), join(prefix, 'dist', 'share', 'zsh', 'site-functions', '_deploy'));
    assert.equal(readlinkSync(join(manDir, 'man1', 'deploy.1')), join(prefix, 'dist', 'share', 'man', 'man1', 'deploy.1'));
    assert.match(readFileSync(join(bashDir, 'deploy'), 'utf8'), /complete -F _deploy deploy/);
    assert.match(readFileSync(join(zshDir, '_deploy'), 'utf8'), /^#compdef deploy/);
    const page = await execa('groff', ['-man', '-Tutf8', '-ww', '-z', join(manDir, 'man1', 'deploy.1')], { reject: false, all: true });
    assert.equal(page.all, '', 'the installed man page renders without warnings');

    const installed = walk(prefix, (p) => p === join(prefix, 'apps'));
    assert.ok(installed.some((p) => p.endsWith('node_modules/jiti/package.json')));
    assert.ok(!installed.some((p) => p.includes('node_modules/typescript/')), 'no dev dependencies');
    assert.ok(!installed.some((p) => p.includes(`${prefix}/test`) || p.includes(`${prefix}/src/`)), "only Slipway's runtime files");
    for (const path of [prefix, ...installed]) {
      const st = lstatSync(path);
      assert.equal(st.uid, 0, `${path} is root's`);
      if (!st.isSymbolicLink()) assert.equal(st.mode & 0o022, 0, `${path} is writable by nobody but root`);
    }
  });

  it('the installed deploy runs, and its default apps directory is APPS_DIR, not PREFIX', async () => {
    const version = await execa(join(bindir, 'deploy'), ['--version'], { reject: false, all: true });
    assert.equal(version.exitCode, 0, version.all);
    await writeFile(join(apps, 'shop.ts'), "import { defineApp } from 'slipway';\nexport default defineApp({ repo: 'https://example.com/shop.git', envs: { prod: { hosts: ['web1'] } } });\n");
    const r = await execa(join(bindir, 'deploy'), ['plan', 'nosuch-prod'], { reject: false, all: true, env: { CI: '1' }, extendEnv: false });
    assert.equal(r.exitCode, 2, r.all);
    assert.match(r.stderr, new RegExp(`unknown app "nosuch" in ${apps.replaceAll('.', '\\.')} \\(apps: shop\\)`));
  });

  it('refuses a PREFIX that is not empty and not Slipway\'s, and a deploy in BINDIR that is not Slipway\'s', async () => {
    const foreign = join(base, 'usr-local');
    await mkdir(foreign);
    await writeFile(join(foreign, 'keep.txt'), 'keep\n');
    const r = await install('install', foreign);
    assert.equal(r.exitCode, 2, r.all);
    assert.match(r.stderr, /is not empty and is not a Slipway install/);
    assert.deepEqual(readdirSync(foreign), ['keep.txt']);

    const otherBin = join(base, 'otherbin');
    await mkdir(otherBin);
    await writeFile(join(otherBin, 'deploy'), '#!/bin/sh\necho another deploy tool\n', { mode: 0o755 });
    const b = await install('install', prefix, otherBin);
    assert.equal(b.exitCode, 2, b.all);
    assert.match(b.stderr, /deploy exists and is not Slipway's symlink/);
    assert.equal(readFileSync(join(otherBin, 'deploy'), 'utf8'), '#!/bin/sh\necho another deploy tool\n');

    // another tool's completion named deploy (Capistrano's, say) is not replaced either
    const [bashDir] = shared() as [string];
    const theirs = join(bashDir, 'deploy');
    await rm(theirs);
    await writeFile(theirs, 'complete -W "cap" deploy\n');
    const c = await install('install');
    assert.equal(c.exitCode, 2, c.all);
    assert.match(c.stderr, /completions\/deploy exists and is not Slipway's symlink/);
    assert.equal(readFileSync(theirs, 'utf8'), 'complete -W "cap" deploy\n');
    await rm(theirs);
    // a dangling link to Slipway's file, left by an install deleted without uninstall, is replaced
    await symlink(join(base, 'gone', 'dist', 'share', 'bash-completion', 'completions', 'deploy'), theirs);
    const again = await install('install');
    assert.equal(again.exitCode, 0, again.all);
    assert.equal(readlinkSync(theirs), join(prefix, 'dist', 'share', 'bash-completion', 'completions', 'deploy'));
  });

  it("make uninstall removes Slipway's files only", async () => {
    const r = await install('uninstall');
    assert.equal(r.exitCode, 0, r.all);
    assert.deepEqual(readdirSync(prefix), ['apps']);
    assert.equal(readFileSync(join(prefix, 'apps', 'mine.ts'), 'utf8'), 'user file\n');
    assert.deepEqual(readdirSync(bindir), ['other-tool']);
    const [bashDir, zshDir, manDir] = shared() as [string, string, string];
    assert.deepEqual([...readdirSync(bashDir), ...readdirSync(zshDir), ...readdirSync(join(manDir, 'man1'))], [], 'the completion and man page links are gone');
    assert.equal(readFileSync(join(apps, 'shop.ts'), 'utf8').includes('defineApp'), true, 'app files are kept');
  });
});

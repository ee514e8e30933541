import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { compileCache, listApps, loadApp, loadFailure, loadTarget, peekApp } from '../../src/config/load.js';
import { DEFAULT_REMOTE } from '../../src/config/resolve.js';
import { ConfigError, ExitCode, UsageError } from '../../src/errors.js';

let root: string;
let appsDir: string;
let cwd: string;

before(() => {
  // realpath: on some systems the tmpdir is a symlink, and messages show paths relative to cwd
  root = realpathSync(mkdtempSync(join(tmpdir(), 'slipway-config-')));
  appsDir = join(root, 'apps');
  mkdirSync(appsDir);
  // messages name app files relative to the working directory: run from the root so they read `apps/x.ts`
  cwd = process.cwd();
  process.chdir(root);
});

after(() => {
  process.chdir(cwd);
  rmSync(root, { recursive: true, force: true });
});

function writeApp(name: string, body: string): void {
  writeFileSync(join(appsDir, `${name}.ts`), body);
}

/** An app file whose default export is the given object literal (as text). */
function app(name: string, literal: string): void {
  writeApp(name, `import { defineApp } from 'slipway';\n\nexport default defineApp(${literal} as never);\n`);
}

function load(target: string) {
  return loadTarget(target, { appsDir, root: '/srv/admin' });
}

/** The problems of the ConfigError a target raises. */
async function problems(target: string): Promise<readonly string[]> {
  try {
    await load(target);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.exitCode, ExitCode.usage);
    return err.problems;
  }
  assert.fail(`${target} loaded without errors`);
}

async function usageError(target: string): Promise<string> {
  try {
    await load(target);
  } catch (err) {
    assert.ok(err instanceof UsageError, `expected a UsageError, got ${String(err)}`);
    assert.equal(err.exitCode, ExitCode.usage);
    return err.message;
  }
  assert.fail(`${target} loaded without errors`);
}

describe('a valid app', () => {
  test('a minimal app resolves with the documented defaults', async () => {
    app('minimal', `{ repo: 'git@example.com:minimal.git', envs: { prod: { hosts: ['web1', 'web2'] } } }`);
    const e = await load('minimal-prod');
    assert.equal(e.app, 'minimal');
    assert.equal(e.env, 'prod');
    assert.equal(e.file, 'apps/minimal.ts');
    assert.equal(e.repo, 'git@example.com:minimal.git');
    assert.equal(e.branch, 'main');
    assert.equal(e.submodules, true);
    assert.deepEqual(e.gitConfig, {});
    assert.deepEqual(e.tasks, []);
    assert.deepEqual(e.exclude, []);
    assert.equal(e.privateEnvFile, '.env');
    assert.equal(e.privateMode, 0o640);
    assert.equal(e.parallel, 25);
    assert.equal(e.relayMinRate, 256 * 1024);
    assert.deepEqual(e.ssh, {
      user: 'root',
      port: 22,
      key: join(homedir(), '.ssh', 'id_ed25519'),
      knownHosts: join(homedir(), '.ssh', 'known_hosts'),
      connectTimeout: 10,
      commandTimeout: 30,
      keepaliveInterval: 2,
      keepaliveCountMax: 3,
    });
    assert.deepEqual(e.remote, { path: '/data/www/minimal', keepReleases: 5, rsync: 'rsync', transfer: 'auto' });
    assert.deepEqual(e.paths, {
      src: '/srv/admin/prod/src/minimal',
      www: '/srv/admin/prod/www/minimal',
      private: '/srv/admin/prod/private/minimal',
      state: '/srv/admin/prod/state/minimal',
      export: '/srv/admin/prod/state/minimal/export',
      verify: '/srv/admin/prod/state/minimal/verify',
      shipTar: '/srv/admin/prod/state/minimal/ship.tar',
      aheadTar: '/srv/admin/prod/state/minimal/ahead.tar',
    });
    assert.deepEqual(e.hosts, [
      { name: 'web1', address: 'web1', port: 22, user: 'root', roles: [], source: 'apps/minimal.ts' },
      { name: 'web2', address: 'web2', port: 22, user: 'root', roles: [], source: 'apps/minimal.ts' },
    ]);
  });

  test('env settings merge over app settings, host settings over both', async () => {
    app(
      'shop',
      `{
        repo: '/srv/repos/shop.git',
        branch: 'develop',
        submodules: false,
        gitConfig: { 'protocol.file.allow': 'always' },
        tasks: [['make', 'assets'], { name: 'stamp', run: ['sh', '-c', 'date > STAMP'] }],
        exclude: ['/node_modules'],
        private: { dir: '/secrets/shop', envFile: 'config/.env', mode: '0600' },
        ssh: { user: 'deploy', port: 2222, connectTimeout: 5 },
        remote: { path: '/srv/{app}/{env}', keepReleases: 3 },
        parallel: 10,
        envs: {
          prod: {
            hosts: ['web1', { name: 'web2', address: '10.0.0.2', port: 2201, user: 'www' }, { name: 'web3', address: '::1' }],
            branch: 'stable',
            ssh: { port: 2200, commandTimeout: 60 },
            remote: { keepReleases: 7, rsync: '/usr/local/bin/rsync' },
            parallel: 4,
          },
          staging: { hosts: ['stage1'] },
        },
      }`,
    );
    const prod = await load('shop-prod');
    assert.equal(prod.branch, 'stable');
    assert.equal(prod.submodules, false);
    assert.deepEqual(prod.gitConfig, { 'protocol.file.allow': 'always' });
    assert.deepEqual(prod.tasks, [['make', 'assets'], { name: 'stamp', run: ['sh', '-c', 'date > STAMP'] }]);
    assert.deepEqual(prod.exclude, ['/node_modules']);
    assert.equal(prod.privateEnvFile, 'config/.env');
    assert.equal(prod.privateMode, 0o600);
    assert.equal(prod.paths.private, '/secrets/shop');
    assert.equal(prod.paths.src, '/srv/admin/prod/src/shop');
    assert.equal(prod.parallel, 4);
    assert.equal(prod.ssh.user, 'deploy');
    assert.equal(prod.ssh.port, 2200);
    assert.equal(prod.ssh.connectTimeout, 5);
    assert.equal(prod.ssh.commandTimeout, 60);
    assert.equal(prod.ssh.keepaliveInterval, 2);
    assert.deepEqual(prod.remote, { path: '/srv/shop/prod', keepReleases: 7, rsync: '/usr/local/bin/rsync', transfer: 'auto' });
    assert.deepEqual(prod.hosts, [
      { name: 'web1', address: 'web1', port: 2200, user: 'deploy', roles: [], source: 'apps/shop.ts' },
      { name: 'web2', address: '10.0.0.2', port: 2201, user: 'www', roles: [], source: 'apps/shop.ts' },
      { name: 'web3', address: '::1', port: 2200, user: 'deploy', roles: [], source: 'apps/shop.ts' },
    ]);

    // another env of the same app sees only the app settings
    const staging = await load('shop-staging');
    assert.equal(staging.branch, 'develop');
    assert.equal(staging.parallel, 10);
    assert.equal(staging.ssh.port, 2222);
    assert.equal(staging.ssh.commandTimeout, 30);
    assert.deepEqual(staging.remote, { path: '/srv/shop/staging', keepReleases: 3, rsync: 'rsync', transfer: 'auto' });
    assert.deepEqual(staging.hosts, [{ name: 'stage1', address: 'stage1', port: 2222, user: 'deploy', roles: [], source: 'apps/shop.ts' }]);
    assert.equal(staging.paths.www, '/srv/admin/staging/www/shop');
  });

  test('resolving never changes the shared defaults', async () => {
    app('plain', `{ repo: '/srv/git/x.git', envs: { prod: { hosts: ['web1'] } } }`);
    await load('shop-prod');
    assert.deepEqual(DEFAULT_REMOTE, { path: '/data/www/{app}', keepReleases: 5, rsync: 'rsync', transfer: 'auto' });
    assert.equal((await load('plain-prod')).remote.path, '/data/www/plain');
  });

  test('files starting with "_" are not apps, but apps can import them', async () => {
    writeApp('_fleet', `export const web = ['web1', { name: 'web2', address: '10.0.0.2' }];\nexport const ssh = { user: 'deploy' };\n`);
    writeApp(
      'blog',
      `import { defineApp } from 'slipway';\nimport { ssh, web } from './_fleet';\n\nexport default defineApp({ repo: '/srv/git/x.git', ssh, envs: { prod: { hosts: web } } });\n`,
    );
    const e = await load('blog-prod');
    assert.deepEqual(e.hosts, [
      { name: 'web1', address: 'web1', port: 22, user: 'deploy', roles: [], source: 'apps/blog.ts' },
      { name: 'web2', address: '10.0.0.2', port: 22, user: 'deploy', roles: [], source: 'apps/blog.ts' },
    ]);
    const apps = await listApps(appsDir);
    assert.ok(apps.includes('blog'));
    assert.ok(!apps.includes('_fleet'));
    assert.match(await usageError('_fleet-prod'), /is not <app>-<env>/);
  });

  test('only valid app names are listed: declaration files and odd names are not apps', async () => {
    writeFileSync(join(appsDir, 'types.d.ts'), 'export {};\n');
    writeFileSync(join(appsDir, 'Upper.ts'), 'export default {};\n');
    writeFileSync(join(appsDir, 'notes.txt'), 'not an app\n');
    const apps = await listApps(appsDir);
    assert.deepEqual(apps, [...apps].sort());
    for (const name of ['types', 'types.d', 'Upper', 'notes', 'notes.txt']) assert.ok(!apps.includes(name), name);
  });
});

describe('app file errors, reported with their path', () => {
  test('an unknown key names the key and where it is', async () => {
    app('typo', `{ repo: '/srv/git/x.git', envs: { prod: { hosts: ['web1'], ssh: { prot: 22 } } } }`);
    assert.deepEqual(await problems('typo-prod'), ['apps/typo.ts: envs.prod.ssh: unknown key "prot"']);
  });

  test('an unknown top-level key', async () => {
    app('colour', `{ repo: '/srv/git/x.git', colour: 'blue', envs: { prod: { hosts: ['web1'] } } }`);
    assert.deepEqual(await problems('colour-prod'), ['apps/colour.ts: unknown key "colour"']);
  });

  test('private.require names files inside the private dir, none required by default', async () => {
    app('req', `{ repo: '/srv/git/x.git', private: { require: ['.env', 'app/settings_local.py'] }, envs: { prod: { hosts: ['web1'] } } }`);
    assert.deepEqual((await load('req-prod')).privateRequire, ['.env', 'app/settings_local.py']);
    app('noreq', `{ repo: '/srv/git/x.git', envs: { prod: { hosts: ['web1'] } } }`);
    assert.deepEqual((await load('noreq-prod')).privateRequire, []);
    app('badreq', `{ repo: '/srv/git/x.git', private: { require: ['../shadow', '/etc/passwd'] }, envs: { prod: { hosts: ['web1'] } } }`);
    assert.deepEqual(await problems('badreq-prod'), [
      'apps/badreq.ts: private.require[0]: must not contain ".." or parts starting with "-"',
      'apps/badreq.ts: private.require[1]: must be a relative path without control characters',
    ]);
  });

  test('every problem in a file is reported at once', async () => {
    app(
      'many',
      `{
        repo: '/srv/git/x.git',
        colour: 'blue',
        parallel: 'ten',
        submodules: 'yes',
        remote: { keepReleases: 0, path: 'relative/{app}' },
        envs: {
          prod: { hosts: ['web1', 'bad host', { name: 'web3', port: 70000 }], ssh: { prot: 22 }, branch: 'a..b' },
          'pre-prod': { hosts: [] },
        },
      }`,
    );
    const p = await problems('many-prod');
    const expected = [
      'apps/many.ts: unknown key "colour"',
      /^apps\/many\.ts: parallel: .*expected number/,
      /^apps\/many\.ts: submodules: .*expected boolean/,
      /^apps\/many\.ts: remote\.keepReleases: /,
      'apps/many.ts: remote.path: must be an absolute path without control characters',
      'apps/many.ts: envs.prod.hosts[1]: not a valid host name',
      /^apps\/many\.ts: envs\.prod\.hosts\[2\]\.port: /,
      'apps/many.ts: envs.prod.ssh: unknown key "prot"',
      'apps/many.ts: envs.prod.branch: not a valid git ref name',
      'apps/many.ts: envs.pre-prod.hosts: an env needs at least one host',
      /^apps\/many\.ts: envs\.pre-prod: env names are one lower-case word/,
    ];
    for (const want of expected) {
      assert.ok(
        p.some((line) => (typeof want === 'string' ? line === want : want.test(line))),
        `missing ${String(want)} in:\n${p.join('\n')}`,
      );
    }
    assert.equal(p.length, expected.length, p.join('\n'));
  });

  test('a relay\'s slowest rate is written with its unit', async () => {
    app('rates', `{ repo: '/srv/git/r.git', envs: { prod: { hosts: ['web1'], relayMinRate: '2MB/s' } } }`);
    assert.equal((await load('rates-prod')).relayMinRate, 2 * 1024 * 1024);
    app('badrate', `{ repo: '/srv/git/r.git', envs: { prod: { hosts: ['web1'], relayMinRate: '2 mbit' } } }`);
    assert.deepEqual(await problems('badrate-prod'), ['apps/badrate.ts: envs.prod.relayMinRate: not a rate: "2 mbit" (like 500KB/s or 2MB/s)']);
  });

  test('a bad host name is reported at its index', async () => {
    app('badhost', `{ repo: '/srv/git/x.git', envs: { prod: { hosts: ['web1', 'web;2', 'web3'] } } }`);
    assert.deepEqual(await problems('badhost-prod'), ['apps/badhost.ts: envs.prod.hosts[1]: not a valid host name']);
  });

  test('hostile values in host objects are refused with their path', async () => {
    app('badaddr', `{ repo: '/srv/git/x.git', envs: { prod: { hosts: [{ name: 'web1', address: '$(id)', user: 'Root;' }] } } }`);
    const p = await problems('badaddr-prod');
    assert.ok(p.includes('apps/badaddr.ts: envs.prod.hosts[0].address: not a valid host name'), p.join('\n'));
    assert.ok(p.includes('apps/badaddr.ts: envs.prod.hosts[0].user: not a valid unix user name'), p.join('\n'));
  });

  test('a host listed twice is an error', async () => {
    app('dup', `{ repo: '/srv/git/x.git', envs: { prod: { hosts: ['web1', 'web2', { name: 'web1', address: '10.0.0.9' }] } } }`);
    assert.deepEqual(await problems('dup-prod'), ['apps/dup.ts: envs.prod.hosts: "web1" is listed twice']);
  });

  test('a missing repo is reported', async () => {
    app('norepo', `{ envs: { prod: { hosts: ['web1'] } } }`);
    const p = await problems('norepo-prod');
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0]!, /^apps\/norepo\.ts: repo: /);
  });

  test('wrong types are reported with what was expected', async () => {
    app('types', `{ repo: 42, submodules: 'yes', tasks: 'make', exclude: [''], envs: { prod: { hosts: 'web1', parallel: 0 } } }`);
    const p = await problems('types-prod');
    for (const prefix of ['repo', 'submodules', 'tasks', 'exclude[0]', 'envs.prod.hosts', 'envs.prod.parallel']) {
      assert.ok(p.some((line) => line.startsWith(`apps/types.ts: ${prefix}: `)), `no problem for ${prefix} in:\n${p.join('\n')}`);
    }
  });

  test('a repo that starts with "-" is refused (it would be read as an option)', async () => {
    app('dashrepo', `{ repo: '--upload-pack=touch /tmp/x', envs: { prod: { hosts: ['web1'] } } }`);
    assert.deepEqual(await problems('dashrepo-prod'), ['apps/dashrepo.ts: repo: must not start with "-"']);
  });

  test('control characters in commands and paths are refused', async () => {
    app('ctrl', `{ repo: '/srv/git/x.git', tasks: [['make', 'a\\nb']], ssh: { key: '/k\\ney' }, envs: { prod: { hosts: ['web1'] } } }`);
    const p = await problems('ctrl-prod');
    assert.ok(p.some((line) => line.startsWith('apps/ctrl.ts: tasks[0]')), p.join('\n'));
    assert.ok(p.some((line) => line.startsWith('apps/ctrl.ts: ssh.key: ')), p.join('\n'));
  });

  test('an app without envs is an error', async () => {
    app('noenvs', `{ repo: '/srv/git/x.git', envs: {} }`);
    assert.deepEqual(await problems('noenvs-prod'), ['apps/noenvs.ts: envs: an app needs at least one env']);
  });

  test('a file with a syntax error says file:line:column and shows the line with a caret', async () => {
    writeApp('broken', `// shop\nexport default {\n  repo: '/srv/git/x.git'\n  envs: { prod: { hosts: ['web1'] } },\n};\n`);
    const p = await problems('broken-prod');
    assert.deepEqual(p, [
      [
        `apps/broken.ts:4:3: cannot be loaded: syntax error: Unexpected token, expected ","`,
        `  4 |   envs: { prod: { hosts: ['web1'] } },`,
        `    |   ^`,
      ].join('\n'),
    ]);
  });

  test('a syntax error in a module the app file imports names that module and its line', async () => {
    writeApp('_hosts', `export const web = ['web1' 'web2'];\n`);
    writeApp('importer', `import { web } from './_hosts';\nexport default { repo: '/srv/git/x.git', envs: { prod: { hosts: web } } };\n`);
    const p = await problems('importer-prod');
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^apps\/importer\.ts: cannot be loaded: apps\/_hosts\.ts:1:28: syntax error: .*\n {2}1 \| export const web = \['web1' 'web2'\];\n {4}\| {28}\^$/);
  });

  test('under sudo the reading as nobody says where, too; a line is shown only from a file in the apps directory', async () => {
    chmodSync(root, 0o755);
    chmodSync(appsDir, 0o755);
    writeApp('peeked', `export default {\n  repo: '/srv/git/x.git'\n  envs: {},\n};\n`);
    await assert.rejects(peekApp(appsDir, 'peeked'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, [`apps/peeked.ts:3:3: cannot be loaded: syntax error: Unexpected token, expected ","`, `  3 |   envs: {},`, `    |   ^`].join('\n'));
      return true;
    });
    // what the nobody process reports is not believed enough to read a file outside the apps directory
    assert.equal(loadFailure('apps/x.ts', 'ParseError: Unexpected token \n /etc/shadow:1:0', () => false), 'apps/x.ts: cannot be loaded: /etc/shadow:1:1: syntax error: Unexpected token');
  });

  test('a file that throws while loading cannot be loaded, and says why', async () => {
    writeApp('throws', `throw new Error('no fleet file');\n`);
    assert.deepEqual(await problems('throws-prod'), ['apps/throws.ts: cannot be loaded: no fleet file']);
  });

  test('a file importing a missing module cannot be loaded', async () => {
    writeApp('missing', `import { web } from './_nowhere';\nexport default { repo: '/srv/git/x.git', envs: { prod: { hosts: web } } };\n`);
    const p = await problems('missing-prod');
    assert.equal(p.length, 1);
    assert.match(p[0]!, /^apps\/missing\.ts: cannot be loaded: /);
  });
});

describe('targets', () => {
  test('an unknown app is a usage error listing the apps that exist', async () => {
    const message = await usageError('nope-prod');
    assert.match(message, /^unknown app "nope" in /);
    const listed = /\(apps: (.*)\)$/.exec(message)?.[1]?.split(', ');
    assert.ok(listed, message);
    assert.deepEqual(listed, await listApps(appsDir));
    assert.ok(listed.includes('minimal') && listed.includes('shop'), message);
  });

  test('an unknown env is a usage error listing the envs of the app', async () => {
    app('envs', `{ repo: '/srv/git/x.git', envs: { prod: { hosts: ['web1'] }, staging: { hosts: ['web2'] } } }`);
    assert.equal(await usageError('envs-qa'), 'unknown env "qa" for app envs (envs: prod, staging)');
    // names that exist on every object are not envs
    assert.match(await usageError('envs-constructor'), /^unknown env "constructor" for app envs/);
    assert.match(await usageError('envs-tostring'), /^unknown env "tostring"/);
  });

  test('a target splits at its last hyphen: minimal-pre-prod asks for app "minimal-pre"', async () => {
    assert.match(await usageError('minimal-pre-prod'), /^unknown app "minimal-pre" in /);
  });

  test('a missing apps directory is a usage error', async () => {
    await assert.rejects(
      loadTarget('demo-prod', { appsDir: join(root, 'no-such-dir'), root: '/srv/admin' }),
      (err: unknown) => err instanceof UsageError && /cannot read the apps directory/.test(err.message),
    );
  });

  const hostile = ['../x-prod', '../../etc/passwd-prod', 'a;b-prod', '$(id)-prod', '`id`-prod', "a'b-prod", 'a b-prod', 'minimal-prod;id', 'minimal-prod\n', 'minimal-pr\0od', '-prod', 'minimal-', 'minimal', '', 'Minimal-prod', 'minimal-PROD'];
  for (const target of hostile) {
    test(`a hostile or malformed target ${JSON.stringify(target)} is a usage error, shown escaped`, async () => {
      const message = await usageError(target);
      assert.equal(message, `${JSON.stringify(target)} is not <app>-<env> (for example: caseconductor-prod)`);
      // nothing raw: no newline or NUL reaches the terminal
      assert.ok(!/[\n\0]/.test(message));
    });
  }
});

describe('where compiled app files are kept', () => {
  test('in <node_modules>/.cache/jiti, private to us, and loadApp writes there, not to <tmpdir>/jiti', async () => {
    const modules = join(root, 'cache-ok', 'node_modules');
    mkdirSync(modules, { recursive: true });
    const dir = compileCache(modules);
    assert.equal(dir, join(modules, '.cache', 'jiti'));
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    // an apps dir of a name no other test uses: jiti names its cache files after it
    const apps = join(root, `apps-${process.pid}-cached`);
    mkdirSync(apps);
    writeFileSync(join(apps, 'cached.ts'), `import { defineApp } from 'slipway';\nexport default defineApp({ repo: 'https://example.com/x.git', envs: { prod: { hosts: [{ name: 'web1' }] } } } as never);\n`);
    const { config } = await loadApp(apps, 'cached', dir);
    assert.deepEqual(Object.keys(config.envs), ['prod']);
    assert.equal(readdirSync(dir).filter((f) => f.startsWith(`apps-${process.pid}-cached-cached.`)).length, 1);
    const tmp = join(tmpdir(), 'jiti');
    assert.ok(!existsSync(tmp) || !readdirSync(tmp).some((f) => f.startsWith(`apps-${process.pid}-cached-`)), 'nothing in the shared temp dir');
  });

  test('not used when others could write to it, or when it is a symlink; none without node_modules', () => {
    const open = join(root, 'cache-open', 'node_modules');
    mkdirSync(join(open, '.cache', 'jiti'), { recursive: true });
    chmodSync(join(open, '.cache', 'jiti'), 0o777);
    assert.equal(compileCache(open), false);
    const openParent = join(root, 'cache-open-parent', 'node_modules');
    mkdirSync(join(openParent, '.cache', 'jiti'), { recursive: true, mode: 0o700 });
    chmodSync(join(openParent, '.cache'), 0o777);
    assert.equal(compileCache(openParent), false);
    const linked = join(root, 'cache-link', 'node_modules');
    mkdirSync(join(linked, '.cache'), { recursive: true });
    mkdirSync(join(root, 'elsewhere'), { mode: 0o700 });
    symlinkSync(join(root, 'elsewhere'), join(linked, '.cache', 'jiti'));
    assert.equal(compileCache(linked), false);
    assert.equal(compileCache(join(root, 'no-modules', 'node_modules')), false);
  });
});

/**
 * Hostile and malformed input, on a real fleet: every command-line argument and
 * every config field, each refused with exit code 2 and a clear message, and
 * nothing changed anywhere (the admin root and every host's /data are
 * compared file by file before and after). A NUL cannot travel in argv (execve
 * ends the string there), so NUL is tried in the app file, and in unit tests.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type World, makeWorld } from '../support/world.js';
import { type AppParts, runDeploy, snapshot, writeAppFile } from '../support/safety.js';

interface Case {
  name: string;
  args?: string[];
  app?: AppParts;
  /** a whole app file, for syntax errors and wrong shapes */
  file?: string;
  error: RegExp;
}

const T = 'shop-prod';
const CASES: Case[] = [
  // the <app>-<env> target, in every command
  { name: 'target with ../', args: ['../shop-prod'], error: /is not <app>-<env>/ },
  { name: 'target with /', args: ['shop/../x-prod'], error: /is not <app>-<env>/ },
  { name: 'target with ;', args: ['shop-prod;id'], error: /is not <app>-<env>/ },
  { name: 'target with $( )', args: ['$(id)-prod'], error: /is not <app>-<env>/ },
  { name: 'target with backticks', args: ['`id`-prod'], error: /is not <app>-<env>/ },
  { name: 'target with quotes', args: ['shop-"prod"'], error: /is not <app>-<env>/ },
  { name: 'target with a space', args: ['shop prod'], error: /is not <app>-<env>/ },
  { name: 'target with a newline', args: ['shop-prod\nid'], error: /is not <app>-<env>/ },
  { name: 'target with a leading -', args: ['-shop-prod'], error: /unknown option/ },
  { name: 'unknown env', args: ['shop-staging'], error: /unknown env "staging" for app shop \(envs: prod\)/ },
  { name: 'unknown app', args: ['nosuch-prod'], error: /unknown app "nosuch"/ },
  { name: 'releases with a hostile target', args: ['releases', 'shop-prod;id'], error: /is not <app>-<env>/ },
  { name: 'status with a hostile target', args: ['status', '$(id)-prod'], error: /is not <app>-<env>/ },
  { name: 'unlock with a hostile target', args: ['unlock', '../shop-prod', '--force'], error: /is not <app>-<env>/ },
  // --revision
  { name: '--revision $( )', args: [T, '--revision', '$(touch /tmp/pwned)'], error: /--revision .*not a valid git ref name/ },
  { name: '--revision ;', args: [T, '--revision', 'main;id'], error: /--revision .*not a valid git ref name/ },
  { name: '--revision ../', args: [T, '--revision', '../../etc/passwd'], error: /--revision .*not a valid git ref name/ },
  { name: '--revision leading -', args: [T, '--revision=-oProxyCommand=id'], error: /a ref cannot start with "-"/ },
  { name: '--revision backticks', args: [T, '--revision', 'main`id`'], error: /--revision .*not a valid git ref name/ },
  { name: '--revision space', args: [T, '--revision', 'main id'], error: /--revision .*not a valid git ref name/ },
  { name: '--revision newline', args: [T, '--revision', 'main\nid'], error: /--revision .*not a valid git ref name/ },
  { name: '--revision quote', args: [T, '--revision', "main'"], error: /--revision .*not a valid git ref name/ },
  { name: '--revision that is no commit', args: [T, '--revision', 'deadbeefdeadbeefdeadbeef'], error: /revision "deadbeefdeadbeefdeadbeef" is not a commit/ },
  // other options
  { name: '--parallel 0', args: [T, '--parallel', '0'], error: /expected a whole number/ },
  { name: '--parallel with ;', args: [T, '--parallel', '2;id'], error: /expected a whole number/ },
  { name: '--wait with ;', args: [T, '--wait', '5m;id'], error: /--wait .*expected a duration/ },
  { name: '--root with a newline', args: ['--root', '/tmp/a\nb', T], error: /--root .*control characters/ },
  { name: '--root with $( )', args: ['--root', '/tmp/$(id)', T], error: /--root .*must not contain/ },
  { name: '--apps with ;', args: ['--apps', '/tmp/apps;id', T], error: /--apps .*must not contain/ },
  // config fields
  { name: 'repo with a leading -', app: { top: "repo: '-uhelp'," }, error: /repo: must not start with "-"/ },
  { name: 'repo with ;', app: { top: "repo: '/tmp/x.git;id'," }, error: /repo: must not contain spaces, quotes, parentheses/ },
  { name: 'repo with $( )', app: { top: "repo: 'https://example.com/$(id).git'," }, error: /repo: must not contain spaces, quotes, parentheses/ },
  { name: 'repo with a space', app: { top: "repo: '/tmp/x.git --upload-pack=id'," }, error: /repo: must not contain spaces/ },
  { name: 'repo through a remote helper', app: { top: "repo: 'ext::sh'," }, error: /repo: git remote helpers/ },
  { name: 'remote path /', app: { remote: "path: '/'" }, error: /remote\.path: \/ is a system directory/ },
  { name: 'remote path in /etc', app: { remote: "path: '/etc/{app}'" }, error: /remote\.path: \/etc\/app is a system directory/ },
  { name: 'branch with ;', app: { env: "branch: 'main;id'" }, error: /envs\.prod\.branch: not a valid git ref name/ },
  { name: 'a branch that does not exist', app: { env: "branch: 'mian'" }, error: /branch "mian" not found in \S+shop\.git; branches: main; set the app's \(or env's\) `branch`/ },
  { name: 'a branch that does not exist, in plan', args: ['plan', T], app: { env: "branch: 'mian'" }, error: /branch "mian" not found in \S+shop\.git; branches: main;/ },
  { name: 'branch with $( )', app: { env: "branch: '$(id)'" }, error: /envs\.prod\.branch: not a valid git ref name/ },
  { name: 'host name with ;', app: { hosts: "'web1;id'" }, error: /envs\.prod\.hosts\[0\]/ },
  { name: 'host name with a leading -', app: { hosts: "'-oProxyCommand=id'" }, error: /envs\.prod\.hosts\[0\]/ },
  { name: 'host address with a space', app: { hosts: "{ name: 'web1', address: '127.0.0.1 -p 2222' }" }, error: /envs\.prod\.hosts\[0\]/ },
  { name: 'ssh user with ;', app: { ssh: "user: 'root;id'" }, error: /ssh\.user: not a valid unix user name/ },
  { name: 'ssh key relative with ../', app: { ssh: "key: '../key'" }, error: /ssh\.key: must be an absolute path/ },
  { name: 'remote path with ..', app: { remote: "path: '/data/www/../../etc'" }, error: /remote\.path: must not contain "\." or "\.\."/ },
  { name: 'remote path with $( )', app: { remote: "path: '/data/www/$(id)'" }, error: /remote\.path: must not contain spaces, quotes/ },
  { name: 'remote path with NUL', app: { remote: "path: '/data/www/a\\0b'" }, error: /remote\.path: must be an absolute path without control characters/ },
  { name: 'remote rsync with options', app: { remote: "rsync: '/usr/bin/rsync --rsh=id'" }, error: /remote\.rsync/ },
  { name: 'private dir with backticks', app: { top: "private: { dir: '/tmp/`id`' }," }, error: /private\.dir: must not contain/ },
  { name: 'private envFile with ../', app: { top: "private: { envFile: '../.env' }," }, error: /private\.envFile: must not contain "\.\."/ },
  { name: 'private group with a space', app: { top: "private: { group: 'www data' }," }, error: /private\.group: not a valid unix user or group name/ },
  { name: 'private mode not octal', app: { top: "private: { mode: '0777;' }," }, error: /private\.mode: an octal mode/ },
  { name: 'gitConfig key with =', app: { top: "gitConfig: { 'core.sshCommand=id': 'x' }," }, error: /gitConfig\.core\.sshCommand=id: Invalid key/ },
  { name: 'taskUser with ;', app: { top: "taskUser: 'root;id'," }, error: /taskUser: not a valid unix user/ },
  { name: 'task runAs with $( )', app: { top: "tasks: [{ name: 'x', run: ['true'], runAs: '$(id)' }]," }, error: /tasks\[0\]/ },
  { name: 'allowGroups with a space', app: { env: "allowGroups: ['web ops']" }, error: /envs\.prod\.allowGroups\[0\]: not a valid unix user or group name/ },
  { name: 'exclude with a newline', app: { top: "exclude: ['a\\nb']," }, error: /exclude\[0\]: must not contain control characters/ },
  { name: 'taskUser that does not exist', app: { top: "taskUser: 'nosuchuser', tasks: [['true']]," }, error: /no such user on this admin node/ },
  // malformed app files
  { name: 'syntax error', file: "import { defineApp } from 'slipway';\nexport default defineApp({ repo: ", error: /shop\.ts:2:34: cannot be loaded: syntax error: Unexpected token\n {2}2 \| export default defineApp\(\{ repo: \n {4}\| {34}\^/ },
  { name: 'missing envs', file: "export default { repo: '/tmp/x.git' };", error: /envs: / },
  { name: 'hosts of the wrong type', file: "export default { repo: '/tmp/x.git', envs: { prod: { hosts: 'web1' } } };", error: /envs\.prod\.hosts: / },
  { name: 'port of the wrong type', app: { ssh: "port: '22'" }, error: /ssh\.port: / },
  { name: 'unknown key', app: { top: 'hsots: [],' }, error: /unknown key "hsots"/ },
  { name: 'default export not an object', file: 'export default 42;', error: /shop\.ts: / },
  { name: 'an app file that throws', file: "throw new Error('boom');", error: /shop\.ts: cannot be loaded: boom/ },
];

describe('hostile and malformed input changes nothing', { timeout: 600_000 }, () => {
  let w: World;
  let good: string;
  let baseline: Map<string, string>;

  before(async () => {
    w = await makeWorld({ net: '127.0.51', size: 2 });
    await mkdir(join(w.dir, 'tmp'), { recursive: true }); // the CLI's TMPDIR (baseEnv)
    await writeAppFile(w);
    const r = await runDeploy(w, [T]);
    assert.equal(r.exitCode, 0, r.all);
    good = await readFile(join(w.appsDir, 'shop.ts'), 'utf8');
    baseline = snapshot(w);
  });
  after(async () => {
    await w?.down();
  });

  it(`has at least 30 cases (${CASES.length})`, () => assert.ok(CASES.length >= 30));

  for (const c of CASES) {
    it(`refuses ${c.name}`, async () => {
      if (c.file !== undefined) await writeFile(join(w.appsDir, 'shop.ts'), c.file);
      else if (c.app) await writeAppFile(w, c.app);
      try {
        const r = await runDeploy(w, c.args ?? [T]);
        assert.equal(r.exitCode, 2, r.all);
        assert.match(r.stderr, c.error);
        assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
        assert.deepEqual(snapshot(w), baseline, 'nothing changed on the admin node or any host');
      } finally {
        await writeFile(join(w.appsDir, 'shop.ts'), good);
      }
    });
  }
});

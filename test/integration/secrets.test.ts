/**
 * Secrets never leave a run, whatever the command: deploy, rollback and sync,
 * failing and succeeding, on a real loopback fleet. Health checks and switch
 * hooks on the hosts print the private settings (of the release they serve,
 * which for a rollback differ from today's) and values of the private dotenv
 * file; every output is searched for each secret in every escaped form:
 * stdout (--json), stderr, the JUnit file, the webhook bodies a local HTTP
 * server received, and the store's history.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseDotenv } from 'dotenv';
import { type RunResult, type World, git, makeWorld } from '../support/world.js';

// private settings of r1 and of r2: quotes, a backslash, and a multi-line key file
const SETTINGS_V1 = `SECRET_KEY = 'v1-"quoted"\\back-k3y'\n`;
const SETTINGS_V2 = `SECRET_KEY = 'v2-"other"\\slash-k3y'\n`;
const PEM = `-----BEGIN TEST KEY-----\npem"line\\one-secret\npem-line-two-secret\n-----END TEST KEY-----\n`;
const DOTENV = `API_TOKEN=tok-9f8e7d6c5b4a\nDB_PASS='env"pass\\word-77'\nCERT="cert-line-one-secret\ncert-line-two-secret"\n`;

const SECRETS = [`v1-"quoted"\\back-k3y`, `v2-"other"\\slash-k3y`, `pem"line\\one-secret`, 'pem-line-two-secret', 'tok-9f8e7d6c5b4a', `env"pass\\word-77`, 'cert-line-one-secret', 'cert-line-two-secret'];

/** A secret as it would look printed raw, JSON-escaped (once or twice, as inside a history commit), or XML-escaped. */
function forms(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1);
  const xml = secret.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll("'", '&apos;').replaceAll('<', '&lt;');
  return [...new Set([secret, json, JSON.stringify(json).slice(1, -1), xml])];
}

const HEALTH = `command: ['sh', '-c', 'cat /data/www/shop/current/app/settings_local.py /data/www/shop/current/app/key.pem /data/leak | tr "\\\\n" " " >&2; test ! -e /data/sick-health'], retries: 0`;
const HOOK = `['sh', '-c', 'cat /data/leak >&2; test ! -e /data/sick-hook']`;

describe('secrets never leak from deploy, rollback or sync', { timeout: 300_000 }, () => {
  let w: World;
  let hook: Server;
  let hookBase = '';
  const posts: string[] = [];
  const checked: string[] = [];

  const setPrivate = (content: string) => writeFile(join(w.privateDir, 'app', 'settings_local.py'), content);
  const sick = (kind: 'health' | 'hook', on: boolean, hosts = w.fleet.hosts) => {
    for (const h of hosts) {
      const f = join(h.dataDir, `sick-${kind}`);
      if (on) writeFileSync(f, '');
      else rmSync(f, { force: true });
    }
  };
  const liveIds = () => w.fleet.hosts.map((h) => w.liveDir(h)?.split('/').pop()?.split('-')[0]);

  /** Run the CLI with --json and --junit; every output of it (and the webhook body it sent) must hold no secret. */
  async function run(name: string, ...args: string[]): Promise<RunResult> {
    const junit = join(w.dir, `${name}.xml`);
    const before = posts.length;
    const r = await w.deploy(...args, '--json', '--junit', junit);
    for (const line of r.stdout.split('\n').filter(Boolean)) JSON.parse(line);
    const outputs = { stdout: r.stdout, stderr: r.stderr, junit: readFileSync(junit, 'utf8'), webhook: posts.slice(before).join('\n') };
    assert.equal(posts.length, before + 1, `${name}: one webhook POST`);
    for (const [where, text] of Object.entries(outputs)) assertClean(`${name} ${where}`, text);
    checked.push(name);
    return r;
  }

  function assertClean(where: string, text: string) {
    for (const secret of SECRETS) for (const form of forms(secret)) assert.ok(!text.includes(form), `${where} holds the secret ${JSON.stringify(form)}:\n${text}`);
  }

  before(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        posts.push(body);
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookBase = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
    w = await makeWorld({ net: '127.0.77' });
    const env = parseDotenv(DOTENV);
    assert.equal(env.DB_PASS, `env"pass\\word-77`);
    assert.equal(env.CERT, 'cert-line-one-secret\ncert-line-two-secret');
    await writeFile(join(w.privateDir, '.env'), DOTENV, { mode: 0o600 });
    await writeFile(join(w.privateDir, 'app', 'key.pem'), PEM);
    await setPrivate(SETTINGS_V1);
    // the web servers' own environment holds the dotenv values too, and the hooks print them
    for (const h of w.fleet.hosts) writeFileSync(join(h.dataDir, 'leak'), `${env.DB_PASS} ${env.CERT}\n`);
    await w.writeApp({
      appExtra: `notify: { webhook: { url: '${hookBase}/hook', format: 'json', timeout: 3 } },`,
      envExtra: `rollout: { hooks: { postSwitch: [${HOOK}] }, health: { ${HEALTH} } },`,
    });
  });
  after(async () => {
    hook.close();
    await w?.down();
  });

  it('deploy: succeeding, then failing with health checks that print the settings of the new release and of the one reverted to', async () => {
    const ok = await run('deploy-ok', w.target);
    assert.equal(ok.exitCode, 0, ok.all);
    await setPrivate(SETTINGS_V2);
    await w.commit({ 'index.html': '<h1>shop v2</h1>\n' });
    sick('health', true);
    const failed = await run('deploy-failed', w.target);
    assert.notEqual(failed.exitCode, 0, failed.all);
    assert.match(failed.stderr, /unhealthy after 1 attempt: sh exited 1: .*\[REDACTED\]/, 'the hosts printed the secrets');
    assert.deepEqual(liveIds(), ['r1', 'r1', 'r1'], 'reverted');
    sick('health', false);
    const again = await run('deploy-ok-2', w.target);
    assert.equal(again.exitCode, 0, again.all);
    assert.deepEqual(liveIds(), ['r2', 'r2', 'r2']);
  });

  it("rollback: the release gone back to prints its own settings (not today's), failing and succeeding", async () => {
    sick('health', true);
    const failed = await run('rollback-failed', 'rollback', w.target, '--to', 'r1');
    assert.notEqual(failed.exitCode, 0, failed.all);
    assert.match(failed.stderr, /unhealthy after 1 attempt: sh exited 1: .*\[REDACTED\]/);
    sick('health', false);
    const ok = await run('rollback-ok', 'rollback', w.target, '--to', 'r1');
    assert.equal(ok.exitCode, 0, ok.all);
    assert.deepEqual(liveIds(), ['r1', 'r1', 'r1']);
    assert.equal(readFileSync(join(w.liveDir(w.fleet.hosts[0]!)!, 'app', 'settings_local.py'), 'utf8'), SETTINGS_V1, 'r1 serves its own settings');
  });

  it('sync: a host on another release is switched back; its switch hook prints a multi-line dotenv value, failing and succeeding', async () => {
    const pointAtR2 = () => {
      const base = join(w.remoteBase(w.fleet.hosts[2]!));
      const r2 = readdirSync(join(base, 'releases')).find((d) => d.startsWith('r2-'))!;
      symlinkSync(`releases/${r2}`, join(base, '.current.test'));
      renameSync(join(base, '.current.test'), join(base, 'current'));
    };
    pointAtR2();
    sick('hook', true, [w.fleet.hosts[2]!]);
    const failed = await run('sync-failed', 'sync', w.target);
    assert.notEqual(failed.exitCode, 0, failed.all);
    assert.match(failed.stderr, /post-switch hook .* exited 1: \[REDACTED\] \[REDACTED\] \/ \[REDACTED\]/, 'the hook printed the dotenv values');
    sick('hook', false);
    pointAtR2();
    const ok = await run('sync-ok', 'sync', w.target);
    assert.equal(ok.exitCode, 0, ok.all);
    assert.deepEqual(liveIds(), ['r1', 'r1', 'r1']);
  });

  it("the store's history and `deploy log` hold none of the secrets", async () => {
    assert.deepEqual(checked, ['deploy-ok', 'deploy-failed', 'deploy-ok-2', 'rollback-failed', 'rollback-ok', 'sync-failed', 'sync-ok']);
    const history = await git(w.www, 'log', '--format=%B', 'refs/slipway/history');
    assert.match(history, /\[REDACTED\]/, 'the failures were recorded, redacted');
    assertClean('history', history);
    const log = await w.deploy('log', w.target);
    assert.equal(log.exitCode, 0, log.all);
    assertClean('deploy log', log.all);
  });
});

/**
 * The dashboard as a person uses it: real deploys on a loopback fleet write the feed,
 * `deploy serve` runs as an unprivileged user of the slipway-web group, and Debian's
 * Chromium (driven by playwright-core) watches a deploy started from the command line
 * happen, live, on the overview and on the run's page.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa, type ResultPromise } from 'execa';
import { chromium, type Browser } from 'playwright-core';
import { newToken } from '../../src/serve/config.js';
import { waitFor } from '../support/safety.js';
import { CLI, type World, makeWorld } from '../support/world.js';

const SERVER_USER = 'slipway-dash-srv';
const ALICE = 'slipway-dash-alice';
const BOB = 'slipway-dash-bob';
const OPS = 'slipway-dash-ops';

const sh = (line: string) => execFileSync('sh', ['-c', line]);

describe('the dashboard, on a real fleet and in a real browser', { timeout: 600_000 }, () => {
  let w: World;
  let server: ResultPromise | undefined;
  let base = '';
  let browser: Browser | undefined;
  const token = newToken(ALICE);
  let hold = '';
  let go = '';
  let tick = '';

  const asServerUser = (args: string[]) =>
    execa('setpriv', [`--reuid=${SERVER_USER}`, '--regid=slipway-web', '--init-groups', ...args], { reject: false, all: true, cwd: '/', extendEnv: false, env: { PATH: process.env.PATH, HOME: '/nonexistent' } });

  before(async () => {
    sh('getent group slipway-web >/dev/null || groupadd slipway-web');
    sh(`getent group ${OPS} >/dev/null || groupadd ${OPS}`);
    sh(`id ${SERVER_USER} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin -g slipway-web ${SERVER_USER}`);
    sh(`id ${ALICE} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin -G ${OPS} ${ALICE}`);
    sh(`id ${BOB} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin ${BOB}`);
    w = await makeWorld({ net: '127.0.96', size: 2 });
    hold = join(w.dir, 'hold');
    go = join(w.dir, 'go');
    tick = join(w.dir, 'tick');
    // an admin task that prints a private value (the feed must show it redacted), and, while the test holds the run, prints what the test puts in \`tick\`
    // and waits for the test to let it go
    const task = `echo "token $API_TOKEN"; if [ -e ${hold} ]; then while [ ! -e ${go} ]; do if [ -e ${tick} ]; then echo "tick $(cat ${tick})"; rm ${tick}; fi; sleep 0.05; done; fi`;
    await w.writeApp({
      appExtra: `tasks: [['sh', '-c', '${task}']],`,
      envExtra: `viewGroups: ['${OPS}'],`,
    });
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    // the server's user may enter the world and read the feed, as on an admin node; the stores stay root's
    await chmod(w.dir, 0o755);
    const config = join(w.dir, 'serve.json');
    await writeFile(config, JSON.stringify({ proxy: { addresses: ['127.0.0.1'] }, tokens: [token.entry] }), { mode: 0o644 });
    server = execa('setpriv', [`--reuid=${SERVER_USER}`, '--regid=slipway-web', '--init-groups', 'node', CLI, 'serve', '--root', w.root, '--apps', w.appsDir, '--config', config, '--listen', '127.0.0.1:0'], {
      cwd: '/',
      extendEnv: false,
      env: { PATH: process.env.PATH, HOME: '/nonexistent' },
      reject: false,
      all: true,
    });
    let said = '';
    server.all!.on('data', (d: Buffer) => (said += d.toString()));
    await waitFor('the dashboard to listen', () => /dashboard on (http:\/\/127\.0\.0\.1:\d+)/.test(said) || server!.exitCode !== null, 20_000);
    const m = /dashboard on (http:\/\/127\.0\.0\.1:\d+)/.exec(said);
    assert.ok(m, `deploy serve did not start: ${said}`);
    base = m[1]!;
  });

  after(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
    await server?.catch(() => undefined);
    await w?.down();
  });

  it('the feed is the slipway-web group\'s to read, and holds no private value', async () => {
    const feed = join(w.root, '.feed');
    const st = await stat(feed);
    assert.equal(st.mode & 0o7777, 0o2750);
    assert.equal(execFileSync('stat', ['-c', '%G', feed]).toString().trim(), 'slipway-web');
    const files: string[] = [];
    const walk = async (dir: string) => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        if (e.isDirectory()) await walk(join(dir, e.name));
        else files.push(join(dir, e.name));
      }
    };
    await walk(feed);
    assert.ok(files.some((f) => f.endsWith('summary.json')) && files.some((f) => f.endsWith('.jsonl')), files.join(' '));
    for (const f of files) {
      assert.equal((await stat(f)).mode & 0o777, 0o640, f);
      const text = await readFile(f, 'utf8');
      assert.doesNotMatch(text, /private-v1|tok-9f8e7d6c5b4a/, f);
    }
    const run = await readFile(files.find((f) => f.endsWith('.jsonl'))!, 'utf8');
    assert.match(run, /"line":"token \[REDACTED\]"/, 'the task printed the token, redacted in the feed');
  });

  it('sudo deploy serve --publish writes the summary of an app-env that has not run since the feed began', async () => {
    const summary = join(w.root, '.feed', w.target, 'summary.json');
    const before = JSON.parse(await readFile(summary, 'utf8')) as { live: string; releases: unknown[] };
    await rm(summary);
    const r = await execa('node', [CLI, 'serve', '--publish', '--root', w.root, '--apps', w.appsDir], { reject: false, all: true });
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stdout, new RegExp(`^${w.target}: published$`, 'm'));
    const after = JSON.parse(await readFile(summary, 'utf8')) as { live: string; releases: unknown[] };
    assert.equal(after.live, before.live);
    assert.deepEqual(after.releases, before.releases);
    assert.equal((await stat(summary)).mode & 0o777, 0o640);
  });

  it('deploy serve refuses root; its own user reads the feed but not a store, a private file or the state', async () => {
    const asRoot = await execa('node', [CLI, 'serve', '--root', w.root, '--config', join(w.dir, 'serve.json')], { reject: false, all: true });
    assert.equal(asRoot.exitCode, 2, asRoot.all);
    assert.match(asRoot.stderr, /deploy serve does not run as root: run it as a user in the slipway-web group/);
    assert.equal((await asServerUser(['cat', join(w.root, '.feed', w.target, 'summary.json')])).exitCode, 0);
    for (const secret of [join(w.www, '.git', 'HEAD'), join(w.privateDir, '.env'), join(w.root, 'prod', 'state', w.app)]) {
      const r = await asServerUser(['ls', secret]);
      assert.notEqual(r.exitCode, 0, `${secret}: ${r.all}`);
      assert.match(r.all, /Permission denied/);
    }
  });

  it('a person sees the app-envs their unix groups may see; a token works for programs', async () => {
    const get = (user: string, path = '/') => fetch(`${base}${path}`, { headers: { 'X-Remote-User': user } });
    const alice = await get(ALICE);
    assert.equal(alice.status, 200);
    const page = await alice.text();
    assert.match(page, new RegExp(`href="/t/${w.target}"`));
    assert.match(page, /r1 <small>/);
    assert.doesNotMatch(await (await get(BOB)).text(), new RegExp(w.target));
    assert.equal((await get(BOB, `/t/${w.target}`)).status, 404);
    assert.equal((await fetch(base)).status, 401);
    const api = await (await fetch(`${base}/api/targets`, { headers: { Authorization: `Bearer ${token.token}` } })).json() as { targets: { target: string; live: string }[] };
    assert.deepEqual(api.targets.map((t) => [t.target, t.live]), [[w.target, 'r1']]);
  });

  it('a deploy started on the command line shows live: on the overview, then line by line on its page', async () => {
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ extraHTTPHeaders: { 'X-Remote-User': ALICE } });
    const problems: string[] = [];
    context.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    context.on('weberror', (e) => void problems.push(String(e.error())));
    const overview = await context.newPage();
    await overview.goto(base);
    await overview.locator(`tr[data-target="${w.target}"] td.live`).filter({ hasText: 'r1' }).waitFor();
    await overview.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));

    await writeFile(hold, '');
    await w.commit({ 'index.html': '<h1>shop v2</h1>\n' }, 'v2');
    const run = w.deploy(w.target);
    try {
      // the overview learns of the run by itself, and links to it
      const link = overview.locator(`tr[data-target="${w.target}"] a.running`);
      await link.waitFor({ timeout: 30_000 });
      assert.match(await link.innerText(), /deploy by root/);
      const runPage = await context.newPage();
      await runPage.goto(new URL((await link.getAttribute('href'))!, base).href);
      assert.match(await runPage.locator('#state').innerText(), /^running/);
      // a line the run prints now reaches the open page while the run goes on
      await writeFile(tick, 'one');
      await runPage.locator('#log span.output').filter({ hasText: '[admin] | tick one' }).waitFor({ timeout: 30_000 });
      assert.match(await runPage.locator('#state').innerText(), /^running/);
      assert.equal(await runPage.locator('main[data-finished]').count(), 0);
      const before = await runPage.locator('#log > span').count();
      await writeFile(go, '');
      // the rest of the run arrives on the open page: the switch, then the end and each host's outcome
      await runPage.locator('#log span.step').filter({ hasText: /\[web2\] .*r2/ }).first().waitFor({ timeout: 60_000 });
      await runPage.locator('main[data-finished="1"]').waitFor({ timeout: 60_000 });
      assert.match(await runPage.locator('#state').innerText(), /succeeded · r2/);
      assert.ok((await runPage.locator('#log > span').count()) > before + 2, 'lines were added to the open page');
      assert.match(await runPage.locator('table.outcomes').innerText(), /web1\s+switched/);
      const r = await run;
      assert.equal(r.exitCode, 0, r.all);
      // and the overview, never reloaded, shows r2 live
      await overview.locator(`tr[data-target="${w.target}"] td.live`).filter({ hasText: 'r2' }).waitFor({ timeout: 30_000 });
      assert.equal(await overview.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true);
      assert.equal(await overview.locator(`tr[data-target="${w.target}"] a.running`).count(), 0);
      assert.deepEqual(problems, [], 'no script error and no CSP violation');
    } finally {
      if (!existsSync(go)) await writeFile(go, '');
      await run;
      await rm(hold, { force: true });
    }
  });
});

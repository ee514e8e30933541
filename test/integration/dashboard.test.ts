/**
 * The dashboard as a person uses it: real deploys on a loopback fleet write the feed,
 * `deploy serve` runs as an unprivileged user of the slipway-web group, and Debian's
 * Chromium (driven by playwright-core) watches a deploy started from the command line
 * happen, live, on the overview and on the run's page; then starts a deploy and a rollback
 * from the page, which root's `deploy worker` runs, checked on the hosts themselves.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { chromium, type Browser } from 'playwright-core';
import { newToken } from '../../src/serve/config.js';
import { waitFor } from '../support/safety.js';
import { CLI, type World, git, makeWorld } from '../support/world.js';

const SERVER_USER = 'slipway-dash-srv';
const ALICE = 'slipway-dash-alice';
const BOB = 'slipway-dash-bob';
const CAROL = 'slipway-dash-carol';
const OPS = 'slipway-dash-ops';
/** May look at the app-env, not deploy it. */
const VIEW = 'slipway-dash-view';
const HOOK_SECRET = 'whsec-0b7e4c1d9a2f6e38';
/** Where the run leaves its screenshots; docs/screenshots holds the copies the README shows. */
const SHOTS = fileURLToPath(new URL('../output/screenshots', import.meta.url));

const sh = (line: string) => execFileSync('sh', ['-c', line]);

describe('the dashboard, on a real fleet and in a real browser', { timeout: 600_000 }, () => {
  let w: World;
  let server: ResultPromise | undefined;
  let worker: ResultPromise | undefined;
  let workerSaid = '';
  let base = '';
  /** Where the world lives: a directory only root may write, as an admin node's /data is. */
  let home = '';
  /** Slipway as `make install` puts it on an admin node (root's, writable by nobody else): the worker runs it as root for others. */
  let installed = '';
  let browser: Browser | undefined;
  const token = newToken(ALICE);
  const carolToken = newToken(CAROL);
  let hold = '';
  let go = '';
  let tick = '';

  /** A browser session of a person the proxy signed in; the page's script errors and CSP violations collected. */
  const signIn = async (user: string) => {
    browser ??= await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ extraHTTPHeaders: { 'X-Remote-User': user }, viewport: { width: 1200, height: 800 } });
    const problems: string[] = [];
    context.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    context.on('weberror', (e) => void problems.push(String(e.error())));
    return { context, problems };
  };

  const asServerUser = (args: string[], input?: string) =>
    execa('setpriv', [`--reuid=${SERVER_USER}`, '--regid=slipway-web', '--init-groups', ...args], { reject: false, all: true, cwd: '/', extendEnv: false, env: { PATH: process.env.PATH, HOME: '/nonexistent' }, ...(input === undefined ? {} : { input }) });

  type Summary = { live: string; releases: { id: string; source?: string }[]; history: { kind: string; to?: string; result: string; who: string }[] };
  const summary = async () => JSON.parse(await readFile(join(w.root, '.feed', w.target, 'summary.json'), 'utf8')) as Summary;
  const served = () => Promise.all(w.fleet.hosts.map(async (h) => (await fetch(`${h.httpUrl}/${w.app}/index.html`)).text()));
  const statuses = () => readdir(join(w.root, '.feed', '.requests'));
  const statusOf = async (id: string) => JSON.parse(await readFile(join(w.root, '.feed', '.requests', `${id}.json`), 'utf8').catch(() => 'null')) as { state: string; exitCode?: number; error?: string } | null;
  /** What a refused request must leave as it was: the store, the live release on every host, the runs and the worker's answers. */
  const everything = async () => ({
    store: await git(w.www, 'rev-parse', 'HEAD'),
    served: await served(),
    runs: (await readdir(join(w.root, '.feed', w.target, 'runs'))).sort(),
    statuses: (await statuses()).sort(),
    spool: await readdir(join(w.root, '.spool')),
  });
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 120_000) => {
    const end = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the worker said:\n${workerSaid}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** The worker's final answer to a request. */
  const answered = async (id: string) => {
    await until(`request ${id} to end`, async () => ['done', 'refused', 'lost'].includes((await statusOf(id))?.state ?? ''));
    return (await statusOf(id))!;
  };
  const sign = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

  before(async () => {
    sh('getent group slipway-web >/dev/null || groupadd slipway-web');
    sh(`getent group ${OPS} >/dev/null || groupadd ${OPS}`);
    sh(`id ${SERVER_USER} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin -g slipway-web ${SERVER_USER}`);
    sh(`id ${ALICE} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin -G ${OPS} ${ALICE}`);
    sh(`id ${BOB} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin ${BOB}`);
    sh(`getent group ${VIEW} >/dev/null || groupadd ${VIEW}`);
    sh(`id ${CAROL} >/dev/null 2>&1 || useradd -M -s /usr/sbin/nologin -G ${VIEW} ${CAROL}`);
    // the worker runs requests as root for people it does not trust, so it uses only files root alone may write
    home = await mkdtemp(join('/var/lib', 'slipway-dash-'));
    await chmod(home, 0o755);
    w = await makeWorld({ net: '127.0.96', size: 2, tmp: home });
    hold = join(w.dir, 'hold');
    go = join(w.dir, 'go');
    tick = join(w.dir, 'tick');
    // an admin task that prints a private value (the feed must show it redacted), and, while the test holds the run, prints what the test puts in \`tick\`
    // and waits for the test to let it go
    const task = `echo "token $API_TOKEN"; if [ -e ${hold} ]; then while [ ! -e ${go} ]; do if [ -e ${tick} ]; then echo "tick $(cat ${tick})"; rm ${tick}; fi; sleep 0.05; done; fi`;
    await w.writeApp({
      appExtra: `tasks: [['sh', '-c', '${task}']],`,
      envExtra: `viewGroups: ['${OPS}', '${VIEW}'], allowGroups: ['${OPS}', 'root'],`,
    });
    const r = await w.deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    // the server's user may enter the world and read the feed, as on an admin node; the stores stay root's
    await chmod(w.dir, 0o755);
    const config = join(w.dir, 'serve.json');
    // the webhook's secret: root's, readable by the dashboard's group and nobody else
    const secretFile = join(w.dir, 'hook.secret');
    await writeFile(secretFile, `${HOOK_SECRET}\n`, { mode: 0o640 });
    await chown(secretFile, 0, Number(sh('getent group slipway-web | cut -d: -f3').toString().trim()));
    await writeFile(config, JSON.stringify({ proxy: { addresses: ['127.0.0.1'] }, tokens: [token.entry, carolToken.entry], webhooks: [{ app: w.app, secretFile, as: ALICE }] }), { mode: 0o644 });
    // Slipway installed as on an admin node: wherever this checkout is (a clone in /tmp, say), the worker trusts only root's files
    const share = ['bash-completion', 'zsh', 'man'].map((d) => join(home, 'share', d));
    execFileSync('bash', [fileURLToPath(new URL('../../scripts/install.sh', import.meta.url)), 'install', join(home, 'slipway'), join(home, 'bin'), join(home, 'etc-apps'), ...share], { stdio: 'ignore' });
    installed = join(home, 'slipway', 'dist', 'bin', 'deploy.js');
    // root's worker, started by root itself with nothing of this test's environment
    worker = execa('node', [installed, 'worker', '--root', w.root, '--apps', w.appsDir, '--config', config], {
      cwd: '/',
      extendEnv: false,
      env: { PATH: process.env.PATH, HOME: '/root' },
      reject: false,
      all: true,
    });
    worker.all!.on('data', (d: Buffer) => (workerSaid += d.toString()));
    await waitFor('the worker to start', () => /taking the dashboard's requests/.test(workerSaid) || worker!.exitCode !== null, 20_000);
    assert.match(workerSaid, /taking the dashboard's requests/, workerSaid);
    server = execa('setpriv', [`--reuid=${SERVER_USER}`, '--regid=slipway-web', '--init-groups', 'node', installed, 'serve', '--root', w.root, '--apps', w.appsDir, '--config', config, '--listen', '127.0.0.1:0'], {
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
    worker?.kill('SIGTERM');
    await worker?.catch(() => undefined);
    await w?.down();
    if (home) await rm(home, { recursive: true, force: true });
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
    const { context, problems } = await signIn(ALICE);
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
      await mkdir(SHOTS, { recursive: true });
      await runPage.screenshot({ path: join(SHOTS, 'run.png'), fullPage: true });
      assert.ok((await runPage.locator('#log > span').count()) > before + 2, 'lines were added to the open page');
      assert.match(await runPage.locator('table.outcomes').innerText(), /web1\s+switched/);
      const r = await run;
      assert.equal(r.exitCode, 0, r.all);
      // and the overview, never reloaded, shows r2 live
      await overview.locator(`tr[data-target="${w.target}"] td.live`).filter({ hasText: 'r2' }).waitFor({ timeout: 30_000 });
      assert.equal(await overview.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded), true);
      assert.equal(await overview.locator(`tr[data-target="${w.target}"] a.running`).count(), 0);
      await overview.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });
      assert.deepEqual(problems, [], 'no script error and no CSP violation');
    } finally {
      if (!existsSync(go)) await writeFile(go, '');
      await run;
      await rm(hold, { force: true });
    }
  });

  it('a deploy and a rollback started from the page run through the worker as the person who asked; the hosts serve them', async () => {
    const v3 = await w.commit({ 'index.html': '<h1>shop v3</h1>\n' }, 'v3');
    // a private setting changes with it: the release page names the file and never shows it
    await writeFile(join(w.privateDir, 'app', 'settings_local.py'), 'SECRET_KEY = "private-v3"\n');
    const { context, problems } = await signIn(ALICE);
    const page = await context.newPage();
    await mkdir(SHOTS, { recursive: true });
    await page.goto(`${base}/t/${w.target}`);
    await page.screenshot({ path: join(SHOTS, 'app-env.png'), fullPage: true });
    await page.locator('#deploy').click();
    await page.waitForURL(/\/confirm\?action=deploy/);
    // the rollout is shown before anything is done
    const plan = await page.locator('ol.plan').innerText();
    assert.match(plan, /stage on all 2 hosts first/);
    for (const h of w.fleet.hosts) assert.match(plan, new RegExp(`\\b${h.name}\\b`));
    await page.screenshot({ path: join(SHOTS, 'confirm.png'), fullPage: true });
    await page.locator('#confirm').click();
    // the request's page, then, once the worker started it, the run's, followed to its end
    await page.waitForURL(/\/runs\//, { timeout: 60_000 });
    await page.locator('main[data-finished="1"]').waitFor({ timeout: 120_000 });
    assert.match(await page.locator('#state').innerText(), /succeeded · r3/);
    assert.deepEqual(await served(), ['<h1>shop v3</h1>\n', '<h1>shop v3</h1>\n'], 'every host serves the release the page says');
    let s = await summary();
    assert.equal(s.live, 'r3');
    assert.equal(s.releases.find((r) => r.id === 'r3')?.source, v3);
    assert.ok(s.history.some((e) => e.kind === 'deploy' && e.to === 'r3' && e.result === 'ok' && e.who === `${ALICE} (dashboard)`), JSON.stringify(s.history));

    // roll back from the release list
    await page.goto(`${base}/t/${w.target}`);
    await page.locator('tr[data-release="r2"] a.button').click();
    await page.waitForURL(/\/confirm\?action=rollback&to=r2/);
    await page.locator('#confirm').click();
    await page.waitForURL(/\/runs\//, { timeout: 60_000 });
    await page.locator('main[data-finished="1"]').waitFor({ timeout: 120_000 });
    assert.match(await page.locator('#state').innerText(), /succeeded · r2/);
    assert.deepEqual(await served(), ['<h1>shop v2</h1>\n', '<h1>shop v2</h1>\n']);
    s = await summary();
    assert.equal(s.live, 'r2');
    assert.ok(s.history.some((e) => e.kind === 'rollback' && e.to === 'r2' && e.who === `${ALICE} (dashboard)`), JSON.stringify(s.history));

    // r3 against the live r2: the page's file and the private one, named but not shown
    await page.goto(`${base}/t/${w.target}/releases/r3`);
    const files = await page.locator('table.diff').innerText();
    assert.match(files, /changed\s+index\.html/);
    assert.match(files, /changed\s+app\/settings_local\.py private: contents never shown/);
    assert.doesNotMatch(await page.content(), /private-v[13]/);
    assert.deepEqual(problems, [], 'no script error and no CSP violation');
    await context.close();
  });

  it('one who may look but not deploy is refused by the page and the API; a form without its CSRF token is refused; nothing changes', async () => {
    const before = await everything();
    const { context } = await signIn(CAROL);
    const page = await context.newPage();
    await page.goto(`${base}/t/${w.target}`);
    assert.match(await page.locator('.actions small').innerText(), new RegExp(`deploys are for members of ${OPS}, root`));
    await page.locator('#deploy').click();
    await page.waitForURL(/\/confirm/);
    assert.match(await page.locator('#refusal').innerText(), new RegExp(`${CAROL} may look at ${w.target} but not deploy it`));
    assert.equal(await page.locator('#confirm').count(), 0);
    await context.close();

    const api = await fetch(`${base}/api/targets/${w.target}/requests`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${carolToken.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ action: 'deploy' }),
    });
    assert.equal(api.status, 403);
    assert.match(((await api.json()) as { error: string }).error, /may not deploy/);
    // a page elsewhere making alice's browser post the form: no token, refused
    const forged = await fetch(`${base}/t/${w.target}/requests`, {
      method: 'POST',
      headers: { 'X-Remote-User': ALICE, 'Content-Type': 'application/x-www-form-urlencoded', Origin: 'http://evil.example' },
      body: 'action=deploy',
      redirect: 'manual',
    });
    assert.equal(forged.status, 403);
    // one who may not even look learns nothing: the same answer as for an app-env that does not exist
    const probe = async (target: string) => {
      const r = await fetch(`${base}/api/targets/${target}/requests`, { method: 'POST', headers: { 'X-Remote-User': BOB, 'Content-Type': 'application/json' }, body: '{"action":"deploy"}' });
      return [r.status, await r.text()];
    };
    const probed = await probe(w.target);
    assert.notEqual(probed[0], 202);
    assert.deepEqual(probed, await probe('nope-prod'));
    assert.deepEqual(await everything(), before);
  });

  it('a webhook with a wrong signature is refused and changes nothing; a signed push deploys its revision', async () => {
    const v4 = await w.commit({ 'index.html': '<h1>shop v4</h1>\n' }, 'v4');
    const body = JSON.stringify({ ref: 'refs/heads/main', after: v4 });
    const hook = (headers: Record<string, string>, b = body) => fetch(`${base}/hooks/${w.target}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: b });
    const before = await everything();
    assert.equal((await hook({})).status, 401);
    assert.equal((await hook({ 'X-Hub-Signature-256': sign('not-the-secret-at-all', body) })).status, 401);
    // signed, then changed on the way
    assert.equal((await hook({ 'X-Hub-Signature-256': sign(HOOK_SECRET, body) }, body.replace(v4, '0'.repeat(40)))).status, 401);
    assert.deepEqual(await everything(), before);

    const ok = await hook({ 'X-Hub-Signature-256': sign(HOOK_SECRET, body) });
    assert.equal(ok.status, 202);
    const { id } = (await ok.json()) as { id: string };
    const status = await answered(id);
    assert.equal(status.state, 'done', JSON.stringify(status));
    assert.equal(status.exitCode, 0);
    assert.deepEqual(await served(), ['<h1>shop v4</h1>\n', '<h1>shop v4</h1>\n']);
    const s = await summary();
    const made = s.releases.find((r) => r.source === v4);
    assert.ok(made && s.live === made.id, JSON.stringify(s.releases));
    assert.ok(s.history.some((e) => e.kind === 'deploy' && e.to === made.id && e.who === `${ALICE} (webhook)`), JSON.stringify(s.history));
    // and the API tells the person which run it became
    const view = (await (await fetch(`${base}/api/requests/${id}`, { headers: { Authorization: `Bearer ${token.token}` } })).json()) as { run: { state: string } | null };
    assert.equal(view.run?.state, 'ok');
  });

  it('the server\'s user can only hand requests in: it cannot list or answer them, and a hostile or unallowed one it writes is refused with nothing changed', async () => {
    const spool = join(w.root, '.spool');
    const st = await stat(spool);
    assert.equal(st.mode & 0o7777, 0o1730);
    assert.equal(execFileSync('stat', ['-c', '%U:%G', spool]).toString().trim(), 'root:slipway-web');
    assert.match((await asServerUser(['ls', spool])).all ?? '', /Permission denied/);
    const answers = join(w.root, '.feed', '.requests');
    const someAnswer = (await statuses())[0]!;
    for (const attempt of [['touch', join(answers, `${'f'.repeat(32)}.json`)], ['rm', '-f', join(answers, someAnswer)], ['touch', join(w.www, 'x')]]) {
      const r = await asServerUser(attempt);
      assert.notEqual(r.exitCode, 0, `${attempt.join(' ')}: ${r.all}`);
    }

    const before = await everything();
    const pwned = join(w.dir, 'pwned');
    const request = (fields: Record<string, unknown>) => {
      const id = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
      return { id, text: JSON.stringify({ v: 1, id, action: 'deploy', target: w.target, person: ALICE, via: 'dashboard', requested: new Date().toISOString(), ...fields }) };
    };
    const hostile = request({ revision: `$(touch ${pwned})` });
    const unallowed = request({ person: BOB });
    for (const r of [hostile, unallowed]) {
      const put = await asServerUser(['sh', '-c', 'cat > "$1"', 'sh', join(spool, `${r.id}.json`)], r.text);
      assert.equal(put.exitCode, 0, put.all);
    }
    const refusedHostile = await answered(hostile.id);
    assert.equal(refusedHostile.state, 'refused');
    assert.match(refusedHostile.error ?? '', /revision/);
    const refusedBob = await answered(unallowed.id);
    assert.equal(refusedBob.state, 'refused', JSON.stringify(refusedBob));
    assert.match(refusedBob.error ?? '', new RegExp(`${BOB}.*${OPS}|not allowed|may not`));
    assert.equal(existsSync(pwned), false);
    const after = await everything();
    assert.deepEqual({ ...after, statuses: after.statuses.filter((n) => n !== `${hostile.id}.json` && n !== `${unallowed.id}.json`) }, before);
  });
});

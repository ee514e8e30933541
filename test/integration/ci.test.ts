/**
 * Slipway as Jenkins runs it, on a real loopback fleet: the JSON stream and the
 * JUnit file are parsed and checked against what the hosts really serve; a
 * local HTTP server and UDP socket receive the notifications; exit codes 0, 1,
 * 2 and 5 are each provoked; and a pseudo-terminal shows the interactive view.
 */
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { mkdir, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { CLI, type RunResult, type World, commitTree, git, makeWorld } from '../support/world.js';
import { type XmlElement, findAll, parseXml } from '../support/xml.js';

type Event = Record<string, unknown> & { type: string };

const JENKINS = { JOB_NAME: 'shop/main', BUILD_NUMBER: '41', BUILD_URL: 'http://ci.example/job/shop/41/' };
const TIMESTAMPED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \[web1\] /m;

describe('continuous delivery: JSON, JUnit, notifications, exit codes', { timeout: 300_000 }, () => {
  let w: World;
  let hook: Server;
  let hookBase: string;
  const posts: { path: string; body: string }[] = [];
  const udp = createSocket('udp4');
  const datagrams: string[] = [];
  let udpPort = 0;

  /** The CLI with a controlled environment: nothing leaks in from the machine running the tests. */
  const run = async (args: string[], env: Record<string, string> = {}): Promise<RunResult> => {
    const r = await execa('node', [CLI, ...args], {
      reject: false,
      all: true,
      extendEnv: false,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, SLIPWAY_APPS: w.appsDir, SLIPWAY_ROOT: w.root, CI: 'true', ...env },
      timeout: 120_000,
    });
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, all: r.all ?? '' };
  };
  const eventsOf = (r: RunResult): Event[] => r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Event);
  const junitOf = (file: string) => parseXml(readFileSync(file, 'utf8'));
  const suite = (doc: XmlElement, name: string) => findAll(doc, 'testsuite').find((s) => s.attrs.name === name)!;
  const revisionOn = (i: number) => {
    const live = w.liveDir(w.fleet.hosts[i]!);
    // the commit of a release is recorded beside it
    const f = live && join(dirname(live), `.${basename(live)}.rev`);
    return f && existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
  };
  const notifyConfig = (path: string, format: 'json' | 'slack') =>
    `notify: { webhook: { url: '${hookBase}${path}', format: '${format}', timeout: 3 }, statsd: { host: '127.0.0.1', port: ${udpPort}, prefix: 'ci' } },`;
  const waitFor = async (check: () => boolean) => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
  };

  before(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        posts.push({ path: req.url ?? '', body });
        res.statusCode = req.url === '/broken' ? 503 : 200;
        res.end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    hookBase = `http://127.0.0.1:${(hook.address() as AddressInfo).port}`;
    udp.on('message', (m) => datagrams.push(m.toString('utf8')));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
    udpPort = udp.address().port;
    w = await makeWorld({ net: '127.0.60' });
    await w.writeApp({ appExtra: notifyConfig('/hook', 'json') });
  });
  after(async () => {
    hook.close();
    udp.close();
    await w?.down();
  });

  it('exit 0: the JSON stream and the JUnit file match what every host serves; the build is recorded; notified', async () => {
    const junit = join(w.dir, 'junit-ok.xml');
    const r = await run([w.target, '--json', '--junit', junit], JENKINS);
    assert.equal(r.exitCode, 0, r.all);
    const events = eventsOf(r); // every stdout line parses: nothing human leaks into it
    assert.match(r.stderr, TIMESTAMPED, 'human lines go to stderr');
    assert.equal(events[0]!.type, 'run.start');
    assert.deepEqual(events[0]!.hosts, ['web1', 'web2', 'web3']);
    assert.equal(events[0]!.build, 'shop/main #41 http://ci.example/job/shop/41/');
    const finish = events.at(-1)!;
    assert.equal(finish.type, 'run.finish');
    assert.equal(finish.exitCode, 0);

    const release = events.find((e) => e.type === 'release')!;
    const commit = await git(w.www, 'rev-parse', 'r1');
    assert.deepEqual([release.id, release.commit, release.created], ['r1', commit, true]);
    const files = (await commitTree(w.www, commit)).size;
    let total = 0;
    for (const [i, host] of w.fleet.hosts.entries()) {
      assert.equal(revisionOn(i), commit, `${host.name} serves r1`);
      const stage = events.find((e) => e.type === 'step.finish' && e.host === host.name && e.step === 'stage')!;
      assert.equal(stage.ok, true);
      assert.equal(stage.files, files, `${host.name}: a first deploy moves every file of the release`);
      assert.ok(typeof stage.bytes === 'number' && stage.bytes > 0);
      assert.ok(typeof stage.ms === 'number');
      total += stage.bytes;
      assert.ok(events.some((e) => e.type === 'step.finish' && e.host === host.name && e.step === 'switch' && e.ok === true));
    }
    assert.equal(finish.bytes, total);
    assert.deepEqual(finish.counts, { switched: 3, staged: 0, failed: 0, untouched: 0 });
    assert.deepEqual(events.filter((e) => e.type === 'phase.finish').map((e) => `${e.phase}:${e.ok}`), ['update:true', 'release:true', 'stage:true', 'switch:true']);
    assert.ok(!events.some((e) => e.type === 'host.failed'));

    const doc = junitOf(junit);
    const hosts = suite(doc, 'shop-prod.hosts');
    assert.deepEqual(hosts.children.map((c) => [c.attrs.name, c.children.length]), [['web1', 0], ['web2', 0], ['web3', 0]]);
    assert.equal(doc.attrs.failures, '0');

    const releases = await run(['releases', w.target]);
    assert.match(releases.stdout, /^r1 .*  build shop\/main #41 http:\/\/ci\.example\/job\/shop\/41\/$/m);

    await waitFor(() => datagrams.length > 0);
    const post = posts.find((p) => p.path === '/hook')!;
    const body = JSON.parse(post.body) as Record<string, unknown>;
    assert.deepEqual([body.ok, body.exitCode, (body.release as { id: string }).id, body.build], [true, 0, 'r1', JENKINS.JOB_NAME + ' #41 ' + JENKINS.BUILD_URL]);
    assert.doesNotMatch(post.body, /tok-9f8e7d6c5b4a|private-v1/, 'no secret in a notification');
    assert.deepEqual(datagrams.shift()!.split('\n').map((l) => l.replace(/:\d+\|ms$/, ':N|ms')), ['ci.shop.prod.deploy:1|c', 'ci.shop.prod.deploy_ms:N|ms']);
  });

  it('exit 5: a host whose switch fails within the failure budget is a failed test; the others are live; the webhook says so', async () => {
    await w.writeApp({ appExtra: notifyConfig('/slack', 'slack'), envExtra: 'rollout: { failureBudget: 1 },' });
    const web3 = w.fleet.hosts[2]!;
    const current = join(w.remoteBase(web3), 'current');
    const before = revisionOn(2);
    // a real directory where the symlink should be: `mv -T` refuses to replace it
    await unlink(current);
    await mkdir(current);
    try {
      const commit = await w.commit({ 'index.html': '<h1>shop v2</h1>\n' });
      const junit = join(w.dir, 'junit-partial.xml');
      const r = await run([w.target, '--json', '--junit', junit]);
      assert.equal(r.exitCode, 5, r.all);
      assert.match(r.stderr, /web3.*switch to r2 failed/);
      assert.match(r.stderr, /r2 is live on 2 of 3 hosts; failed within the failure budget of 1/);
      const events = eventsOf(r);
      const r2 = await git(w.www, 'rev-parse', 'r2');
      assert.equal(revisionOn(0), r2);
      assert.equal(revisionOn(1), r2);
      assert.ok(lstatSync(current).isDirectory() && !lstatSync(current).isSymbolicLink(), 'web3 was not switched');
      assert.notEqual(before, r2);
      const failed = events.filter((e) => e.type === 'host.failed');
      assert.deepEqual(failed.map((e) => [e.host, e.step]), [['web3', 'switch']]);
      assert.match(String(failed[0]!.reason), /switch to r2 failed \(exit 1\)/);
      const finish = events.at(-1)!;
      assert.equal(finish.exitCode, 5);
      assert.deepEqual(finish.counts, { switched: 2, staged: 0, failed: 1, untouched: 0 });
      assert.equal(commit, (await git(w.work, 'rev-parse', 'HEAD')));

      const hosts = suite(junitOf(junit), 'shop-prod.hosts');
      const web3Case = hosts.children.find((c) => c.attrs.name === 'web3')!;
      assert.equal(web3Case.children[0]!.name, 'failure');
      assert.equal(web3Case.children[0]!.attrs.type, 'switch');
      assert.match(web3Case.children[0]!.attrs.message!, /switch to r2 failed/);
      assert.equal(hosts.attrs.failures, '1');

      const slack = JSON.parse(posts.find((p) => p.path === '/slack')!.body) as { text: string };
      assert.match(slack.text, /^deploy shop-prod by root FAILED \(exit 5\) .* r2 \([0-9a-f]{12}\) on 2\/3 hosts; failed: web3 \(switch: /);
    } finally {
      await rm(current, { recursive: true, force: true });
    }
  });

  it('exit 1: a host cannot be reached; the run stops before the release; the others are skipped tests', async () => {
    const web2 = w.fleet.hosts[1]!;
    const before = [0, 1, 2].map(revisionOn);
    await w.fleet.stop(web2.name);
    try {
      await w.commit({ 'index.html': '<h1>shop v3</h1>\n' });
      const junit = join(w.dir, 'junit-failed.xml');
      const r = await run([w.target, '--json', '--junit', junit]);
      assert.equal(r.exitCode, 1, r.all);
      assert.deepEqual([0, 1, 2].map(revisionOn), before, 'no host switched');
      const events = eventsOf(r);
      assert.deepEqual(events.filter((e) => e.type === 'host.failed').map((e) => [e.host, e.step]), [['web2', 'connect']]);
      assert.deepEqual(events.at(-1)!.counts, { switched: 0, staged: 0, failed: 1, untouched: 2 });
      assert.equal(events.at(-1)!.release, null, 'no release was cut for a run that could not succeed');
      assert.ok(!events.some((e) => e.type === 'phase.start' && (e.phase === 'stage' || e.phase === 'switch')));
      const hosts = suite(junitOf(junit), 'shop-prod.hosts');
      assert.deepEqual(hosts.children.map((c) => `${c.attrs.name}:${c.children[0]?.name ?? 'passed'}`), ['web1:skipped', 'web2:failure', 'web3:skipped']);
    } finally {
      await w.fleet.start(web2.name);
    }
  });

  it('exit 0 although every notification fails: failures to notify are warnings only', async () => {
    await w.writeApp({ appExtra: `notify: { webhook: { url: '${hookBase}/broken', timeout: 3 }, statsd: { host: 'statsd.invalid', port: 8125 } },` });
    const r = await run([w.target]);
    assert.equal(r.exitCode, 0, r.all);
    assert.match(r.stderr, /WARN: notification failed: webhook to 127\.0\.0\.1:\d+: answered HTTP 503/);
    assert.match(r.stderr, /WARN: notification failed: statsd to statsd\.invalid:8125: /);
    const r3 = await git(w.www, 'rev-parse', 'r3');
    assert.deepEqual([0, 1, 2].map(revisionOn), [r3, r3, r3]);
    await w.writeApp({ appExtra: notifyConfig('/hook', 'json') });
  });

  it('--version prints the package version and exits 0, changing nothing', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const r = await run(['--version']);
    assert.equal(r.exitCode, 0, r.all);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it('exit 2: unknown target, an off-branch --revision, a --junit in a missing directory; nothing changes', async () => {
    const tagsBefore = await git(w.www, 'tag', '--list');
    const live = [0, 1, 2].map(revisionOn);

    const junit = join(w.dir, 'junit-usage.xml');
    const unknown = await run(['shop-nope', '--json', '--junit', junit]);
    assert.equal(unknown.exitCode, 2, unknown.all);
    assert.match(unknown.stderr, /unknown env "nope"/);
    const only = eventsOf(unknown);
    assert.deepEqual(only.map((e) => [e.type, e.exitCode]), [['run.finish', 2]], 'run.finish comes even when nothing started');
    assert.equal(findAll(junitOf(junit), 'failure')[0]!.attrs.type, 'exit 2');

    // a commit CI never saw on main: reachable through a tag, but not on the branch
    await git(w.work, 'checkout', '-q', '-b', 'side');
    await writeFile(join(w.work, 'index.html'), '<h1>side</h1>\n');
    await git(w.work, 'commit', '-qam', 'side work');
    const side = await git(w.work, 'rev-parse', 'HEAD');
    await git(w.work, 'tag', 'experiment');
    await git(w.work, 'push', '-q', 'origin', 'experiment');
    await git(w.work, 'checkout', '-q', 'main');
    const refused = await run([w.target, '--revision', side, '--json']);
    assert.equal(refused.exitCode, 2, refused.all);
    assert.match(refused.stderr, /is not on the branch "main" .*--allow-off-branch/);
    assert.equal(eventsOf(refused).at(-1)!.exitCode, 2);
    assert.equal(await git(w.www, 'tag', '--list'), tagsBefore, 'no release was made');
    assert.deepEqual([0, 1, 2].map(revisionOn), live, 'no host changed');

    // a --junit that cannot be written: run.finish is the only line, no second complaint at the end
    const missing = await run([w.target, '--json', '--junit', join(w.dir, 'no', 'such', 'dir', 'x.xml')]);
    assert.equal(missing.exitCode, 2, missing.all);
    assert.match(missing.stderr, /--junit .* does not exist/);
    assert.deepEqual(eventsOf(missing).map((e) => [e.type, e.exitCode]), [['run.finish', 2]]);
    assert.doesNotMatch(missing.stderr, /cannot write the JUnit report/);
    const aDirectory = await run([w.target, '--json', '--junit', w.dir]);
    assert.equal(aDirectory.exitCode, 2, aDirectory.all);
    assert.match(aDirectory.stderr, /--junit .*: cannot be written: EISDIR/);
    assert.deepEqual(eventsOf(aDirectory).map((e) => [e.type, e.exitCode]), [['run.finish', 2]]);

    const forced = await run([w.target, '--revision', side, '--allow-off-branch']);
    assert.equal(forced.exitCode, 0, forced.all);
    const served = await (await fetch(`${w.fleet.hosts[0]!.httpUrl}/${w.app}/index.html`)).text();
    assert.equal(served, '<h1>side</h1>\n');
  });

  it('on a terminal: the live view, no timestamped lines; with CI set on the same terminal: lines', async () => {
    const sh = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
    const onPty = (env: Record<string, string>, cols = 160) =>
      execa('script', ['-qefc', `stty cols ${cols} rows 40; node ${sh(CLI)} ${sh(w.target)}`, '/dev/null'], {
        reject: false,
        extendEnv: false,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color', SLIPWAY_APPS: w.appsDir, SLIPWAY_ROOT: w.root, ...env },
        timeout: 120_000,
      });
    const tty = await onPty({});
    assert.equal(tty.exitCode, 0, tty.stdout);
    assert.match(tty.stdout, /\x1b\[/, 'the listr2 view draws with escape sequences');
    assert.match(tty.stdout, /web1: (r\d+ already staged|live on r\d+)/);
    assert.doesNotMatch(tty.stdout, TIMESTAMPED);
    const ci = await onPty({ CI: 'true' });
    assert.equal(ci.exitCode, 0, ci.stdout);
    assert.match(ci.stdout, TIMESTAMPED);
    assert.doesNotMatch(ci.stdout, /\x1b\[/, 'no spinners or cursor movement in CI');
    // a terminal that reports 0 columns is taken to be 80 wide, not one character per line
    const narrow = await onPty({}, 0);
    assert.equal(narrow.exitCode, 0, narrow.stdout);
    assert.match(narrow.stdout, /web1: (r\d+ already staged|(already )?live on r\d+)/);
  });

  it('a rollback reports through the same channels: JSON lines, JUnit and the webhook', async () => {
    await w.writeApp({ appExtra: notifyConfig('/hook', 'json') });
    posts.length = 0;
    const junit = join(w.dir, 'junit-rollback.xml');
    const r = await run(['rollback', w.target, '--json', '--junit', junit]);
    assert.equal(r.exitCode, 0, r.all);
    const events = eventsOf(r);
    const release = events.find((e) => e.type === 'release')!;
    assert.equal(events.at(-1)!.type, 'run.finish');
    assert.equal(events.at(-1)!.exitCode, 0);
    for (const i of [0, 1, 2]) assert.equal(revisionOn(i), release.commit, `web${i + 1} serves the release rolled back to`);
    assert.equal(suite(junitOf(junit), 'shop-prod.hosts').attrs.failures, '0');
    await waitFor(() => posts.some((p) => p.path === '/hook'));
    const body = JSON.parse(posts.find((p) => p.path === '/hook')!.body) as Record<string, unknown>;
    assert.deepEqual([body.type, body.ok, (body.release as { id: string }).id], ['rollback', true, release.id]);
  });
});

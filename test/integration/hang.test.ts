/**
 * Hosts that stop answering, on a real loopback fleet: a frozen sshd (SIGSTOP) at the handshake,
 * after connecting, in a switch hook, in a health check and at the prune; every host down before
 * the admin tasks; Ctrl-C during an admin task. Each run must end the documented way: the host
 * named, a summary, the exit code, `run.finish` as the last JSON line, the lock released and
 * the run in `deploy log`. Small SSH timeouts keep the frozen cases to seconds.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunResult, type World, git, makeWorld } from '../support/world.js';
import { runDeploy, startDeploy, waitFor, writeAppFile } from '../support/safety.js';

const SSH = 'connectTimeout: 2, keepaliveInterval: 1, keepaliveCountMax: 2, commandTimeout: 10';
/** A host-side step that says it started, then waits for /data/go (which a frozen host never gets to see). */
const WAIT_ON_HOST = (marker: string) => `['sh', '-c', 'touch /data/${marker}; while [ ! -e /data/go ]; do sleep 0.05; done']`;

interface JsonLine {
  type: string;
  [key: string]: unknown;
}

describe('hosts that stop answering', { timeout: 600_000 }, () => {
  let w: World;
  const lockFile = () => join(w.root, 'prod', 'state', w.app, 'lock');
  const deploy = (...args: string[]) => runDeploy(w, args);
  const app = (parts: { top?: string; env?: string; remote?: string } = {}) => writeAppFile(w, { ssh: SSH, ...parts });
  const json = (r: RunResult): JsonLine[] => r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as JsonLine);
  const tags = () => git(w.www, 'tag', '--list');
  const live = () => w.fleet.hosts.map((h) => w.liveDir(h));
  const go = async (names: string[], on = true) => {
    for (const h of w.fleet.hosts.filter((x) => names.includes(x.name))) {
      if (on) await writeFile(join(h.dataDir, 'go'), '');
      else await rm(join(h.dataDir, 'go'), { force: true });
    }
  };
  /** No host-side step may go on yet, and none has started. */
  const resetHosts = async () => {
    for (const h of w.fleet.hosts) for (const f of ['go', 'in-hook', 'in-health']) await rm(join(h.dataDir, f), { force: true });
  };
  const marker = (name: string, file: string) => join(w.fleet.hosts.find((h) => h.name === name)!.dataDir, file);

  /** The run ended the documented way: no crash, its exit code, run.finish last (with --json), no lock. */
  const endedProperly = (r: RunResult, exitCode: number, withJson = true): JsonLine | undefined => {
    assert.doesNotMatch(r.all, /Unhandled 'error'|node:events|at .*\.js:\d+:\d+/, 'no crash');
    assert.equal(r.exitCode, exitCode, r.all);
    assert.ok(!existsSync(lockFile()), 'the lock is released');
    if (!withJson) return undefined;
    const lines = json(r);
    const finish = lines.at(-1)!;
    assert.equal(finish.type, 'run.finish', 'run.finish is the last line');
    assert.equal(finish.exitCode, exitCode);
    return finish;
  };
  /** The newest event of the history, as `deploy log` shows it. */
  const lastLogged = async () => {
    const r = await deploy('log', w.target, '-n', '1');
    assert.equal(r.exitCode, 0, r.all);
    return r.stdout;
  };
  const newestEvent = async (): Promise<{ kind: string; result: string; hosts: { host: string; state: string; error?: string }[] }> => {
    const message = await git(w.www, 'log', '-1', '--format=%B', 'refs/slipway/history');
    return JSON.parse(message.split('\n\n')[1]!.split('\n')[0]!) as never;
  };

  before(async () => {
    w = await makeWorld({ net: '127.0.80', size: 3 });
    await mkdir(join(w.dir, 'tmp'), { recursive: true });
    await app();
    assert.equal((await deploy(w.target)).exitCode, 0);
    await w.commit({ 'index.html': '<h1>two</h1>\n' });
    assert.equal((await deploy(w.target)).exitCode, 0);
  });
  after(async () => {
    for (const h of w?.fleet.hosts ?? []) await w.fleet.thaw(h.name).catch(() => undefined);
    await w?.down();
  });

  it('a host frozen before its handshake: deploy, status, rollback, sync and plan name it and end properly', async () => {
    const tagsBefore = await tags();
    const before = live();
    // with an admin task, the deploy waits for every handshake before it
    const ran = join(w.dir, 'task-ran');
    await app({ top: `tasks: [['touch', '${ran}']],` });
    await w.commit({ 'index.html': '<h1>frozen handshake</h1>\n' });
    await w.fleet.freeze('web3');
    try {
      const d = await deploy(w.target, '--json');
      const finish = endedProperly(d, 1)!;
      assert.match(d.stderr, /web3: cannot connect to [0-9.]+:22: Timed out while waiting for handshake/);
      assert.match(d.stderr, /--exclude-hosts web3/);
      assert.ok(!existsSync(ran), 'no admin task ran');
      assert.equal(await tags(), tagsBefore, 'no release was cut for a run that could not succeed');
      await app();
      assert.deepEqual((finish.hosts as { host: string; state: string }[]).map((h) => [h.host, h.state]), [['web1', 'untouched'], ['web2', 'untouched'], ['web3', 'failed']]);
      assert.match(await lastLogged(), /deploy .*FAILED .*1 failed \(web3\)/);

      const s = await deploy('status', w.target);
      endedProperly(s, 1, false);
      assert.match(s.stdout, /web3 +UNREACHABLE +cannot connect/);
      assert.match(s.stdout, /web1 +r2 /);

      const rb = await deploy('rollback', w.target, '--json');
      endedProperly(rb, 1);
      assert.match(rb.stderr, /web3: .*Timed out while waiting for handshake/);
      assert.match(rb.stderr, /no host was switched/);
      assert.match(await lastLogged(), /rollback .*FAILED/);

      const sy = await deploy('sync', w.target, '--json');
      endedProperly(sy, 5);
      assert.match(sy.stderr, /web3: cannot connect/);
      assert.match(await lastLogged(), /sync .*PARTIAL .*web3/);

      const p = await deploy('plan', w.target);
      endedProperly(p, 1, false);
      assert.match(p.stdout, /web3 \(unreachable: cannot connect/);
      assert.match(p.stderr, /web3: cannot connect/);
    } finally {
      await w.fleet.thaw('web3');
    }
    assert.deepEqual(live(), before, 'no host was switched');
  });

  it('a host that freezes after connecting, while the admin tasks run: named, nothing switched', async () => {
    const gate = join(w.dir, 'task-go');
    const started = join(w.dir, 'task-started');
    await app({ top: `tasks: [['sh', '-c', 'touch ${started}; while [ ! -e ${gate} ]; do sleep 0.05; done']],` });
    await w.commit({ 'index.html': '<h1>frozen while tasks run</h1>\n' });
    const before = live();
    const run = startDeploy(w, [w.target, '--json']);
    await waitFor('the admin task', () => existsSync(started));
    await w.fleet.freeze('web3');
    await writeFile(gate, '');
    const r = await run.done;
    await w.fleet.thaw('web3');
    await rm(gate);
    await rm(started);
    const finish = endedProperly(r, 1)!;
    assert.match(r.stderr, /web3: .*(Keepalive timeout|timed out|closed)/i);
    assert.equal((finish.hosts as { host: string; state: string }[]).find((h) => h.host === 'web3')!.state, 'failed');
    assert.deepEqual(live(), before, 'no host was switched');
    assert.match(await lastLogged(), /deploy .*FAILED .*web3/);
  });

  it('a host that freezes in its post-switch hook: named, the others reverted, the history holds every host', async () => {
    await resetHosts();
    await app({ env: `rollout: { hooks: { postSwitch: [${WAIT_ON_HOST('in-hook')}] } },` });
    await w.commit({ 'index.html': '<h1>frozen in a hook</h1>\n' });
    await go(['web1', 'web2']);
    const before = live();
    const run = startDeploy(w, [w.target, '--json']);
    await waitFor('web3 in its post-switch hook', () => existsSync(marker('web3', 'in-hook')));
    await w.fleet.freeze('web3');
    const r = await run.done;
    await go(['web3']);
    await w.fleet.thaw('web3');
    const finish = endedProperly(r, 1)!;
    assert.match(r.stderr, /web3 \(batch 1\): .*(Keepalive timeout|SSH connection)/i);
    assert.match(r.stderr, /REVERT FAILED on web3/);
    assert.deepEqual(live().slice(0, 2), before.slice(0, 2), 'web1 and web2 are back on what they served');
    // item: the history holds what run.finish says, host by host
    const event = await newestEvent();
    assert.equal(event.result, 'failed');
    const finished = finish.hosts as { host: string; state: string; error?: string }[];
    assert.deepEqual(event.hosts.map((h) => h.host), finished.map((h) => h.host), 'every host of run.finish');
    const failedIn = (hosts: { host: string; state: string }[]) => hosts.filter((h) => h.state === 'failed').map((h) => h.host);
    assert.deepEqual(failedIn(event.hosts), failedIn(finished), 'the same failed hosts');
    assert.deepEqual(failedIn(event.hosts), ['web3']);
    assert.match(event.hosts.find((h) => h.host === 'web3')!.error ?? '', /SSH connection failed: Keepalive timeout; revert failed/i);
    const logged = await lastLogged();
    assert.doesNotMatch(logged, /no hosts/);
    assert.match(logged, /2 reverted \(web1, web2\), 1 failed \(web3\)/);
    await resetHosts();
    await app();
    assert.equal((await deploy('sync', w.target)).exitCode, 0, 'sync puts web3 back');
  });

  it('a host that freezes in its health check: named, the rollout stops and the others go back', async () => {
    await resetHosts();
    await app({ env: `rollout: { health: { command: ${WAIT_ON_HOST('in-health')}, retries: 0 } },` });
    await w.commit({ 'index.html': '<h1>frozen in a health check</h1>\n' });
    await go(['web1', 'web2']);
    const before = live();
    const run = startDeploy(w, [w.target, '--json']);
    await waitFor('web3 in its health check', () => existsSync(marker('web3', 'in-health')));
    await w.fleet.freeze('web3');
    const r = await run.done;
    await go(['web3']);
    await w.fleet.thaw('web3');
    endedProperly(r, 1);
    assert.match(r.stderr, /web3 \(batch 1\): .*(Keepalive timeout|SSH connection)/i);
    assert.deepEqual(live().slice(0, 2), before.slice(0, 2), 'web1 and web2 are back on what they served');
    assert.match(await lastLogged(), /deploy .*FAILED .*web3/);
    await resetHosts();
    await app();
    assert.equal((await deploy('sync', w.target)).exitCode, 0, 'sync puts web3 back');
  });

  it('a host that freezes before its prune: the release is live everywhere, the prune is a named warning', async () => {
    // web3 goes first and is done; it freezes while web1 waits in its hook, before any host prunes
    await resetHosts();
    await app({ env: `rollout: { canary: ['web3'], batches: ['100%'], hooks: { postSwitch: [${WAIT_ON_HOST('in-hook')}] } },`, remote: 'keepReleases: 1' });
    await w.commit({ 'index.html': '<h1>frozen before the prune</h1>\n' });
    await go(['web3', 'web2']);
    const run = startDeploy(w, [w.target, '--json']);
    await waitFor('web1 in its post-switch hook', () => existsSync(marker('web1', 'in-hook')));
    await w.fleet.freeze('web3');
    await go(['web1']);
    const r = await run.done;
    await w.fleet.thaw('web3');
    const finish = endedProperly(r, 0)!;
    assert.match(r.stderr, /web3: serves the release, but its old releases were not pruned \(.*\); the next deploy prunes them/);
    assert.deepEqual((finish.counts as Record<string, number>).switched, 3);
    const dirs = live().map((d) => d!.split('/').pop());
    assert.equal(new Set(dirs).size, 1, 'every host serves the new release');
    assert.match(await lastLogged(), /deploy .*ok .*3 switched/);
    await resetHosts();
    await app();
  });

  it('no host reachable: stops before the first admin task, cuts no release, says --exclude-hosts exists', async () => {
    const ran = join(w.dir, 'task-ran');
    await app({ top: `tasks: [['touch', '${ran}']],` });
    await w.commit({ 'index.html': '<h1>nobody home</h1>\n' });
    const tagsBefore = await tags();
    for (const h of w.fleet.hosts) await w.fleet.stop(h.name);
    let r: RunResult;
    try {
      r = await deploy(w.target, '--json');
    } finally {
      for (const h of w.fleet.hosts) await w.fleet.start(h.name);
    }
    const finish = endedProperly(r, 1)!;
    assert.ok(!existsSync(ran), 'no admin task ran');
    assert.equal(await tags(), tagsBefore, 'no release was cut');
    assert.match(r.stderr, /no host of shop-prod can be reached; stopped before the admin tasks: nothing was run or released/);
    for (const h of w.fleet.hosts) assert.match(r.stderr, new RegExp(`  ${h.name}: cannot connect to .*ECONNREFUSED`));
    assert.match(r.stderr, /--exclude-hosts web1,web2,web3/);
    assert.equal(finish.release, null);
    const event = await newestEvent();
    assert.deepEqual(event.hosts.map((h) => [h.host, h.state]), [['web1', 'failed'], ['web2', 'failed'], ['web3', 'failed']]);
    await app();
  });

  it('Ctrl-C during an admin task stops its whole process group at once and exits 130', async () => {
    const pidFile = join(w.dir, 'task-child.pid');
    await app({ top: `tasks: [['sh', '-c', 'sleep 300 & echo $! > ${pidFile}; wait']],` });
    await w.commit({ 'index.html': '<h1>interrupted task</h1>\n' });
    const tagsBefore = await tags();
    const run = startDeploy(w, [w.target]);
    await waitFor('the task child', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').endsWith('\n'));
    const child = Number(readFileSync(pidFile, 'utf8'));
    run.child.kill('SIGINT');
    let ended = false;
    void run.done.then(() => (ended = true));
    await waitFor('the deploy to end', () => ended, 10_000);
    const r = await run.done;
    // a zombie is dead: it only waits for init to collect its exit status
    let stat = '';
    try {
      stat = readFileSync(`/proc/${child}/stat`, 'utf8');
    } catch {
      // no such process
    }
    const alive = stat !== '' && !/\) Z /.test(stat);
    assert.ok(!alive, `the task's child ${child} is gone`);
    endedProperly(r, 130, false);
    assert.match(r.stderr, /interrupted by SIGINT while running admin task "sh -c .*": its processes were stopped/);
    assert.equal(await tags(), tagsBefore, 'nothing was released');
    await rm(pidFile);
    await app();
  });
});

/**
 * Progress of long transfers, seen as a person sees it: on a terminal (under `script`) and
 * in a CI log. To see a transfer under way, each host's receiving process is held still
 * (SIGSTOP) as soon as it appears, and let go once the progress has shown.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import { waitFor } from '../support/safety.js';
import { CLI, type World, makeWorld } from '../support/world.js';
import type { FleetHost } from '../support/fleet.js';

const MB = 1024 * 1024;

/** Processes named `comm` on this host: those whose /data is the host's data dir (as fleet.sh finds a host's processes). */
function processesOn(host: FleetHost, comm: string): number[] {
  const data = statSync(host.dataDir);
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== comm) continue;
      const root = statSync(`/proc/${pid}/root/data`);
      if (root.dev === data.dev && root.ino === data.ino) found.push(Number(pid));
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

/** Stop the host's `comm` as soon as it runs; returns how to let it go on. */
async function holdReceiver(host: FleetHost, comm: string): Promise<() => void> {
  const held = new Set<number>();
  const stopAll = () => {
    for (const pid of processesOn(host, comm)) if (!held.has(pid)) (process.kill(pid, 'SIGSTOP'), held.add(pid));
    return held.size > 0;
  };
  await waitFor(`${host.name}'s ${comm} to start`, stopAll, 60_000, 5);
  // a child it forked just before it was stopped (rsync's receiver) is held too
  for (let i = 0; i < 5; i++) (await new Promise((r) => setTimeout(r, 50)), stopAll());
  return () => held.forEach((pid) => process.kill(pid, 'SIGCONT'));
}

describe('progress of long transfers', { timeout: 300_000 }, () => {
  let w: World;
  const sh = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

  before(async () => {
    w = await makeWorld({ net: '127.0.94', size: 2 });
    await w.commit({ 'static/big.bin': randomBytes(24 * MB).toString('base64') }, 'a 32 MB asset');
  });
  after(async () => {
    await w?.down();
  });

  it('on a terminal, each host’s row shows bytes and percent of the tree it is being sent', async () => {
    let screen = '';
    const run = execa('script', ['-qefc', `stty cols 160 rows 40; node ${sh(CLI)} ${sh(w.target)}`, '/dev/null'], {
      reject: false,
      extendEnv: false,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: 'xterm-256color', SLIPWAY_APPS: w.appsDir, SLIPWAY_ROOT: w.root },
      timeout: 180_000,
    });
    run.stdout!.on('data', (d: Buffer) => (screen += d.toString()));
    const [web1] = w.fleet.hosts;
    // the first deploy sends the tree to hosts with nothing while the release is committed
    const release = await holdReceiver(web1!, 'tar');
    try {
      await waitFor('web1’s progress on the terminal', () => /web1: sending the tree ahead: [\d.]+ (B|kB|MB) of 32\.\d MB \(\d+%\)/.test(screen), 60_000);
    } finally {
      release();
    }
    const r = await run;
    assert.equal(r.exitCode, 0, screen);
    assert.match(screen, /web1: (live on r1|.*staged r1)/);
    assert.equal((await fetch(`${web1!.httpUrl}/${w.app}/static/big.bin`)).status, 200);
  });

  it('in a CI log, a paced progress line per host; with --json, transfer.progress events', async () => {
    // a changed 32 MB file: too big for one tar in memory, so both hosts pull it with rsync
    await w.commit({ 'static/big.bin': randomBytes(24 * MB).toString('base64') }, 'a new asset');
    let stdout = '';
    let stderr = '';
    const run = execa('node', [CLI, w.target, '--json'], {
      reject: false,
      env: { SLIPWAY_APPS: w.appsDir, SLIPWAY_ROOT: w.root, CI: '1' },
      timeout: 180_000,
    });
    run.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    run.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const [, web2] = w.fleet.hosts;
    const release = await holdReceiver(web2!, 'rsync');
    const progress = () =>
      stdout
        .split('\n')
        .filter((l) => l.includes('"transfer.progress"'))
        .map((l) => JSON.parse(l) as { host: string; text: string; bytes: number; total: number | null });
    let seen: ReturnType<typeof progress> = [];
    try {
      await waitFor('web2’s progress in the log', () => progress().some((p) => p.host === 'web2') && /\[web2\] staging r2: [\d.]+ (B|kB|MB) of 32\.\d MB \(\d+%\)/.test(stderr), 60_000);
      seen = progress().filter((p) => p.host === 'web2');
    } catch (err) {
      throw new Error(`${String(err)}\n${stderr}\n${stdout}`);
    } finally {
      release();
    }
    const r = await run;
    assert.equal(r.exitCode, 0, stderr);
    // the store knows the bytes the pull moves: the changed file
    const size = statSync(join(w.www, 'static/big.bin')).size;
    assert.ok(seen.every((p) => p.text === 'staging r2' && p.total === size && p.bytes < size), JSON.stringify(seen));
    // paced: a line per host every few seconds at most, not one per tick
    const lines = stderr.split('\n').filter((l) => /\[web2\] staging r2: .* of /.test(l));
    const times = lines.map((l) => Date.parse(l.slice(0, 20)));
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 4000, lines.join('\n'));
    assert.match(stderr, /\[web2\] staged r2 \(1 file, /);
  });
});

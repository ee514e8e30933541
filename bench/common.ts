/**
 * What the benchmarks (bench.ts on loopback, shaped.ts on the shaped network) share: how they
 * run a command and measure it, the app repository they deploy, and small helpers.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { writeSyntheticApp } from './synth.js';

const GIT_ENV = { GIT_AUTHOR_NAME: 'dev', GIT_AUTHOR_EMAIL: 'dev@example.com', GIT_COMMITTER_NAME: 'dev', GIT_COMMITTER_EMAIL: 'dev@example.com', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

export const git = (cwd: string, ...args: string[]) => execa('git', args, { cwd, env: GIT_ENV });

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** A size as Slipway prints it (`46.9 MB`: units of 1024), in bytes. */
export function parseSize(n: string, unit: string): number {
  return Number(n) * (unit === 'GB' ? 1024 ** 3 : unit === 'MB' ? 1024 * 1024 : unit === 'kB' ? 1024 : 1);
}

/**
 * What the measured tools run with: the environment `sudo` leaves a command (env_reset), since
 * users and Jenkins run `sudo deploy`, plus what the run itself sets. Nothing else of the
 * runner's environment leaks in: NODE_OPTIONS could change anything, and NODE_EXTRA_CA_CERTS
 * makes Node 20 parse every CA certificate while it starts (85 ms on the 2-core test machine,
 * in every Slipway run and in no baseline run), which sudo would have dropped.
 */
export function sudoEnv(set: Record<string, string> = {}): Record<string, string> {
  const keep = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'LC_ALL', 'TERM'];
  const kept = Object.fromEntries(keep.flatMap((k) => (process.env[k] === undefined ? [] : [[k, process.env[k]!]])));
  return { ...kept, ...set };
}

/** The measured commands under way: a Ctrl-C stops them before the fleet. */
export const running = new Set<ReturnType<typeof execa>>();

export interface Timed {
  wallS: number;
  /** user+sys of the whole (reaped) process tree */
  cpuS: number;
  /** the largest process's peak RSS */
  rssMB: number;
  exitCode: number;
  /** stdout and stderr, interleaved */
  out: string;
}

/** Run a command under GNU time (its figures written to timeFile); a failure is a result. */
export async function timed(cmd: string, args: string[], env: Record<string, string>, timeFile: string, timeoutMs: number): Promise<Timed> {
  const started = performance.now();
  const child = execa('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, cmd, ...args], { env, extendEnv: false, reject: false, all: true, timeout: timeoutMs });
  running.add(child);
  const r = await child.finally(() => running.delete(child));
  const wallS = (performance.now() - started) / 1000;
  const [user, sys, rssKB] = (await readFile(timeFile, 'utf8')).trim().split('\n').pop()!.split(' ').map(Number);
  return { wallS, cpuS: user! + sys!, rssMB: rssKB! / 1024, exitCode: r.exitCode ?? -1, out: String(r.all) };
}

/** The synthetic app (bench/synth.ts) committed in `work`, and its bare clone `bare`, which apps name as their repo. Returns its stats. */
export async function makeBenchRepo(dir: string, work: string, bare: string, log: (text: string) => void) {
  await mkdir(join(bare, '..'), { recursive: true });
  const stats = await writeSyntheticApp(work);
  log(`synthetic app: ${stats.files} files, ${(stats.bytes / 1024 / 1024).toFixed(1)} MB`);
  await git(dir, '-c', 'init.defaultBranch=main', 'init', '-q', work);
  await git(work, 'add', '-A');
  await git(work, 'commit', '-qm', 'bench app');
  await git(dir, 'clone', '-q', '--bare', work, bare);
  return stats;
}

/**
 * `make bench`: Slipway against a plain parallel rsync-over-OpenSSH baseline, on a
 * loopback fleet, same machine, same run, alternating. See README "Benchmark".
 *
 * Where things live (BENCH_LAYOUT): by default (`admin-disk`) the admin node's side (its
 * root with the checkout and release store, the app's repo, the baseline's tree) is on the
 * disk, as on a real admin node, and every host's /data on tmpfs (/dev/shm): on this machine
 * all hosts would otherwise share one disk, which no real fleet does, and this disk (ext4
 * without a journal) makes every file creation scan the inodes deleted in the last minutes,
 * so whichever tool ran right after a wipe of the fleet paid seconds more. `tmpfs` puts
 * everything on /dev/shm (the layout of the figures before #22), `disk` everything on disk.
 * Beside each rep, the floor: one process contacting every host (contact.mjs), which any tool
 * that reaches every host over SSH pays; the table sets it against each scenario's baseline.
 * Each measured run starts after `sync`, so none pays for the previous one's writeback, and
 * trees wiped on a disk are moved aside and deleted at the end (discard), so none pays for
 * the deletion before it either.
 *
 * env: BENCH_REPS (default 5), BENCH_HOSTS (default 20), BENCH_SCALE (default "50,100";
 *      "" to skip), BENCH_NET (default 127.0.70; the scale fleet uses the next /24),
 *      BENCH_OUT (default bench/results.json), BENCH_PROFILE (a dir: CPU profiles of Slipway runs),
 *      BENCH_LAYOUT (admin-disk, tmpfs or disk), BENCH_DISK (the disk directory, default /var/tmp),
 *      BENCH_TRACE (first,onefile,nochange,rollback or all: instead of the benchmark, run the four
 *      scenarios once on BENCH_HOSTS hosts, these under strace, and print where the admin node's
 *      disk time goes: fsyncs and bytes written by program; see bench/trace.ts)
 */
import { existsSync, statfsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { type Fleet, startFleet } from '../test/support/fleet.js';
import { git, makeBenchRepo, median, parseSize, running, sudoEnv, timed } from './common.js';
import { formatUse, summarise, TRACED } from './trace.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CLI = join(HERE, '..', 'dist', 'bin', 'deploy.js');
const BASELINE = join(HERE, 'baseline.sh');
const CONTACT = join(HERE, 'contact.mjs');
const APP = 'bench';
const REPS = Number(process.env.BENCH_REPS ?? 5);
const HOSTS = Number(process.env.BENCH_HOSTS ?? 20);
const SCALE = (process.env.BENCH_SCALE ?? '50,100').split(',').filter(Boolean).map(Number);
const NET = process.env.BENCH_NET ?? '127.0.70';
const OUT = process.env.BENCH_OUT ?? join(HERE, 'results.json');
/** A directory for V8 CPU profiles of every Slipway run (node --cpu-prof), to see where its time goes. */
const PROFILE = process.env.BENCH_PROFILE;
/** statfs's f_type of tmpfs (linux/magic.h). */
const TMPFS_MAGIC = 0x01021994;
/** Largest fleet × 2 layouts × the app (45 MB) × 1.5 for releases and slack. */
const NEEDED = Math.max(HOSTS, ...SCALE) * 2 * 45e6 * 1.5;

type Layout = 'admin-disk' | 'tmpfs' | 'disk';
const LAYOUT = (process.env.BENCH_LAYOUT ?? 'admin-disk') as Layout;
if (!['admin-disk', 'tmpfs', 'disk'].includes(LAYOUT)) throw new Error(`BENCH_LAYOUT=${LAYOUT}: expected admin-disk, tmpfs or disk`);
const DISK = process.env.BENCH_DISK ?? '/var/tmp';
const SCENARIOS: Scenario[] = ['first', 'onefile', 'nochange', 'rollback'];
const TRACE = process.env.BENCH_TRACE === 'all' ? SCENARIOS : ((process.env.BENCH_TRACE ?? '').split(',').filter(Boolean) as Scenario[]);
if (TRACE.some((s) => !SCENARIOS.includes(s))) throw new Error(`BENCH_TRACE=${process.env.BENCH_TRACE}: expected all or some of ${SCENARIOS.join(',')}`);

/** tmpfs when it has room for every host's copies (they live in RAM), else the disk. */
function tmpfsDir(): string {
  if (!existsSync('/dev/shm')) return DISK;
  const fs = statfsSync('/dev/shm');
  if (fs.bavail * fs.bsize >= NEEDED) return '/dev/shm';
  log(`/dev/shm has ${(fs.bavail * fs.bsize / 1e9).toFixed(1)} GB free, ${(NEEDED / 1e9).toFixed(1)} GB needed: the hosts are on disk, where runs vary more`);
  return DISK;
}

/** Where the admin node's side and the hosts live, as BENCH_LAYOUT says. */
function places(): { admin: string; hosts: string } {
  if (LAYOUT === 'disk') return { admin: DISK, hosts: DISK };
  const shm = tmpfsDir();
  return { admin: LAYOUT === 'tmpfs' ? shm : DISK, hosts: shm };
}
/** Unmeasured one-file deploys before the measured ones: hosts then hold keepReleases (5) releases, as in steady use. */
const STEADY_DEPLOYS = 4;
/** The targets of #22: the admin node on disk, as users' admin nodes are. */
const TARGETS: Record<Scenario, number> = { first: 0.5, onefile: 0.25, nochange: 0.12, rollback: 0.4 };

type Scenario = 'first' | 'onefile' | 'nochange' | 'rollback';
type Tool = 'slipway' | 'baseline';

interface Sample {
  wallS: number;
  cpuS: number;
  rssMB: number;
  bytesPerHost: number;
}

interface Measured extends Sample {
  out: string;
}

const log = (text: string) => process.stderr.write(`bench: ${text}\n`);

/** Run a command under GNU time: wall, user+sys of the whole (reaped) process tree, peak RSS; a failure throws. */
async function measure(cmd: string, args: string[], env: Record<string, string>, timeFile: string): Promise<Omit<Measured, 'bytesPerHost'>> {
  const { exitCode, ...m } = await timed(cmd, args, env, timeFile, 900_000);
  if (exitCode !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${exitCode}:\n${m.out.split('\n').slice(-30).join('\n')}`);
  return m;
}

class Bench {
  readonly repos: string;
  readonly work: string;
  readonly tree: string;
  readonly apps: string;
  readonly root: string;
  /** The baseline's last release number on each fleet (0: none). */
  private baselineN = 0;
  private rollbackAvailable = false;
  /** Trees moved aside by discard() so far. */
  private buried = 0;

  constructor(
    readonly dir: string,
    readonly hostsDir: string,
  ) {
    this.repos = join(dir, 'repos');
    this.work = join(dir, 'work');
    this.tree = join(dir, 'tree');
    this.apps = join(dir, 'apps');
    this.root = join(dir, 'admin');
  }

  async setup(): Promise<void> {
    await mkdir(this.apps, { recursive: true });
    await makeBenchRepo(this.dir, this.work, join(this.repos, 'bench.git'), log);
    await git(this.work, 'remote', 'add', 'origin', join(this.repos, 'bench.git'));
    await this.syncTree();
    const help = await execa('node', [CLI, 'rollback', '--help'], { reject: false, all: true });
    this.rollbackAvailable = help.exitCode === 0 && /Usage: deploy rollback/.test(String(help.all));
    log(`rollback command: ${this.rollbackAvailable ? 'available' : 'not available yet'}`);
  }

  /** The baseline ships the same tree Slipway releases (no .git), unchanged files keeping their mtimes. */
  private async syncTree(): Promise<void> {
    await execa('rsync', ['-a', '--delete', '--exclude=.git', `${this.work}/`, `${this.tree}/`]);
  }

  async writeApp(fleet: Fleet, envs: Record<string, number>): Promise<void> {
    const body = Object.entries(envs)
      .map(([env, n]) => `    ${env}: { hosts: [${fleet.hosts.slice(0, n).map((h) => `{ name: '${h.name}', address: '${h.address}' }`).join(', ')}] },`)
      .join('\n');
    await writeFile(
      join(this.apps, `${APP}.ts`),
      `import { defineApp } from 'slipway';
export default defineApp({
  repo: '${join(this.repos, 'bench.git')}',
  branch: 'main',
  ssh: { key: '${fleet.clientKey}', knownHosts: '${fleet.knownHosts}' },
  envs: {
${body}
  },
});
`,
    );
  }

  /** Commit one changed source file (and put the same change in the baseline's tree). */
  async changeOneFile(i: number): Promise<void> {
    const file = join(this.work, 'src', 'module07', 'file042.js');
    await writeFile(file, `${await readFile(file, 'utf8')}// change ${i}\n`);
    await git(this.work, 'commit', '-qam', `change ${i}`);
    await git(this.work, 'push', '-q', 'origin', 'HEAD:main');
    await this.syncTree();
  }

  /** Empty hosts (both layouts) and, for Slipway, an empty admin node too. */
  async wipe(fleet: Fleet, env: string): Promise<void> {
    await Promise.all(fleet.hosts.flatMap((h) => [this.discard(join(h.dataDir, 'www', APP)), this.discard(join(h.dataDir, 'bench'))]));
    await this.discard(join(this.root, env));
    this.baselineN = 0;
  }

  /**
   * Remove a tree between runs. On tmpfs at once; on a disk it is moved aside and deleted at
   * the end: on an ext4 without a journal (this machine's) the kernel will not reuse an inode
   * freed in the last minute, and checks each such inode in turn for every file it creates,
   * so a run that creates thousands of files within a minute of deleting thousands spends
   * seconds in the kernel (a clone of the benchmark app: 0.3–0.5 s, 1.5–2.4 s right after
   * such a deletion). Users' admin nodes do not delete an app's whole tree before deploying
   * it, and a journaled ext4 has no such check (docs/benchmark.md).
   */
  async discard(path: string): Promise<void> {
    if (!existsSync(path)) return;
    if (statfsSync(path).type === TMPFS_MAGIC) return rm(path, { recursive: true, force: true });
    const graveyard = join(path.startsWith(`${this.hostsDir}/`) ? this.hostsDir : this.dir, 'graveyard');
    await mkdir(graveyard, { recursive: true });
    await rename(path, join(graveyard, String(this.buried++)));
  }

  async slipway(env: string, command: string[] = []): Promise<Measured> {
    const prof = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE}`] : [];
    const m = await measure('node', [...prof, CLI, ...command, `${APP}-${env}`], sudoEnv({ SLIPWAY_APPS: this.apps, SLIPWAY_ROOT: this.root, CI: '1' }), join(this.dir, 'time'));
    const sizes = [...m.out.matchAll(/\] staged r\d+ \(\d+ files?, ([0-9.]+) (B|kB|MB) received[,)]/g)].map((x) => parseSize(x[1]!, x[2]!));
    const hosts = Number(env.replace(/\D/g, ''));
    return { ...m, bytesPerHost: sizes.reduce((a, b) => a + b, 0) / hosts };
  }

  async baseline(fleet: Fleet, hosts: number, mode: 'ship' | 'rollback'): Promise<Measured> {
    const stats = join(this.dir, 'stats');
    await rm(stats, { recursive: true, force: true });
    await mkdir(stats);
    const addrs = fleet.hosts.slice(0, hosts).map((h) => h.address);
    let args: string[];
    if (mode === 'ship') {
      args = ['ship', fleet.clientKey, fleet.knownHosts, this.tree, String(this.baselineN + 1), String(this.baselineN), stats, ...addrs];
      this.baselineN++;
    } else {
      args = ['switch', fleet.clientKey, fleet.knownHosts, this.tree, String(this.baselineN - 1), '0', stats, ...addrs];
    }
    const m = await measure('bash', [BASELINE, ...args], sudoEnv(), join(this.dir, 'time'));
    let sent = 0;
    for (const f of await readdir(stats)) {
      const x = /^Total bytes sent: ([0-9,]+)/m.exec(await readFile(join(stats, f), 'utf8'));
      sent += x ? Number(x[1]!.replaceAll(',', '')) : 0;
    }
    return { ...m, bytesPerHost: sent / hosts };
  }

  /**
   * The floor: one Node process connects to every host (keys checked), runs `true` and closes
   * (contact.mjs). Whatever contacts every host over SSH pays this much on this machine, so a
   * target below floor/baseline cannot be met here by any such tool.
   */
  async contact(fleet: Fleet, hosts: number): Promise<Sample> {
    const { out: _, ...m } = await measure('node', [CONTACT, fleet.clientKey, fleet.knownHosts, ...fleet.hosts.slice(0, hosts).map((h) => h.address)], sudoEnv(), join(this.dir, 'time'));
    return { ...m, bytesPerHost: 0 };
  }

  /** A Slipway run under strace (see bench/trace.ts): the summary of where its disk time went. */
  async traced(env: string, command: string[] = []): Promise<string> {
    const file = join(this.dir, 'strace.log');
    const args = ['-f', '-qq', '-T', '-y', '-v', '-e', `trace=${TRACED.join(',')}`, '-o', file, 'node', CLI, ...command, `${APP}-${env}`];
    const r = await execa('strace', args, { env: sudoEnv({ SLIPWAY_APPS: this.apps, SLIPWAY_ROOT: this.root, CI: '1' }), extendEnv: false, reject: false, all: true });
    if (r.exitCode !== 0) throw new Error(`traced deploy exited ${r.exitCode}:\n${String(r.all).split('\n').slice(-30).join('\n')}`);
    return formatUse(summarise(await readFile(file, 'utf8')));
  }

  get hasRollback(): boolean {
    return this.rollbackAvailable;
  }
}

type Results = Record<string, Partial<Record<Scenario, { slipway: Sample[]; baseline: Sample[]; profile?: string }>> & { contact?: Sample[] }>;

/** The timestamped admin lines and the slowest host's lines of a Slipway run: where the time went. */
function profileOf(out: string): string {
  return out.split('\n').filter((l) => /\[admin\]|live on \d+\/\d+|\[web1\]/.test(l)).join('\n');
}

async function runScale(bench: Bench, fleet: Fleet, env: string, hosts: number, reps: number, results: Results): Promise<void> {
  const res: Results[string] = (results[env] ??= {});
  const record = async (scenario: Scenario, rep: number, s: () => Promise<Measured>, b: () => Promise<Measured>) => {
    const slot = (res[scenario] ??= { slipway: [], baseline: [] });
    // alternate which goes first, so neither always enjoys (or pays for) a warm cache
    const order: Tool[] = rep % 2 ? ['baseline', 'slipway'] : ['slipway', 'baseline'];
    for (const tool of order) {
      // the previous run's writes reach the disk before this one starts, not during it
      await execa('sync');
      const m = await (tool === 'slipway' ? s() : b());
      const { out, ...sample } = m;
      slot[tool].push(sample);
      if (tool === 'slipway') slot.profile = profileOf(out);
      log(`${env} ${scenario} #${rep + 1} ${tool}: ${sample.wallS.toFixed(2)} s, cpu ${sample.cpuS.toFixed(2)} s, rss ${sample.rssMB.toFixed(0)} MB, ${(sample.bytesPerHost / 1024).toFixed(1)} kB/host`);
    }
  };
  // One unmeasured deploy by each tool first: the first connections to hosts no run has
  // touched yet are slower (a fresh 50-host fleet once took a first deploy 18 s instead of
  // 10), and with one run each at 50 and 100 hosts, whichever tool went first paid for it.
  await bench.wipe(fleet, env);
  await bench.slipway(env);
  await bench.baseline(fleet, hosts, 'ship');
  log(`${env}: warmed up (one unmeasured deploy by each tool)`);
  for (let rep = 0; rep < reps; rep++) {
    await bench.wipe(fleet, env);
    await record('first', rep, () => bench.slipway(env), () => bench.baseline(fleet, hosts, 'ship'));
  }
  // Steady state: a fleet deployed to for a while holds keepReleases (5) releases, so each deploy
  // also prunes one on every host. Fresh from the wipe, hosts hold one: without these unmeasured
  // deploys the one-file runs would never prune, a cost every user's deploy pays (the baseline
  // prunes nothing, as a folder of bash usually does).
  for (let i = 0; i < STEADY_DEPLOYS; i++) {
    await bench.changeOneFile(Date.now());
    await bench.slipway(env);
    await bench.baseline(fleet, hosts, 'ship');
  }
  for (let rep = 0; rep < reps; rep++) {
    await bench.changeOneFile(Date.now());
    await record('onefile', rep, () => bench.slipway(env), () => bench.baseline(fleet, hosts, 'ship'));
    await record('nochange', rep, () => bench.slipway(env), () => bench.baseline(fleet, hosts, 'ship'));
    if (bench.hasRollback) await record('rollback', rep, () => bench.slipway(env, ['rollback']), () => bench.baseline(fleet, hosts, 'rollback'));
    await execa('sync');
    const floor = await bench.contact(fleet, hosts);
    (res.contact ??= []).push(floor);
    log(`${env} contact #${rep + 1}: ${floor.wallS.toFixed(2)} s, cpu ${floor.cpuS.toFixed(2)} s`);
  }
}

/** BENCH_TRACE: the four scenarios in order, each once, those asked for under strace; prints each summary. */
async function traceScenarios(bench: Bench, fleet: Fleet, env: string): Promise<void> {
  const run = async (scenario: Scenario, command: string[] = []) => {
    await execa('sync');
    if (!TRACE.includes(scenario)) return void (await bench.slipway(env, command));
    process.stdout.write(`\n${scenario} (${env.slice(1)} hosts, admin node in ${bench.dir}):\n${await bench.traced(env, command)}\n`);
  };
  await bench.wipe(fleet, env);
  await run('first');
  await bench.changeOneFile(Date.now());
  await run('onefile');
  await run('nochange');
  await run('rollback', ['rollback']);
}

const NOT_YET = 'not available yet (no `deploy rollback` command)';

function table(results: Results, rollback: boolean): string {
  const rows: string[][] = [['hosts', 'scenario', 'runs', 'slipway s', 'baseline s', 'ratio', 'target', 'floor', 'cpu S/B s', 'cpu ratio', 'rss S/B MB', 'kB/host S/B']];
  for (const [env, byScenario] of Object.entries(results)) {
    // what contacting every host costs, against each scenario's baseline: a target under it is out of reach here
    const contact = byScenario.contact?.length ? median(byScenario.contact.map((x) => x.wallS)) : undefined;
    for (const scenario of ['first', 'onefile', 'nochange', 'rollback'] as Scenario[]) {
      const r = byScenario[scenario];
      if (!r) {
        if (scenario === 'rollback' && !rollback) rows.push([env.slice(1), scenario, '-', NOT_YET]);
        continue;
      }
      const m = (tool: Tool, k: keyof Sample) => median(r[tool].map((x) => x[k]));
      const ratio = m('slipway', 'wallS') / m('baseline', 'wallS');
      const floor = contact === undefined ? undefined : contact / m('baseline', 'wallS');
      rows.push([
        env.slice(1),
        scenario,
        String(r.slipway.length),
        m('slipway', 'wallS').toFixed(2),
        m('baseline', 'wallS').toFixed(2),
        `${ratio.toFixed(2)}×`,
        `≤ ${TARGETS[scenario]}× ${ratio <= TARGETS[scenario] ? 'ok' : 'MISSED'}`,
        floor === undefined ? '-' : `${floor.toFixed(2)}×${floor > TARGETS[scenario] ? ' (> target)' : ''}`,
        `${m('slipway', 'cpuS').toFixed(2)} / ${m('baseline', 'cpuS').toFixed(2)}`,
        `${(m('slipway', 'cpuS') / m('baseline', 'cpuS')).toFixed(2)}×`,
        `${m('slipway', 'rssMB').toFixed(0)} / ${m('baseline', 'rssMB').toFixed(0)}`,
        `${(m('slipway', 'bytesPerHost') / 1024).toFixed(1)} / ${(m('baseline', 'bytesPerHost') / 1024).toFixed(1)}`,
      ]);
    }
  }
  // a note row runs on past the columns instead of widening one
  const widths = rows[0]!.map((_, i) => Math.max(...rows.filter((r) => r[3] !== NOT_YET).map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (make bench does)`);
  const started = performance.now();
  const where = places();
  const dir = await mkdtemp(join(where.admin, 'slipway-bench-'));
  const hostsDir = where.hosts === where.admin ? dir : await mkdtemp(join(where.hosts, 'slipway-bench-hosts-'));
  log(`layout ${LAYOUT}: the admin node in ${dir}, the hosts in ${hostsDir}`);
  const bench = new Bench(dir, hostsDir);
  const fleets: Fleet[] = [];
  const cleanup = async () => {
    for (const child of running) {
      child.kill('SIGTERM');
      await child.catch(() => undefined);
    }
    for (const f of fleets) await f.down().catch((err: unknown) => log(`fleet down failed: ${String(err)}`));
    for (const d of new Set([dir, hostsDir])) await rm(d, { recursive: true, force: true }).catch(() => undefined);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // `on`, not `once`: execa's exit hook re-raises a signal that no other listener holds
    process.on(sig, () => {
      if (stopping) return;
      log(`${sig}: stopping the fleet`);
      stopping = cleanup().finally(() => process.exit(130));
    });
  }
  const results: Results = {};
  try {
    await bench.setup();
    log(`starting a ${HOSTS}-host fleet on ${NET}.0/24`);
    const small = await startFleet({ size: HOSTS, net: NET, dir: join(hostsDir, 'fleet-small') });
    fleets.push(small);
    await bench.writeApp(small, { [`h${HOSTS}`]: HOSTS });
    if (TRACE.length) return void (await traceScenarios(bench, small, `h${HOSTS}`));
    await runScale(bench, small, `h${HOSTS}`, HOSTS, REPS, results);
    await small.down();
    // its hosts' copies live in RAM on tmpfs: free them before a fleet five times its size
    await bench.discard(join(hostsDir, 'fleet-small'));
    if (SCALE.length) {
      const big = Math.max(...SCALE);
      const net = NET.replace(/\d+$/, (x) => String(Number(x) + 1));
      log(`starting a ${big}-host fleet on ${net}.0/24`);
      const fleet = await startFleet({ size: big, net, dir: join(hostsDir, 'fleet-big') });
      fleets.push(fleet);
      await bench.writeApp(fleet, Object.fromEntries(SCALE.map((n) => [`h${n}`, n])));
      for (const n of SCALE) {
        await runScale(bench, fleet, `h${n}`, n, 1, results);
        await bench.wipe(fleet, `h${n}`);
      }
    }
  } finally {
    if (!stopping) await cleanup();
  }
  const text = table(results, bench.hasRollback);
  process.stdout.write(`\nlayout ${LAYOUT} (admin node in ${where.admin}, hosts in ${where.hosts})\n${text}\n\nslipway = the whole \`deploy ${APP}-<env>\` run (update, release, ship); ratios are medians of wall time.\nfloor = connecting to every host and running \`true\` (bench/contact.mjs: ssh2 alone, one process), over the baseline: any tool that contacts every host pays it.\n`);
  await writeFile(
    OUT,
    `${JSON.stringify({ date: new Date().toISOString(), machine: { cpus: (await import('node:os')).cpus().length, load: (await import('node:os')).loadavg() }, layout: { name: LAYOUT, ...where }, reps: REPS, rollbackAvailable: bench.hasRollback, targets: TARGETS, table: text.split('\n'), results }, null, 2)}\n`,
  );
  log(`results in ${OUT}; ${((performance.now() - started) / 60000).toFixed(1)} min`);
}

/** Set by a signal: the run is being torn down and exits when that is done. */
let stopping: Promise<void> | undefined;

main().catch(async (err: unknown) => {
  // a run cut short by Ctrl-C fails on its way out; the signal handler finishes the clean-up
  if (stopping) return void (await stopping);
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

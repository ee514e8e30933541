/**
 * `make bench-shaped`, the second half of `make bench` (#21): Slipway's first deploy of the
 * synthetic 44 MB app (bench/synth.ts) to a fleet whose hosts live in network namespaces, in
 * datacenters, every link shaped with `tc tbf` (test/fleet/netfleet.sh: bandwidth only, NO
 * added latency; this kernel has no netem). Defaults: 100 then 200 hosts (the first 100 of one
 * 200-host fleet) in 4 datacenters, admin uplink 1 Gbit/s, DC uplinks 10 Gbit/s, host links
 * 1 Gbit/s. What it reports per scenario: wall time, the admin node's egress (its uplink's byte
 * counter, before/after) and that per host, each datacenter uplink's incoming bytes, the time
 * the admin uplink alone needs for those bytes (the "link floor"), admin CPU (user+sys of the
 * whole `deploy` process tree, GNU time) and peak RSS. A table on stdout; JSON in BENCH_OUT.
 *
 * The admin node's side (its root with the release store, the app's repo) is on disk
 * (BENCH_DISK, /var/tmp) as on a real admin node; the hosts' /data on tmpfs (/dev/shm) when it
 * has room: on this machine they would otherwise all share one disk. Every measured run is a
 * first deploy: hosts and the env's store emptied, then `sync`, before it.
 *
 * env (SHAPED_*, apart from bench/bench.ts's BENCH_* as `make bench` runs both):
 *      SHAPED_HOSTS (100,200: fleet sizes, each run with every scenario), SHAPED_DCS (4),
 *      SHAPED_ADMIN_RATE (1gbit), SHAPED_DC_RATE (10gbit), SHAPED_HOST_RATE (1gbit),
 *      SHAPED_PREFIX (10.213: the fleet's private /16), SHAPED_REPS (1: measured runs of each
 *      scenario), SHAPED_WARMUP (1: one unmeasured deploy to the whole fleet first; 0 to skip),
 *      SHAPED_SCENARIOS (a comma list; default all), SHAPED_OUT (a file for the JSON),
 *      BENCH_DISK (/var/tmp, as bench.ts), SHAPED_SSH (extra keys of the app's `ssh`, as
 *      TypeScript source, e.g. `keepaliveInterval: 5,`; default none: Slipway's defaults)
 *
 * A deploy that fails on some hosts is reported (exit status, hosts live, the failures'
 * reasons), not fatal: over a saturated uplink that is a result too.
 */
import { existsSync, statfsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { type NetFleet, hostEntries, rateBits, startNetFleet } from '../test/support/netfleet.js';
import { git, makeBenchRepo, median, parseSize, running, sudoEnv, timed } from './common.js';

/**
 * The scenarios, each an env of the bench app (target `bench-<name>`) with these extra keys.
 * ─── Add scenarios here ───: one line each.
 */
const SCENARIOS: Scenario[] = [
  { name: 'direct', envExtra: '', about: "every host pulls from the admin node (today's behaviour)" },
  { name: 'relays', envExtra: 'relays: 1,', about: 'one relay per datacenter' },
  { name: 'relays2', envExtra: 'relays: 2,', about: 'two relays per datacenter' },
];

interface Scenario {
  /** the env's name: letters and digits */
  name: string;
  /** extra keys of the env, as TypeScript source (`relays: 1,`) */
  envExtra: string;
  about: string;
}

const HERE = fileURLToPath(new URL('.', import.meta.url));
const CLI = join(HERE, '..', 'dist', 'bin', 'deploy.js');
const APP = 'bench';
const SIZES = (process.env.SHAPED_HOSTS ?? '100,200').split(',').map(Number);
const HOSTS = Math.max(...SIZES);
const DCS = Number(process.env.SHAPED_DCS ?? 4);
const RATES = { admin: process.env.SHAPED_ADMIN_RATE ?? '1gbit', dc: process.env.SHAPED_DC_RATE ?? '10gbit', host: process.env.SHAPED_HOST_RATE ?? '1gbit' };
const PREFIX = process.env.SHAPED_PREFIX ?? '10.213';
const REPS = Number(process.env.SHAPED_REPS ?? 1);
const WARMUP = process.env.SHAPED_WARMUP !== '0';
const OUT = process.env.SHAPED_OUT;
const SSH_EXTRA = process.env.SHAPED_SSH ?? '';
const DISK = process.env.BENCH_DISK ?? '/var/tmp';
const CHOSEN = (process.env.SHAPED_SCENARIOS ?? '').split(',').filter(Boolean);

const log = (text: string) => process.stderr.write(`bench-shaped: ${text}\n`);
const MB = 1e6;

interface Sample {
  /** the fleet size it ran on */
  hosts: number;
  wallS: number;
  /** user+sys of the whole deploy process tree (GNU time) */
  cpuS: number;
  rssMB: number;
  adminEgressBytes: number;
  adminIngressBytes: number;
  egressPerHost: number;
  /** the admin uplink's time for adminEgressBytes at its rate */
  linkFloorS: number;
  /** bytes into each datacenter over its uplink */
  dcDownBytes: Record<string, number>;
  /** what Slipway's per-host lines say the hosts received, per host */
  receivedPerHost: number;
  /** hosts that say they staged from a relay */
  fromRelay: number;
  /** hosts serving the release afterwards */
  live: number;
  /** the whole machine's CPU busy during the run (all cores; the hosts' sshd and rsync too), 0..1 */
  machineBusy: number;
  /** the deploy's exit status */
  exitCode: number;
  /** `host: reason` of each host the deploy did not stage */
  failures: string[];
}

/** The machine's CPU time so far, all cores (/proc/stat's first line, in ticks): busy is all but idle and iowait. */
async function machineCpu(): Promise<{ busy: number; total: number }> {
  const ticks = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  return { busy: total - ticks[3]! - ticks[4]!, total };
}

/** tmpfs for the hosts when it has room for every host's copy (they live in RAM), else the disk. */
function hostsPlace(): string {
  if (!existsSync('/dev/shm')) return DISK;
  const fs = statfsSync('/dev/shm');
  const needed = HOSTS * 45e6 * 1.5;
  if (fs.bavail * fs.bsize >= needed) return '/dev/shm';
  log(`/dev/shm has ${((fs.bavail * fs.bsize) / 1e9).toFixed(1)} GB free, ${(needed / 1e9).toFixed(1)} GB needed: the hosts are on disk`);
  return DISK;
}

class Bench {
  readonly repos: string;
  readonly work: string;
  readonly apps: string;
  readonly root: string;

  constructor(readonly dir: string) {
    this.repos = join(dir, 'repos');
    this.work = join(dir, 'work');
    this.apps = join(dir, 'apps');
    this.root = join(dir, 'admin');
  }

  /** The app's repo; returns its tree's bytes. */
  async setup(): Promise<number> {
    await mkdir(this.apps, { recursive: true });
    return (await makeBenchRepo(this.dir, this.work, join(this.repos, 'bench.git'), log)).bytes;
  }

  /** One env per scenario, each listing every host with its datacenter. */
  async writeApp(fleet: NetFleet, size: number, scenarios: Scenario[]): Promise<void> {
    const hosts = hostEntries(fleet.hosts.slice(0, size));
    const envs = scenarios.map((s) => `    ${s.name}: { ${s.envExtra} hosts: [${hosts}] },`).join('\n');
    await writeFile(
      join(this.apps, `${APP}.ts`),
      `import { defineApp } from 'slipway';
export default defineApp({
  repo: '${join(this.repos, 'bench.git')}',
  branch: 'main',
  ssh: { key: '${fleet.clientKey}', knownHosts: '${fleet.knownHosts}', ${SSH_EXTRA} },
  envs: {
${envs}
  },
});
`,
    );
  }

  /** Empty hosts and the env's store: the next deploy is a first deploy. */
  async wipe(fleet: NetFleet, env: string): Promise<void> {
    await Promise.all(fleet.hosts.map((h) => rm(join(h.dataDir, 'www', APP), { recursive: true, force: true })));
    await rm(join(this.root, env), { recursive: true, force: true });
  }

  /** A first deploy of scenario s to the first `size` hosts, measured. */
  async deploy(fleet: NetFleet, size: number, s: Scenario): Promise<Sample & { out: string }> {
    await this.wipe(fleet, s.name);
    await execa('sync');
    const egress0 = await fleet.adminEgressBytes();
    const ingress0 = await fleet.adminIngressBytes();
    const dc0 = await Promise.all(fleet.datacenters.map((dc) => fleet.dcUplinkBytes(dc)));
    const cpu0 = await machineCpu();
    const r = await timed('node', [CLI, `${APP}-${s.name}`], sudoEnv({ SLIPWAY_APPS: this.apps, SLIPWAY_ROOT: this.root, CI: '1' }), join(this.dir, 'time'), 1_800_000);
    const cpu1 = await machineCpu();
    const out = r.out;
    const failures = [...out.matchAll(/^\s+(\S+): not staged \((.*)\)/gm)].map((m) => `${m[1]}: ${m[2]}`);
    // a run that failed as a whole (not host by host) says nothing worth measuring
    if (r.exitCode !== 0 && !failures.length) throw new Error(`deploy ${APP}-${s.name} exited ${r.exitCode}:\n${out.split('\n').slice(-30).join('\n')}`);
    const adminEgressBytes = (await fleet.adminEgressBytes()) - egress0;
    const adminIngressBytes = (await fleet.adminIngressBytes()) - ingress0;
    const dc1 = await Promise.all(fleet.datacenters.map((dc) => fleet.dcUplinkBytes(dc)));
    const staged = [...out.matchAll(/\] staged r\d+ \(\d+ files?, ([0-9.]+) (B|kB|MB|GB) received([^)\n]*)\)/g)];
    const live = fleet.hosts.slice(0, size).filter((h) => existsSync(join(h.dataDir, 'www', APP, 'current', 'index.html'))).length;
    return {
      hosts: size,
      wallS: r.wallS,
      cpuS: r.cpuS,
      rssMB: r.rssMB,
      adminEgressBytes,
      adminIngressBytes,
      egressPerHost: adminEgressBytes / size,
      linkFloorS: (adminEgressBytes * 8) / rateBits(fleet.rates.admin),
      dcDownBytes: Object.fromEntries(fleet.datacenters.map((dc, i) => [dc, dc1[i]!.down - dc0[i]!.down])),
      receivedPerHost: staged.reduce((a, m) => a + parseSize(m[1]!, m[2]!), 0) / size,
      fromRelay: staged.filter((m) => m[3]!.includes('from relay')).length,
      live,
      machineBusy: (cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total || 1),
      exitCode: r.exitCode,
      failures,
      out,
    };
  }
}

function table(results: Record<string, Sample[]>, dcs: string[]): string {
  const rows: string[][] = [['hosts', 'scenario', 'runs', 'wall s', 'link floor s', 'admin egress MB', 'MB/host', 'rcvd MB/host', 'DC in MB (' + dcs.join('/') + ')', 'admin cpu s', 'rss MB', 'machine busy', 'live', 'exit', 'from relay']];
  for (const [key, samples] of Object.entries(results)) {
    const m = (f: (x: Sample) => number) => median(samples.map(f));
    const [hosts, name] = key.split(' ');
    rows.push([
      hosts!,
      name!,
      String(samples.length),
      m((x) => x.wallS).toFixed(1),
      m((x) => x.linkFloorS).toFixed(1),
      (m((x) => x.adminEgressBytes) / MB).toFixed(0),
      (m((x) => x.egressPerHost) / MB).toFixed(1),
      (m((x) => x.receivedPerHost) / MB).toFixed(1),
      dcs.map((dc) => (m((x) => x.dcDownBytes[dc] ?? 0) / MB).toFixed(0)).join(' / '),
      m((x) => x.cpuS).toFixed(1),
      m((x) => x.rssMB).toFixed(0),
      `${(m((x) => x.machineBusy) * 100).toFixed(0)}%`,
      `${m((x) => x.live)}/${hosts}`,
      samples.map((x) => x.exitCode).join(','),
      String(m((x) => x.fromRelay)),
    ]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build (make bench-shaped does)`);
  for (const r of Object.values(RATES)) rateBits(r);
  if (!SIZES.every((n) => Number.isInteger(n) && n >= 1 && n <= 250)) throw new Error(`SHAPED_HOSTS=${process.env.SHAPED_HOSTS}: expected fleet sizes from 1 to 250, like 100,200`);
  const scenarios = CHOSEN.length ? SCENARIOS.filter((s) => CHOSEN.includes(s.name)) : SCENARIOS;
  const unknown = CHOSEN.filter((c) => !SCENARIOS.some((s) => s.name === c));
  if (unknown.length || !scenarios.length) throw new Error(`SHAPED_SCENARIOS=${process.env.SHAPED_SCENARIOS}: expected some of ${SCENARIOS.map((s) => s.name).join(',')}`);
  const started = performance.now();
  const dir = await mkdtemp(join(DISK, 'slipway-bench-shaped-'));
  const hostsDir = await mkdtemp(join(hostsPlace(), 'slipway-bench-shaped-hosts-'));
  log(`the admin node in ${dir}, the hosts in ${hostsDir}`);
  const bench = new Bench(dir);
  let fleet: NetFleet | undefined;
  const cleanup = async () => {
    for (const child of running) {
      child.kill('SIGTERM');
      await child.catch(() => undefined);
    }
    await fleet?.down().catch((err: unknown) => log(`fleet down failed: ${String(err)}`));
    for (const d of [dir, hostsDir]) await rm(d, { recursive: true, force: true }).catch(() => undefined);
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // `on`, not `once`: execa's exit hook re-raises a signal that no other listener holds
    process.on(sig, () => {
      if (stopping) return;
      log(`${sig}: stopping the fleet`);
      stopping = cleanup().finally(() => process.exit(130));
    });
  }
  const results: Record<string, Sample[]> = {};
  const logs: Record<string, string> = {};
  let shaping = '';
  let datacenters: string[] = [];
  let treeBytes = 0;
  try {
    treeBytes = await bench.setup();
    log(`starting ${HOSTS} hosts in ${DCS} datacenters on ${PREFIX}.0.0/16`);
    const t0 = performance.now();
    fleet = await startNetFleet({ dir: join(hostsDir, 'fleet'), hosts: HOSTS, dcs: DCS, adminRate: RATES.admin, dcRate: RATES.dc, hostRate: RATES.host, prefix: PREFIX, timeout: 120 });
    shaping = fleet.shaping;
    datacenters = fleet.datacenters;
    log(`fleet up in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${shaping}`);
    if (WARMUP) {
      await bench.writeApp(fleet, HOSTS, scenarios);
      const w = await bench.deploy(fleet, HOSTS, scenarios[0]!);
      log(`warm-up (${HOSTS} hosts, ${scenarios[0]!.name}, unmeasured): ${w.wallS.toFixed(1)} s, ${w.live}/${HOSTS} live${w.failures.length ? `; not staged: ${byReason(w.failures)}` : ''}`);
    }
    for (const size of SIZES) {
      await bench.writeApp(fleet, size, scenarios);
      for (let rep = 0; rep < REPS; rep++) {
        // alternate the order, so that no scenario always goes first
        const order = rep % 2 ? [...scenarios].reverse() : scenarios;
        for (const s of order) {
          const { out, ...sample } = await bench.deploy(fleet, size, s);
          (results[`${size} ${s.name}`] ??= []).push(sample);
          logs[`${size} ${s.name}`] = out.split('\n').slice(-200).join('\n');
          log(
            `${size} hosts, ${s.name} #${rep + 1}: ${sample.wallS.toFixed(1)} s (link floor ${sample.linkFloorS.toFixed(1)} s), admin egress ${(sample.adminEgressBytes / MB).toFixed(0)} MB (${(sample.egressPerHost / MB).toFixed(1)} MB/host), cpu ${sample.cpuS.toFixed(1)} s, ${sample.live}/${size} live`,
          );
          if (sample.failures.length) log(`${size} hosts, ${s.name} #${rep + 1}: not staged: ${byReason(sample.failures)}`);
        }
      }
    }
    await bench.wipe(fleet, scenarios[0]!.name);
  } finally {
    if (!stopping) await cleanup();
  }
  const text = table(results, datacenters);
  const about = scenarios.map((s) => `  ${s.name}: ${s.about}`).join('\n');
  const failed = Object.entries(results).flatMap(([key, samples]) => samples.flatMap((x, i) => (x.failures.length ? [`  ${key} #${i + 1}: deploy exited ${x.exitCode}, ${x.live}/${x.hosts} live; not staged: ${byReason(x.failures)}`] : [])));
  const against = compare(results, treeBytes);
  process.stdout.write(
    `\nfirst deploy of the 44 MB synthetic app to ${SIZES.join(' then ')} hosts in ${DCS} datacenters (netns fleet)\n` +
      `shaping: ${shaping}${SSH_EXTRA ? `; app ssh settings: ${SSH_EXTRA}` : ''}\n\n${text}\n\n${about}\n` +
      (against.length ? `\n${against.join('\n')}\n` : '') +
      (failed.length ? `FAILED HOSTS:\n${failed.join('\n')}\n` : '') +
      `wall s: the whole \`deploy ${APP}-<scenario>\` run (update, release, ship); link floor s: the admin egress at the admin uplink's rate; ` +
      `admin egress: bytes the admin node sent into the fleet (its uplink's counter, frames with headers), MB/host that over the hosts; rcvd: what Slipway's per-host lines say each host received; MB = 10^6 bytes; DC in: bytes into each datacenter over its uplink; ` +
      `cpu: user+sys of the deploy's whole process tree; machine busy: the share of all ${os.cpus().length} cores' time spent busy during the run (the hosts' sshd and rsync run on them too); medians of ${REPS} run(s)${WARMUP ? ' after one unmeasured warm-up' : ''}.\n`,
  );
  if (OUT) {
    await writeFile(
      OUT,
      `${JSON.stringify({ date: new Date().toISOString(), machine: { cpus: os.cpus().length, load: os.loadavg() }, sizes: SIZES, dcs: DCS, rates: RATES, sshExtra: SSH_EXTRA, shaping, latency: 'none (tbf only, no netem)', reps: REPS, warmup: WARMUP, scenarios, table: text.split('\n'), against, results, lastLogLines: logs }, null, 2)}\n`,
    );
    log(`results in ${OUT}`);
  }
  log(`${((performance.now() - started) / 60000).toFixed(1)} min`);
}

/**
 * #21's targets, from the medians: each scenario's wall time against direct at the same size,
 * admin egress in trees, admin CPU per host at each size, and each scenario's wall time at the
 * largest size against the smallest.
 */
function compare(results: Record<string, Sample[]>, tree: number): string[] {
  const wall = (size: number, name: string) => (results[`${size} ${name}`] ? median(results[`${size} ${name}`]!.map((x) => x.wallS)) : undefined);
  const lines: string[] = [];
  const names = [...new Set(Object.keys(results).map((k) => k.split(' ')[1]!))];
  for (const size of SIZES) {
    const direct = wall(size, 'direct');
    for (const name of names) {
      const samples = results[`${size} ${name}`];
      if (!samples) continue;
      const w = median(samples.map((x) => x.wallS));
      const parts = [
        name !== 'direct' && direct ? `${(w / direct).toFixed(2)}x direct's wall` : '',
        `admin egress ${(median(samples.map((x) => x.adminEgressBytes)) / tree).toFixed(1)} trees`,
        `admin cpu ${((median(samples.map((x) => x.cpuS)) / size) * 1000).toFixed(0)} ms/host`,
      ].filter(Boolean);
      lines.push(`${size} hosts, ${name}: ${parts.join(', ')}`);
    }
  }
  const [small, large] = [Math.min(...SIZES), Math.max(...SIZES)];
  if (small !== large) {
    for (const name of names) {
      const [a, b] = [wall(small, name), wall(large, name)];
      if (a && b) lines.push(`${name}: wall at ${large} hosts ${(b / a).toFixed(2)}x its ${small}-host time`);
    }
  }
  return lines;
}

/** `host: reason` lines, one per reason with the hosts it hit: 200 hosts failing alike make one line. */
function byReason(failures: string[]): string {
  const hosts = new Map<string, string[]>();
  for (const f of failures) {
    const [host = '', ...rest] = f.split(': ');
    const reason = rest.join(': ');
    hosts.set(reason, [...(hosts.get(reason) ?? []), host]);
  }
  return [...hosts].map(([reason, names]) => `${names.slice(0, 5).join(', ')}${names.length > 5 ? ` and ${names.length - 5} more` : ''}: ${reason}`).join('; ');
}

/** Set by a signal: the run is being torn down and exits when that is done. */
let stopping: Promise<void> | undefined;

main().catch(async (err: unknown) => {
  if (stopping) return void (await stopping);
  process.stderr.write(`bench-shaped: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});

/**
 * Ship a release to every host of an env: stage everywhere first (each host
 * pulls through its own SSH connection), then switch `current` only if every
 * host staged. Hosts that fail before switching keep serving the old release.
 */
import { readFile } from 'node:fs/promises';
import type { AppEnv, Host } from '../config/resolve.js';
import { DeployFailedError, ExitCode, UsageError, errorMessage } from '../errors.js';
import { baseOf, type Delta, deltaBetween } from '../release-store/delta.js';
import { listReleases } from '../release-store/index.js';
import type { Release } from '../release-store/release.js';
import { type Reporter, step } from '../report/events.js';
import { onEachHost } from './fanout.js';
import { type KnownHostsFile, parseKnownHosts } from './known-hosts.js';
import { deltaInput, idOfDir, parseLines, parseRsyncStats, releaseDir, stageCmd, switchCmd, type TransferStats } from './remote.js';
import { type ReleaseServer, startReleaseServer } from './serve.js';
import { type Payload, payloadFor } from './payload.js';
import type { Preconnected } from './preconnect.js';
import { HostSession } from './ssh.js';

export interface HostReport {
  host: string;
  state: 'switched' | 'staged' | 'failed';
  previous?: string;
  transferred?: TransferStats;
  error?: string;
}

export interface Credentials {
  knownHosts: KnownHostsFile;
  privateKey: Buffer;
}

export async function loadCredentials(appEnv: AppEnv): Promise<Credentials> {
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new UsageError(`cannot read the ${what} ${path}: ${errorMessage(err)} (set ssh.${what === 'SSH key' ? 'key' : 'knownHosts'} in ${appEnv.file})`);
    }
  };
  const [key, known] = await Promise.all([read(appEnv.ssh.key, 'SSH key'), read(appEnv.ssh.knownHosts, 'known_hosts file')]);
  return { privateKey: key, knownHosts: parseKnownHosts(known.toString('utf8')) };
}

export function connect(host: Host, appEnv: AppEnv, creds: Credentials, reporter: Reporter): Promise<HostSession> {
  return step(reporter, host.name, 'connect', `connecting to ${host.address}`, () =>
    HostSession.open(host, { ssh: appEnv.ssh, ...creds }), () => `connected to ${host.address}:${host.port}`);
}

/** Stage a release on one host: the host pulls the export through a forwarded port. */
export async function stageOn(session: HostSession, appEnv: AppEnv, release: Release, server: ReleaseServer, reporter: Reporter, delta?: Delta, payload?: Payload) {
  return step(reporter, session.host.name, 'stage', `staging ${release.id}`, async () => {
    const forward = await session.forwardIn((stream) => server.serve(stream));
    try {
      // the port stays open even for a delta: a host without the base falls back to a full pull
      const cmd = stageCmd(appEnv.remote.path, release, forward.port, appEnv.ssh.commandTimeout, appEnv.remote.rsync, payload, appEnv.privateMode);
      const rest = payload?.tar ?? (delta ? deltaInput(delta) : '');
      const stdin = Buffer.concat([Buffer.from(`${server.secret}\n`), Buffer.from(rest)]);
      // the transfer has its own I/O timeout (rsync --timeout); this one only bounds a wedged script
      const result = await session.exec(cmd, { stdin, timeoutMs: 6 * 3600 * 1000 });
      if (result.code !== 0) throw new Error(`staging failed (exit ${result.code}): ${lastLine(result.stderr || result.stdout)}`);
      const lines = parseLines(result.stdout);
      const live = lines.get('live')?.[0]?.replace(/^none$/, '');
      const [from, via] = (lines.get('delta')?.[0] ?? '').split(' ');
      // a tar carries no rsync stats: what was sent is known here
      const sent = via === 'tar' && payload?.tar ? { files: payload.files, bytes: payload.tar.length } : undefined;
      return {
        previous: idOfDir(live) || undefined,
        present: lines.has('present'),
        /** Already serving this very release (REVISION checked): the switch has nothing to do. */
        live: lines.has('present') && live === releaseDir(release),
        transferred: sent ?? parseRsyncStats(result.stdout),
        from: idOfDir(from || undefined),
      };
    } finally {
      // not awaited: the listener is gone at once, and the cancel's round trip need not hold up the switch
      void forward.close();
    }
  }, (r) => (r.present ? `${release.id} already staged` : `staged ${release.id} (${r.transferred.files} files, ${formatBytes(r.transferred.bytes)} received${r.from ? `, delta from ${r.from}` : ''})`));
}

export async function switchOn(session: HostSession, appEnv: AppEnv, release: Release, reporter: Reporter): Promise<string[]> {
  return step(reporter, session.host.name, 'switch', `switching to ${release.id}`, async () => {
    const result = await session.exec(switchCmd(appEnv.remote.path, release, appEnv.remote.keepReleases));
    if (result.code !== 0 || !parseLines(result.stdout).has('switched')) {
      throw new Error(`switch failed (exit ${result.code}): ${lastLine(result.stderr || result.stdout)}`);
    }
    return (parseLines(result.stdout).get('pruned') ?? []).map((d) => idOfDir(d) ?? d);
  }, (pruned) => `live on ${release.id}${pruned.length ? ` (pruned ${pruned.join(', ')})` : ''}`);
}

export interface ShipOptions {
  exportDir: string;
  hosts?: readonly Host[];
  /** Connections opened earlier (see preconnect.ts); closed here like the others. */
  preconnected?: Preconnected;
}

/** Stage on all hosts, then switch all: the whole deploy fan-out. */
export async function shipRelease(appEnv: AppEnv, release: Release, reporter: Reporter, options: ShipOptions): Promise<HostReport[]> {
  const hosts = options.hosts ?? appEnv.hosts;
  const creds = await loadCredentials(appEnv);
  const base = baseOf(release, await listReleases(appEnv.paths.www));
  const delta = base && (await deltaBetween(appEnv.paths.www, base, release));
  const payload = delta && (await payloadFor(options.exportDir, delta));
  const server = await startReleaseServer(options.exportDir);
  const sessions = new Map<string, HostSession>();
  const reports = new Map<string, HostReport>(hosts.map((h) => [h.name, { host: h.name, state: 'failed' }]));
  try {
    const staged = await onEachHost(hosts, appEnv.parallel, async (host) => {
      const session = await (options.preconnected?.sessions.get(host.name) ?? connect(host, appEnv, creds, reporter));
      sessions.set(host.name, session);
      return stageOn(session, appEnv, release, server, reporter, delta, payload);
    });
    for (const s of staged) {
      const report = reports.get(s.host)!;
      if (s.ok) Object.assign(report, { state: 'staged', previous: s.value.previous, transferred: s.value.transferred });
      else report.error = s.error;
    }
    const failed = staged.filter((s) => !s.ok);
    if (failed.length) {
      reporter.emit({ kind: 'note', level: 'error', text: `staging failed on ${failed.map((f) => f.host).join(', ')}: no host was switched; every host still serves its previous release` });
      return [...reports.values()];
    }
    const live = new Set(staged.filter((s) => s.ok && s.value.live).map((s) => s.host));
    const switched = await onEachHost(hosts, appEnv.parallel, (host) =>
      live.has(host.name)
        ? step(reporter, host.name, 'switch', `switching to ${release.id}`, async () => [], () => `already live on ${release.id}`)
        : switchOn(sessions.get(host.name)!, appEnv, release, reporter),
    );
    for (const s of switched) {
      const report = reports.get(s.host)!;
      if (s.ok) report.state = 'switched';
      else Object.assign(report, { state: 'staged', error: s.error });
    }
    return [...reports.values()];
  } finally {
    for (const session of sessions.values()) session.close();
    await options.preconnected?.close();
    await server.close();
  }
}

/** Turn host reports into the run's verdict: throws naming every host that did not get the release. */
export function verifyAllSwitched(release: Release, reports: readonly HostReport[]): void {
  const bad = reports.filter((r) => r.state !== 'switched');
  if (!bad.length) return;
  const someSwitched = reports.some((r) => r.state === 'switched');
  const lines = bad.map((r) => `  ${r.host}: ${r.error ?? (r.state === 'staged' ? 'staged, not switched because staging failed elsewhere' : 'not switched')}`);
  throw new DeployFailedError(
    `${release.id} did not reach ${bad.length} of ${reports.length} hosts:\n${lines.join('\n')}` +
      (someSwitched ? `\nthe fleet is mixed: fix the hosts above and run the deploy again` : `\nno host was switched; the fleet still serves what it served before`),
    someSwitched ? ExitCode.partial : ExitCode.failed,
  );
}

function lastLine(text: string): string {
  return text.trim().split('\n').filter(Boolean).slice(-3).join(' / ') || 'no output';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} kB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

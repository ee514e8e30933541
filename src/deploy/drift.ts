/**
 * Does each host run what the store says is live, file for file? A host is
 * compared by a dry-run pull by checksum against the export of the live
 * release, over the same forwarded port a deploy pulls through: only file
 * names and checksums cross the wire, and every kind of hand change is seen
 * (edited, added, removed files, modes, symlinks).
 */
import type { AppEnv, Host } from '../config/resolve.js';
import type { Release } from '../release-store/release.js';
import { type Reporter, step } from '../report/events.js';
import { onEachHost, type Outcome } from './fanout.js';
import { forgetCmd, inspectCmd, repairCmd } from './remote.js';
import { type Drift, type KeptRelease, parseDrift, parseKept, parseLines, parseRsyncStats, type TransferStats } from './remote-output.js';
import { idOfDir } from './layout.js';
import { type ReleaseServer, startReleaseServer } from './stage/release-server.js';
import type { Connector, HostConnection } from '../exec/runner.js';
import { connect, envConnector } from './connect/connector.js';
import { formatBytes, lastLines, plural } from '../report/line.js';

export type Verdict = 'in-sync' | 'modified' | 'other-release' | 'no-release';

export interface HostTree {
  /** the release dir `current` names, if any */
  dir?: string;
  revision?: string;
  verdict: Verdict;
  drift: Drift[];
  /** The host's other releases that do not match their manifest (a rollback would restage them). */
  kept: KeptRelease[];
}

/** Read a host's live release and, if it is the live one, how its files differ. */
export async function inspectOn(session: HostConnection, appEnv: AppEnv, live: Release, server: ReleaseServer, reporter: Reporter): Promise<HostTree> {
  return step(reporter, session.host.name, 'inspect', `comparing with ${live.id}`, async () => {
    const forward = await session.forwardIn((stream) => server.serve(stream));
    try {
      const cmd = inspectCmd(appEnv.remote.path, live, forward.port, appEnv.ssh.commandTimeout, appEnv.remote.rsync);
      const result = await session.run(cmd, { input: `${server.secret}\n`, timeoutMs: 3600 * 1000, reject: false });
      const lines = parseLines(result.stdout);
      if (result.exitCode !== 0) throw new Error(`inspection failed (exit ${result.exitCode}): ${lastLines(result.stderr || result.stdout, 2, ' / ')}`);
      const dir = lines.get('live')?.[0] || undefined;
      const revision = lines.get('revision')?.[0];
      const drift = parseDrift(lines.get('drift') ?? []);
      const verdict: Verdict = !revision ? 'no-release' : revision !== live.commit ? 'other-release' : drift.length ? 'modified' : 'in-sync';
      return { dir, revision, verdict, drift, kept: parseKept(lines.get('kept') ?? []) };
    } finally {
      await forward.close();
    }
  }, (t) => describeTree(t, live));
}

export function describeTree(t: HostTree, live: Release): string {
  switch (t.verdict) {
    case 'in-sync':
      return `${live.id} intact`;
    case 'no-release':
      return 'serves no release';
    case 'other-release':
      return `serves ${idOfDir(t.dir) ?? 'an unknown release'}, not the live ${live.id}`;
    case 'modified':
      return `${live.id} changed by hand: ${summarizeDrift(t.drift)}`;
  }
}

export function summarizeDrift(drift: readonly Drift[], max = 5): string {
  const shown = drift.slice(0, max).map((d) => `${d.kind} ${d.path}`);
  return `${plural(drift.length, 'difference')}: ${shown.join(', ')}${drift.length > max ? ', …' : ''}`;
}

/** Put a fresh copy of the live release in place of a hand-changed one. */
export async function repairOn(session: HostConnection, appEnv: AppEnv, live: Release, server: ReleaseServer, reporter: Reporter): Promise<TransferStats> {
  return step(reporter, session.host.name, 'repair', `restaging ${live.id}`, async () => {
    const forward = await session.forwardIn((stream) => server.serve(stream));
    try {
      const cmd = repairCmd(appEnv.remote.path, live, forward.port, appEnv.ssh.commandTimeout, appEnv.remote.rsync);
      const result = await session.run(cmd, { input: `${server.secret}\n`, timeoutMs: 6 * 3600 * 1000, reject: false });
      if (result.exitCode !== 0 || !parseLines(result.stdout).has('repaired')) {
        throw new Error(`repair failed (exit ${result.exitCode}): ${lastLines(result.stderr || result.stdout, 2, ' / ')}`);
      }
      return parseRsyncStats(result.stdout);
    } finally {
      await forward.close();
    }
  }, (t) => `${live.id} restaged and live (${plural(t.files, 'file')}, ${formatBytes(t.bytes)} received)`);
}

/** Remove the host's non-live releases edited by hand, so a rollback stages them afresh; returns their ids. */
export async function forgetEditedOn(session: HostConnection, appEnv: AppEnv, reporter: Reporter): Promise<string[]> {
  return step(reporter, session.host.name, 'repair', 'removing kept releases edited by hand', async () => {
    const result = await session.run(forgetCmd(appEnv.remote.path), { reject: false });
    if (result.exitCode !== 0) throw new Error(`removing edited releases failed (exit ${result.exitCode}): ${lastLines(result.stderr || result.stdout, 2, ' / ')}`);
    return parseKept(parseLines(result.stdout).get('forgot') ?? []).map((k) => idOfDir(k.dir)!);
  }, (ids) => (ids.length ? `removed ${ids.join(', ')} (edited by hand): a rollback stages them again` : 'no kept release edited by hand'));
}

/** Connect to each host and work on it with a release server for `exportDir`; one result per host. */
export async function withEachHost<T>(
  appEnv: AppEnv,
  hosts: readonly Host[],
  exportDir: string,
  reporter: Reporter,
  work: (session: HostConnection, server: ReleaseServer) => Promise<T>,
  options: { connect?: Connector } = {},
): Promise<Outcome<T>[]> {
  const connector = options.connect ?? (await envConnector(appEnv));
  const server = await startReleaseServer(exportDir);
  try {
    return await onEachHost(hosts, appEnv.parallel, async (host) => {
      const session = await connect(host, connector, reporter);
      try {
        return await work(session, server);
      } finally {
        session.close();
      }
    });
  } finally {
    await server.close();
  }
}

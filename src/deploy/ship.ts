/**
 * Ship a release to every host of an env: stage everywhere first (each host
 * pulls through its own SSH connection), then, only if every host staged,
 * switch `current` phase by phase as the rollout plan says (rollout.ts).
 * Hosts that fail before switching keep serving the old release.
 */
import type { AppEnv, Host } from '../config/resolve.js';
import { DeployFailedError, ExitCode, type InterruptedError, errorMessage } from '../errors.js';
import type { Connector, HostConnection } from '../exec/runner.js';
import { listReleases } from '../release-store/index.js';
import type { Release } from '../release-store/release.js';
import { phase, type Reporter, step } from '../report/events.js';
import { HostSlots, onEachHost } from './fanout.js';
import { connect, envConnector } from './connect/connector.js';
import { buildPlan, type RolloutPlan } from './plan.js';
import { pruneCmd } from './remote.js';
import { parseLines, type TransferStats } from './remote-output.js';
import { idOfDir, releaseDir } from './layout.js';
import { runRollout } from './switch/rollout.js';
import { Relays } from './stage/relays.js';
import { HostLook } from './look.js';
import { rolloutVerdict } from './switch/verdict.js';
import type { SendAhead } from './stage/ahead.js';
import type { Preconnected } from './connect/preconnect.js';
import { Shipment, type StageResult } from './stage/stage.js';
import { lastLines } from '../report/line.js';

export interface HostReport {
  host: string;
  state: 'switched' | 'staged' | 'failed' | 'reverted';
  previous?: string;
  transferred?: TransferStats;
  error?: string;
}

/** What a ship did on every host, and why the rollout failed if it did. */
export interface Shipped {
  hosts: HostReport[];
  /**
   * The rollout's verdict when it failed (budget spent, interrupted, failures within the
   * budget); the caller throws it after recording every host's report.
   */
  failure?: DeployFailedError | InterruptedError;
}

export interface ShipOptions {
  /**
   * Where the release's exact files are on the admin node, made ready on first call: the
   * www tree when the release is its HEAD, else an export checkout. Not called at all when
   * every host already has the release.
   */
  tree: () => Promise<string>;
  /** The rollout to run once every host staged; default: the env's rollout over all its hosts. */
  plan?: RolloutPlan;
  /**
   * Interruption. While staging, open connections are closed at once (a partial
   * release is never served); once switching, no new host starts and hosts in
   * the middle of their switch finish it, so none is left half-done.
   */
  signal?: AbortSignal;
  /** Opens a host's connection; default: SSH with the env's key and known_hosts. */
  connect?: Connector;
  /** Connections opened earlier (see preconnect.ts); closed here like the others. */
  preconnected?: Preconnected;
  /** Every release in the store, if the caller has just read them. */
  releases?: readonly Release[];
  /** Trees sent ahead of the commit to hosts that had no release. */
  ahead?: SendAhead;
}

export function defaultPlan(appEnv: AppEnv, release: Pick<Release, 'id'>, hosts: readonly Host[] = appEnv.hosts, autoRevert?: boolean): RolloutPlan {
  return buildPlan({
    release: release.id,
    hosts,
    rollout: appEnv.rollout,
    roles: appEnv.roles,
    parallel: appEnv.parallel,
    remotePath: appEnv.remote.path,
    keepReleases: appEnv.remote.keepReleases,
    autoRevert,
  });
}

/** Stage on all hosts, then roll out phase by phase: the whole deploy fan-out. */
export async function shipRelease(appEnv: AppEnv, release: Release, reporter: Reporter, options: ShipOptions): Promise<Shipped> {
  const plan = options.plan ?? defaultPlan(appEnv, release);
  const hosts = plan.hosts;
  const connector = options.connect ?? (await (options.preconnected?.connector ?? envConnector(appEnv)));
  // one bound for the run: what was opened early, what is sent ahead and what is staged here
  const slots = options.preconnected?.slots ?? new HostSlots(appEnv.parallel);
  const relays = appEnv.relays !== undefined ? new Relays(appEnv, hosts, releaseDir(release), reporter) : undefined;
  const shipment = new Shipment(appEnv, release, options.tree, options.releases ?? (await listReleases(appEnv.paths.www)), options.ahead, slots, relays);
  const sessions = new Map<string, HostConnection>();
  const looks = new Map<string, HostLook>();
  const reports = new Map<string, HostReport>(hosts.map((h) => [h.name, { host: h.name, state: 'failed' }]));
  const signal = options.signal;
  // an interruption closes every connection: commands running on them fail at once
  const stop = () => {
    for (const session of sessions.values()) session.close(`interrupted by ${String(signal?.reason)}`);
  };
  signal?.addEventListener('abort', stop, { once: true });
  try {
    const failedHosts = (outcomes: { host: string; ok: boolean }[]) => outcomes.filter((o) => !o.ok).map((o) => o.host);
    const staged = await phase(reporter, 'stage', () => onEachHost(relays ? relays.order(hosts) : hosts, appEnv.parallel, async (host) => {
      const session = await (options.preconnected?.sessions.get(host.name) ?? slots.run(() => connect(host, connector, reporter)));
      sessions.set(host.name, session);
      if (signal?.aborted) throw new Error(`interrupted by ${String(signal.reason)} before staging`);
      let look = await options.preconnected?.looks.get(host.name);
      if (!look) {
        // a look of its own is a host operation like the connect: it holds a slot until the host answered
        const opened = HostLook.open(session, appEnv);
        look = opened;
        await slots.run(() => opened.state.catch(() => undefined));
      }
      looks.set(host.name, look);
      // what the host has decides what it is sent; without a look the host decides
      const state = await look.state.catch(() => undefined);
      if (!relays?.isRelay(host.name)) return shipment.stageOn(session, state, reporter);
      // a relay serves its datacenter once it has the release, or tells its hosts to go elsewhere
      const result = await shipment.stageOn(session, state, reporter).catch((err: unknown) => {
        relays.start(session, false);
        throw err;
      });
      relays.start(session, true);
      return result;
    }, { signal }), failedHosts);
    await relays?.close();
    signal?.removeEventListener('abort', stop);
    for (const s of staged) {
      const report = reports.get(s.host)!;
      if (s.ok) Object.assign(report, { state: 'staged', previous: s.value.previous, transferred: s.value.transferred });
      else report.error = s.error;
    }
    const failed = staged.filter((s) => !s.ok);
    if (failed.length) {
      reporter.emit({ kind: 'note', level: 'error', text: `staging failed on ${failed.map((f) => f.host).join(', ')}: no host was switched; every host still serves its previous release (to go ahead without them: --exclude-hosts ${failed.map((f) => f.host).join(',')})` });
      return { hosts: [...reports.values()] };
    }
    if (signal?.aborted) return { hosts: [...reports.values()] };
    const dir = releaseDir(release);
    const before = new Map(staged.map((s) => [s.host, s.ok ? s.value.previousDir : undefined]));
    const result = await phase(reporter, 'switch', () => runRollout(plan, { appEnv, dir, sessions, looks, before, reporter, signal: options.signal }), (r) =>
      [...r.hosts.values()].filter((h) => h.failure).map((h) => h.host));
    for (const run of result.hosts.values()) {
      const report = reports.get(run.host)!;
      // a host that failed is `failed` whatever it serves now, as in run.finish; its error says the rest
      report.state = run.failure ? 'failed' : run.serving === dir ? 'switched' : run.revert === 'done' ? 'reverted' : 'staged';
      if (run.failure) report.error = `${run.failure.phase}: ${run.failure.error}${run.revertError ? `; revert failed: ${run.revertError}` : ''}`;
    }
    const failure = rolloutVerdict(plan, result, { target: `${appEnv.app}-${appEnv.env}`, dir });
    if (failure) return { hosts: [...reports.values()], failure };
    // a host that got no new release directory, or holds no more than keepReleases with it
    // (one built in a spare's tree replaced that spare), has nothing to prune: one round trip saved
    const keep = appEnv.remote.keepReleases;
    const holding = (s: StageResult) => (s.held === undefined ? Infinity : s.held + (s.reused ? 0 : 1));
    const grew = new Set(staged.filter((s) => s.ok && !s.value.present && holding(s.value) > keep).map((s) => s.host));
    await onEachHost(hosts.filter((h) => grew.has(h.name)), appEnv.parallel, (host) => pruneOn(sessions.get(host.name)!, appEnv, reporter, looks.get(host.name)), { slots });
    return { hosts: [...reports.values()] };
  } finally {
    signal?.removeEventListener('abort', stop);
    for (const look of looks.values()) look.close();
    for (const session of sessions.values()) session.close();
    await relays?.close();
    options.preconnected?.close();
    await shipment.close();
  }
}

/**
 * Prune old releases on one host; run only after the whole rollout succeeded, so a revert always
 * finds its release. Through the look that switched the host when it can (no new session), else
 * a command of its own. A host that cannot prune (it stopped answering, say) still serves the
 * release: a warning, not a failure; the next deploy prunes it.
 */
export async function pruneOn(session: HostConnection, appEnv: AppEnv, reporter: Reporter, look?: HostLook): Promise<string[]> {
  const host = session.host.name;
  reporter.emit({ kind: 'step', host, step: 'prune', state: 'start', text: 'pruning old releases' });
  const started = performance.now();
  try {
    const keep = appEnv.remote.keepReleases;
    const result = await (look?.prune(keep) ?? session.run(pruneCmd(appEnv.remote.path, keep), { reject: false }));
    if (result.exitCode !== 0) throw new Error(`pruning failed (exit ${result.exitCode}): ${lastLines(result.stderr || result.stdout, 3, ' / ') || 'no output'}`);
    const pruned = (parseLines(result.stdout).get('pruned') ?? []).map((d) => idOfDir(d) ?? d);
    reporter.emit({ kind: 'step', host, step: 'prune', state: 'done', text: pruned.length ? `pruned ${pruned.join(', ')}` : 'nothing to prune', ms: performance.now() - started });
    return pruned;
  } catch (err) {
    const why = errorMessage(err).replace(`${host}: `, '');
    reporter.emit({ kind: 'step', host, step: 'prune', state: 'skip', text: `old releases not pruned: ${why}`, ms: performance.now() - started });
    reporter.emit({ kind: 'note', level: 'warn', text: `${host}: serves the release, but its old releases were not pruned (${why}); the next deploy prunes them` });
    return [];
  }
}


/** One line per host: what it serves now and what, if anything, is staged there. */
export function describeHostStates(release: Release, reports: readonly HostReport[]): string[] {
  return reports.map((r) => {
    if (r.state === 'switched') return `  ${r.host}: switched, serves ${release.id}`;
    const serves = r.previous ? `still serves ${r.previous}` : 'still serves its previous release';
    if (r.state === 'staged') return `  ${r.host}: ${release.id} staged but not switched${r.error ? ` (${r.error})` : ''}; ${serves}`;
    return `  ${r.host}: not staged (${r.error ?? 'failed'}); ${serves}`;
  });
}

/** Turn host reports into the run's verdict: throws naming every host that did not get the release. */
export function verifyAllSwitched(release: Release, reports: readonly HostReport[]): void {
  const bad = reports.filter((r) => r.state !== 'switched');
  if (!bad.length) return;
  const someSwitched = reports.some((r) => r.state === 'switched');
  const lines = bad.map((r) => `  ${r.host}: ${r.error ?? (r.state === 'staged' ? 'staged, not switched because staging failed elsewhere' : 'not switched')}`);
  throw new DeployFailedError(
    `${release.id} did not reach ${bad.length} of ${reports.length} hosts:\n${lines.join('\n')}` +
      (someSwitched ? `\nthe fleet is mixed: fix the hosts above and run the deploy again` : `\nno host was switched; the fleet still serves what it served before`) +
      `\nhost states:\n${describeHostStates(release, reports).join('\n')}`,
    someSwitched ? ExitCode.partial : ExitCode.failed,
  );
}

/**
 * Staging one release on many hosts. Each host is sent only what it lacks, judged
 * from its look (what it had when the run connected):
 *   the release, intact     nothing: it is already staged (or already live)
 *   some other release      the paths that differ from it (its live one if it can): one
 *                           tar for small deltas, or an rsync of the list for big ones;
 *                           a small tar from a spare release instead (one the prune after
 *                           this deploy would remove), applied in that release's own tree
 *   no release at all       one tar of the whole tree, built once, streamed to every such host
 * The stage script checks again on the host; a tar that no longer fits the host (its
 * base changed since the look) is refused there, and the host is staged with rsync,
 * which hard-links whatever the host already has. Without a look, the host decides.
 * Every source (the tree, the tars, the rsync daemon) is prepared once, on first need.
 */
import { mkdir, rm } from 'node:fs/promises';
import type { AppEnv } from '../../config/resolve.js';
import { baseOf, deltaBetween, releasePaths, releaseSizes } from '../../release-store/delta.js';
import type { Release } from '../../release-store/release.js';
import { type Reporter, step } from '../../report/events.js';
import type { SendAhead } from './ahead.js';
import { type FullTar, deltaTar, fullTar, sliced } from './payload.js';
import { type Transfer, withTransfer } from '../../report/progress.js';
import type { RunResult } from '../../exec/runner.js';
import { type StagePayload, FALL_BACK_TO_RSYNC, deltaInput, stageCmd } from '../remote.js';
import { type HostState, type TransferStats, describeKept, holds, parseKept, parseLines, parseRsyncStats } from '../remote-output.js';
import { idOfDir, releaseDir } from '../layout.js';
import { type ReleaseServer, startReleaseServer } from './release-server.js';
import type { RelayEndpoint, Relays } from './relays.js';
import { HostSlots } from '../fanout.js';
import type { HostConnection } from '../../exec/runner.js';
import { formatBytes, lastLines, plural } from '../../report/line.js';

export interface StageResult {
  /** The release the host served before (id and directory). */
  previous?: string;
  previousDir?: string;
  /** The release was there already: nothing was sent. */
  present: boolean;
  /** Already serving this very release: the switch has nothing to do. */
  live: boolean;
  transferred: TransferStats;
  /** The release a delta was applied to. */
  from?: string;
  /** The delta was applied in `from`'s own tree, renamed into place (a spare release). */
  reused?: boolean;
  /** How many releases the host held before (from its look; undefined: not looked at). */
  held?: number;
  /** The tree was sent before the commit (ahead.ts). */
  ahead?: boolean;
  /** The host held the release, but not intact (or not checkable): why it was staged again. */
  restaged?: string;
  /** The relay it pulled the release from (none: from the admin node). */
  relay?: string;
}

/**
 * A payload with what travels on stdin (the tar, or the list of paths for rsync), or what was
 * sent ahead; `total`: the bytes an rsync pull will move, when the store can tell (for progress);
 * `whole`: the host has no release, so an rsync pull moves the whole tree.
 */
type Payload = StagePayload & { tar?: Buffer; files?: number; paths?: string; bytes?: number; total?: number; whole?: boolean };
type Choice = { kind: 'present' } | Payload;
/** One run of the stage script: its result, and what it was sent when the admin side knows (tars). */
type Sent = { result: RunResult; sent: TransferStats | undefined };

export class Shipment {
  private readonly dir: string;
  private treeDir?: Promise<string>;
  /** Per base release id: what a host holding that base is sent. */
  private readonly deltas = new Map<string, Promise<Payload>>();
  private full?: Promise<FullTar>;
  private server?: Promise<ReleaseServer>;
  private sizes?: Promise<Map<string, number>>;

  /**
   * tree: where the release's exact files are on the admin node (the www tree when the
   * release is its HEAD, else an export checkout), made ready on first call.
   * releases: every release in the store, to find one a host holds to build a delta on.
   */
  constructor(
    private readonly appEnv: AppEnv,
    private readonly release: Release,
    private readonly tree: () => Promise<string>,
    private readonly releases: readonly Release[],
    /** Trees sent to hosts before the release was committed (see ahead.ts). */
    private readonly ahead?: SendAhead,
    /** The run's bound on host operations; a host holds a slot while it is sent its payload. */
    private readonly slots = new HostSlots(appEnv.parallel),
    /** Hosts pulling from a relay of their datacenter (relays.ts). */
    private readonly relays?: Relays,
  ) {
    this.dir = releaseDir(release);
  }

  private files(): Promise<string> {
    return (this.treeDir ??= this.tree());
  }

  private fullTarFile(): string {
    return this.appEnv.paths.shipTar;
  }

  /** The release a delta for this host starts from: the one it serves if it holds it, else the newest it holds. */
  baseFor(state: HostState | undefined): Release | undefined {
    if (!state) return baseOf(this.release, this.releases);
    const held = this.releases.filter((r) => r.id !== this.release.id && holds(state, r));
    return held.find((r) => releaseDir(r) === state.live) ?? held.sort((a, b) => b.number - a.number)[0];
  }

  /** What a host in this state is sent. */
  async choose(state: HostState | undefined, host?: string): Promise<Choice> {
    // a kept release the look did not check goes through the stage script, which checks it (and restages it if edited)
    if (state && holds(state, this.release) && !state.unchecked?.has(this.dir)) return { kind: 'present' };
    if (state && !state.have.size) {
      const sent = host && (await this.ahead?.sentFor(host, this.release));
      if (sent && this.ahead) return { kind: 'ahead', token: this.ahead.token, files: sent.files, bytes: sent.bytes };
      return this.appEnv.remote.transfer === 'rsync' ? { kind: 'rsync', whole: true } : { kind: 'full' };
    }
    const base = this.baseFor(state);
    if (!base) return { kind: 'rsync' };
    const p = await this.payloadFrom(base);
    // without a look a tar might not fit the host; a list falls back to a full pull there
    if (!state) return p.kind === 'tar' ? { kind: 'list', from: base, paths: p.paths, total: p.total } : p;
    const spare = this.spareFor(state);
    if (p.kind !== 'tar' || !spare) return p;
    const q = await this.payloadFrom(spare);
    return q.kind === 'tar' && (await this.worthReusing(q, p)) ? { ...q, reuse: true } : p;
  }

  /** Is a spare release's delta small enough, next to the live one's, to be applied in its tree (REUSE_LIMITS)? */
  private async worthReusing(spare: Payload & { kind: 'tar' }, live: Payload & { kind: 'tar' }): Promise<boolean> {
    const paths = (p: Payload & { kind: 'tar' }) => (p.files ?? 0) + p.deleted.length;
    const extraPaths = paths(spare) - paths(live);
    const extraBytes = (spare.tar?.length ?? 0) - (live.tar?.length ?? 0);
    if (extraPaths <= 0 && extraBytes <= 0) return true;
    const files = (await this.pathSizes())?.size ?? 0;
    return extraPaths * REUSE_LIMITS.filesPerExtraPath <= files && extraBytes <= files * REUSE_LIMITS.extraBytesPerFile;
  }

  private payloadFrom(base: Release): Promise<Payload> {
    let payload = this.deltas.get(base.id);
    if (!payload) this.deltas.set(base.id, (payload = this.deltaFrom(base)));
    return payload;
  }

  /**
   * The newest of the host's spare releases (its prune after this deploy would remove them)
   * that it holds and the store has; none for a release older than one the host holds (a
   * rollback's prune keeps more than a deploy's).
   */
  spareFor(state: HostState): Release | undefined {
    if (!state.spare?.size) return undefined;
    if (this.releases.some((r) => r.number >= this.release.number && r.id !== this.release.id && holds(state, r))) return undefined;
    return this.releases.filter((r) => state.spare!.has(releaseDir(r)) && holds(state, r)).sort((a, b) => b.number - a.number)[0];
  }

  private async deltaFrom(base: Release): Promise<Payload> {
    const delta = await deltaBetween(this.appEnv.paths.www, base, this.release);
    if (!delta) return { kind: 'rsync' };
    const paths = deltaInput(delta);
    if (this.appEnv.remote.transfer !== 'rsync') {
      const tar = await deltaTar(await this.files(), delta);
      // the paths' bytes, should a host pull them from its relay instead (its deadline)
      if (tar) return { kind: 'tar', from: base, deleted: delta.deleted, tar, files: delta.changed.length, paths, total: this.relays ? await this.bytesOf(delta.changed) : undefined };
    }
    return { kind: 'list', from: base, paths, total: await this.bytesOf(delta.changed) };
  }

  /** Every path of the release with its size, read from the store once; undefined if it cannot tell. */
  private pathSizes(): Promise<Map<string, number> | undefined> {
    return (this.sizes ??= releaseSizes(this.appEnv.paths.www, this.release)).catch(() => undefined);
  }

  /** The bytes of these paths of the release (all of them without a list), from the store; undefined if it cannot tell. */
  private async bytesOf(paths?: readonly string[]): Promise<number | undefined> {
    const sizes = await this.pathSizes();
    if (!sizes) return undefined;
    let total = 0;
    for (const size of paths ? paths.map((p) => sizes.get(p) ?? 0) : sizes.values()) total += size;
    return total;
  }

  /** Stage the release on one host; `state` is its look's (undefined: none). */
  stageOn(session: HostConnection, state: HostState | undefined, reporter: Reporter): Promise<StageResult> {
    const { release } = this;
    return step(reporter, session.host.name, 'stage', `staging ${release.id}`, async () => {
      const choice = await this.choose(state, session.host.name);
      const held = state && state.have.size + (state.edited?.length ?? 0);
      if (choice.kind === 'present') {
        return { previous: idOfDir(state?.live), previousDir: state?.live, present: true, live: state?.live === this.dir, transferred: { files: 0, bytes: 0 }, held };
      }
      const relay = await this.relays?.endpointFor(session.host.name);
      let run = relay ? await this.fromRelay(session, choice, relay, reporter) : undefined;
      run ??= await this.slots.run(() => this.send(session, choice, reporter));
      const [edited] = parseKept(parseLines(run.result.stdout).get('edited') ?? []);
      if (edited) reporter.emit({ kind: 'note', level: 'warn', text: `${session.host.name}: ${release.id} ${describeKept(edited)}: staging it again` });
      // the host changed since its look: a tar no longer fits, rsync takes what it has into account
      if (run.result.exitCode === FALL_BACK_TO_RSYNC) run = await this.slots.run(() => this.send(session, { kind: 'rsync' }, reporter));
      const { result, sent } = run;
      if (result.exitCode !== 0) throw new Error(`staging failed (exit ${result.exitCode}): ${explainStageFailure(lastLines(result.stderr || result.stdout, 3, ' / ') || 'no output')}`);
      const lines = parseLines(result.stdout);
      const live = lines.get('live')?.[0]?.replace(/^none$/, '') || undefined;
      const present = lines.has('present');
      const [from] = (lines.get('delta')?.[0] ?? '').split(' ');
      const reused = !!from && lines.get('reused')?.[0] === from;
      return {
        previous: idOfDir(live),
        previousDir: live,
        present,
        live: present && live === this.dir,
        transferred: present ? { files: 0, bytes: 0 } : (sent ?? parseRsyncStats(result.stdout)),
        from: idOfDir(from || undefined),
        ...(reused ? { reused } : {}),
        held,
        ahead: lines.has('ahead'),
        ...(edited ? { restaged: `${release.id} ${describeKept(edited)}: staged again` } : {}),
        ...(run.relay ? { relay: run.relay } : {}),
      };
    }, (r) => (r.present ? `${release.id} already staged` : `${r.restaged ? `${r.restaged}; ` : ''}staged ${release.id} (${plural(r.transferred.files, 'file')}, ${formatBytes(r.transferred.bytes)} received${r.relay ? ` from relay ${r.relay}` : ''}${r.from ? `, delta from ${r.from}${r.reused ? ' in its own tree' : ''}` : ''}${r.ahead ? ', sent while the release was committed' : ''})`), (r) => r.transferred);
  }

  /**
   * Pull the release from the datacenter's relay: the whole tree (hard-linking what the host
   * has) or, for a host holding a base, the paths that differ. A pull that fails drops the
   * relay, and this host tries another relay of its datacenter, then the admin node
   * (undefined then).
   */
  private async fromRelay(session: HostConnection, choice: Payload, first: RelayEndpoint, reporter: Reporter): Promise<Sent & { relay?: string } | undefined> {
    const host = session.host.name;
    const payload: Payload = choice.kind === 'tar' || choice.kind === 'list' ? { kind: 'list', from: choice.from, reuse: choice.reuse, paths: choice.paths, total: choice.total } : { kind: 'rsync', whole: true };
    // a relay that is slow, not only one that stalls (rsync's --timeout), is given up on
    const bytes = payload.kind === 'list' ? payload.total : await this.bytesOf();
    const deadline = bytes === undefined ? undefined : relayDeadline(bytes, this.appEnv.relayMinRate);
    const tried = new Set<string>();
    for (let relay: RelayEndpoint | undefined = first; relay; ) {
      tried.add(relay.name);
      const run = await this.slots.run(() => this.send(session, payload, reporter, { ...relay!, deadline }));
      if (run.result.exitCode === 0) return { ...run, relay: relay.name };
      const why = run.result.exitCode === PULL_DEADLINE && deadline
        ? `too slow: not done within ${deadline} s, under ${formatBytes(this.appEnv.relayMinRate)}/s`
        : lastLines(run.result.stderr || run.result.stdout, 2, ' / ') || `exit ${run.result.exitCode}`;
      this.relays?.drop(relay.name, why);
      const next: RelayEndpoint | undefined = await this.relays?.endpointFor(host, tried);
      reporter.emit({ kind: 'note', level: 'warn', text: `${host}: pulling from relay ${relay.name} failed (${why}): pulling from ${next ? `relay ${next.name}` : 'the admin node'} instead` });
      relay = next;
    }
    return undefined;
  }

  /**
   * Run the stage script once with this payload; a tar's size is known here (rsync reports
   * its own). What the host is handed is counted, for the progress of long transfers.
   */
  private async send(session: HostConnection, payload: Payload, reporter: Reporter, relay?: RelayEndpoint & { deadline?: number }): Promise<Sent> {
    const { appEnv, release } = this;
    const transfer = (total: number | undefined, body: (t: Transfer) => Promise<Sent>) => withTransfer(reporter, session.host.name, `staging ${release.id}`, total, body);
    const options = { group: appEnv.privateGroup, mode: appEnv.privateMode, payload };
    const stage = (port: number | string) => stageCmd(appEnv.remote.path, release, port, appEnv.ssh.commandTimeout, appEnv.remote.rsync, { ...options, deadline: relay?.deadline });
    // the transfer has its own I/O timeout (rsync --timeout, SSH keepalives); this one only bounds a wedged script
    const timeoutMs = 6 * 3600 * 1000;
    if (payload.kind === 'full') {
      const tar = await (this.full ??= this.makeFullTar());
      return transfer(tar.bytes, async (t) => {
        const result = await session.run(stage(0), { input: tar.stream((n) => t.add(n)), timeoutMs, reject: false });
        return { result, sent: { files: tar.files, bytes: tar.bytes } };
      });
    }
    if (payload.kind === 'ahead') {
      const result = await session.run(stage(0), { timeoutMs, reject: false });
      return { result, sent: { files: payload.files ?? 0, bytes: payload.bytes ?? 0 } };
    }
    if (payload.kind === 'tar') {
      const tar = payload.tar!;
      return transfer(tar.length, async (t) => {
        const result = await session.run(stage(0), { input: sliced(tar, (n) => t.add(n)), timeoutMs, reject: false });
        return { result, sent: { files: payload.files ?? 0, bytes: tar.length } };
      });
    }
    const total = payload.total ?? (payload.whole ? await this.bytesOf() : undefined);
    // rsync pulls: the secret, then the paths of a list, on the stage script's stdin
    const pull = async (from: number | string, secret: string): Promise<Sent> => {
      const list = payload.kind === 'list' ? payload.paths : '';
      return { result: await session.run(stage(from), { input: `${secret}\n${list}`, timeoutMs, reject: false }), sent: undefined };
    };
    // from the datacenter's relay, or from the admin node through a port forwarded over this connection
    if (relay) return transfer(total, () => pull(relay.endpoint, relay.secret));
    const server = await (this.server ??= this.files().then((dir) => startReleaseServer(dir)));
    return transfer(total, async (t) => {
      const forward = await session.forwardIn((stream) => server.serve(stream, (n) => t.add(n)));
      try {
        return await pull(forward.port, server.secret);
      } finally {
        // not awaited: the listener is gone at once, and the cancel's round trip need not hold up the switch
        void forward.close();
      }
    });
  }

  /** The tar sent ahead when it is this release's tree (a host whose transfer failed), else one built here. */
  private async makeFullTar(): Promise<FullTar> {
    const ahead = await this.ahead?.tarFor(this.release);
    if (ahead) return ahead;
    const [tree, paths] = await Promise.all([this.files(), releasePaths(this.appEnv.paths.www, this.release)]);
    await mkdir(this.appEnv.paths.state, { recursive: true });
    return fullTar(tree, paths, this.fullTarFile());
  }

  async close(): Promise<void> {
    if (this.server) await this.server.then((s) => s.close(), () => undefined);
    // the tar sent ahead is SendAhead's to remove
    if (this.full && (await this.full.catch(() => undefined))?.file === this.fullTarFile()) await rm(this.fullTarFile(), { force: true });
  }
}

/** stage.sh's exit when a pull did not end within its deadline (timeout(1)'s status). */
const PULL_DEADLINE = 124;
/** Connecting to a relay and listing the tree take this long before the bytes are counted. */
const RELAY_GRACE_S = 10;

/** Seconds a pull of `bytes` from a relay may take before the relay counts as too slow. */
export function relayDeadline(bytes: number, minRate: number): number {
  return RELAY_GRACE_S + Math.ceil(bytes / minRate);
}

/** A host's own words for a full disk (dash says `printf: printf: I/O error`), said plainly. */
export function explainStageFailure(reason: string): string {
  return /No space left on device|Disk quota exceeded|I\/O error|write failed/i.test(reason)
    ? `this host could not write its release: is its disk full? (${reason})`
    : reason;
}

/**
 * What reusing a spare release's tree may cost, per file of the release: reusing saves each
 * host a link per file now and an unlink per file at the prune (some 20 µs a file, measured
 * in docs/benchmark.md), but its delta may be bigger than the live release's. Every extra path
 * is a file to write instead of a link; every extra byte goes to every host through the admin
 * node's link (at 1 Gbit/s shared by 20 hosts, 20 µs is some 125 bytes).
 */
export const REUSE_LIMITS = { filesPerExtraPath: 4, extraBytesPerFile: 128 };

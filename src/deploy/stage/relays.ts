/**
 * Relays: per datacenter, one or more hosts pull the release from the admin node once, then
 * serve it for this run (remote/relay.sh: rsync --daemon on the datacenter-facing address,
 * read-only, behind a secret of the relay's own for this run) to the datacenter's other hosts, which pull it from
 * there. The admin node keeps the control plane (every host's SSH connection, the
 * stage-all-then-switch gate) and sends each byte once per relay, not once per host. A
 * relay that fails, is too slow, or fails a host mid-transfer, is dropped: its hosts pull
 * from another relay of their datacenter, or from the admin node as without relays.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { AppEnv, Host } from '../../config/resolve.js';
import type { HostConnection } from '../../exec/runner.js';
import { type Reporter, step } from '../../report/events.js';
import { errorMessage } from '../../errors.js';
import { lastLines } from '../../report/line.js';
import { relayCmd } from '../remote.js';

/**
 * Each host's relay (by name), for the hosts of a run; a relay and a host with no datacenter
 * have none. `peers`: each relay's others in its datacenter, which its hosts try when it fails.
 */
export function relayAssignments(hosts: readonly Host[], relays: number | readonly string[] | undefined): { relays: Host[]; relayOf: Map<string, string>; peers: Map<string, string[]> } {
  const relayOf = new Map<string, string>();
  const peers = new Map<string, string[]>();
  if (relays === undefined) return { relays: [], relayOf, peers };
  const byDc = new Map<string, Host[]>();
  for (const h of hosts) if (h.datacenter) byDc.set(h.datacenter, [...(byDc.get(h.datacenter) ?? []), h]);
  const chosen: Host[] = [];
  for (const members of byDc.values()) {
    const mine = typeof relays === 'number' ? members.slice(0, relays) : members.filter((h) => relays.includes(h.name));
    // a datacenter of relays only has nobody to serve
    if (!mine.length || mine.length === members.length) continue;
    chosen.push(...mine);
    for (const r of mine) peers.set(r.name, mine.filter((o) => o !== r).map((o) => o.name));
    // the datacenter's other hosts, spread over its relays in turn
    members.filter((h) => !mine.includes(h)).forEach((h, i) => relayOf.set(h.name, mine[i % mine.length]!.name));
  }
  return { relays: chosen, relayOf, peers };
}

/** Each relay of these hosts, its datacenter and the hosts it serves (for `deploy plan`). */
export function plannedRelays(hosts: readonly Host[], relays: number | readonly string[] | undefined): { name: string; datacenter: string; serves: string[] }[] {
  const { relays: chosen, relayOf } = relayAssignments(hosts, relays);
  return chosen.map((r) => ({ name: r.name, datacenter: r.datacenter ?? '', serves: [...relayOf].filter(([, of]) => of === r.name).map(([h]) => h) }));
}

/** What a host needs to pull from its relay. */
export interface RelayEndpoint {
  name: string;
  /** `address:port` of the relay's daemon. */
  endpoint: string;
  secret: string;
}

interface Serving {
  ready: Promise<RelayEndpoint>;
  input: PassThrough;
  failed?: string;
  /** The relay's command, ended once its daemon is gone. */
  ended?: Promise<unknown>;
}

export class Relays {
  private readonly serving = new Map<string, Serving>();
  private readonly waiting = new Map<string, { resolve: (s: Serving) => void; promise: Promise<Serving> }>();
  readonly relays: Host[];
  private readonly relayOf: Map<string, string>;
  private readonly peers: Map<string, string[]>;

  constructor(
    private readonly appEnv: AppEnv,
    hosts: readonly Host[],
    private readonly dir: string,
    private readonly reporter: Reporter,
  ) {
    ({ relays: this.relays, relayOf: this.relayOf, peers: this.peers } = relayAssignments(hosts, appEnv.relays));
    for (const r of this.relays) {
      let resolve!: (s: Serving) => void;
      const promise = new Promise<Serving>((res) => (resolve = res));
      this.waiting.set(r.name, { resolve, promise });
    }
  }

  isRelay(host: string): boolean {
    return this.waiting.has(host);
  }

  /** Hosts that pull from a relay: the send-ahead leaves them out. */
  pullsFromRelay(host: string): boolean {
    return this.relayOf.has(host);
  }

  /** Relays first: a host waiting for its relay must not hold a place the relay needs to stage. */
  order<T extends { name: string }>(hosts: readonly T[]): T[] {
    return [...hosts.filter((h) => this.isRelay(h.name)), ...hosts.filter((h) => !this.isRelay(h.name))];
  }

  /** Once the relay has staged the release: start serving it (or say it failed, so its hosts go to the admin node). */
  start(session: HostConnection | undefined, staged: boolean): void {
    const name = session?.host.name;
    const wait = name ? this.waiting.get(name) : undefined;
    if (!wait || !name) return;
    const input = new PassThrough();
    if (!staged || !session) {
      wait.resolve({ ready: refused('it could not stage the release'), input, failed: 'it could not stage the release' });
      return;
    }
    const members = [...this.relayOf.values()].filter((r) => r === name).length;
    // a secret per relay, given only to its own datacenter's hosts over their SSH connections
    const secret = randomBytes(24).toString('base64url');
    const host = session.host;
    let ended: Promise<unknown> = Promise.resolve();
    const ready = step(this.reporter, name, 'relay', `serving ${this.dir} to its datacenter`, () =>
      new Promise<RelayEndpoint>((resolve, reject) => {
        let said = '';
        const cmd = relayCmd(this.appEnv.remote.path, this.dir, host.address, this.appEnv.remote.rsync);
        ended = session
          .run(cmd, {
            input,
            timeoutMs: 0,
            reject: false,
            onLine: (line, stream) => {
              said = `${said}\n${line}`.slice(-2000);
              const m = stream === 'stdout' ? /^relay ([0-9]{1,5})$/.exec(line) : null;
              if (m) resolve({ name, endpoint: `${host.address}:${m[1]}`, secret });
            },
          })
          .then((r) => reject(new Error(`the relay ended (exit ${r.exitCode}): ${lastLines(said, 3, ' / ') || 'no output'}`)), reject);
        input.write(`${secret}\n`);
      }), (e) => `serving on ${e.endpoint} to ${members} host${members === 1 ? '' : 's'}`);
    ready.catch(() => undefined);
    wait.resolve({ ready, input, ended: ready.then(() => ended, () => ended).catch(() => undefined) });
  }

  /**
   * The relay this host pulls from, once it serves: its own, or when that one failed another of
   * its datacenter's not in `tried`; undefined: pull from the admin node.
   */
  async endpointFor(host: string, tried: ReadonlySet<string> = new Set()): Promise<RelayEndpoint | undefined> {
    const relay = this.relayOf.get(host);
    if (!relay) return undefined;
    // a failed relay's hosts spread over the others, each starting at its own place among them
    const peers = this.peers.get(relay) ?? [];
    const turn = peers.length ? this.turnOf(host) % peers.length : 0;
    for (const name of [relay, ...peers.slice(turn), ...peers.slice(0, turn)]) {
      const wait = this.waiting.get(name);
      if (!wait || tried.has(name)) continue;
      const serving = await wait.promise;
      if (serving.failed) continue;
      const endpoint = await serving.ready.catch((err: unknown) => {
        serving.failed ??= errorMessage(err);
        return undefined;
      });
      if (endpoint) return endpoint;
    }
    return undefined;
  }

  /** Where a host stands among its relay's hosts (0, 1, …): which of the relay's peers it tries first. */
  private turnOf(host: string): number {
    const relay = this.relayOf.get(host);
    let n = 0;
    for (const [h, r] of this.relayOf) {
      if (h === host) return n;
      if (r === relay) n++;
    }
    return 0;
  }

  /** A host's pull from this relay failed: later hosts go to another relay or the admin node at once. */
  drop(relay: string, why: string): void {
    void this.waiting.get(relay)?.promise.then((s) => {
      s.failed ??= why;
    });
  }

  /** The run is over: every relay's daemon stops and its files go (the end of its stdin); waits for that, a few seconds at most. */
  async close(): Promise<void> {
    const ending: Promise<unknown>[] = [];
    for (const wait of this.waiting.values()) {
      // a relay that never staged still gets an answer, so nothing waits forever
      wait.resolve({ ready: refused('the run ended'), input: new PassThrough(), failed: 'the run ended' });
      ending.push(wait.promise.then((s) => {
        s.input.end();
        return s.ended;
      }));
    }
    await Promise.race([Promise.all(ending), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
  }
}

/** How long the end of a run waits for its relays to stop (a lost connection ends them anyway). */
const CLOSE_WAIT_MS = 5000;

/** A relay that will not serve: handled here, as nobody may be waiting for it. */
function refused(why: string): Promise<RelayEndpoint> {
  const p = Promise.reject(new Error(why));
  p.catch(() => undefined);
  return p;
}

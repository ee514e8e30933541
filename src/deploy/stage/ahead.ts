/**
 * Sending the tree ahead. A host that has no release at all (a first deploy, a host just
 * added) needs every file; it can start receiving them as soon as the www tree holds what
 * the release will be, while the admin node is still committing it (git add hashes every
 * file: most of a first release's time on the admin node). After the commit, such a host's
 * stage step only moves the tree into place, and only if the release commit holds exactly
 * the paths that were sent (the store's tree is the judge); otherwise it is sent the release
 * as any other host would be. Hosts that have some release get a delta after the commit,
 * as before: a delta needs the commit.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import type { AppEnv } from '../../config/resolve.js';
import { releasePaths } from '../../release-store/delta.js';
import { filesUnder } from '../../release-store/store.js';
import type { Release } from '../../release-store/release.js';
import { type FullTar, fullTar } from './payload.js';
import type { Preconnected } from '../connect/preconnect.js';
import { aheadCmd } from '../remote.js';
import { relayAssignments } from './relays.js';
import type { Reporter } from '../../report/events.js';
import { type Transfer, withTransfer } from '../../report/progress.js';

export class SendAhead {
  /** Names this run's tree on the hosts (`.ahead.<token>.partial`). */
  readonly token = randomBytes(8).toString('hex');
  private files?: Promise<string[]>;
  private tar?: Promise<FullTar>;
  private readonly sent = new Map<string, Promise<FullTar | undefined>>();
  private readonly matches = new Map<string, Promise<boolean>>();

  constructor(
    private readonly appEnv: AppEnv,
    private readonly preconnected: Preconnected,
    /** Where the progress of each host's transfer goes (none: not reported). */
    private readonly reporter?: Reporter,
  ) {}

  private get tarFile(): string {
    return this.appEnv.paths.aheadTar;
  }

  /** The tree's tar, built on first need: most deploys find no host without a release. */
  private tarball(): Promise<FullTar> {
    this.tar ??= (async () => {
      const www = this.appEnv.paths.www;
      // what `git add --all` will see: everything but the store's own .git
      this.files = filesUnder(www, ['.git']);
      await mkdir(this.appEnv.paths.state, { recursive: true });
      return fullTar(www, await this.files, this.tarFile);
    })();
    return this.tar;
  }

  /** Once `synced` (the www tree is final): send it to every host whose look found no release, within the run's slots (fanout.ts). */
  start(synced: Promise<void>): void {
    if (this.sent.size || this.appEnv.remote.transfer === 'rsync') return;
    // a host with a relay in its datacenter pulls from the relay: the admin node sends the relays
    const { relayOf } = relayAssignments(this.appEnv.hosts, this.appEnv.relays);
    for (const host of this.appEnv.hosts.filter((h) => !relayOf.has(h.name))) this.sent.set(host.name, synced.then(() => this.sendTo(host.name)).catch(() => undefined));
  }

  private async sendTo(host: string): Promise<FullTar | undefined> {
    const state = await this.preconnected.states.get(host);
    if (state?.have.size !== 0) return undefined;
    const [tar, session] = await Promise.all([this.tarball(), this.preconnected.sessions.get(host)!]);
    const send = (t?: Transfer) =>
      session.run(aheadCmd(this.appEnv.remote.path, this.token), { input: tar.stream(t && ((n) => t.add(n))), timeoutMs: 6 * 3600 * 1000, reject: false });
    const r = await this.preconnected.slots.run(() => (this.reporter ? withTransfer(this.reporter, host, 'sending the tree ahead', tar.bytes, send) : send()));
    return r.exitCode === 0 ? tar : undefined;
  }

  /** The tree this host was sent, if it got all of it and it is exactly the release's; else undefined. */
  async sentFor(host: string, release: Release): Promise<FullTar | undefined> {
    return (await this.sent.get(host)) && this.tarFor(release);
  }

  /** The tar built for the hosts with nothing, if it holds exactly the release's paths (the store's tree decides). */
  async tarFor(release: Release): Promise<FullTar | undefined> {
    if (!this.tar) return undefined;
    const tar = await this.tar.catch(() => undefined);
    if (!tar) return undefined;
    let same = this.matches.get(release.commit);
    if (!same) {
      same = Promise.all([this.files!, releasePaths(this.appEnv.paths.www, release)]).then(
        ([sent, paths]) => sent.length === paths.length && [...paths].sort().every((p, i) => p === sent[i]),
        () => false,
      );
      this.matches.set(release.commit, same);
    }
    return (await same) ? tar : undefined;
  }

  /** Wait for transfers still under way (they fail once the sessions close) and remove the tar (after the ship, which may stream it too). */
  async close(): Promise<void> {
    await Promise.all(this.sent.values());
    if (this.tar) await rm(this.tarFile, { force: true });
  }
}

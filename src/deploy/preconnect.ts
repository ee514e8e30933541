/**
 * Open the SSH connections while the admin node is still updating and releasing:
 * connection set-up (TCP, key exchange, host key check, auth) costs a few round
 * trips and some CPU per host, and need not wait for the release. A failure is
 * kept and surfaces in that host's stage step, exactly as if it had connected then.
 */
import pMap from 'p-map';
import type { AppEnv } from '../config/resolve.js';
import type { Reporter } from '../report/events.js';
import { type Credentials, connect, loadCredentials } from './execute.js';
import { SwitchGate } from './gate.js';
import type { HostState } from './remote.js';
import type { HostSession } from './ssh.js';

export interface Preconnected {
  /** The key and known_hosts, read once for the whole run. */
  readonly credentials: Promise<Credentials>;
  /** Per host name: its session, or the connection's failure. */
  readonly sessions: ReadonlyMap<string, Promise<HostSession>>;
  /** Per host name: its look at what it has, held open to switch it (undefined: it did not connect). */
  readonly gates: ReadonlyMap<string, Promise<SwitchGate | undefined>>;
  /** Per host name: what it had when it connected (undefined: the look failed; staging will say why). */
  readonly states: ReadonlyMap<string, Promise<HostState | undefined>>;
  /** Close every session that opened (a run that stops before shipping, or hosts not shipped to). */
  close(): void;
}

export function preconnect(appEnv: AppEnv, reporter: Reporter): Preconnected {
  const credentials = loadCredentials(appEnv);
  // a bad key or known_hosts file is reported by shipRelease, as a usage error
  credentials.catch(() => undefined);
  // one promise per host, available at once; p-map bounds the handshakes like the fan-out itself
  const settle = new Map<string, (session: Promise<HostSession>) => void>();
  // once closed, hosts still waiting for a handshake slot are not connected at all
  let closed = false;
  const sessions = new Map(appEnv.hosts.map((h) => [h.name, new Promise<HostSession>((resolve) => settle.set(h.name, resolve))]));
  for (const session of sessions.values()) session.catch(() => undefined); // read by whoever awaits it; never unhandled
  // each host is asked what it has as soon as it is connected: the answer decides what it is sent
  const gates = new Map([...sessions].map(([name, session]) => [name, session.then((s) => SwitchGate.open(s, appEnv), () => undefined)]));
  const states = new Map([...gates].map(([name, gate]) => [name, gate.then((g) => g?.state).catch(() => undefined)]));
  void pMap(
    appEnv.hosts,
    async (host) => {
      if (closed) {
        settle.get(host.name)!(Promise.reject(new Error('not connected: the run stopped before shipping')));
        return;
      }
      const session = credentials.then((creds) => connect(host, appEnv, creds, reporter));
      settle.get(host.name)!(session);
      await session.then((s) => states.get(s.host.name), () => undefined);
    },
    { concurrency: appEnv.parallel },
  );
  return {
    credentials,
    sessions,
    gates,
    states,
    close() {
      closed = true;
      // a handshake still under way is closed when it ends; the run does not wait for it (bin/deploy.ts exits)
      for (const s of sessions.values()) s.then((x) => x.close(), () => undefined);
    },
  };
}

/**
 * Open the SSH connections while the admin node is still updating and releasing:
 * connection set-up (TCP, key exchange, host key check, auth) costs a few round
 * trips and some CPU per host, and need not wait for the release. A failure is
 * kept and surfaces in that host's stage step, exactly as if it had connected then.
 */
import type { AppEnv } from '../../config/resolve.js';
import { DeployFailedError, errorMessage } from '../../errors.js';
import type { Reporter } from '../../report/events.js';
import type { Connector, HostConnection } from '../../exec/runner.js';
import { connect, envConnector } from './connector.js';
import { HostLook } from '../look.js';
import { HostSlots } from '../fanout.js';
import type { HostState } from '../remote-output.js';

export interface Preconnected {
  /** The run's bound on host operations (fanout.ts): the handshakes and looks here, then the ship's. */
  readonly slots: HostSlots;
  /** How hosts are reached, ready once the key and known_hosts are read (once for the whole run). */
  readonly connector: Promise<Connector>;
  /** Per host name: its session, or the connection's failure. */
  readonly sessions: ReadonlyMap<string, Promise<HostConnection>>;
  /** Per host name: its look at what it has, held open to switch it (undefined: it did not connect). */
  readonly looks: ReadonlyMap<string, Promise<HostLook | undefined>>;
  /** Per host name: what it had when it connected (undefined: the look failed; staging will say why). */
  readonly states: ReadonlyMap<string, Promise<HostState | undefined>>;
  /**
   * Hosts this run cannot use so far, with why: their connection failed (unreachable, host key
   * or login refused) or was lost since. With `wait`, first waits until every host has
   * connected or failed (ssh.connectTimeout bounds it), so that the list is complete.
   */
  failures(wait?: boolean): Promise<Map<string, string>>;
  /** Close every session that opened (a run that stops before shipping, or hosts not shipped to). */
  close(): void;
}

export interface PreconnectOptions {
  /** How hosts are reached (default: ssh, as the app-env says). */
  connect?: Connector;
  /**
   * A rollback's target, once planned: each look waits for it and checks that release
   * against its manifest (see remote/common.sh look); if it rejects, no look runs.
   */
  verify?: Promise<string>;
}

export function preconnect(appEnv: AppEnv, reporter: Reporter, options: PreconnectOptions = {}): Preconnected {
  const connector = options.connect ? Promise.resolve(options.connect) : envConnector(appEnv);
  // a bad key or known_hosts file is reported by shipRelease, as a usage error
  connector.catch(() => undefined);
  // one promise per host, available at once; the run's slots bound the handshakes and looks
  const settle = new Map<string, (session: Promise<HostConnection>) => void>();
  // once closed, hosts still waiting for a handshake slot are not connected at all
  let closed = false;
  const sessions = new Map(appEnv.hosts.map((h) => [h.name, new Promise<HostConnection>((resolve) => settle.set(h.name, resolve))]));
  // what each connection came to, as it happens (failures() reads them without waiting)
  const failed = new Map<string, string>();
  const connected = new Map<string, HostConnection>();
  for (const [name, session] of sessions) {
    session.then(
      (s) => connected.set(name, s),
      (err: unknown) => failed.set(name, errorMessage(err).replace(`${name}: `, '')),
    );
  }
  const reportedLost = new Set<string>();
  const failures = () => {
    const all = new Map(failed);
    for (const [name, s] of connected) {
      if (!s.lost) continue;
      all.set(name, s.lost);
      // no command was running on it to fail: its connect step is what failed
      if (!reportedLost.has(name)) reporter.emit({ kind: 'step', host: name, step: 'connect', state: 'fail', text: s.lost });
      reportedLost.add(name);
    }
    return all;
  };
  // each host is asked what it has as soon as it is connected: the answer decides what it is sent
  const verify = options.verify;
  verify?.catch(() => undefined); // the flow reports why it failed
  const open = (s: HostConnection) => (verify ? verify.then((dir) => HostLook.open(s, appEnv, dir), () => undefined) : HostLook.open(s, appEnv));
  const looks = new Map([...sessions].map(([name, session]) => [name, session.then(open, () => undefined)]));
  const states = new Map([...looks].map(([name, look]) => [name, look.then((l) => l?.state).catch(() => undefined)]));
  const slots = new HostSlots(appEnv.parallel);
  for (const host of appEnv.hosts) {
    void slots.run(async () => {
      if (closed) {
        settle.get(host.name)!(Promise.reject(new Error('not connected: the run stopped before shipping')));
        return;
      }
      const session = connector.then((c) => connect(host, c, reporter));
      settle.get(host.name)!(session);
      await session.then((s) => states.get(s.host.name), () => undefined);
    });
  }
  return {
    slots,
    connector,
    sessions,
    looks,
    states,
    async failures(wait) {
      if (wait) await Promise.allSettled(sessions.values());
      return failures();
    },
    close() {
      closed = true;
      // a handshake still under way is closed when it ends; the run does not wait for it (bin/deploy.ts exits)
      for (const s of sessions.values()) s.then((x) => x.close(), () => undefined);
    },
  };
}

/**
 * The error that stops a deploy whose connections already show it cannot succeed (`stopped`:
 * where, and what that spared); undefined while it still can. A deploy switches no host until
 * every host has staged the release (the rollout's failure budget counts hosts that fail their
 * switch, hooks or health check), so one host it cannot use is enough.
 */
export function cannotSucceed(appEnv: AppEnv, failures: ReadonlyMap<string, string>, stopped: string): DeployFailedError | undefined {
  if (failures.size === 0) return undefined;
  const total = appEnv.hosts.length;
  const target = `${appEnv.app}-${appEnv.env}`;
  const names = [...failures.keys()];
  const why = failures.size === total ? `no host of ${target} can be reached` : `${failures.size} of ${total} hosts cannot be reached, and no host is switched unless every host has the release`;
  return new DeployFailedError(
    [
      `${why}; ${stopped}`,
      ...names.map((name) => `  ${name}: ${failures.get(name)}`),
      `a host that is down for a while can be left out: deploy ${target} --exclude-hosts ${names.join(',')}`,
    ].join('\n'),
  );
}

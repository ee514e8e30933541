/**
 * Open the SSH connections while the admin node is still updating and releasing:
 * connection set-up (TCP, key exchange, host key check, auth) costs a few round
 * trips and some CPU per host, and need not wait for the release. A failure is
 * kept and surfaces in that host's stage step, exactly as if it had connected then.
 */
import type { AppEnv } from '../config/resolve.js';
import type { Reporter } from '../report/events.js';
import { connect, loadCredentials } from './execute.js';
import type { HostSession } from './ssh.js';

export interface Preconnected {
  /** Per host name: its session, or the connection's failure. */
  readonly sessions: ReadonlyMap<string, Promise<HostSession>>;
  /** Close every session that opened (a run that stops before shipping, or hosts not shipped to). */
  close(): Promise<void>;
}

export function preconnect(appEnv: AppEnv, reporter: Reporter): Preconnected {
  const credentials = loadCredentials(appEnv);
  // a bad key or known_hosts file is reported by shipRelease, as a usage error
  credentials.catch(() => undefined);
  const slot = semaphore(appEnv.parallel);
  const sessions = new Map<string, Promise<HostSession>>();
  for (const host of appEnv.hosts) {
    const session = slot(async () => connect(host, appEnv, await credentials, reporter));
    session.catch(() => undefined); // read by whoever awaits it; never unhandled
    sessions.set(host.name, session);
  }
  return {
    sessions,
    async close() {
      await Promise.all([...sessions.values()].map((s) => s.then((x) => x.close(), () => undefined)));
    },
  };
}

/** At most `max` handshakes at once, like the fan-out itself. */
function semaphore(max: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(work: () => Promise<T>): Promise<T> => {
    if (running < max) running++;
    else await new Promise<void>((resume) => waiting.push(resume)); // the slot is handed over
    try {
      return await work();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

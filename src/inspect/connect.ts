/**
 * The connections `deploy check --connect` opens by default: ssh2, with the key and
 * known_hosts of the app file, exactly as a deploy connects.
 */
import type { AppEnv, Host } from '../config/resolve.js';
import type { Connector, HostConnection } from '../exec/runner.js';
import { HostSession } from '../deploy/connect/ssh.js';
import { loadCredentials } from '../deploy/ship.js';

/**
 * A HostSession seen as a HostConnection (its `exec` answers with `code`).
 * Once HostSession implements HostConnection itself, this is `HostSession.open`.
 */
export function sshConnector(appEnv: AppEnv): Connector {
  const credentials = loadCredentials(appEnv);
  credentials.catch(() => undefined);
  return async (host: Host): Promise<HostConnection> => {
    const session = await HostSession.open(host, { ssh: appEnv.ssh, ...(await credentials) });
    return {
      where: host.name,
      host,
      get lost() {
        return session.lost;
      },
      async run(cmd, options = {}) {
        const r = await session.exec(cmd, { stdin: options.input, timeoutMs: options.timeoutMs, signal: options.signal });
        if (r.code !== 0 && options.reject !== false) throw new Error(`${host.name}: ${cmd[0]} exited ${r.code}: ${r.stderr.trim()}`);
        return { stdout: r.stdout, stderr: r.stderr, exitCode: r.code };
      },
      forwardIn: (onConnection) => session.forwardIn(onConnection),
      close: (reason) => session.close(reason),
    };
  };
}

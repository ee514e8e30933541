/**
 * What each host serves now, for `deploy plan`: one short connection per host, running
 * the status script; nothing on a host is changed.
 */
import type { AppEnv, Host } from '../config/resolve.js';
import type { Connector } from '../exec/runner.js';
import { memoryReporter } from '../report/line.js';
import { connect, envConnector } from './connect/connector.js';
import { onEachHost } from './fanout.js';
import { idOfDir } from './layout.js';
import { statusCmd } from './remote.js';
import { parseLines } from './remote-output.js';

/** Per host: the id of the release it serves (`none`: it serves none), or why it could not be read. */
export async function readLive(appEnv: AppEnv, hosts: readonly Host[], options: { connect?: Connector } = {}): Promise<Map<string, { id?: string; error?: string }>> {
  const connector = options.connect ?? (await envConnector(appEnv));
  const results = await onEachHost(hosts, appEnv.parallel, async (host) => {
    const session = await connect(host, connector, memoryReporter());
    try {
      const r = await session.run(statusCmd(appEnv.remote.path), { reject: false });
      return idOfDir(parseLines(r.stdout).get('live')?.[0]) || 'none';
    } finally {
      session.close();
    }
  });
  return new Map(results.map((r) => [r.host, r.ok ? { id: r.value } : { error: r.error }]));
}

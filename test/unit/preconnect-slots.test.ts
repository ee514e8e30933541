/**
 * Pre-connect through an injected Connector (exec/runner.ts): no SSH, and the run's one
 * bound (HostSlots) holds for the handshakes and looks it starts.
 */
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { AppEnv, Host } from '../../src/config/resolve.js';
import { preconnect } from '../../src/deploy/connect/preconnect.js';
import type { Connector, HostConnection, RunOptions } from '../../src/exec/runner.js';
import { memoryReporter } from '../../src/report/line.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A host whose look says it has no release, then waits for its input to end. */
function looking(host: Host): HostConnection {
  return {
    host,
    where: host.name,
    lost: undefined,
    async run(_cmd, options: RunOptions = {}) {
      options.onLine?.('live ', 'stdout');
      options.onLine?.('ready', 'stdout');
      await new Promise<void>((resolve) => (options.input as Readable).on('finish', resolve).on('end', resolve).resume());
      return { exitCode: 0, stdout: 'live \nready\n', stderr: '' };
    },
    forwardIn: () => Promise.reject(new Error('no forwards here')),
    close() {},
  };
}

describe('preconnect with an injected connector', () => {
  it('opens no more than `parallel` connections at once, and looks at every host', async () => {
    const hosts = ['web1', 'web2', 'web3', 'web4', 'web5'].map((name) => ({ name, address: name, port: 22, user: 'root' }));
    const appEnv = { hosts, parallel: 2, remote: { path: '/data/www/shop' }, ssh: { commandTimeout: 30 } } as unknown as AppEnv;
    let inFlight = 0;
    let max = 0;
    const waiting: (() => void)[] = [];
    const connect: Connector = async (host) => {
      inFlight++;
      max = Math.max(max, inFlight);
      await new Promise<void>((resolve) => waiting.push(resolve));
      inFlight--;
      return looking(host);
    };
    const early = preconnect(appEnv, memoryReporter(), { connect });
    for (let done = 0; done < hosts.length; done++) {
      await settle();
      assert.equal(inFlight, Math.min(2, hosts.length - done));
      waiting.shift()!();
    }
    for (const h of hosts) assert.deepEqual((await early.states.get(h.name))?.have, new Map());
    assert.equal(max, 2);
    assert.deepEqual(await early.failures(true), new Map());
    early.close();
    for (const look of early.looks.values()) (await look)?.close();
  });
});

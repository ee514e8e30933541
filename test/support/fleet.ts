// Integration tests drive a fleet of real sshd "web servers" on loopback through this wrapper
// around test/fleet/fleet.sh (see that script for how the hosts are isolated). Needs root.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export interface FleetHost {
  /** web1, web2, … */
  name: string;
  /** loopback address; ssh on port 22, http on 8080 */
  address: string;
  /** the directory the host sees as /data */
  dataDir: string;
  /** http://<address>:8080, serving /data/www/<app>/current */
  httpUrl: string;
}

export interface Fleet {
  dir: string;
  hosts: FleetHost[];
  /** a known_hosts file trusting every host's key as of startFleet */
  knownHosts: string;
  /** private key that logs in as root on every host */
  clientKey: string;
  /** kill the host's sshd and its sessions (connections are refused); data is kept */
  stop(name: string): Promise<void>;
  start(name: string): Promise<void>;
  /** SIGSTOP the host's sshd: TCP connects, but no banner ever comes */
  freeze(name: string): Promise<void>;
  thaw(name: string): Promise<void>;
  /** give the host a new host key that knownHosts does not know */
  rekey(name: string): Promise<void>;
  /** stop everything; safe to call more than once */
  down(): Promise<void>;
}

const script = fileURLToPath(new URL('../fleet/fleet.sh', import.meta.url));

/** The system ssh client's arguments to run `command` on a fleet host, trusting only the fleet's known_hosts and nothing from ~/.ssh. */
export function fleetSshArgs(fleet: Pick<Fleet, 'clientKey' | 'knownHosts'>, host: Pick<FleetHost, 'address'>, command: string, connectTimeout = 5): string[] {
  return [
    '-F', '/dev/null',
    '-i', fleet.clientKey,
    '-o', `UserKnownHostsFile=${fleet.knownHosts}`,
    '-o', 'GlobalKnownHostsFile=/dev/null',
    '-o', 'StrictHostKeyChecking=yes',
    '-o', 'BatchMode=yes',
    '-o', 'IdentitiesOnly=yes',
    '-o', `ConnectTimeout=${connectTimeout}`,
    `root@${host.address}`,
    command,
  ];
}

/**
 * The loopback network a test asks for (`127.0.11`), moved by SLIPWAY_TEST_NET (`127.4`: its
 * first two octets), so that two suites, or a suite and a demo, can run side by side.
 */
export function fleetNet(net: string, moved = process.env.SLIPWAY_TEST_NET): string {
  if (!moved) return net;
  if (!/^127\.([0-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5])$/.test(moved)) throw new Error(`SLIPWAY_TEST_NET must be two octets in 127/8, like 127.4 (got ${JSON.stringify(moved)})`);
  return net.replace(/^127\.[0-9]+/, moved);
}

/**
 * Start a fleet script (fleet.sh, netfleet.sh) with `up`, taking down whatever it started if
 * that fails; then its commands, and the per-host controls every Fleet has. Invoked through
 * bash, so that a lost executable bit does not matter.
 */
export async function upFleetScript(script: string, env: Record<string, string>, upArgs: string[] = []) {
  const run = async (...args: string[]): Promise<string> => (await execa('bash', [script, ...args], { env })).stdout;
  let downed: Promise<void> | undefined;
  const down = (): Promise<void> => {
    // Concurrent or repeated calls share one run; a failed run may be retried.
    downed ??= run('down').then(
      () => undefined,
      (err: unknown) => {
        downed = undefined;
        throw err;
      },
    );
    return downed;
  };
  try {
    await run('up', ...upArgs);
  } catch (err) {
    // A half-started fleet would outlive the test run: take down what did start.
    await down().catch(() => undefined);
    throw err;
  }
  const controls: Pick<Fleet, 'stop' | 'start' | 'freeze' | 'thaw' | 'rekey' | 'down'> = {
    stop: async (name) => void (await run('stop', name)),
    start: async (name) => void (await run('start', name)),
    freeze: async (name) => void (await run('freeze', name)),
    thaw: async (name) => void (await run('thaw', name)),
    rekey: async (name) => void (await run('rekey', name)),
    down,
  };
  return { run, controls };
}

export async function startFleet(opts: { size: number; net: string; dir: string }): Promise<Fleet> {
  if (process.getuid?.() !== 0) throw new Error('the test fleet needs root (mount namespaces, sshd on port 22): run the tests as root');
  const { run, controls } = await upFleetScript(script, { FLEET_DIR: opts.dir, FLEET_NET: fleetNet(opts.net) }, [String(opts.size)]);

  // The script's list is the truth about names and addresses.
  const hosts = (await run('hosts'))
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line): FleetHost => {
      const [name = '', address = ''] = line.trim().split(/\s+/);
      return {
        name,
        address,
        dataDir: join(opts.dir, 'hosts', name, 'data'),
        httpUrl: `http://${address}:8080`,
      };
    });

  return {
    dir: opts.dir,
    hosts,
    knownHosts: join(opts.dir, 'known_hosts'),
    clientKey: join(opts.dir, 'clientkey'),
    ...controls,
  };
}

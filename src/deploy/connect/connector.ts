/**
 * How the ship phase reaches a host: a Connector (exec/runner.ts) opens its connection. A
 * run uses ssh2 with the env's key and known_hosts; pipeline tests pass a recording one.
 * Only this folder knows the connection is SSH.
 */
import { readFile } from 'node:fs/promises';
import type { AppEnv, Host } from '../../config/resolve.js';
import type { SshSettings } from '../../config/schema.js';
import { UsageError, errorMessage } from '../../errors.js';
import type { Connector, HostConnection } from '../../exec/runner.js';
import { type Reporter, step } from '../../report/events.js';
import { type KnownHostsFile, parseKnownHosts } from './known-hosts.js';
import { HostSession } from './ssh.js';

export interface Credentials {
  knownHosts: KnownHostsFile;
  privateKey: Buffer;
}

export async function loadCredentials(appEnv: AppEnv): Promise<Credentials> {
  const read = async (path: string, what: string) => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new UsageError(`cannot read the ${what} ${path}: ${errorMessage(err)} (set ssh.${what === 'SSH key' ? 'key' : 'knownHosts'} in ${appEnv.file})`);
    }
  };
  const [key, known] = await Promise.all([read(appEnv.ssh.key, 'SSH key'), read(appEnv.ssh.knownHosts, 'known_hosts file')]);
  return { privateKey: key, knownHosts: parseKnownHosts(known.toString('utf8'), appEnv.ssh.knownHosts) };
}

/** Hosts reached over SSH with these settings and credentials. */
export function sshConnector(ssh: SshSettings, credentials: Credentials): Connector {
  return (host) => HostSession.open(host, { ssh, ...credentials });
}

/** The connector a run uses unless given one: SSH, with the env's key and known_hosts (read now). */
export async function envConnector(appEnv: AppEnv, credentials: Promise<Credentials> = loadCredentials(appEnv)): Promise<Connector> {
  return sshConnector(appEnv.ssh, await credentials);
}

/** Open one host's connection, reported as its `connect` step. */
export function connect(host: Host, connector: Connector, reporter: Reporter): Promise<HostConnection> {
  return step(reporter, host.name, 'connect', `connecting to ${host.address}`, () => connector(host), () => `connected to ${host.address}:${host.port}`);
}

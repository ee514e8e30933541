/**
 * Turn a validated app file and an env name into the AppEnv a run works with:
 * env overrides merged over app settings over built-in defaults.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { type AdminPaths, adminPaths } from './paths.js';
import { DEFAULT_ROLLOUT, type Roles, type RolloutSettings, roleRollout, rolloutProblems } from './rollout.js';
import type { AppConfig, NotifyConfig, RemoteSettings, SshSettings, Task } from './schema.js';

export interface Host {
  /** What the operator sees in output: `web3`. */
  name: string;
  address: string;
  port: number;
  user: string;
  /** The env's roles this host has (resolveAppEnv always sets it; hosts made by tests may not). */
  roles?: string[];
  datacenter?: string;
  /** Other host variables a rollout may group by (`groupBy: 'rack'`). */
  vars?: Record<string, string>;
  /** Where the host was named: the app file, or an inventory's file and line. */
  source?: string;
}

/** A host as the app file or an inventory names it, before the env's defaults fill it in. */
export interface HostInput {
  name: string;
  address?: string;
  port?: number;
  user?: string;
  roles?: string[];
  datacenter?: string;
  vars?: Record<string, string>;
  source: string;
}

export interface AppEnv {
  app: string;
  env: string;
  /** The app file, for messages. */
  file: string;
  repo: string;
  branch: string;
  submodules: boolean;
  gitConfig: Record<string, string>;
  tasks: Task[];
  exclude: string[];
  migrations: string[];
  privateEnvFile: string;
  privateMode: number;
  /** Group given to private files on the hosts. */
  privateGroup?: string;
  /** Private files a deploy requires, relative to `paths.private`. */
  privateRequire: string[];
  /** Who admin tasks run as unless a task says otherwise. */
  taskUser?: string;
  /** Unix groups allowed to deploy this env; undefined: anyone who can run deploy. */
  allowGroups?: string[];
  /** Unix groups that may also see this env on the dashboard (deploy serve). */
  viewGroups?: string[];
  paths: AdminPaths;
  ssh: SshSettings;
  remote: RemoteSettings;
  parallel: number;
  hosts: Host[];
  /** Where the hosts came from: the app file, or an inventory and its pattern (for messages). */
  hostsFrom: string;
  rollout: RolloutSettings;
  /** The env's roles, in the order they switch; empty: one rollout over every host. */
  roles: Roles;
  /** Relays per datacenter (a count) or named; undefined: every host pulls from the admin node. */
  relays?: number | string[];
  /** Bytes per second below which a host gives up on its relay (relays.ts). */
  relayMinRate: number;
  /** Where to report each run; an env's webhook or statsd replaces the app's. */
  notify: NotifyConfig;
}

/** 256KB/s: a relay serving 50 hosts over 1 Gbit/s gives each about ten times this. */
export const DEFAULT_RELAY_MIN_RATE = 256 * 1024;

export function defaultSsh(home = homedir()): SshSettings {
  return {
    user: 'root',
    port: 22,
    key: join(home, '.ssh', 'id_ed25519'),
    knownHosts: join(home, '.ssh', 'known_hosts'),
    connectTimeout: 10,
    commandTimeout: 30,
    // a frozen or vanished host misses 3 keepalives 2 s apart: it fails within ~8 s
    keepaliveInterval: 2,
    keepaliveCountMax: 3,
  };
}

export const DEFAULT_REMOTE: RemoteSettings = { path: '/data/www/{app}', keepReleases: 5, rsync: 'rsync', transfer: 'auto' };

/** The env's hosts as the app file lists them; an inventory's are read by config/hosts.ts. */
export function listedHosts(config: AppConfig, env: string, file: string): HostInput[] | undefined {
  const spec = config.envs[env]?.hosts;
  if (!Array.isArray(spec)) return undefined;
  return spec.map((h) => ({ ...(typeof h === 'string' ? { name: h } : h), source: file }));
}

/**
 * `inputs`: the env's hosts, required when they come from an inventory (config/hosts.ts reads
 * it); by default those the app file lists.
 */
export function resolveAppEnv(config: AppConfig, app: string, env: string, file: string, root: string, inputs?: readonly HostInput[], hostsFrom = file): AppEnv {
  const envConfig = config.envs[env];
  if (!envConfig) throw new ConfigError([`${file}: no env "${env}" (envs: ${Object.keys(config.envs).join(', ')})`]);
  const ssh: SshSettings = { ...defaultSsh(), ...config.ssh, ...envConfig.ssh };
  const remote: RemoteSettings = { ...DEFAULT_REMOTE, ...config.remote, ...envConfig.remote };
  remote.path = remote.path.replaceAll('{app}', app).replaceAll('{env}', env);
  const given = inputs ?? listedHosts(config, env, file);
  if (!given) throw new ConfigError([`${file}: envs.${env}.hosts: an inventory, read before the env is resolved`]);
  if (!given.length) throw new ConfigError([`${hostsFrom}: no host for envs.${env}`]);
  const hosts = given.map((h): Host => ({
    name: h.name,
    address: h.address ?? h.name,
    port: h.port ?? ssh.port,
    user: h.user ?? ssh.user,
    roles: h.roles ?? [],
    ...(h.datacenter ? { datacenter: h.datacenter } : {}),
    ...(h.vars && Object.keys(h.vars).length ? { vars: h.vars } : {}),
    source: h.source,
  }));
  const seen = new Set<string>();
  const dupes = hosts.filter((h) => (seen.has(h.name) ? true : (seen.add(h.name), false)));
  if (dupes.length) throw new ConfigError(dupes.map((h) => `${file}: envs.${env}.hosts: "${h.name}" is listed twice`));
  // two names for one server would stage over each other
  const endpoints = new Map<string, string>();
  for (const h of hosts) {
    const key = `${h.address}:${h.port}`;
    const other = endpoints.get(key);
    if (other) throw new ConfigError([`${file}: envs.${env}.hosts: "${other}" and "${h.name}" are the same server (${key})`]);
    endpoints.set(key, h.name);
  }
  const rollout = envConfig.rollout ?? DEFAULT_ROLLOUT;
  const roles = envConfig.roles ?? {};
  const problems = [...roleProblems(hosts, rollout, roles), ...relayProblems(hosts, envConfig.relays)];
  if (problems.length) throw new ConfigError(problems.map((p) => `${file}: envs.${env}.${p}`));
  return {
    app,
    env,
    file,
    repo: config.repo,
    branch: envConfig.branch ?? config.branch,
    submodules: config.submodules,
    gitConfig: config.gitConfig,
    tasks: config.tasks,
    exclude: config.exclude,
    migrations: config.migrations,
    privateEnvFile: config.private.envFile,
    privateMode: parseInt(config.private.mode, 8),
    privateGroup: config.private.group,
    privateRequire: config.private.require,
    taskUser: config.taskUser,
    allowGroups: envConfig.allowGroups,
    viewGroups: envConfig.viewGroups,
    paths: adminPaths(root, env, app, config.private.dir),
    ssh,
    remote,
    parallel: envConfig.parallel ?? config.parallel,
    hosts,
    hostsFrom,
    rollout,
    roles,
    ...(envConfig.relays !== undefined ? { relays: envConfig.relays } : {}),
    relayMinRate: envConfig.relayMinRate ?? DEFAULT_RELAY_MIN_RATE,
    notify: { ...config.notify, ...envConfig.notify },
  };
}

/**
 * What a schema cannot see about roles and rollouts: with roles, every host has one the env
 * names (a host switches with the first of its roles, in the env's order); named canaries are
 * hosts of their role; grouping by datacenter needs every such host to have one.
 */
export function roleProblems(hosts: readonly Host[], rollout: RolloutSettings, roles: Roles): string[] {
  const names = Object.keys(roles);
  const problems: string[] = [];
  if (!names.length) {
    problems.push(...rolloutProblems(rollout, hosts.map((h) => h.name)));
    problems.push(...ungrouped(hosts, rollout.groupBy).map((h) => `rollout.groupBy: host "${h.name}" (${h.source}) has no ${rollout.groupBy}`));
    return problems;
  }
  for (const h of hosts) {
    const unknown = (h.roles ?? []).filter((r) => !names.includes(r));
    if (unknown.length) problems.push(`hosts: "${h.name}" (${h.source}) has role ${unknown.map((r) => `"${r}"`).join(', ')}, which the env's roles do not name (roles: ${names.join(', ')})`);
    else if (!h.roles?.length) problems.push(`hosts: "${h.name}" (${h.source}) has no role (roles: ${names.join(', ')})`);
  }
  for (const name of names) {
    const settings = roleRollout(rollout, roles[name]);
    const mine = hosts.filter((h) => primaryRole(h, roles) === name);
    problems.push(...rolloutProblems(settings, mine.map((h) => h.name)).map((p) => `roles.${name}: ${p}`));
    problems.push(...ungrouped(mine, settings.groupBy).map((h) => `roles.${name}.groupBy: host "${h.name}" (${h.source}) has no ${settings.groupBy}`));
  }
  return problems;
}

/** The value of a host's `groupBy` variable: its datacenter, or another of its variables. */
export function groupOf(host: Pick<Host, 'datacenter' | 'vars'>, key: string): string | undefined {
  return key === 'datacenter' ? (host.datacenter ?? host.vars?.datacenter) : host.vars?.[key];
}

function ungrouped(hosts: readonly Host[], key: string | undefined): Host[] {
  return key ? hosts.filter((h) => groupOf(h, key) === undefined) : [];
}

/** The role a host switches with: the first of its roles in the env's order. */
export function primaryRole(host: Pick<Host, 'roles'>, roles: Roles): string | undefined {
  return Object.keys(roles).find((r) => host.roles?.includes(r));
}

/** Named relays are hosts of the env, each with a datacenter to serve; a count needs datacenters to count in. */
export function relayProblems(hosts: readonly Host[], relays: number | string[] | undefined): string[] {
  if (relays === undefined) return [];
  if (typeof relays === 'number') {
    return hosts.some((h) => h.datacenter) ? [] : ['relays: no host has a datacenter, so there is nothing to relay within (set datacenter on the hosts, or in the inventory)'];
  }
  return relays.flatMap((name) => {
    const h = hosts.find((x) => x.name === name);
    if (!h) return [`relays: "${name}" is not a host of this env`];
    return h.datacenter ? [] : [`relays: "${name}" has no datacenter to serve`];
  });
}

/**
 * Turn a validated app file and an env name into the AppEnv a run works with:
 * env overrides merged over app settings over built-in defaults.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { type AdminPaths, adminPaths } from './paths.js';
import { DEFAULT_ROLLOUT, type RolloutSettings, rolloutProblems } from './rollout.js';
import type { AppConfig, NotifyConfig, RemoteSettings, SshSettings, Task } from './schema.js';

export interface Host {
  /** What the operator sees in output: `web3`. */
  name: string;
  address: string;
  port: number;
  user: string;
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
  rollout: RolloutSettings;
  /** Where to report each run; an env's webhook or statsd replaces the app's. */
  notify: NotifyConfig;
}

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

export function resolveAppEnv(config: AppConfig, app: string, env: string, file: string, root: string): AppEnv {
  const envConfig = config.envs[env];
  if (!envConfig) throw new ConfigError([`${file}: no env "${env}" (envs: ${Object.keys(config.envs).join(', ')})`]);
  const ssh: SshSettings = { ...defaultSsh(), ...config.ssh, ...envConfig.ssh };
  const remote: RemoteSettings = { ...DEFAULT_REMOTE, ...config.remote, ...envConfig.remote };
  remote.path = remote.path.replaceAll('{app}', app).replaceAll('{env}', env);
  const hosts = envConfig.hosts.map((spec): Host => {
    const h = typeof spec === 'string' ? { name: spec } : spec;
    return { name: h.name, address: h.address ?? h.name, port: h.port ?? ssh.port, user: h.user ?? ssh.user };
  });
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
  const rolloutBad = rolloutProblems(rollout, hosts.map((h) => h.name));
  if (rolloutBad.length) throw new ConfigError(rolloutBad.map((p) => `${file}: envs.${env}.${p}`));
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
    rollout,
    notify: { ...config.notify, ...envConfig.notify },
  };
}

/**
 * The shape of an app file, with its defaults. Parsing is strict: unknown keys
 * are errors, and every problem is reported with its path.
 */
import * as z from 'zod';
import {
  checkAbsolutePath,
  checkEnvName,
  checkHostName,
  checkRefName,
  checkRemotePath,
  checkRepo,
  checkRelativePath,
} from './names.js';
import { LABEL, rolesSettings, rolloutSettings } from './rollout.js';

/** Turn a `check*` function (reason or undefined) into a zod refinement. */
const checked = (check: (value: string) => string | undefined) =>
  z.string().superRefine((value, ctx) => {
    const reason = check(value);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  });

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
const plainString = z.string().min(1).refine((s) => !CONTROL.test(s), 'must not contain control characters');
const argv = z.array(plainString).min(1, 'a command needs at least a program');
/** A unix user or group name (useradd's rules, stricter than most systems need). */
const unixName = z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, 'not a valid unix user or group name');
const seconds = z.number().positive().max(86_400);

const RATE_UNITS = { kB: 1024, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 } as const;
/** A transfer rate as people write it (`500KB/s`, `2MB/s`, `1.5 MB/s`), in bytes per second (units of 1024, as Slipway's output shows sizes). */
export function parseRate(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?) ?(kB|KB|MB|GB)\/s$/.exec(text);
  const rate = m ? Number(m[1]) * RATE_UNITS[m[2] as keyof typeof RATE_UNITS] : undefined;
  return rate && rate >= 1 ? Math.round(rate) : undefined;
}
const rate = z.string().transform((text, ctx) => {
  const value = parseRate(text);
  if (value === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a rate: ${JSON.stringify(text)} (like 500KB/s or 2MB/s)` });
    return z.NEVER;
  }
  return value;
});

export interface TaskContext {
  /** The source checkout the task runs in. */
  readonly cwd: string;
  readonly app: string;
  readonly env: string;
  readonly revision: string;
  /** Environment the task sees: the admin's, plus the private dotenv values. */
  readonly vars: Readonly<Record<string, string>>;
  /** Run a command in the checkout with live, redacted output. */
  run(cmd: readonly [string, ...string[]]): Promise<void>;
  log(message: string): void;
}
export type TaskFunction = (ctx: TaskContext) => Promise<void> | void;

const taskFunction = z.custom<TaskFunction>((v) => typeof v === 'function', 'must be a function');
const task = z.union([
  argv,
  z.strictObject({
    name: plainString,
    run: z.union([argv, taskFunction]),
    /** Run this task's commands as this unprivileged user (overrides the app's taskUser). */
    runAs: unixName.optional(),
  }),
]);

const sshSettings = z.strictObject({
  user: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, 'not a valid unix user name'),
  port: z.number().int().min(1).max(65535),
  key: checked(checkAbsolutePath),
  knownHosts: checked(checkAbsolutePath),
  connectTimeout: seconds,
  commandTimeout: seconds,
  keepaliveInterval: seconds,
  keepaliveCountMax: z.number().int().min(1).max(100),
});

const remoteSettings = z.strictObject({
  /** Where releases live on each web server; `{app}` and `{env}` are filled in. */
  path: z.string().superRefine((value, ctx) => {
    const reason = checkRemotePath(value.replaceAll('{app}', 'app').replaceAll('{env}', 'env'));
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  }),
  keepReleases: z.number().int().min(1).max(100),
  /** rsync on the web servers. */
  rsync: checked(checkAbsolutePath).or(z.literal('rsync')),
  /**
   * `auto`: a host's first release, and small changes, travel as one tar on the stage
   * command's input; `rsync`: every byte goes through the hosts' rsync (its wrapper, limits, logs).
   */
  transfer: z.enum(['auto', 'rsync']),
});

const label = z.string().regex(LABEL, 'a word such as "web" or "phx1"');

const hostSpec = z.union([
  checked(checkHostName),
  z.strictObject({
    name: checked(checkHostName),
    address: checked(checkHostName).optional(),
    port: z.number().int().min(1).max(65535).optional(),
    user: sshSettings.shape.user.optional(),
    /** Roles of the env (see its `roles`) this host has. */
    roles: z.array(label).optional(),
    datacenter: label.optional(),
    /** Variables a rollout may group by (`groupBy: 'rack'`). */
    vars: z.record(label, label).optional(),
  }),
]);

/** An Ansible inventory (a file, or a command printing its JSON) and the pattern naming the env's hosts. */
const inventorySpec = z.union([
  z.strictObject({
    inventory: checked(checkAbsolutePath),
    pattern: z.string().min(1).max(500).refine((s) => !CONTROL.test(s), 'must not contain control characters').default('all'),
  }),
  z.strictObject({
    inventoryCommand: z.tuple([checked(checkAbsolutePath)], plainString),
    pattern: z.string().min(1).max(500).refine((s) => !CONTROL.test(s), 'must not contain control characters').default('all'),
    /** Seconds the command may take. */
    timeout: seconds.default(30),
  }),
]);

const notifySettings = z.strictObject({
  /** POSTed after every run: Slack-compatible `{text}`, or the run summary as JSON. */
  webhook: z
    .strictObject({
      url: z.string().refine((u) => /^https?:\/\/[^\s]+$/.test(u) && URL.canParse(u), 'must be an http:// or https:// URL'),
      format: z.enum(['slack', 'json']).default('json'),
      timeout: seconds.default(5),
    })
    .optional(),
  /** A deploy counter and timing sent over UDP, so deploys show on the graphs. */
  statsd: z
    .strictObject({
      host: checked(checkHostName),
      port: z.number().int().min(1).max(65535).default(8125),
      prefix: z.string().regex(/^[a-zA-Z0-9_-]+(\.[a-zA-Z0-9_-]+)*$/, 'dot-separated words such as "deploys.web"').default('slipway'),
      timeout: seconds.default(2),
    })
    .optional(),
});

const envSettings = z.strictObject({
  /** The hosts, or where to find them: an Ansible inventory file or command, and a pattern. */
  hosts: z.union([z.array(hostSpec).min(1, 'an env needs at least one host'), inventorySpec]),
  /** Roles of the hosts, in the order they switch, each with the rollout settings that differ for it. */
  roles: rolesSettings.optional(),
  branch: checked(checkRefName).optional(),
  ssh: sshSettings.partial().optional(),
  remote: remoteSettings.partial().optional(),
  parallel: z.number().int().min(1).max(1000).optional(),
  /**
   * Relays: per datacenter, this many hosts (the first of each, in env order) or these named
   * hosts pull the release from the admin node; the datacenter's other hosts pull it from them.
   */
  relays: z.union([z.number().int().min(1).max(10), z.array(checked(checkHostName)).min(1)]).optional(),
  /**
   * A host pulling from its relay slower than this (over the whole pull, after a grace for
   * connecting) gives up on the relay and pulls from another relay of its datacenter, or from
   * the admin node; so do the relay's other hosts from then on. Default 256KB/s: far below a
   * working relay's share of its link.
   */
  relayMinRate: rate.optional(),
  rollout: rolloutSettings.optional(),
  notify: notifySettings.optional(),
  /** Only members of these unix groups may deploy this env (checked before anything runs). */
  allowGroups: z.array(unixName).min(1).optional(),
  /** Besides allowGroups, members of these unix groups may see this env on the dashboard (deploy serve). */
  viewGroups: z.array(unixName).min(1).optional(),
});

const privateSettings = z.strictObject({
  /** Directory of private files; default `<root>/<env>/private/<app>`. */
  dir: checked(checkAbsolutePath).optional(),
  /** Dotenv file inside it whose variables reach the admin tasks (never shipped). */
  envFile: checked(checkRelativePath).default('.env'),
  /** Mode of private files on the web servers. */
  mode: z.string().regex(/^0?[0-7]{3}$/, 'an octal mode such as 0640').default('0640'),
  /** Group of private files on the web servers (e.g. the web server's group); must exist there. */
  group: unixName.optional(),
  /** Files (relative to the private dir) a deploy cannot go without, such as `.env`: a deploy missing one stops before anything runs. */
  require: z.array(checked(checkRelativePath)).default([]),
});

export const appSchema = z.strictObject({
  repo: checked(checkRepo),
  branch: checked(checkRefName).default('main'),
  submodules: z.boolean().default(true),
  /** Extra `git -c key=value` settings for the source checkout. */
  gitConfig: z
    .record(z.string().regex(/^[a-zA-Z][a-zA-Z0-9-]*(\.[^\s=]+)*\.[a-zA-Z][a-zA-Z0-9-]*$/, 'not a git config key'), plainString)
    .default({}),
  tasks: z.array(task).default([]),
  /** Unprivileged user the admin tasks run as (setuid/setgid); default: the deploying user (root). */
  taskUser: unixName.optional(),
  /** rsync exclude patterns, on top of `.git*` and `.hg*`. */
  exclude: z.array(plainString).default([]),
  /** Paths in the release tree holding database migrations; rollback across a change to them needs --force. */
  migrations: z.array(checked(checkRelativePath)).default([]),
  private: privateSettings.default({ envFile: '.env', mode: '0640', require: [] }),
  ssh: sshSettings.partial().default({}),
  remote: remoteSettings.partial().default({}),
  parallel: z.number().int().min(1).max(1000).default(25),
  notify: notifySettings.default({}),
  envs: z
    .record(z.string(), envSettings)
    .superRefine((envs, ctx) => {
      for (const name of Object.keys(envs)) {
        const reason = checkEnvName(name);
        if (reason) ctx.addIssue({ code: 'custom', path: [name], message: reason });
      }
      if (Object.keys(envs).length === 0) ctx.addIssue({ code: 'custom', message: 'an app needs at least one env' });
    }),
});

export type AppInput = z.input<typeof appSchema>;
export type AppConfig = z.output<typeof appSchema>;
export type Task = z.output<typeof task>;
export type SshSettings = z.output<typeof sshSettings>;
export type RemoteSettings = z.output<typeof remoteSettings>;
export type HostSpec = z.output<typeof hostSpec>;
export type InventorySpec = z.output<typeof inventorySpec>;
export type NotifyConfig = z.output<typeof notifySettings>;

/** Format zod issues as `envs.prod.hosts[2]: not a valid host name`. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const path = issue.path
      .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
      .join('');
    const message =
      issue.code === 'unrecognized_keys' ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
    return path ? `${path}: ${message}` : message;
  });
}

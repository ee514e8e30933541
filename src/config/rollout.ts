/**
 * An env's rollout: which hosts switch first (canary), in what batches, with
 * what pause, hooks and health checks, and how many failures it tolerates.
 * Counts are whole numbers; shares are strings like '10%'.
 */
import * as z from 'zod';
import { checkHostName } from './names.js';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
const plainString = z.string().min(1).refine((s) => !CONTROL.test(s), 'must not contain control characters');
const argv = z.array(plainString).min(1, 'a command needs at least a program');

/** '10%', '12.5%', '100%'. */
export const SHARE = /^[0-9]{1,3}(?:\.[0-9]+)?%$/;
const share = z.string().regex(SHARE, 'a share of hosts such as "10%"').refine((s) => parseFloat(s) <= 100, 'at most 100%');
const size = z.union([z.number().int().min(1), share.refine((s) => parseFloat(s) > 0, 'must be more than 0%')]);
export type Size = number | string;

const hook = z.union([
  argv,
  z.strictObject({
    name: plainString.optional(),
    run: argv,
    /** Run on exactly one host per deploy: the first host to switch (the first canary). */
    once: z.boolean().default(false),
  }),
]);

/** A URL that parses once its placeholders are filled in. */
const urlTemplate = plainString.superRefine((value, ctx) => {
  try {
    const url = new URL(value.replaceAll('{host}', 'host').replaceAll('{address}', 'address'));
    if (url.protocol !== 'http:' && url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL' });
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a URL (placeholders: {host}, {address})' });
  }
});

const health = z
  .strictObject({
    /** Checked from the admin node, e.g. `http://{address}/health`. */
    http: z
      .strictObject({
        url: urlTemplate,
        status: z.number().int().min(100).max(599).default(200),
        /** Text the response body must contain. */
        body: plainString.optional(),
        /** Seconds per attempt. */
        timeout: z.number().positive().max(600).default(5),
      })
      .optional(),
    /** Run on the host; exit 0 means healthy. */
    command: argv.optional(),
    /** Attempts after the first before a host counts as unhealthy. */
    retries: z.number().int().min(0).max(100).default(3),
    /** Seconds before the first retry; doubles for each next one. */
    backoff: z.number().min(0).max(600).default(1),
  })
  .refine((h) => h.http || h.command, 'a health check needs http, command or both');

/** A name for a role or a datacenter: a word, as Ansible group names are. */
export const LABEL = /^[a-z0-9][a-z0-9_-]{0,62}$/i;

const hooks = z
  .strictObject({
    preSwitch: z.array(hook).default([]),
    postSwitch: z.array(hook).default([]),
  })
  .default({ preSwitch: [], postSwitch: [] });

/** The settings a role may set for its own hosts, without defaults: what it leaves out is the env's. */
const shaping = {
  /** The first phase: this many hosts (in env order), or these named hosts; with groupBy, this many in each group. */
  canary: z.union([z.number().int().min(0), z.array(z.string().refine((s) => !checkHostName(s), 'not a valid host name')).min(1)]),
  /** Size of each next phase; the last size repeats until every host is done (as Ansible's serial). */
  batches: z.array(size).min(1),
  /** Seconds to wait between phases. */
  pause: z.number().min(0).max(86_400),
  /** Hosts that may fail before the rollout stops and the fleet is reverted; with groupBy, per group. */
  failureBudget: z.union([z.number().int().min(0), share]),
  /** Hosts switching at once within a phase (default: the env's parallel). */
  maxSwitching: size,
  /**
   * Shape phases by datacenter (or any host variable, such as a rack): a canary in each
   * group, then one group at a time, with the failure budget counted per group.
   */
  groupBy: z.string().regex(LABEL, 'a host variable such as "datacenter" or "rack"'),
  hooks,
  health,
};

export const rolloutSettings = z.strictObject({
  canary: shaping.canary.default(0),
  batches: shaping.batches.default(['100%']),
  pause: shaping.pause.default(0),
  failureBudget: shaping.failureBudget.default(0),
  maxSwitching: shaping.maxSwitching.optional(),
  groupBy: shaping.groupBy.optional(),
  /** Put the fleet back when the rollout fails (`--no-auto-revert` overrides). */
  autoRevert: z.boolean().default(true),
  hooks,
  health: health.optional(),
});

/**
 * A role of an env's hosts (`web`, `worker`, …): which hosts have it (an inventory group or
 * pattern, or the hosts' own `roles`), and the rollout settings that differ for them. Roles
 * switch in the order the env lists them, each with its own phases.
 */
export const roleSettings = z.strictObject({
  /** An inventory pattern whose hosts have this role (hosts from an inventory only). */
  group: z.string().min(1).max(500).refine((s) => !CONTROL.test(s), 'must not contain control characters').optional(),
  canary: shaping.canary.optional(),
  batches: shaping.batches.optional(),
  pause: shaping.pause.optional(),
  failureBudget: shaping.failureBudget.optional(),
  maxSwitching: shaping.maxSwitching.optional(),
  groupBy: shaping.groupBy.optional(),
  /** Replace the env's hooks for this role's hosts (a reload for web, a restart for workers). */
  hooks: z
    .strictObject({ preSwitch: z.array(hook).optional(), postSwitch: z.array(hook).optional() })
    .optional(),
  /** Replace the env's health check for this role's hosts. */
  health: health.optional(),
});

export const rolesSettings = z.record(z.string().regex(LABEL, 'a role is a word such as "web" or "worker"'), roleSettings);

export type RolloutSettings = z.output<typeof rolloutSettings>;
export type RoleSettings = z.output<typeof roleSettings>;
export type Roles = z.output<typeof rolesSettings>;
export type Hook = z.output<typeof hook>;
export type HealthSettings = z.output<typeof health>;

export const DEFAULT_ROLLOUT: RolloutSettings = rolloutSettings.parse({});

/** A role's rollout: the env's, with what the role sets in its place (hooks one list at a time). */
export function roleRollout(env: RolloutSettings, role: RoleSettings | undefined): RolloutSettings {
  if (!role) return env;
  const { group: _group, hooks: roleHooks, health: roleHealth, ...rest } = role;
  const set = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<RolloutSettings>;
  return {
    ...env,
    ...set,
    hooks: { preSwitch: roleHooks?.preSwitch ?? env.hooks.preSwitch, postSwitch: roleHooks?.postSwitch ?? env.hooks.postSwitch },
    health: roleHealth ?? env.health,
  };
}

/** Problems a schema cannot see: named canaries must be hosts of the env. */
export function rolloutProblems(rollout: RolloutSettings, hostNames: readonly string[]): string[] {
  if (typeof rollout.canary === 'number') return [];
  const problems = rollout.canary.filter((name) => !hostNames.includes(name)).map((name) => `rollout.canary: "${name}" is not a host of this env`);
  if (new Set(rollout.canary).size !== rollout.canary.length) problems.push('rollout.canary: a host is named twice');
  return problems;
}

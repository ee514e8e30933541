/**
 * `--json` of the read commands (status, releases, log, plan, diff): one JSON document
 * each, built from the very values the text output is printed from. Pure: values in,
 * a document out. The schemas are documented in docs/json-read.md; `v` (named as in
 * the event stream and in apps/check --json) changes only when a field changes meaning or
 * goes away (new fields may appear).
 */
import type { HostTree } from '../deploy/drift.js';
import type { Outcome } from '../deploy/fanout.js';
import { idOfDir } from '../deploy/layout.js';
import type { Drift } from '../deploy/remote-output.js';
import { describeStep, type PlanContext } from '../deploy/plan-text.js';
import type { RolloutPlan } from '../deploy/plan.js';
import { needsOf } from '../flows/sync.js';
import type { FileChange } from '../release-store/diff.js';
import type { HistoryEvent, LiveState } from '../release-store/history.js';
import type { Release } from '../release-store/release.js';
import { plural } from './line.js';

export const READ_SCHEMA_VERSION = 1;

/** The document as one line of JSON, newline-terminated: what goes to stdout. */
export function printable(doc: object): string {
  return `${JSON.stringify(doc)}\n`;
}

const ref = (r: Release | undefined) => (r ? { id: r.id, commit: r.commit } : null);

// --- releases -------------------------------------------------------------------------

/** `live` per the history; `rolled-back`: a rollback moved the fleet away from it. */
export function releaseMark(r: Release, live: Release | undefined, state: LiveState): 'live' | 'rolled-back' | undefined {
  return r.id === live?.id ? 'live' : state.rolledBack.has(r.id) ? 'rolled-back' : undefined;
}

export function releasesDocument(target: string, releases: readonly Release[], live: Release | undefined, state: LiveState) {
  return {
    v: READ_SCHEMA_VERSION,
    command: 'releases' as const,
    target,
    live: live?.id ?? null,
    releases: releases.map((r) => ({
      id: r.id,
      number: r.number,
      commit: r.commit,
      date: r.date,
      deployer: r.deployer,
      source: r.source ?? null,
      branch: r.branch ?? null,
      submodules: r.submodules.map((s) => ({ path: s.path, sha: s.sha })),
      build: r.build ?? null,
      mark: releaseMark(r, live, state) ?? null,
    })),
  };
}

// --- status ---------------------------------------------------------------------------

export interface StatusInput {
  target: string;
  live: Release | undefined;
  newest: Release | undefined;
  /** false: no history yet, the live release is taken to be the newest */
  fromHistory: boolean;
  results: readonly Outcome<HostTree>[];
}

export type StatusHost =
  | { host: string; reachable: false; error: string }
  | {
      host: string;
      reachable: true;
      /** the release id the host's `current` names; null: none */
      release: string | null;
      revision: string | null;
      verdict: HostTree['verdict'];
      newest: boolean;
      drift: Drift[];
      kept: { release: string; differ: number | null; edited: boolean }[];
      needs: { repair: boolean; ship: boolean; forget: boolean };
    };

/**
 * What every host serves against the live release, and the problems that make `status`
 * exit 1 (the same sentences its error names). `error`s are given already redacted.
 */
export function statusDocument(input: StatusInput) {
  const { target, live, newest } = input;
  const hosts = input.results.map((r): StatusHost => {
    if (!r.ok) return { host: r.host, reachable: false, error: r.error };
    const t = r.value;
    return {
      host: r.host,
      reachable: true,
      release: idOfDir(t.dir) ?? null,
      revision: t.revision ?? null,
      verdict: t.verdict,
      newest: Boolean(newest && t.revision === newest.commit),
      drift: t.drift.map((d) => ({ kind: d.kind, path: d.path })),
      kept: t.kept.map((k) => ({ release: idOfDir(k.dir) ?? k.dir, differ: k.differ ?? null, edited: Boolean(k.differ) })),
      needs: needsOf(t),
    };
  });
  let unreachable = 0;
  let differ = 0;
  let edited = 0;
  for (const h of hosts) {
    if (!h.reachable) unreachable++;
    else {
      if (h.needs.repair || h.needs.ship) differ++;
      if (h.needs.forget) edited++;
    }
  }
  const problems = live
    ? [
        ...(unreachable ? [`${plural(unreachable, 'host')} could not be reached`] : []),
        ...(differ ? [`${plural(differ, 'host')} ${differ === 1 ? 'differs' : 'differ'} from the live release ${live.id}: run deploy sync ${target}`] : []),
        ...(edited ? [`${plural(edited, 'host')} ${edited === 1 ? 'keeps' : 'keep'} releases edited by hand: run deploy sync ${target} to remove them`] : []),
      ]
    : [];
  return {
    v: READ_SCHEMA_VERSION,
    command: 'status' as const,
    target,
    live: live ? { ...ref(live)!, fromHistory: input.fromHistory } : null,
    newest: ref(newest),
    hosts,
    problems,
  };
}

export type StatusDocument = ReturnType<typeof statusDocument>;

// --- log ------------------------------------------------------------------------------

export function logDocument(target: string, events: readonly HistoryEvent[]) {
  return {
    v: READ_SCHEMA_VERSION,
    command: 'log' as const,
    target,
    events: events.map((e) => ({
      kind: e.kind,
      at: e.at,
      who: e.who,
      from: e.from ?? null,
      to: e.to ?? null,
      commit: e.commit ?? null,
      result: e.result,
      hosts: e.hosts.map((h) => ({ host: h.host, state: h.state, error: h.error ?? null, address: h.address ?? null, roles: h.roles ?? [], datacenter: h.datacenter ?? null, source: h.source ?? null })),
      error: e.error ?? null,
    })),
  };
}

// --- diff -----------------------------------------------------------------------------

/** `from` null: `to` is the first release, there is nothing before it (files is then empty). */
export function diffDocument(target: string, from: Release | undefined, to: Release, files: readonly FileChange[], patch?: string) {
  return {
    v: READ_SCHEMA_VERSION,
    command: 'diff' as const,
    target,
    from: ref(from),
    to: ref(to)!,
    files: files.map((f) => ({ status: f.status, path: f.path, private: f.private })),
    /** only with --patch: the unified diff of the non-private files ('' when none changed) */
    patch: patch ?? null,
  };
}

// --- plan -----------------------------------------------------------------------------

/** The rollout formatPlan prints, as data: the same plan and context. */
export function planDocument(plan: RolloutPlan, ctx: PlanContext) {
  const r = ctx.release;
  return {
    v: READ_SCHEMA_VERSION,
    command: 'plan' as const,
    target: ctx.target,
    release: { id: r.id, created: r.created, commit: r.commit ?? null, source: r.source ?? null, subject: r.subject ?? null },
    base: ctx.base ? { id: ctx.base.id, source: ctx.base.source ?? null } : null,
    commits: ctx.commits?.map((c) => ({ sha: c.sha, subject: c.subject })) ?? null,
    hosts: plan.hosts.map((h) => h.name),
    parallel: ctx.parallel,
    phases: plan.phases.map((phase) => ({
      name: phase.name,
      pauseBefore: phase.pauseBefore,
      concurrency: phase.concurrency,
      hosts: phase.hosts.map(({ host, steps }) => {
        const live = ctx.live.get(host.name);
        const nothingToDo = live?.id === plan.release;
        return {
          host: host.name,
          serves: live?.id ?? null,
          error: live?.error ?? null,
          nothingToDo,
          steps: nothingToDo ? [] : steps.map((step) => ({ kind: step.kind, text: describeStep(step) })),
        };
      }),
    })),
    failureBudget: plan.failureBudget,
    budgets: plan.budgets,
    maxSwitching: plan.maxSwitching,
    autoRevert: plan.autoRevert,
    retries: plan.retries,
    backoffS: plan.backoffS,
    keepReleases: plan.keepReleases,
    relays: ctx.relays?.relays.map((r) => ({ relay: r.name, datacenter: r.datacenter, serves: r.serves })) ?? [],
    relayMinRate: ctx.relays ? ctx.relays.minRate : null,
  };
}

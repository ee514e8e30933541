/**
 * Recording a run in the history: who and when are filled in here, error text
 * is redacted (an admin task's output may hold a private value), and a failure
 * to record never hides the run's own outcome; it becomes a warning.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, ExitCode, SlipwayError } from '../errors.js';
import type { Reporter } from '../report/events.js';
import { redact } from '../report/redact.js';
import { appendEvent, type EventKind, type EventResult, type HistoryEvent, type HistoryTip, type HostOutcome } from './history.js';
import type { Release } from './release.js';
import { deployerName } from '../caller.js';
import type { Host } from '../config/resolve.js';

export interface RunRecord {
  kind: EventKind;
  from?: string;
  to?: Release;
  /** `previous`: the release id the host served before the run (a host already on `to` is recorded as already live). */
  hosts: readonly (HostOutcome & { previous?: string })[];
  error?: unknown;
  /** the history's tip as the run read it at its start (StoreView.tip): the append starts there */
  tip?: HistoryTip;
  /** the env's hosts as resolved for this run (from the app file or an inventory) */
  fleet?: readonly Host[];
}

/** Bad input changed nothing, so it is not an event. */
export function isWorthRecording(err: unknown): boolean {
  return !(err instanceof SlipwayError && err.exitCode === ExitCode.usage);
}

export function resultOf(err: unknown): EventResult {
  if (err === undefined) return 'ok';
  const code = err instanceof SlipwayError ? err.exitCode : ExitCode.failed;
  return code === ExitCode.partial ? 'partial' : code === ExitCode.reverted ? 'reverted' : 'failed';
}

export async function recordRun(www: string, run: RunRecord, reporter: Reporter): Promise<void> {
  if (!existsSync(join(www, '.git'))) return; // nothing was ever released: no store to keep history in
  const event: HistoryEvent = {
    kind: run.kind,
    who: deployerName(),
    at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(run.from ? { from: run.from } : {}),
    ...(run.to ? { to: run.to.id, commit: run.to.commit } : {}),
    result: resultOf(run.error),
    hosts: run.hosts.map((h) => ({
      host: h.host,
      ...machine(run.fleet?.find((m) => m.name === h.host)),
      state: h.state === 'switched' && run.to && h.previous === run.to.id ? 'already-live' : h.state,
      ...(h.error ? { error: redact(h.error) } : {}),
    })),
    ...(run.error !== undefined ? { error: redact(errorMessage(run.error)) } : {}),
  };
  try {
    await appendEvent(www, event, run.tip);
  } catch (err) {
    reporter.emit({ kind: 'note', level: 'warn', text: `could not record this ${run.kind} in the history: ${errorMessage(err)}` });
  }
}

/** What the history keeps of a host: where it was reached, its roles and datacenter, where it was named. */
function machine(host: Host | undefined): Pick<HostOutcome, 'address' | 'roles' | 'datacenter' | 'source'> {
  if (!host) return {};
  return {
    address: `${host.user}@${host.address}:${host.port}`,
    ...(host.roles?.length ? { roles: [...host.roles] } : {}),
    ...(host.datacenter ? { datacenter: host.datacenter } : {}),
    ...(host.source ? { source: host.source } : {}),
  };
}

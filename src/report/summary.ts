/**
 * What happened in a run, derived from its events alone: each host's outcome,
 * each step with its duration and bytes, the release, the exit code. The JSON
 * stream, the JUnit file and notifications are all built from this one value,
 * so they always agree with each other and with the human lines.
 */
import { ADMIN, type Reporter, type RunEvent } from './events.js';

export interface StepSummary {
  host: string;
  step: string;
  ok: boolean;
  ms: number;
  text: string;
  bytes?: number;
  files?: number;
}

/**
 * `switched`: serves the release · `staged`: has it, was not switched (a failure
 * elsewhere) · `failed`: a step failed on it · `untouched`: the run stopped first.
 */
export type HostState = 'switched' | 'staged' | 'failed' | 'untouched';

export interface HostSummary {
  host: string;
  state: HostState;
  /** The step that failed, and why. */
  failedStep?: string;
  error?: string;
  ms: number;
  bytes: number;
  files: number;
  steps: StepSummary[];
}

export interface PhaseSummary {
  phase: string;
  ok: boolean;
  ms: number;
  failed: string[];
}

export interface RunSummary {
  target: string;
  revision?: string;
  build?: string;
  release?: { id: string; commit: string; created: boolean };
  /** Steps on the admin node (update, tasks, release, export). */
  admin: StepSummary[];
  hosts: HostSummary[];
  phases: PhaseSummary[];
  counts: Record<HostState, number>;
  bytes: number;
  /** Set once the run has finished. */
  exitCode?: number;
  ms?: number;
  error?: string;
}

export class RunTracker implements Reporter {
  private target = '';
  private hostNames: string[] = [];
  private start?: Extract<RunEvent, { kind: 'run'; state: 'start' }>;
  private finish?: Extract<RunEvent, { kind: 'run'; state: 'finish' }>;
  private release?: RunSummary['release'];
  private readonly steps: StepSummary[] = [];
  private readonly phases: PhaseSummary[] = [];

  begin(_title: string, hosts: readonly string[]): void {
    for (const h of hosts) if (!this.hostNames.includes(h)) this.hostNames.push(h);
  }

  emit(event: RunEvent): void {
    switch (event.kind) {
      case 'run':
        this.target = event.target;
        if (event.state === 'start') {
          this.start = event;
          this.begin('', event.hosts);
        } else this.finish = event;
        return;
      case 'release':
        this.release = { id: event.id, commit: event.commit, created: event.created };
        return;
      case 'phase':
        if (event.state !== 'start') this.phases.push({ phase: event.phase, ok: event.state === 'done', ms: event.ms ?? 0, failed: event.failed ?? [] });
        return;
      case 'step':
        if (event.state === 'start') return;
        if (event.host !== ADMIN && !this.hostNames.includes(event.host)) this.hostNames.push(event.host);
        this.steps.push({
          host: event.host,
          step: event.step,
          ok: event.state !== 'fail',
          ms: event.ms ?? 0,
          text: event.text,
          ...(event.bytes === undefined ? {} : { bytes: event.bytes }),
          ...(event.files === undefined ? {} : { files: event.files }),
        });
        return;
      default:
        return;
    }
  }

  async close(): Promise<void> {}

  summary(): RunSummary {
    const hosts = this.hostNames.map((host) => hostSummary(host, this.steps.filter((s) => s.host === host)));
    const counts: Record<HostState, number> = { switched: 0, staged: 0, failed: 0, untouched: 0 };
    for (const h of hosts) counts[h.state]++;
    return {
      target: this.target,
      ...(this.start?.revision ? { revision: this.start.revision } : {}),
      ...(this.start?.build ? { build: this.start.build } : {}),
      ...(this.release ? { release: this.release } : {}),
      admin: this.steps.filter((s) => s.host === ADMIN),
      hosts,
      phases: [...this.phases],
      counts,
      bytes: hosts.reduce((sum, h) => sum + h.bytes, 0),
      ...(this.finish ? { exitCode: this.finish.exitCode, ms: this.finish.ms } : {}),
      ...(this.finish?.error !== undefined ? { error: this.finish.error } : {}),
    };
  }
}

function hostSummary(host: string, steps: StepSummary[]): HostSummary {
  const failed = steps.find((s) => !s.ok);
  const did = (name: string) => steps.some((s) => s.step === name && s.ok);
  const state: HostState = failed ? 'failed' : did('switch') ? 'switched' : did('stage') ? 'staged' : 'untouched';
  return {
    host,
    state,
    ...(failed ? { failedStep: failed.step, error: failed.text } : {}),
    ms: steps.reduce((sum, s) => sum + s.ms, 0),
    bytes: steps.reduce((sum, s) => sum + (s.bytes ?? 0), 0),
    files: steps.reduce((sum, s) => sum + (s.files ?? 0), 0),
    steps,
  };
}

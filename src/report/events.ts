/**
 * What a run reports, as data. Feature code emits events; renderers (TTY view,
 * timestamped lines, silent collector for tests) decide how they look. Nothing
 * inside a step writes to the console directly.
 */
export type StepState = 'start' | 'done' | 'skip' | 'fail';

export interface StepEvent {
  kind: 'step';
  /** `admin` for steps on the admin node, otherwise the web server's name. */
  host: string;
  step: string;
  state: StepState;
  /** Human text: `staged r42 (2 files, 3.1 kB)`. */
  text: string;
  ms?: number;
  /** Bytes moved by the step (staging: received by the host). */
  bytes?: number;
  /** Files moved by the step. */
  files?: number;
}

export interface OutputEvent {
  kind: 'output';
  host: string;
  line: string;
}

/**
 * A long transfer to one host, under way: bytes handed to the host so far, of `total`
 * when it is known. Emitted every few hundred ms while the transfer lasts (also when it
 * stalls); how often a view shows it is the view's choice (progress.ts).
 */
export interface ProgressEvent {
  kind: 'progress';
  host: string;
  /** What is being sent: `staging r42`, `sending the tree ahead`. */
  text: string;
  bytes: number;
  total?: number;
}

export interface NoteEvent {
  kind: 'note';
  level: 'info' | 'warn' | 'error';
  text: string;
}

/**
 * A named phase of the run (update, release, stage, switch): its start, and its
 * end with the hosts that failed in it. Fan-out phases finish even when some
 * hosts fail; `fail` then lists them.
 */
export interface PhaseEvent {
  kind: 'phase';
  phase: string;
  state: 'start' | 'done' | 'fail';
  ms?: number;
  failed?: string[];
}

/** The release this run ships, as soon as it is known. */
export interface ReleaseEvent {
  kind: 'release';
  id: string;
  commit: string;
  /** False when the tree was unchanged and an existing release is shipped again. */
  created: boolean;
}

/** Start and end of a whole run, for machine-readable reports and notifications. */
export type RunStateEvent =
  | { kind: 'run'; state: 'start'; target: string; hosts: string[]; revision?: string; build?: string }
  | { kind: 'run'; state: 'finish'; target: string; exitCode: number; ms: number; error?: string };

export type RunEvent = StepEvent | OutputEvent | ProgressEvent | NoteEvent | PhaseEvent | ReleaseEvent | RunStateEvent;

export interface Reporter {
  /** The hosts that will appear, so a view can lay them out up front. */
  begin(title: string, hosts: readonly string[]): void;
  emit(event: RunEvent): void;
  /** Flush and stop rendering; called once at the end of a run. */
  close(): Promise<void>;
}

export const ADMIN = 'admin';

/** Time a step: emits start, then done (with duration) or fail, and rethrows. */
export async function step<T>(
  reporter: Reporter,
  host: string,
  name: string,
  startText: string,
  body: () => Promise<T>,
  doneText: (result: T) => string,
  moved?: (result: T) => { bytes: number; files: number } | undefined,
): Promise<T> {
  reporter.emit({ kind: 'step', host, step: name, state: 'start', text: startText });
  const started = performance.now();
  try {
    const result = await body();
    reporter.emit({ kind: 'step', host, step: name, state: 'done', text: doneText(result), ms: performance.now() - started, ...moved?.(result) });
    return result;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // a HostError already names its host, which the renderers show anyway
    const text = message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message;
    reporter.emit({ kind: 'step', host, step: name, state: 'fail', text, ms: performance.now() - started });
    throw err;
  }
}

/** Time a phase: emits start, then done or fail (with the hosts `failures` names), and rethrows. */
export async function phase<T>(reporter: Reporter, name: string, body: () => Promise<T>, failures: (result: T) => string[] = () => []): Promise<T> {
  reporter.emit({ kind: 'phase', phase: name, state: 'start' });
  const started = performance.now();
  try {
    const result = await body();
    const failed = failures(result);
    reporter.emit({ kind: 'phase', phase: name, state: failed.length ? 'fail' : 'done', ms: performance.now() - started, ...(failed.length ? { failed } : {}) });
    return result;
  } catch (err) {
    reporter.emit({ kind: 'phase', phase: name, state: 'fail', ms: performance.now() - started });
    throw err;
  }
}

/** Send every event to several reporters (human view, JSON, JUnit, run summary). */
export function tee(...reporters: Reporter[]): Reporter {
  return {
    begin: (title, hosts) => reporters.forEach((r) => r.begin(title, hosts)),
    emit: (event) => reporters.forEach((r) => r.emit(event)),
    close: async () => void (await Promise.all(reporters.map((r) => r.close()))),
  };
}

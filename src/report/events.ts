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
  bytes?: number;
}

export interface OutputEvent {
  kind: 'output';
  host: string;
  line: string;
}

export interface NoteEvent {
  kind: 'note';
  level: 'info' | 'warn' | 'error';
  text: string;
}

export type RunEvent = StepEvent | OutputEvent | NoteEvent;

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
): Promise<T> {
  reporter.emit({ kind: 'step', host, step: name, state: 'start', text: startText });
  const started = performance.now();
  try {
    const result = await body();
    reporter.emit({ kind: 'step', host, step: name, state: 'done', text: doneText(result), ms: performance.now() - started });
    return result;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // a HostError already names its host, which the renderers show anyway
    const text = message.startsWith(`${host}: `) ? message.slice(host.length + 2) : message;
    reporter.emit({ kind: 'step', host, step: name, state: 'fail', text, ms: performance.now() - started });
    throw err;
  }
}

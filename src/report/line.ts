/**
 * Plain output for logs and CI: one timestamped line per finished step, host
 * first, with its duration. `start` events are silent so a log reads as a
 * record of what happened.
 */
import type { Reporter, RunEvent } from './events.js';

export function formatDuration(ms: number): string {
  // round first, then pick the unit, so no unit is shown at its own limit ("1000ms", "60.0s")
  if (Math.round(ms) < 1000) return `${Math.round(ms)}ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

export function formatLine(event: RunEvent, now: Date): string | undefined {
  const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  switch (event.kind) {
    case 'step':
      if (event.state === 'start') return undefined;
      return `${ts} [${event.host}] ${event.state === 'fail' ? 'FAILED: ' : ''}${event.text}${event.ms === undefined ? '' : ` in ${formatDuration(event.ms)}`}`;
    case 'output':
      return `${ts} [${event.host}] | ${event.line}`;
    case 'note':
      return `${ts} ${event.level === 'info' ? '' : `${event.level.toUpperCase()}: `}${event.text}`;
    default:
      // phases, the release and the run's start and end are for machine-readable reports;
      // the step lines already say all of it to a human
      return undefined;
  }
}

export function lineReporter(write: (line: string) => void = (l) => process.stderr.write(`${l}\n`), clock: () => Date = () => new Date()): Reporter {
  return {
    begin: (title) => write(`${clock().toISOString().replace(/\.\d{3}Z$/, 'Z')} ${title}`),
    emit: (event) => {
      const line = formatLine(event, clock());
      if (line !== undefined) write(line);
    },
    close: async () => {},
  };
}

/** Collects events, prints nothing: for tests and for commands whose output is data. */
export function memoryReporter(): Reporter & { events: RunEvent[] } {
  const events: RunEvent[] = [];
  return { events, begin: () => {}, emit: (e) => void events.push(e), close: async () => {} };
}

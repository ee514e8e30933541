/**
 * Plain output for logs and CI: one timestamped line per finished step, host
 * first, with its duration. `start` events are silent so a log reads as a
 * record of what happened; a long transfer adds a progress line every few seconds.
 */
import type { ProgressEvent, Reporter, RunEvent } from './events.js';
import { ProgressPace } from './progress.js';

export function formatDuration(ms: number): string {
  // round first, then pick the unit, so no unit is shown at its own limit ("1000ms", "60.0s")
  if (Math.round(ms) < 1000) return `${Math.round(ms)}ms`;
  const tenths = Math.round(ms / 100);
  if (tenths < 600) return `${(tenths / 10).toFixed(1)}s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
}

/** Sizes from bytes to terabytes: one decimal, the largest unit under 1024. */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) (n /= 1024), i++;
  return i === 0 ? `${n} B` : `${n.toFixed(1)} ${units[i]}`;
}

/** A transfer under way: `staging r42: 12.0 MB of 48.0 MB (25%)`, or `…: 12.0 MB sent` when the total is unknown. */
export function progressText(event: ProgressEvent): string {
  if (event.total === undefined) return `${event.text}: ${formatBytes(event.bytes)} sent`;
  const percent = event.total > 0 ? Math.min(100, Math.floor((event.bytes / event.total) * 100)) : 100;
  return `${event.text}: ${formatBytes(event.bytes)} of ${formatBytes(event.total)} (${percent}%)`;
}

/** `1 file`, `0 files`, `2 hosts`; `many` for words that do not just take an s. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/**
 * A finished step as text. A failed step's text is an error message, often a whole
 * sentence or several lines, so its duration comes first: `FAILED after 168ms: …`.
 */
export function stepText(event: Extract<RunEvent, { kind: 'step' }>): string {
  const took = event.ms === undefined ? undefined : formatDuration(event.ms);
  if (event.state === 'fail') return `FAILED${took === undefined ? '' : ` after ${took}`}: ${event.text}`;
  return took === undefined ? event.text : `${event.text} in ${took}`;
}

export function formatLine(event: RunEvent, now: Date): string | undefined {
  const ts = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  switch (event.kind) {
    case 'step':
      if (event.state === 'start') return undefined;
      return `${ts} [${event.host}] ${stepText(event)}`;
    case 'output':
      return `${ts} [${event.host}] | ${event.line}`;
    case 'progress':
      return `${ts} [${event.host}] ${progressText(event)}`;
    case 'note':
      return `${ts} ${event.level === 'info' ? '' : `${event.level.toUpperCase()}: `}${event.text}`;
    default:
      // phases, the release and the run's start and end are for machine-readable reports;
      // the step lines already say all of it to a human
      return undefined;
  }
}

export function lineReporter(write: (line: string) => void = (l) => process.stderr.write(`${l}\n`), clock: () => Date = () => new Date()): Reporter {
  // a log gets a transfer's progress every few seconds, not at every tick
  const pace = new ProgressPace(() => clock().getTime());
  return {
    begin: (title) => write(`${clock().toISOString().replace(/\.\d{3}Z$/, 'Z')} ${title}`),
    emit: (event) => {
      if (!pace.show(event)) return;
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

/**
 * The last `n` non-blank lines of a command's output, for messages: what it said before it
 * failed; `separator` joins them (` / ` keeps a message on one line).
 */
export function lastLines(text: string, n = 1, separator = '\n'): string {
  return text.trimEnd().split('\n').filter((l) => l.trim() !== '').slice(-n).join(separator);
}

/**
 * SIGINT and SIGTERM, as one process-wide AbortSignal. A signal means: start no
 * new work, close what is open, unwind through every `finally` (so the lock is
 * released and the release server stopped) and say what state each host is in.
 * A second signal means "now": the caller's last-moment hook runs and the
 * process exits at once.
 */
import { InterruptedError } from './errors.js';

const controller = new AbortController();

/** Aborted once the run was asked to stop; reason is the signal's name. */
export const interruption: AbortSignal = controller.signal;

export function interrupt(reason: string): void {
  if (!controller.signal.aborted) controller.abort(reason);
}

/** Throw InterruptedError if the run was asked to stop; call before starting new work. */
export function checkInterrupted(what: string): void {
  if (interruption.aborted) throw new InterruptedError(`interrupted by ${String(interruption.reason)} before ${what}`);
}

/**
 * Install the handlers (the CLI does this once per run). `onFirst` reports;
 * `onSecond` must be synchronous: it runs just before process.exit.
 */
export function handleSignals(onFirst: (signal: string) => void, onSecond: () => void): () => void {
  const handler = (signal: NodeJS.Signals) => {
    if (interruption.aborted) {
      onSecond();
      process.exit(130);
    }
    interrupt(signal);
    onFirst(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

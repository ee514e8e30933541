/**
 * The one way to ask the operator something. Without a terminal (CI, pipes,
 * cron) nobody can answer, so the question becomes an error that says which
 * flag answers it, instead of a run that hangs waiting on stdin.
 */
import { createInterface } from 'node:readline/promises';
import { UsageError } from '../errors.js';
import { isInteractive } from './context.js';

export interface ConfirmOptions {
  /** --yes was passed: every question is answered yes. */
  yes?: boolean;
  /** Defaults to isInteractive(). */
  interactive?: boolean;
  /** The flag that answers this question, if not --yes. */
  flag?: string;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
}

export async function confirm(question: string, options: ConfirmOptions = {}): Promise<boolean> {
  if (options.yes) return true;
  if (!(options.interactive ?? isInteractive())) {
    throw new UsageError(`${question} needs confirmation, and this run is not interactive (no terminal, or CI is set): pass ${options.flag ?? '--yes'} to go ahead`);
  }
  const rl = createInterface({ input: options.input ?? process.stdin, output: options.output ?? process.stderr, terminal: false });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}

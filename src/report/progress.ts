/**
 * Progress of long transfers. A `Transfer` counts the bytes handed to one host's stream
 * and, once the transfer is big enough to be worth watching, reports them every tick,
 * also while nothing moves, so a wedged host shows a figure that stays put. The views
 * decide how often a reader sees it: the terminal view at every tick, logs through a
 * `ProgressPace`.
 */
import type { Reporter, RunEvent } from './events.js';

/** Below this (the total when known, else the bytes sent so far), a transfer is over before anyone could read a figure. */
export const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;
/** How often a transfer reports; the terminal view redraws about as often. */
export const PROGRESS_TICK_MS = 250;
/** Logs: nothing in a transfer's first seconds, then one line per host at most this often. */
export const PROGRESS_LOG_MS = 5000;

type Timers = { setInterval: typeof setInterval; clearInterval: typeof clearInterval };

export class Transfer {
  private sent = 0;
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    private readonly reporter: Reporter,
    readonly host: string,
    /** What is being sent, as the host's row says it: `staging r42`. */
    readonly text: string,
    /** Bytes the transfer will send, when known (a tar's size, a tree's blob sizes). */
    readonly total?: number,
    private readonly timers: Timers = globalThis,
  ) {}

  /** Start reporting (every tick, once past PROGRESS_MIN_BYTES). */
  start(): this {
    this.timer ??= this.timers.setInterval(() => this.tick(), PROGRESS_TICK_MS);
    // a timer of its own must not keep a finished run's process alive
    this.timer.unref?.();
    return this;
  }

  /** `n` more bytes handed to the host's stream. */
  add(n: number): void {
    this.sent += n;
  }

  get bytes(): number {
    return this.sent;
  }

  tick(): void {
    if ((this.total ?? this.sent) < PROGRESS_MIN_BYTES) return;
    // a stalled transfer reports the same figure again: the views show it has not moved
    this.reporter.emit({ kind: 'progress', host: this.host, text: this.text, bytes: this.sent, ...(this.total === undefined ? {} : { total: this.total }) });
  }

  /** Stop reporting; the step's own done or fail event says how it ended. */
  finish(): void {
    if (this.timer) this.timers.clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Run `body` with a started Transfer, finished however the body ends. */
export async function withTransfer<T>(reporter: Reporter, host: string, text: string, total: number | undefined, body: (t: Transfer) => Promise<T>): Promise<T> {
  const transfer = new Transfer(reporter, host, text, total).start();
  try {
    return await body(transfer);
  } finally {
    transfer.finish();
  }
}

/**
 * Which progress events a log shows: none in a transfer's first PROGRESS_LOG_MS (most
 * transfers are over by then, and their step line says it all), then one per host every
 * PROGRESS_LOG_MS. A step event for the host, or a transfer with new text, starts the count again.
 */
export class ProgressPace {
  private readonly hosts = new Map<string, { text: string; since: number; last: number }>();

  constructor(
    private readonly now: () => number = () => performance.now(),
    private readonly everyMs = PROGRESS_LOG_MS,
  ) {}

  /** Whether to show this event; other kinds are always shown (and a step resets its host). */
  show(event: RunEvent): boolean {
    if (event.kind === 'step') this.hosts.delete(event.host);
    if (event.kind !== 'progress') return true;
    const t = this.now();
    const seen = this.hosts.get(event.host);
    if (!seen || seen.text !== event.text) {
      this.hosts.set(event.host, { text: event.text, since: t, last: t });
      return false;
    }
    if (t - seen.last < this.everyMs) return false;
    seen.last = t;
    return true;
  }
}

/**
 * The few error types feature code throws. The CLI maps them to exit codes
 * (documented in README) and prints only `message` unless --verbose.
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  lockHeld: 3,
  reverted: 4,
  partial: 5,
  /** A newer queued deploy of the same app-env replaced this one (--wait). */
  superseded: 6,
  /** 128 + SIGINT, as shells report an interrupted command. */
  interrupted: 130,
} as const;

export class SlipwayError extends Error {
  readonly exitCode: number = ExitCode.failed;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad command line, unknown app or env, hostile name: nothing was changed. */
export class UsageError extends SlipwayError {
  override readonly exitCode = ExitCode.usage;
}

/** An app file that does not load or does not validate; every problem is listed. */
export class ConfigError extends SlipwayError {
  override readonly exitCode = ExitCode.usage;
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0]! : `${problems.length} problems:\n  ${problems.join('\n  ')}`);
  }
}

/** A local step (git, rsync, an admin task) failed before anything was shipped. */
export class StepError extends SlipwayError {}

/** One host failed; the message always starts with the host's name. */
export class HostError extends SlipwayError {
  constructor(readonly host: string, message: string, options?: { cause?: unknown }) {
    super(`${host}: ${message}`, options);
  }
}

/** Another run holds the app-env's lock; nothing was done. */
export class LockHeldError extends SlipwayError {
  override readonly exitCode = ExitCode.lockHeld;
}

/** SIGINT/SIGTERM: the run stopped starting new work and unwound. */
/** While waiting for the lock, a newer request for the same app-env came in: it deploys instead. */
export class SupersededError extends SlipwayError {
  override readonly exitCode = ExitCode.superseded;
}

export class InterruptedError extends SlipwayError {
  override readonly exitCode = ExitCode.interrupted;
}

/** The run finished but some hosts did not get the release. */
export class DeployFailedError extends SlipwayError {
  constructor(message: string, override readonly exitCode: number = ExitCode.failed) {
    super(message);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The exit code an error ends the run with: its own, or 1 for anything unexpected. */
export function exitCodeOf(err: unknown): number {
  return err instanceof SlipwayError ? err.exitCode : ExitCode.failed;
}

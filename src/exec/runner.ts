/**
 * The one seam between deciding what to run and running it. A Cmd (exec/cmd.ts) is
 * run by a Runner: the admin node's (exec/local.ts), a web server's over its SSH
 * connection (deploy/connect/ssh.ts), or a recording runner in tests that answers
 * only the commands it was told to expect. Feature code receives runners; it never
 * imports execa, child_process or ssh2 itself.
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import type { Host } from '../config/resolve.js';
import type { Cmd } from './cmd.js';

export interface RunOptions {
  /** Admin node only: the working directory, extra environment, and the user to run as. */
  cwd?: string;
  env?: Record<string, string | undefined>;
  uid?: number;
  gid?: number;
  /** The command's stdin: a stream is piped with back-pressure. */
  input?: string | Buffer | Readable;
  /** Called with each line of stdout and stderr as it arrives (live output). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Return the result instead of throwing when the command exits non-zero. */
  reject?: boolean;
  /** Default: none locally, `ssh.commandTimeout` on a host; 0: none. */
  timeoutMs?: number;
  /** Stops the command (and what it started) when this aborts, e.g. on Ctrl-C. */
  signal?: AbortSignal;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Where commands run. */
export interface Runner {
  /** `admin`, or the host's name: what messages about its commands start with. */
  readonly where: string;
  run(cmd: Cmd, options?: RunOptions): Promise<RunResult>;
}

/** A long-running process on the admin node (the rsync daemon a host pulls from), spoken to over its stdin and stdout. */
export interface Started {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** False once it has exited (or failed to start). */
  readonly running: boolean;
  /** SIGTERM, unless it has exited already. */
  stop(): void;
  /** 'close': it exited and its output ended; 'error': it could not be started (or signalled). */
  on(event: 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

/** The admin node's runner: commands as anywhere, plus a capped binary output and long-running processes. */
export interface AdminRunner extends Runner {
  /** stdout as bytes; more than maxBytes fails the command, so a caller can fall back instead of buffering a huge stream. */
  bytes(cmd: Cmd, input: string, maxBytes: number): Promise<Buffer>;
  /** Start a process that runs until stopped; stderr is discarded. */
  start(cmd: Cmd, options?: Pick<RunOptions, 'env'>): Started;
}

/** A web server's SSH connection: a runner, a port forwarded back to the admin node, and its end. */
export interface HostConnection extends Runner {
  readonly host: Host;
  /** Why the connection was lost (undefined: it is up, or this run closed it). */
  readonly lost: string | undefined;
  forwardIn(onConnection: (stream: Duplex) => void): Promise<{ port: number; close: () => Promise<void> }>;
  close(reason?: string): void;
}

/** Opens a host's connection: ssh2 in a run, a recording runner in pipeline tests. */
export type Connector = (host: Host) => Promise<HostConnection>;

/**
 * The admin node's runner (runner.ts): commands through execa, under the C locale, stoppable
 * as a process group; binary output with a cap; long-running processes (the rsync daemon).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { execa } from 'execa';
import { StepError } from '../errors.js';
import { type Cmd, display } from './cmd.js';
import type { AdminRunner, RunOptions, RunResult, Started } from './runner.js';

/** Commands run under the C locale so that porcelain output parses the same everywhere. */
const BASE_ENV = { LC_ALL: 'C', LANG: 'C' };

/** Process groups of running stoppable commands: a second Ctrl-C exits at once, and takes them along. */
const groups = new Set<number>();
const killGroup = (pgid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone already
  }
};
process.on('exit', () => {
  for (const pgid of groups) killGroup(pgid, 'SIGKILL');
});

/** Run a command on the admin node. Throws StepError naming the command unless reject is false. */
async function run(cmd: Cmd, options: RunOptions = {}): Promise<RunResult> {
  const [program, ...args] = cmd;
  const stoppable = options.signal !== undefined;
  const child = execa(program, args, {
    cwd: options.cwd,
    env: { ...BASE_ENV, ...options.env },
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
    reject: false,
    timeout: options.timeoutMs,
    // a signal sent to the command's shell alone would leave its children running, and holding its output open
    detached: stoppable,
    uid: options.uid,
    gid: options.gid,
    lines: false,
    stripFinalNewline: false,
  });
  const pgid = stoppable ? child.pid : undefined;
  let stopped = false;
  let lingering: NodeJS.Timeout | undefined;
  const stop = () => {
    if (pgid === undefined) return;
    stopped = true;
    killGroup(pgid, 'SIGTERM');
    lingering = setTimeout(() => killGroup(pgid, 'SIGKILL'), 3000);
  };
  if (pgid !== undefined) {
    groups.add(pgid);
    if (options.signal!.aborted) stop();
    else options.signal!.addEventListener('abort', stop, { once: true });
  }
  if (options.onLine) {
    const onLine = options.onLine;
    for (const stream of ['stdout', 'stderr'] as const) {
      let buffered = '';
      child[stream]?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) onLine(line, stream);
      });
      child[stream]?.on('end', () => {
        if (buffered) onLine(buffered, stream);
      });
    }
  }
  const result = await child.finally(() => {
    if (pgid === undefined) return;
    options.signal!.removeEventListener('abort', stop);
    clearTimeout(lingering);
    // what the group started and left behind goes with it
    if (stopped) killGroup(pgid, 'SIGKILL');
    groups.delete(pgid);
  });
  const out: RunResult = {
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    exitCode: result.exitCode ?? (result.timedOut ? 124 : 1),
  };
  if (result.failed && options.reject !== false) {
    const why = result.timedOut
      ? `timed out after ${options.timeoutMs} ms`
      : stopped
        ? `stopped (${String(options.signal?.reason ?? 'cancelled')})`
      : result.exitCode === undefined
        ? String(result.shortMessage ?? 'could not start')
        : `exited ${result.exitCode}`;
    const detail = lastLines(out.stderr || out.stdout, 5);
    throw new StepError(`${display(cmd)} ${why}${detail ? `:\n${detail}` : ''}`);
  }
  return out;
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/** A command's binary output (a tar of a delta, say), bounded: more than maxBytes is an error. */
async function bytes(cmd: Cmd, input: string, maxBytes: number): Promise<Buffer> {
  const [program, ...args] = cmd;
  const result = await execa(program, args, {
    input,
    env: BASE_ENV,
    encoding: 'buffer',
    maxBuffer: maxBytes,
    reject: false,
    stripFinalNewline: false,
  });
  if (result.failed) {
    const why = result.isMaxBuffer ? `wrote more than ${maxBytes} bytes` : result.exitCode === undefined ? String(result.shortMessage) : `exited ${result.exitCode}`;
    throw new StepError(`${display(cmd)} ${why}: ${lastLines(Buffer.from(result.stderr ?? []).toString('utf8'), 5)}`);
  }
  return Buffer.from(result.stdout);
}

/** A process that runs until stopped, its stderr discarded. */
function start(cmd: Cmd, options: Pick<RunOptions, 'env'> = {}): Started {
  const [program, ...args] = cmd;
  return new StartedProcess(spawn(program, args, { stdio: ['pipe', 'pipe', 'ignore'], env: { ...process.env, ...BASE_ENV, ...options.env } }));
}

class StartedProcess implements Started {
  constructor(private readonly child: ChildProcess) {}
  get stdin() {
    return this.child.stdin!;
  }
  get stdout() {
    return this.child.stdout!;
  }
  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  stop() {
    if (this.running) this.child.kill('SIGTERM');
  }
  on(event: 'close', listener: () => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'close' | 'error', listener: (err: Error) => void): this {
    this.child.on(event, listener);
    return this;
  }
}

/** The admin node: what feature code runs local commands through. */
export const local: AdminRunner = { where: 'admin', run, bytes, start };

// node:child_process rather than execa: execa's module graph alone cost ~0.1 s of CPU at every
// start of the CLI (see README "Benchmark"), and this runner needs only spawn, input and output.
import { spawn } from 'node:child_process';
import { StepError } from '../errors.js';
import { type Cmd, display } from './cmd.js';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  /** Called with each line of stdout and stderr as it arrives (live output). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Return the result instead of throwing when the command exits non-zero. */
  reject?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Commands run under the C locale so that porcelain output parses the same everywhere. */
const BASE_ENV = { LC_ALL: 'C', LANG: 'C' };

interface Raw {
  stdout: Buffer;
  stderr: Buffer;
  /** undefined: it never started (spawnError says why) or was killed by a signal. */
  exitCode?: number;
  signal?: string;
  spawnError?: string;
  timedOut: boolean;
  tooBig: boolean;
}

/** Spawn, feed stdin, collect output (bounded by maxBytes), honour a timeout. Never rejects. */
function spawnCollect(cmd: Cmd, options: RunOptions & { input?: string }, maxBytes = Infinity): Promise<Raw> {
  const [program, ...args] = cmd;
  return new Promise((resolve) => {
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: { ...process.env, ...BASE_ENV, ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let timedOut = false;
    let tooBig = false;
    let spawnError: string | undefined;
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGTERM');
        }, options.timeoutMs)
      : undefined;
    const lineSplitter = (stream: 'stdout' | 'stderr') => {
      let buffered = '';
      return {
        data: (chunk: Buffer) => {
          if (!options.onLine) return;
          buffered += chunk.toString('utf8');
          const lines = buffered.split('\n');
          buffered = lines.pop() ?? '';
          for (const line of lines) options.onLine(line, stream);
        },
        end: () => {
          if (options.onLine && buffered) options.onLine(buffered, stream);
        },
      };
    };
    const lo = lineSplitter('stdout');
    const le = lineSplitter('stderr');
    child.stdout!.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        tooBig = true;
        child.kill('SIGTERM');
        return;
      }
      out.push(chunk);
      lo.data(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      err.push(chunk);
      le.data(chunk);
    });
    child.stdout!.on('end', lo.end);
    child.stderr!.on('end', le.end);
    child.on('error', (e) => {
      spawnError = e.message;
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a command that does not read its input is not an error
      child.stdin.end(options.input);
    }
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode: code ?? undefined, signal: signal ?? undefined, spawnError, timedOut, tooBig });
    });
  });
}

function why(raw: Raw, options: RunOptions, maxBytes?: number): string {
  if (raw.timedOut) return `timed out after ${options.timeoutMs} ms`;
  if (raw.tooBig) return `produced more than ${maxBytes} bytes`;
  if (raw.spawnError) return `could not start: ${raw.spawnError}`;
  if (raw.exitCode === undefined) return `was killed by ${raw.signal ?? 'a signal'}`;
  return `exited ${raw.exitCode}`;
}

const failed = (raw: Raw) => raw.timedOut || raw.tooBig || raw.spawnError !== undefined || raw.exitCode !== 0;

/** Run a command on the admin node. Throws StepError naming the command unless reject is false. */
export async function runLocal(cmd: Cmd, options: RunOptions = {}): Promise<RunResult> {
  const raw = await spawnCollect(cmd, options);
  const out: RunResult = {
    stdout: raw.stdout.toString('utf8'),
    stderr: raw.stderr.toString('utf8'),
    exitCode: raw.exitCode ?? (raw.timedOut ? 124 : 1),
  };
  if (failed(raw) && options.reject !== false) {
    const detail = lastLines(out.stderr || out.stdout, 5);
    throw new StepError(`${display(cmd)} ${why(raw, options)}${detail ? `:\n${detail}` : ''}`);
  }
  return out;
}

/** Run a command for its output as bytes (archives): throws StepError naming the command on failure. */
export async function runLocalBytes(cmd: Cmd, input: string, maxBytes: number): Promise<Buffer> {
  const raw = await spawnCollect(cmd, { input }, maxBytes);
  if (failed(raw)) throw new StepError(`${display(cmd)} ${why(raw, {}, maxBytes)}: ${lastLines(raw.stderr.toString('utf8'), 5)}`);
  return raw.stdout;
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

/**
 * A recording Connector for pipeline tests: web servers that answer only the commands a test
 * told them to expect. A test says, per host, which commands it expects (by script name, `stage`,
 * or program, `systemctl`: never by incidental details such as a port) and what each answers;
 * any other command fails the test, naming the host and the command. Every call is recorded,
 * with a timeline of starts, ends and switches, so a test can assert what ran in which order.
 *
 * A command the flow was not told to expect is refused at once (its promise rejects, as a host
 * would fail it) and remembered: the flow may well swallow that failure as a host failure, so
 * `verify()` (or `recorded()`, which calls it) is what fails the test.
 */
import { Readable, type Duplex } from 'node:stream';
import type { Host } from '../../src/config/resolve.js';
import { HostError } from '../../src/errors.js';
import { type Cmd, display } from '../../src/exec/cmd.js';
import type { Connector, HostConnection, RunOptions, RunResult } from '../../src/exec/runner.js';
import { lastLines } from '../../src/report/line.js';

/** One command a host was asked to run. */
export interface Call {
  /** Order among every call of the recording, from 0. */
  seq: number;
  host: string;
  /** The remote script's name (`stage` for `sh -c <text> slipway-stage …`), else the program. */
  name: string;
  /** The script's or program's arguments. */
  args: readonly string[];
  argv: Cmd;
  /** What the command read on its stdin, once it has (a string or a tar: its bytes). */
  stdin?: Buffer;
  /** How it ended: its result, or why it failed (lost connection, unexpected, aborted). */
  result?: RunResult;
  error?: string;
}

/** What a host answers: output and exit status, or a lost connection. */
export type Reply = Partial<RunResult> | { lose: string };

/** What an answer can do while its command runs. */
export interface CallIo {
  /** Everything the command reads on stdin, once its input ends (a gate's ends when it is told to switch). */
  input(): Promise<Buffer>;
  /** The next line of stdin as it arrives, without its newline; undefined at the end of input (a look's switch, then its prune). */
  line(): Promise<string | undefined>;
  /** Print stdout now, before the command ends (a gate's `ready`); the final stdout starts with it. */
  say(stdout: string): void;
  /** Add a line to the recording's timeline (`web1 switch r2-…`). */
  mark(what: string): void;
}

export type Answer = Reply | ((call: Call, io: CallIo) => Reply | Promise<Reply>);

export interface ExpectOptions {
  /** Only a call whose arguments pass (an array: equal to them) matches. */
  args?: readonly string[] | ((args: readonly string[]) => boolean);
  /** How many calls it answers (default 1); `any`: any number, none included. */
  times?: number | 'any';
}

interface Expectation {
  name: string;
  answer: Answer;
  args?: ExpectOptions['args'];
  times: number | 'any';
  used: number;
}

export const LOST = 'the SSH connection closed';

const SCRIPT = /^slipway-(.+)$/;

/** `sh -c <text> slipway-stage a b` → stage [a, b]; anything else → its program and arguments. */
export function nameOf(argv: Cmd): { name: string; args: readonly string[] } {
  const m = argv[0] === 'sh' && argv[1] === '-c' ? SCRIPT.exec(argv[3] ?? '') : null;
  return m ? { name: m[1]!, args: argv.slice(4) } : { name: argv[0], args: argv.slice(1) };
}

/** A call as a failure message shows it: no script text, long arguments cut. */
export function describeCall(call: Pick<Call, 'name' | 'args'>): string {
  const args = call.args.map((a) => (a.length > 40 ? `${a.slice(0, 37)}...` : a));
  return display([call.name, ...args] as unknown as Cmd);
}

/** One host's script: what it is expected to run, and whether it can be reached at all. */
export class HostScript {
  readonly expectations: Expectation[] = [];
  /** Why connecting fails (undefined: it connects). */
  refused?: string;

  constructor(readonly name: string) {}

  /** Expect `name` (script or program) to run here, answering `answer`. */
  expect(name: string, answer: Answer = {}, options: ExpectOptions = {}): this {
    this.expectations.push({ name, answer, args: options.args, times: options.times ?? 1, used: 0 });
    return this;
  }

  /** Connecting to this host fails with `why` (e.g. `connect ECONNREFUSED`). */
  refuse(why = 'connect ECONNREFUSED'): this {
    this.refused = why;
    return this;
  }

  /** The first expectation this call may use, if any. */
  match(name: string, args: readonly string[]): Expectation | undefined {
    return this.expectations.find((e) => {
      if (e.name !== name || (e.times !== 'any' && e.used >= e.times)) return false;
      if (e.args === undefined) return true;
      if (typeof e.args === 'function') return e.args(args);
      return e.args.length === args.length && e.args.every((a, i) => a === args[i]);
    });
  }
}

export class Recording {
  readonly calls: Call[] = [];
  /** `web1 stage`, `web1 stage done`, `web1 switch r2-…`, `web2 connect refused`… in order. */
  readonly timeline: string[] = [];
  /** Commands nobody expected, and connections to hosts nobody declared. */
  readonly unexpected: string[] = [];
  private readonly hosts = new Map<string, HostScript>();
  private readonly connections = new Map<string, RecordedConnection[]>();

  /** The script of a host, made on first mention. */
  host(name: string): HostScript {
    let script = this.hosts.get(name);
    if (!script) this.hosts.set(name, (script = new HostScript(name)));
    return script;
  }

  /** The Connector to give a flow. */
  readonly connect: Connector = async (host: Host) => {
    const script = this.hosts.get(host.name);
    if (!script) {
      this.unexpected.push(`${host.name}: unexpected connection (no commands were declared for this host)`);
      throw new HostError(host.name, `cannot connect to ${host.address}:${host.port}: not a host of this test`);
    }
    // a real handshake takes a turn of the event loop at least
    await Promise.resolve();
    if (script.refused) {
      this.timeline.push(`${host.name} connect refused`);
      throw new HostError(host.name, `cannot connect to ${host.address}:${host.port}: ${script.refused}`);
    }
    this.timeline.push(`${host.name} connect`);
    const connection = new RecordedConnection(host, script, this);
    this.connections.set(host.name, [...(this.connections.get(host.name) ?? []), connection]);
    return connection;
  };

  /** Calls on one host (or all), optionally of one name. */
  callsOn(host?: string, name?: string): Call[] {
    return this.calls.filter((c) => (host === undefined || c.host === host) && (name === undefined || c.name === name));
  }

  /** Names of the commands a host ran, in order. */
  namesOn(host: string): string[] {
    return this.callsOn(host).map((c) => c.name);
  }

  /** Index in the timeline of the first line matching `pattern` (-1: none). */
  first(pattern: RegExp): number {
    return this.timeline.findIndex((l) => pattern.test(l));
  }

  /** Index in the timeline of the last line matching `pattern` (-1: none). */
  last(pattern: RegExp): number {
    for (let i = this.timeline.length - 1; i >= 0; i--) if (pattern.test(this.timeline[i]!)) return i;
    return -1;
  }

  /** Lines of the timeline matching `pattern`. */
  lines(pattern: RegExp): string[] {
    return this.timeline.filter((l) => pattern.test(l));
  }

  /** Connections opened to a host and not closed by the run. */
  open(host: string): number {
    return (this.connections.get(host) ?? []).filter((c) => !c.isClosed).length;
  }

  /**
   * Throws unless every command run was expected and every expected command ran as often as
   * it was to (a command the flow should have run and did not is a failure too).
   */
  verify(): void {
    const problems = [...this.unexpected];
    for (const script of this.hosts.values()) {
      for (const e of script.expectations) {
        if (e.times !== 'any' && e.used < e.times) problems.push(`${script.name}: expected ${e.name}${e.times > 1 ? ` ${e.times} times` : ''}, ran ${e.used === 0 ? 'never' : `${e.used} times`}`);
      }
    }
    if (problems.length) throw new Error(`the hosts did not see what the test expected:\n  ${problems.join('\n  ')}\ntimeline:\n  ${this.timeline.join('\n  ')}`);
  }

  /** @internal */
  record(call: Call): void {
    this.calls.push(call);
  }
}

/** A host connection that answers from its script and records every call. */
class RecordedConnection implements HostConnection {
  readonly where: string;
  private lostReason: string | undefined;
  private closed = false;
  private readonly running = new Set<(reason: string) => void>();
  private ports = 0;

  constructor(
    readonly host: Host,
    private readonly script: HostScript,
    private readonly recording: Recording,
  ) {
    this.where = host.name;
  }

  get lost(): string | undefined {
    return this.lostReason;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private lose(reason: string): void {
    if (this.closed || this.lostReason) return;
    this.lostReason = reason;
    this.recording.timeline.push(`${this.host.name} lost`);
    for (const fail of this.running) fail(reason);
  }

  async run(cmd: Cmd, options: RunOptions = {}): Promise<RunResult> {
    const rec = this.recording;
    const host = this.host.name;
    const { name, args } = nameOf(cmd);
    const call: Call = { seq: rec.calls.length, host, name, args, argv: cmd };
    rec.record(call);
    const fail = (why: string): never => {
      call.error = why;
      rec.timeline.push(`${host} ${name} failed`);
      throw new HostError(host, why);
    };
    if (this.lostReason) fail(this.lostReason);
    if (this.closed) fail(`${name}: the connection was closed`);
    const expectation = this.script.match(name, args);
    if (!expectation) {
      const expected = this.script.expectations.filter((e) => e.times === 'any' || e.used < e.times).map((e) => e.name);
      rec.unexpected.push(`${host}: unexpected command: ${describeCall(call)} (still expected here: ${expected.join(', ') || 'nothing'})`);
      fail(`unexpected command ${name} (see the recording)`);
    }
    expectation!.used++;
    rec.timeline.push(`${host} ${name}`);
    let said = '';
    let stdin: Promise<Buffer> | undefined;
    let lines: LineReader | undefined;
    const io: CallIo = {
      input: () => (stdin ??= readAll(options.input).then((b) => (call.stdin = b))),
      line: () => (lines ??= new LineReader(options.input, (b) => (call.stdin = b))).next(),
      say: (text) => {
        said += text;
        emitLines(text, 'stdout', options.onLine);
      },
      mark: (what) => rec.timeline.push(`${host} ${what}`),
    };
    const answer = expectation!.answer;
    // a fixed answer is given once the command has read its input, as a real one would
    const reply = Promise.resolve()
      .then(async () => (typeof answer === 'function' ? answer(call, io) : (await io.input(), answer)))
      .catch((err: unknown) => {
        // a test's own answer that breaks is the test's failure, never a host's
        rec.unexpected.push(`${host}: the answer to ${describeCall(call)} threw: ${err instanceof Error ? err.message : String(err)}`);
        throw err;
      });
    // a lost connection, a close or an abort ends the command at once, whatever the answer is doing
    let stop!: (reason: string) => void;
    const stopped = new Promise<never>((_, reject) => (stop = (reason) => reject(new Error(reason))));
    stopped.catch(() => undefined);
    this.running.add(stop);
    const abort = () => stop(`${name}: ${String(options.signal!.reason)}`);
    if (options.signal?.aborted) abort();
    options.signal?.addEventListener('abort', abort, { once: true });
    let got: Reply;
    try {
      got = await Promise.race([reply, stopped]);
    } catch (err) {
      return fail(err instanceof Error ? err.message : String(err));
    } finally {
      this.running.delete(stop);
      options.signal?.removeEventListener('abort', abort);
    }
    if ('lose' in got) {
      this.lose(got.lose);
      return fail(got.lose);
    }
    const result: RunResult = { stdout: said + (got.stdout ?? ''), stderr: got.stderr ?? '', exitCode: got.exitCode ?? 0 };
    emitLines(got.stdout ?? '', 'stdout', options.onLine);
    emitLines(result.stderr, 'stderr', options.onLine);
    call.result = result;
    rec.timeline.push(`${host} ${name} done${result.exitCode ? ` (exit ${result.exitCode})` : ''}`);
    if (result.exitCode !== 0 && options.reject !== false) {
      // worded as the ssh2 runner words it (deploy/connect/ssh.ts)
      const program = cmd[0] === 'sh' && cmd[1] === '-c' && cmd[3] ? cmd[3] : cmd[0];
      throw new HostError(host, `${program} failed (exit ${result.exitCode}): ${lastLines(result.stderr || result.stdout, 3, ' / ') || 'no output'}`);
    }
    return result;
  }

  /** A port nobody connects to: the pulls it would serve are the host's part, canned here. */
  async forwardIn(_onConnection: (stream: Duplex) => void): Promise<{ port: number; close: () => Promise<void> }> {
    if (this.lostReason) throw new HostError(this.host.name, this.lostReason);
    return { port: 40000 + this.ports++, close: async () => undefined };
  }

  close(reason?: string): void {
    if (this.closed) return;
    if (reason) this.lose(reason);
    this.closed = true;
    for (const fail of this.running) fail('the connection was closed');
  }
}

async function readAll(input: RunOptions['input']): Promise<Buffer> {
  if (input === undefined) return Buffer.alloc(0);
  if (typeof input === 'string') return Buffer.from(input);
  if (Buffer.isBuffer(input)) return input;
  const chunks: Buffer[] = [];
  for await (const chunk of input as Readable) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks);
}

/** stdin line by line, as a script's `read` takes it; what was read so far is handed to `seen`. */
class LineReader {
  private buffered = '';
  private read: Buffer[] = [];
  private readonly chunks: AsyncIterator<unknown> | undefined;
  private done = false;

  constructor(input: RunOptions['input'], private readonly seen: (b: Buffer) => void) {
    if (input === undefined) this.done = true;
    else if (typeof input === 'string' || Buffer.isBuffer(input)) {
      this.buffered = input.toString();
      this.done = true;
    } else this.chunks = (input as Readable)[Symbol.asyncIterator]();
  }

  async next(): Promise<string | undefined> {
    while (!this.buffered.includes('\n') && !this.done) {
      const chunk = await this.chunks!.next();
      if (chunk.done) this.done = true;
      else {
        const b = Buffer.isBuffer(chunk.value) ? chunk.value : Buffer.from(String(chunk.value));
        this.read.push(b);
        this.seen(Buffer.concat(this.read));
        this.buffered += b.toString('utf8');
      }
    }
    const at = this.buffered.indexOf('\n');
    if (at < 0) {
      const rest = this.buffered;
      this.buffered = '';
      return rest || undefined;
    }
    const line = this.buffered.slice(0, at);
    this.buffered = this.buffered.slice(at + 1);
    return line;
  }
}

function emitLines(text: string, stream: 'stdout' | 'stderr', onLine: RunOptions['onLine']): void {
  if (!onLine || !text) return;
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const line of lines) onLine(line, stream);
}

/** Run `body` with a fresh recording, then verify it: unexpected commands fail the test even when the flow swallowed them. */
export async function recorded<T>(body: (rec: Recording) => Promise<T>): Promise<T> {
  const rec = new Recording();
  let result: T;
  try {
    result = await body(rec);
  } catch (err) {
    // an unexpected command is the likelier cause, and says more
    if (rec.unexpected.length) rec.verify();
    throw err;
  }
  rec.verify();
  return result;
}

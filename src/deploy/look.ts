/**
 * A host's look at what it has, kept open to switch it: one remote command (remote/look.sh in
 * remote.ts) reads the live release and the staged ones when the run connects, then waits;
 * once every host has staged the release, the same command switches `current`: one SSH
 * session, login shell and sh per host instead of two (measured in docs/benchmark.md).
 *
 * Ending the command's input without a release directory (close(), or the connection
 * going away) ends it with nothing changed, so a run that stops never switches a host
 * through it. A look switches once; a second switch (a revert) is a fresh command.
 */
import { PassThrough } from 'node:stream';
import type { AppEnv } from '../config/resolve.js';
import type { HostConnection, RunResult } from '../exec/runner.js';
import { lastLines } from '../report/line.js';
import { lookCmd } from './remote.js';
import { type HostState, parseLook } from './remote-output.js';
import { RELEASE_DIR } from './layout.js';

/** The line the look prints once it has said what the host has, before it waits. */
const READY = 'ready';

export class HostLook {
  /** What the host had when it was looked at; rejects if the look failed. */
  readonly state: Promise<HostState>;
  private readonly input = new PassThrough();
  private readonly stop = new AbortController();
  private readonly result: Promise<RunResult>;
  private timer: NodeJS.Timeout | undefined;
  private used = false;
  private ended = false;

  /** Look at the host now; ssh.commandTimeout bounds the look, and later the switch. */
  static open(host: HostConnection, appEnv: AppEnv, verify?: string): HostLook {
    return new HostLook(host, appEnv.remote.path, appEnv.ssh.commandTimeout * 1000, verify);
  }

  constructor(
    host: HostConnection,
    base: string,
    private readonly timeoutMs: number,
    /** The kept release directory to check against its manifest in the look (a rollback's target, switched to as it is). */
    verify?: string,
  ) {
    let ready!: (state: HostState) => void;
    const looked = new Promise<HostState>((resolve) => (ready = resolve));
    // the look's lines until `ready`; what follows is the switch's
    let said: string[] | undefined = [];
    this.result = host.run(lookCmd(base, verify), {
      input: this.input,
      timeoutMs: 0,
      signal: this.stop.signal,
      reject: false,
      onLine: (line, stream) => {
        if (stream !== 'stdout' || !said) return;
        if (line !== READY) return void said.push(line);
        clearTimeout(this.timer);
        ready(parseLook(said.join('\n')));
        said = undefined;
      },
    });
    this.result
      .finally(() => {
        this.ended = true;
        clearTimeout(this.timer);
      })
      .catch(() => undefined);
    // ended before `ready`: the look failed
    const failed = this.result.then((r) => {
      throw new Error(`cannot read the host's releases (exit ${r.exitCode}): ${lastLines(r.stderr || r.stdout, 3, ' / ') || 'no output'}`);
    });
    this.state = Promise.race([looked, failed]);
    this.state.catch(() => undefined); // whoever needs it awaits it
    this.arm();
  }

  /**
   * Switch the host to `dir` in the waiting command: its result, as activateCmd's would be
   * (lines `previous …` and `switched`). Undefined if this look cannot: it was used or
   * closed, or its command ended (the look failed); the caller then runs activateCmd.
   */
  switchTo(dir: string): Promise<RunResult> | undefined {
    if (this.used || this.ended) return undefined;
    if (!RELEASE_DIR.test(dir)) throw new Error(`not a release directory: ${JSON.stringify(dir)}`);
    this.used = true;
    this.arm();
    this.input.end(`${dir}\n`);
    return this.result.then((r) => ({ ...r, stdout: r.stdout.slice(r.stdout.search(/^ready$/m) + `${READY}\n`.length) }));
  }

  /** End the command with nothing switched (if it was not used). */
  close(): void {
    clearTimeout(this.timer);
    if (this.used) return;
    this.used = true;
    this.input.end();
  }

  private arm(): void {
    this.timer = setTimeout(() => this.stop.abort(`timed out after ${Math.round(this.timeoutMs / 1000)} s`), this.timeoutMs);
  }
}

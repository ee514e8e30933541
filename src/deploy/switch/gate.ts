/**
 * A host's look at what it has, kept open to switch it: one remote command (remote/gate.sh in
 * remote.ts) reads the live release and the staged ones when the run connects, then waits;
 * once every host has staged the release, the same command switches `current`: one SSH
 * session, login shell and sh per host instead of two (measured in docs/benchmark.md).
 *
 * Ending the command's input without a release directory (close(), or the connection
 * going away) ends it with nothing changed, so a run that stops never switches a host
 * through it. A gate switches once; a second switch (a revert) is a fresh command.
 */
import { PassThrough } from 'node:stream';
import type { AppEnv } from '../../config/resolve.js';
import { type ExecResult, type HostSession } from '../connect/ssh.js';
import { gateCmd, type HostState, parseProbe, RELEASE_DIR } from '../remote.js';
import { lastLine } from '../stage/stage.js';

const READY = /^ready$/m;

export class SwitchGate {
  /** What the host had when it was looked at; rejects if the look failed. */
  readonly state: Promise<HostState>;
  private readonly input = new PassThrough();
  private readonly stop = new AbortController();
  private readonly result: Promise<ExecResult>;
  private timer: NodeJS.Timeout | undefined;
  private used = false;
  private ended = false;

  /** Look at the host now; ssh.commandTimeout bounds the look, and later the switch. */
  static open(session: HostSession, appEnv: AppEnv, verifyKept = false): SwitchGate {
    return new SwitchGate(session, appEnv.remote.path, appEnv.ssh.commandTimeout * 1000, verifyKept);
  }

  constructor(
    session: HostSession,
    base: string,
    private readonly timeoutMs: number,
    /** Check the kept releases against their manifests in the look (a rollback switches to one). */
    verifyKept = false,
  ) {
    let ready!: (state: HostState) => void;
    const looked = new Promise<HostState>((resolve) => (ready = resolve));
    let seen = false;
    this.result = session.exec(gateCmd(base, verifyKept), {
      stdin: this.input,
      timeoutMs: 0,
      signal: this.stop.signal,
      onStdout: (stdout) => {
        const at = seen ? -1 : stdout.search(READY);
        if (at < 0) return;
        seen = true;
        clearTimeout(this.timer);
        ready(parseProbe(stdout.slice(0, at)));
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
      throw new Error(`cannot read the host's releases (exit ${r.code}): ${lastLine(r.stderr || r.stdout)}`);
    });
    this.state = Promise.race([looked, failed]);
    this.state.catch(() => undefined); // whoever needs it awaits it
    this.arm();
  }

  /**
   * Switch the host to `dir` in the waiting command: its result, as activateCmd's would be
   * (lines `previous …` and `switched`). Undefined if this gate cannot: it was used or
   * closed, or its command ended (the look failed); the caller then runs activateCmd.
   */
  switchTo(dir: string): Promise<ExecResult> | undefined {
    if (this.used || this.ended) return undefined;
    if (!RELEASE_DIR.test(dir)) throw new Error(`not a release directory: ${JSON.stringify(dir)}`);
    this.used = true;
    this.arm();
    this.input.end(`${dir}\n`);
    return this.result.then((r) => ({ ...r, stdout: r.stdout.slice(r.stdout.search(READY) + 'ready\n'.length) }));
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

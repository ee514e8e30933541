/**
 * A host's look at what it has, kept open to switch it: one remote command (remote/look.sh in
 * remote.ts) reads the live release and the staged ones when the run connects, then waits;
 * once every host has staged the release, the same command switches `current`: one SSH
 * session, login shell and sh per host instead of two (measured in docs/benchmark.md).
 *
 * Ending the command's input without a release directory (close(), or the connection
 * going away) ends it with nothing changed, so a run that stops never switches a host
 * through it. A look switches once; a second switch (a revert) is a fresh command. After
 * its switch it waits once more: the run's prune goes through it (prune()) when the whole
 * rollout succeeded, one session per host fewer; close() ends it.
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
/** The line its switch ends with when it switched; the look then waits for a prune or the end. */
const SWITCHED = 'switched';

export class HostLook {
  /** What the host had when it was looked at; rejects if the look failed. */
  readonly state: Promise<HostState>;
  private readonly input = new PassThrough();
  private readonly stop = new AbortController();
  private readonly result: Promise<RunResult>;
  private timer: NodeJS.Timeout | undefined;
  private used = false;
  private ended = false;
  private inputEnded = false;
  /** Called with each stdout line after `ready` (the switch's, then the prune's). */
  private onAfter: ((line: string) => void) | undefined;
  /** The switch went through and the command waits for a prune. */
  private switched = false;

  /**
   * Look at the host now; ssh.commandTimeout bounds the look, and later the switch. Without
   * `verify` (a deploy's look) it names the spare releases too (HostState.spare).
   */
  static open(host: HostConnection, appEnv: AppEnv, verify?: string): HostLook {
    return new HostLook(host, appEnv.remote.path, appEnv.ssh.commandTimeout * 1000, verify, verify ? undefined : appEnv.remote.keepReleases);
  }

  constructor(
    host: HostConnection,
    base: string,
    private readonly timeoutMs: number,
    /** The kept release directory to check against its manifest in the look (a rollback's target, switched to as it is). */
    verify?: string,
    /** A deploy's keepReleases: the look names the releases its prune would remove. */
    keep?: number,
  ) {
    let ready!: (state: HostState) => void;
    const looked = new Promise<HostState>((resolve) => (ready = resolve));
    // the look's lines until `ready`; what follows is the switch's
    let said: string[] | undefined = [];
    this.result = host.run(lookCmd(base, verify, keep), {
      input: this.input,
      timeoutMs: 0,
      signal: this.stop.signal,
      reject: false,
      onLine: (line, stream) => {
        if (stream !== 'stdout') return;
        if (!said) return void this.onAfter?.(line);
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
    const lines: string[] = [];
    // the switch's result is its lines up to `switched`; the command goes on waiting after it
    const done = new Promise<RunResult>((resolve) => {
      this.onAfter = (line) => {
        lines.push(line);
        if (line !== SWITCHED) return;
        this.onAfter = undefined;
        this.switched = true;
        // waiting for the prune, which comes only after the whole rollout (pauses and checks included)
        clearTimeout(this.timer);
        resolve({ exitCode: 0, stdout: `${lines.join('\n')}\n`, stderr: '' });
      };
    });
    const ended = this.result.then((r) => ({ ...r, stdout: r.stdout.slice(r.stdout.search(/^ready$/m) + `${READY}\n`.length) }));
    this.input.write(`${dir}\n`);
    return Promise.race([done, ended]);
  }

  /**
   * Prune old releases (keeping `keep`) in the command that switched the host: its result, as
   * pruneCmd's would be. Undefined if this look did not switch the host or has ended; the
   * caller then runs pruneCmd.
   */
  prune(keep: number): Promise<RunResult> | undefined {
    if (!this.switched || this.ended || this.inputEnded) return undefined;
    if (!Number.isInteger(keep) || keep < 1) throw new Error(`not a number of releases to keep: ${keep}`);
    const lines: string[] = [];
    this.onAfter = (line) => lines.push(line);
    this.arm();
    this.endInput(`prune ${keep}\n`);
    return this.result.then((r) => ({ ...r, stdout: lines.length ? `${lines.join('\n')}\n` : '' }));
  }

  /** End the command: with nothing switched if it was not used, with nothing pruned after a switch. */
  close(): void {
    clearTimeout(this.timer);
    this.used = true;
    this.endInput();
  }

  private endInput(last?: string): void {
    if (this.inputEnded) return;
    this.inputEnded = true;
    this.input.end(last);
  }

  private arm(): void {
    this.timer = setTimeout(() => this.stop.abort(`timed out after ${Math.round(this.timeoutMs / 1000)} s`), this.timeoutMs);
  }
}

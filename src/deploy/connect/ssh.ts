/**
 * One SSH connection per web server, reused for every step on that host.
 * Host keys are always verified against known_hosts; agent forwarding is never
 * requested; keepalives and timeouts make a dead or frozen host fail in seconds.
 */
import { type Duplex, Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createRequire } from 'node:module';
import type { Client as SshClient, ClientChannel, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';
import type { Host } from '../../config/resolve.js';
import type { SshSettings } from '../../config/schema.js';
import { HostError, errorMessage } from '../../errors.js';
import { type Cmd, shellLine } from '../../exec/cmd.js';
import type { HostConnection, RunOptions, RunResult } from '../../exec/runner.js';
import { lastLines } from '../../report/line.js';
import { cameThrough } from './forwards.js';
import { type KnownHostsFile, hostKeyAlgorithms, noCommonHostKeyType, verifyHostKey } from './known-hosts.js';

// ssh2 is CommonJS: required rather than imported, so Node does not parse all of it at
// start-up looking for named exports; and only once a first connection opens, so commands
// that never connect (releases, plan, history…) do not load it at all (70 ms)
let ssh2: typeof import('ssh2') | undefined;
const newClient = (): SshClient => new (ssh2 ??= createRequire(import.meta.url)('ssh2') as typeof import('ssh2')).Client();

export interface ConnectOptions {
  ssh: SshSettings;
  knownHosts: KnownHostsFile;
  privateKey: Buffer;
}

/**
 * ssh2's settings for one host. No `agent` is ever given and agentForward is
 * off, so neither we nor a remote command can reach the admin's SSH agent.
 */
export function connectConfig(host: Host, options: ConnectOptions, onKeyProblem: (problem: string) => void): ConnectConfig {
  // ask only for host key types known_hosts can check, so a server with several keys shows a known one
  const serverHostKey = hostKeyAlgorithms(options.knownHosts, host.address, host.port);
  return {
    ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as ServerHostKeyAlgorithm[] } } : {}),
    host: host.address,
    port: host.port,
    username: host.user,
    privateKey: options.privateKey,
    readyTimeout: options.ssh.connectTimeout * 1000,
    keepaliveInterval: options.ssh.keepaliveInterval * 1000,
    keepaliveCountMax: options.ssh.keepaliveCountMax,
    agentForward: false,
    hostVerifier: (key: Buffer) => {
      const verdict = verifyHostKey(options.knownHosts, host.address, host.port, key, host.name);
      if (!verdict.ok) onKeyProblem(`host key refused: ${verdict.message}`);
      return verdict.ok;
    },
  };
}

/**
 * Count any bytes from the host as a keepalive answer, as OpenSSH does. ssh2 counts only
 * replies to its own pings, and on a saturated uplink a ping waits behind megabytes of the
 * host's own transfer: a host busy acknowledging that transfer was timed out as frozen
 * (200 hosts on one 1 Gbit/s link, docs/benchmark.md). A frozen host sends nothing and still
 * fails after keepaliveCountMax intervals. ssh2 offers no public hook for this, so its socket
 * and keepalive reset are reached by name; returns whether they were found.
 */
export function trafficKeepsAlive(client: SshClient): boolean {
  const internals = client as unknown as { _sock?: NodeJS.EventEmitter; _resetKA?: () => void };
  const sock = internals._sock;
  const reset = internals._resetKA;
  if (!sock || typeof reset !== 'function') return false;
  // resetting re-arms ssh2's timer, so do it at most once a second however fast data comes
  let last = 0;
  sock.on('data', () => {
    const now = Date.now();
    if (now - last < 1000) return;
    last = now;
    reset.call(client);
  });
  return true;
}

export class HostSession implements HostConnection {
  private closed = false;
  private lostReason: string | undefined;
  private readonly onLost = new Set<(reason: string) => void>();

  private constructor(
    readonly host: Host,
    private readonly client: SshClient,
    private readonly ssh: SshSettings,
  ) {
    client.on('close', () => this.lose('the SSH connection closed'));
    client.on('error', (err) => this.lose(`the SSH connection failed: ${err.message}`));
  }

  static open(host: Host, options: ConnectOptions): Promise<HostSession> {
    const client = newClient();
    let keyProblem: string | undefined;
    return new Promise((resolve, reject) => {
      let settled = false;
      // ssh2 may emit 'error' more than once (a handshake timeout, then the lost socket): the
      // listener stays for the client's whole life, or a second error would crash the process
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        client.end();
        if (!keyProblem && /no matching host key format/.test(err.message)) {
          keyProblem = `host key refused: ${noCommonHostKeyType(options.knownHosts, host.address, host.port, host.name)}`;
        }
        reject(new HostError(host.name, keyProblem ?? `cannot connect to ${host.address}:${host.port}: ${err.message}`));
      };
      client.once('ready', () => {
        if (settled) return;
        settled = true;
        client.removeListener('error', fail);
        trafficKeepsAlive(client);
        resolve(new HostSession(host, client, options.ssh));
      });
      client.on('error', fail);
      client.connect(
        connectConfig(host, options, (problem) => {
          keyProblem = problem;
        }),
      );
    });
  }

  get where(): string {
    return this.host.name;
  }

  /** Why the connection was lost (undefined: it is up, or this run closed it). */
  get lost(): string | undefined {
    return this.lostReason;
  }

  private lose(reason: string): void {
    if (this.closed || this.lostReason) return;
    this.lostReason = reason;
    for (const listener of this.onLost) listener(reason);
  }

  private fail(message: string): HostError {
    return new HostError(this.host.name, message);
  }

  /**
   * Run a command (argv, quoted in one place) and collect its output; a non-zero exit
   * throws unless `reject` is false. A stream given as input is piped with back-pressure
   * and dropped if the command exits before reading it all. `cwd`, `env` and the user are
   * the admin node's: a host's commands run as the SSH user, from its home.
   */
  run(cmd: Cmd, options: RunOptions = {}): Promise<RunResult> {
    if (this.lostReason) return Promise.reject(this.fail(this.lostReason));
    if (options.signal?.aborted) return Promise.reject(this.fail(`${cmd[0]}: ${String(options.signal.reason)}`));
    const timeoutMs = options.timeoutMs ?? this.ssh.commandTimeout * 1000;
    return new Promise((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let settled = false;
      const finish = (err: Error | undefined, result?: RunResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.onLost.delete(lost);
        options.signal?.removeEventListener('abort', abort);
        if (err) reject(err);
        else if (result!.exitCode !== 0 && options.reject !== false) {
          reject(this.fail(`${scriptName(cmd)} failed (exit ${result!.exitCode}): ${lastLines(result!.stderr || result!.stdout, 3, ' / ') || 'no output'}`));
        } else resolve(result!);
      };
      const lost = (reason: string) => finish(this.fail(reason));
      this.onLost.add(lost);
      const kill = (why: string) => {
        channel?.signal('KILL');
        channel?.close();
        finish(this.fail(why));
      };
      const timer = timeoutMs > 0 ? setTimeout(() => kill(`${cmd[0]} timed out after ${Math.round(timeoutMs / 1000)} s`), timeoutMs) : undefined;
      const abort = () => kill(`${cmd[0]}: ${String(options.signal!.reason)}`);
      options.signal?.addEventListener('abort', abort, { once: true });
      this.client.exec(shellLine(cmd), (err, stream) => {
        if (err) return finish(this.fail(`cannot run ${cmd[0]}: ${err.message}`));
        channel = stream;
        // decoded as it arrives: a kept Buffer would be a slice of a pooled slab (see
        // bin/deploy.ts) and keep all of it alive for as long as the command runs
        const out = collector('stdout', options.onLine);
        const errOut = collector('stderr', options.onLine);
        let code = -1;
        stream.on('data', (d: Buffer) => out.write(d));
        stream.stderr.on('data', (d: Buffer) => errOut.write(d));
        stream.on('exit', (exitCode: number | null, signal?: string) => {
          code = exitCode ?? (signal ? 128 : -1);
        });
        const input = options.input;
        stream.on('close', () => {
          if (input instanceof Readable) input.destroy();
          finish(undefined, { exitCode: code, stdout: out.end(), stderr: errOut.end() });
        });
        // a write after the command exited: the exit status says what happened
        stream.on('error', () => undefined);
        if (input instanceof Readable) {
          input.on('error', (e: Error) => {
            channel?.close();
            finish(this.fail(`cannot read what ${cmd[0]} was to be sent: ${e.message}`));
          });
          input.pipe(stream);
        } else stream.end(input ?? '');
      });
    });
  }

  /**
   * Open a port on the web server's loopback whose connections come back to
   * this process through the SSH connection. Returns the port.
   */
  forwardIn(onConnection: (stream: Duplex) => void): Promise<{ port: number; close: () => Promise<void> }> {
    return new Promise((resolve, reject) => {
      this.client.forwardIn('127.0.0.1', 0, (err, port) => {
        if (err) return reject(this.fail(`cannot open a forwarded port (is AllowTcpForwarding on?): ${err.message}`));
        // one forward per session at a time; a connection to another port is not ours to answer
        const forward = {};
        const listener = (info: { destPort: number }, accept: () => Duplex) => {
          if (info.destPort !== port) return;
          const stream = accept();
          cameThrough(stream, forward);
          onConnection(stream);
        };
        this.client.on('tcp connection', listener);
        const close = () =>
          new Promise<void>((done) => {
            this.client.removeListener('tcp connection', listener);
            if (this.lostReason || this.closed) return done();
            try {
              this.client.unforwardIn('127.0.0.1', port, () => done());
            } catch {
              done();
            }
          });
        resolve({ port, close });
      });
    });
  }

  /** End the connection; commands still running on it fail with `reason`. */
  close(reason?: string): void {
    if (this.closed) return;
    if (reason) this.lose(reason);
    this.closed = true;
    try {
      this.client.end();
    } catch (err) {
      void errorMessage(err);
    }
  }
}

/** What a failed command is called in its message: the host script it ran (remote.ts), else its program. */
function scriptName(cmd: Cmd): string {
  return cmd[0] === 'sh' && cmd[1] === '-c' && cmd[3] ? cmd[3] : cmd[0]!;
}

/** One stream's output, decoded as it arrives, and handed on line by line if asked. */
function collector(stream: 'stdout' | 'stderr', onLine: RunOptions['onLine']) {
  const decoder = new StringDecoder('utf8');
  let text = '';
  let sent = 0;
  const lines = () => {
    if (!onLine) return;
    for (let nl = text.indexOf('\n', sent); nl >= 0; nl = text.indexOf('\n', sent)) {
      onLine(text.slice(sent, nl), stream);
      sent = nl + 1;
    }
  };
  return {
    write(d: Buffer): void {
      text += decoder.write(d);
      lines();
    },
    end(): string {
      text += decoder.end();
      lines();
      if (onLine && sent < text.length) onLine(text.slice(sent), stream);
      return text;
    },
  };
}

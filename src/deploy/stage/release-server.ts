/**
 * The admin side of a pull. Web servers connect to a port forwarded through the
 * deploy's own SSH connection; each connection is answered by
 * `rsync --server --daemon` speaking over that stream (rsync's daemon over a
 * remote shell), exporting one release tree read-only.
 *
 * Anyone on a web server can connect to its forwarded loopback port. So the
 * daemon's greeting and password challenge are answered here, and only a client
 * that proves it holds the per-run secret gets a daemon (as root, confined to the
 * release tree by chroot): nothing is started for anyone else. Each forward (one
 * host) gets at most MAX_DAEMONS at a time, unanswered handshakes are dropped
 * after HANDSHAKE_MS, and past MAX_PENDING the oldest of them is.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { local } from '../../exec/local.js';
import type { Started } from '../../exec/runner.js';
import { forwardOf } from '../connect/forwards.js';

export const RSYNC_USER = 'slipway';
export const MODULE = 'release';
/** Daemons one forward may run at once: a stage pulls once, or twice when its delta fails. */
export const MAX_DAEMONS = 2;
/** Connections of one forward still in their handshake; past this the oldest is dropped. */
const MAX_PENDING = 64;
/** A real client answers the challenge in one round trip. */
const HANDSHAKE_MS = 15_000;
/** The longest handshake line: a greeting, a module name, a user and a digest. */
const MAX_LINE = 1024;
/** What rsync may answer a daemon challenge with, by its name in the greeting. */
const DIGESTS = ['sha512', 'sha256', 'sha1', 'md5'];

export interface ReleaseServer {
  /** Give this to the pulling rsync on its stdin (--password-file=-). */
  readonly secret: string;
  /** Answer one pulling client; `sent` counts the bytes its daemon sends it. */
  serve(stream: Duplex, sent?: (bytes: number) => void): void;
  close(): Promise<void>;
}

/**
 * rsyncd.conf for one export: read-only, no listing, .git hidden, chrooted when
 * run as root. The password is checked before a daemon is started, so the module
 * asks none. Symlinks are sent exactly as committed (munging would rewrite those
 * starting with /rsyncd-munged/); the chroot keeps the daemon from following any
 * out of the tree, and options that would follow them are refused anyway.
 */
export function daemonConfig(exportDir: string, ids?: { uid: number; gid: number }): string {
  const lines = [
    ...(ids ? [`uid = ${ids.uid}`, `gid = ${ids.gid}`] : []),
    `use chroot = ${ids ? 'yes' : 'no'}`,
    'log file = /dev/null',
    'reverse lookup = no',
    'forward lookup = no',
    `[${MODULE}]`,
    `path = ${exportDir}`,
    'read only = yes',
    'list = no',
    'munge symlinks = no',
    'numeric ids = yes',
    'refuse options = copy-links copy-dirlinks copy-unsafe-links keep-dirlinks',
    'exclude = /.git',
  ];
  if (/[\n\r]/.test(exportDir)) throw new Error('export path cannot contain a newline');
  return `${lines.join('\n')}\n`;
}

/** What a client that knows `secret` answers `challenge` with, for each digest rsync may pick. */
export function challengeAnswers(secret: string, challenge: string): string[] {
  return DIGESTS.map((d) => createHash(d).update(secret).update(challenge).digest('base64').replace(/=+$/, ''));
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

interface Forward {
  daemons: number;
  pending: Set<Duplex>;
}

export async function startReleaseServer(exportDir: string): Promise<ReleaseServer> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-serve-'));
  const secret = randomBytes(24).toString('base64url');
  const configFile = join(dir, 'rsyncd.conf');
  // as root the daemon would drop to "nobody", who cannot read private files
  const ids = process.getuid?.() === 0 ? { uid: 0, gid: process.getgid?.() ?? 0 } : undefined;
  await writeFile(configFile, daemonConfig(exportDir, ids), { mode: 0o600 });
  const daemon = () => local.start(['rsync', '--server', '--daemon', `--config=${configFile}`, '.']);
  // the client must be greeted before it names the module: with this rsync's own greeting, so both agree on the protocol
  const greeting = await firstLine(daemon());
  const children = new Set<Started>();
  const forwards = new WeakMap<object, Forward>();
  const unforwarded: Forward = { daemons: 0, pending: new Set() };
  const forwardFor = (stream: Duplex): Forward => {
    const key = forwardOf(stream);
    if (!key) return unforwarded;
    let f = forwards.get(key);
    if (!f) forwards.set(key, (f = { daemons: 0, pending: new Set() }));
    return f;
  };

  /** Splice an authenticated client to a daemon that is told what the client said before the challenge. */
  const answer = (stream: Duplex, forward: Forward, clientGreeting: Buffer, module: Buffer, rest: Buffer, sent?: (bytes: number) => void) => {
    if (forward.daemons >= MAX_DAEMONS) return void stream.end(`@ERROR: max connections (${MAX_DAEMONS}) reached -- try again later\n`);
    forward.daemons++;
    const child = daemon();
    children.add(child);
    child.stdin.write(Buffer.concat([clientGreeting, module, rest]));
    // the daemon greets again; the client was greeted already and now hears "@RSYNCD: OK" and the rest
    let greeted = false;
    let head = Buffer.alloc(0);
    child.stdout.on('data', (d: Buffer) => {
      sent?.(d.length);
      if (greeted) return void stream.write(d);
      head = Buffer.concat([head, d]);
      const nl = head.indexOf(10);
      if (nl < 0) return;
      greeted = true;
      if (nl + 1 < head.length) stream.write(head.subarray(nl + 1));
    });
    stream.pipe(child.stdin);
    const stop = () => child.stop();
    stream.on('close', stop);
    stream.on('error', stop);
    child.stdin.on('error', () => stream.destroy());
    child.on('close', () => {
      children.delete(child);
      forward.daemons--;
      stream.end();
    });
    child.on('error', () => stream.destroy());
  };

  return {
    secret,
    serve(stream, sent) {
      const forward = forwardFor(stream);
      const oldest = forward.pending.size >= MAX_PENDING ? forward.pending.values().next().value : undefined;
      if (oldest) (forward.pending.delete(oldest), oldest.destroy());
      forward.pending.add(stream);
      const challenge = randomBytes(32).toString('base64').replace(/=+$/, '');
      const lines: Buffer[] = [];
      let buffered = Buffer.alloc(0);
      const timer = setTimeout(() => stream.destroy(), HANDSHAKE_MS);
      const done = () => {
        clearTimeout(timer);
        forward.pending.delete(stream);
        stream.off('data', onData);
      };
      const onData = (d: Buffer) => {
        buffered = Buffer.concat([buffered, d]);
        for (let nl = buffered.indexOf(10); nl >= 0 && lines.length < 3; nl = buffered.indexOf(10)) {
          lines.push(buffered.subarray(0, nl + 1));
          buffered = buffered.subarray(nl + 1);
          // after the greeting and the module name, the challenge; after the answer, a daemon or nothing
          if (lines.length === 2) stream.write(`@RSYNCD: AUTHREQD ${challenge}\n`);
        }
        if (lines.length < 3) {
          if (buffered.length > MAX_LINE) (done(), stream.destroy());
          return;
        }
        done();
        stream.pause();
        const [user, given] = lines[2]!.toString('latin1').trim().split(' ');
        if (user !== RSYNC_USER || !given || !challengeAnswers(secret, challenge).some((a) => sameText(a, given))) {
          stream.end(`@ERROR: auth failed on module ${MODULE}\n`);
          return;
        }
        answer(stream, forward, lines[0]!, lines[1]!, buffered, sent);
        stream.resume();
      };
      stream.on('data', onData);
      stream.on('close', done);
      stream.on('error', () => undefined);
      stream.write(greeting);
    },
    async close() {
      for (const child of children) child.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The first line a process writes (its stdin closed at once), newline included. */
function firstLine(child: Started): Promise<string> {
  child.stdin.end();
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('latin1')));
    child.on('error', reject);
    child.on('close', () => {
      const nl = out.indexOf('\n');
      if (nl < 0) reject(new Error(`rsync --daemon did not greet: ${JSON.stringify(out)}`));
      else resolve(out.slice(0, nl + 1));
    });
  });
}

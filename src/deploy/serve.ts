/**
 * The admin side of a pull. Web servers connect to a port forwarded through the
 * deploy's own SSH connection; each connection is answered by
 * `rsync --server --daemon` speaking over that stream (rsync's daemon over a
 * remote shell), exporting one release tree read-only. A per-run secret keeps
 * other local users on a web server out of the forwarded port.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';

export const RSYNC_USER = 'slipway';
export const MODULE = 'release';

export interface ReleaseServer {
  /** Give this to the pulling rsync on its stdin (--password-file=-). */
  readonly secret: string;
  serve(stream: Duplex): void;
  close(): Promise<void>;
}

/** rsyncd.conf for one export: read-only, no listing, authenticated, .git hidden. */
export function daemonConfig(exportDir: string, secretsFile: string, ids?: { uid: number; gid: number }): string {
  const lines = [
    ...(ids ? [`uid = ${ids.uid}`, `gid = ${ids.gid}`] : []),
    'use chroot = no',
    'log file = /dev/null',
    'reverse lookup = no',
    'forward lookup = no',
    `[${MODULE}]`,
    `path = ${exportDir}`,
    'read only = yes',
    'list = no',
    'munge symlinks = no',
    'numeric ids = yes',
    `auth users = ${RSYNC_USER}`,
    `secrets file = ${secretsFile}`,
    'strict modes = yes',
    'exclude = /.git',
  ];
  if (/[\n\r]/.test(exportDir)) throw new Error('export path cannot contain a newline');
  return `${lines.join('\n')}\n`;
}

export async function startReleaseServer(exportDir: string): Promise<ReleaseServer> {
  const dir = await mkdtemp(join(tmpdir(), 'slipway-serve-'));
  const secret = randomBytes(24).toString('base64url');
  const secretsFile = join(dir, 'secrets');
  const configFile = join(dir, 'rsyncd.conf');
  await writeFile(secretsFile, `${RSYNC_USER}:${secret}\n`, { mode: 0o600 });
  // as root the daemon would drop to "nobody", who cannot read private files
  const ids = process.getuid?.() === 0 ? { uid: 0, gid: process.getgid?.() ?? 0 } : undefined;
  await writeFile(configFile, daemonConfig(exportDir, secretsFile, ids), { mode: 0o600 });
  const children = new Set<ReturnType<typeof spawn>>();

  return {
    secret,
    serve(stream) {
      const child = spawn('rsync', ['--server', '--daemon', `--config=${configFile}`, '.'], {
        stdio: ['pipe', 'pipe', 'ignore'],
        env: { ...process.env, LC_ALL: 'C' },
      });
      children.add(child);
      stream.pipe(child.stdin!);
      child.stdout!.pipe(stream);
      const stop = () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      };
      stream.on('close', stop);
      stream.on('error', stop);
      child.stdin!.on('error', () => stream.destroy());
      child.on('close', () => {
        children.delete(child);
        stream.end();
      });
      child.on('error', () => stream.destroy());
    },
    async close() {
      for (const child of children) child.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

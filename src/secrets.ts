/**
 * Every private value a run could print is registered for redaction here, and
 * only here: the CLI's fleet commands (deploy, rollback, sync) and `status`
 * call `registerSecrets` before any host is touched. Registered are today's
 * private dotenv values and settings files, and the private files of every
 * release in the store: a rollback, a sync or a deploy's revert can make any of
 * them live again, and a rotated value is still a secret.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AppEnv } from './config/resolve.js';
import { gitCmd, STORE_SETTINGS, storeGit } from './exec/git.js';
import { local } from './exec/local.js';
import { listReleases } from './release-store/store.js';
import type { Release } from './release-store/release.js';
import { privateDirWarning } from './release-store/private.js';
import type { Reporter } from './report/events.js';
import { addSecrets } from './report/redact.js';
import { readPrivateVars } from './update/tasks.js';

/** Larger files are not settings; reading them would cost more than it protects. */
const MAX_SECRET_FILE = 1024 * 1024;

/**
 * The secrets of one private settings file: every line of it, and every value
 * after a `=` or `:` (with and without its quotes). Short values (< 6) are left
 * out, or words like "True" would vanish from every message.
 */
export function secretsOfText(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.length >= 6 && !line.startsWith('#')) out.push(line);
    const value = /[=:]\s*(.+)$/.exec(line)?.[1]?.trim();
    if (value) for (const v of [value, value.replace(/^(['"])(.*)\1[,;]?$/, '$2')]) if (v.length >= 6) out.push(v);
  }
  return out;
}

/** The secrets of the private settings files in the admin node's private dir (the dotenv file included). */
export async function privateDirSecrets(appEnv: AppEnv): Promise<string[]> {
  const dir = appEnv.paths.private;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    if (path.split('/').some((part) => part === '.git')) continue;
    if ((await stat(path)).size > MAX_SECRET_FILE) continue;
    out.push(...secretsOfText(await readFile(path, 'utf8')));
  }
  return out;
}

/**
 * The secrets of the private files of the store's `releases`, as each release committed
 * them. Two git processes whatever the store holds: one `cat-file --batch-check` names the
 * blobs (identical contents are one blob), one `cat-file --batch` reads the distinct ones.
 */
export async function storeSecrets(www: string, releases: readonly Release[]): Promise<string[]> {
  const wanted = releases.flatMap((r) => r.privateFiles.map((p) => `${r.commit}:${p}`));
  if (!wanted.length) return [];
  const { stdout } = await storeGit(www, ['cat-file', '--batch-check=%(objectname) %(objecttype) %(objectsize)'], { input: `${wanted.join('\n')}\n` });
  const blobs = new Set<string>();
  for (const line of stdout.split('\n')) {
    const [oid, type, size] = line.split(' ');
    if (oid && type === 'blob' && Number(size) <= MAX_SECRET_FILE) blobs.add(oid);
  }
  if (!blobs.size) return [];
  // bytes, not text: each blob is framed by its size in bytes ("<oid> blob <size>\n<bytes>\n")
  const batch = await local.bytes(gitCmd(www, STORE_SETTINGS, ['cat-file', '--batch']), `${[...blobs].join('\n')}\n`, blobs.size * (MAX_SECRET_FILE + 128));
  const out: string[] = [];
  for (let at = 0; at < batch.length; ) {
    const eol = batch.indexOf(0x0a, at);
    const size = Number(batch.subarray(at, eol).toString('latin1').split(' ')[2]);
    out.push(...secretsOfText(batch.subarray(eol + 1, eol + 1 + size).toString('utf8')));
    at = eol + 1 + size + 1;
  }
  return out;
}

/**
 * Register every secret of this app-env for redaction (see above). With a reporter
 * (a fleet run), a missing private dir is warned about here, where every fleet
 * command reads it. Returns the store's releases it read, newest first: a run that holds
 * the app-env's lock uses them rather than reading them again (one git process fewer
 * before its first connection).
 */
export async function registerSecrets(appEnv: AppEnv, reporter?: Reporter): Promise<Release[]> {
  const warning = reporter && privateDirWarning(appEnv);
  if (warning) reporter.emit({ kind: 'note', level: 'warn', text: warning });
  // read side by side: a fleet run waits for all of it before its first connection
  const [vars, files, releases] = await Promise.all([readPrivateVars(appEnv), privateDirSecrets(appEnv), listReleases(appEnv.paths.www)]);
  addSecrets(Object.values(vars));
  addSecrets(files);
  addSecrets(await storeSecrets(appEnv.paths.www, releases));
  return releases;
}

/**
 * `deploy check`, the part that needs no network: the private dir, the required private
 * files, known_hosts and the SSH key, judged from what stat and a read show. The judging
 * functions take the stat results as values, so they are unit-tested without files.
 */
import { type Stats, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AppEnv, Host } from '../config/resolve.js';
import { errorMessage } from '../errors.js';
import { type KnownHostsFile, keysFor, parseKnownHosts } from '../deploy/connect/known-hosts.js';
import { missingPrivateFiles } from '../release-store/private.js';
import { type Finding, fail, ok } from './finding.js';

/** What a check needs of a file: type, owner and mode (a subset of fs.Stats). */
export type FileFacts = Pick<Stats, 'uid' | 'mode'> & { isDirectory(): boolean; isFile(): boolean };

const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0');

function statOf(path: string): FileFacts | string {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'cannot be read by this user' : errorMessage(err);
  }
}

const AS_DEPLOYER = 'run deploy check as the user who deploys (sudo deploy check …)';

/** The private dir: a directory of the deploying user's, closed to everybody else (docs/safety.md). */
export function judgePrivateDir(dir: string, facts: FileFacts | string, uid: number): Finding {
  if (typeof facts === 'string') {
    return fail(dir, 'private-dir', `the private directory ${facts}`, facts === 'does not exist' ? `install -d -m 0700 ${dir} (deploy init creates it)` : AS_DEPLOYER);
  }
  if (!facts.isDirectory()) return fail(dir, 'private-dir', 'is not a directory', `move it away and run install -d -m 0700 ${dir}`);
  if (facts.uid !== uid) return fail(dir, 'private-dir', `is owned by uid ${facts.uid}, not by uid ${uid} who runs deploy`, `chown ${uid} ${dir} (or ${AS_DEPLOYER})`);
  if (facts.mode & 0o077) return fail(dir, 'private-dir', `mode ${octal(facts.mode)} lets others in`, `chmod 0700 ${dir}`);
  return ok(dir, 'private-dir', `owned by uid ${uid}, mode ${octal(facts.mode)}`);
}

/** The SSH key: readable by the deploying user and nobody else (ssh refuses a key others can read). */
export function judgeKey(key: string, facts: FileFacts | string, uid: number, readable: boolean, file: string): Finding {
  if (typeof facts === 'string') return fail(key, 'ssh-key', `the SSH key ${facts}`, facts === 'does not exist' ? `create it (ssh-keygen -t ed25519 -f ${key}) or set ssh.key in ${file}` : AS_DEPLOYER);
  if (!facts.isFile()) return fail(key, 'ssh-key', 'is not a file', `set ssh.key in ${file} to the private key file`);
  if (!readable) return fail(key, 'ssh-key', 'cannot be read by this user', AS_DEPLOYER);
  if (facts.uid !== uid) return fail(key, 'ssh-key', `is owned by uid ${facts.uid}, not by uid ${uid} who runs deploy`, `chown ${uid} ${key}`);
  if (facts.mode & 0o077) return fail(key, 'ssh-key', `mode ${octal(facts.mode)}: group or others can read it`, `chmod 0600 ${key}`);
  return ok(key, 'ssh-key', `readable, mode ${octal(facts.mode)}`);
}

/** One finding per host: known_hosts holds a key (not revoked, not a CA line) for its address and port. */
export function judgeKnownHosts(file: KnownHostsFile, path: string, hosts: readonly Host[]): Finding[] {
  return hosts.map((h) => {
    const trusted = keysFor(file, h.address, h.port).filter((k) => k.marker === undefined);
    const at = h.port === 22 ? h.address : `[${h.address}]:${h.port}`;
    if (!trusted.length) {
      return fail(h.name, 'known-hosts', `no host key for ${at} in ${path}`, `ssh-keyscan -p ${h.port} ${h.address} >> ${path}, then compare the fingerprint with the host's own (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub on it)`);
    }
    return ok(h.name, 'known-hosts', `${trusted.map((k) => k.keyType).join(', ')} key for ${at}`);
  });
}

/** Everything `deploy check` can know without a network, in the order an operator fixes it. */
export function localFindings(appEnv: AppEnv, uid = process.geteuid?.() ?? 0): Finding[] {
  const findings: Finding[] = [ok(appEnv.file, 'app-file', `loads and validates; ${appEnv.hosts.length} ${appEnv.hosts.length === 1 ? 'host' : 'hosts'} in ${appEnv.env}`)];
  const dir = appEnv.paths.private;
  const dirFinding = judgePrivateDir(dir, statOf(dir), uid);
  findings.push(dirFinding);
  if (dirFinding.status === 'ok') {
    const missing = missingPrivateFiles(appEnv);
    for (const f of appEnv.privateRequire) {
      findings.push(missing.includes(f)
        ? fail(join(dir, f), 'private-file', `required by private.require in ${appEnv.file} but missing`, `create ${join(dir, f)} (mode 0600)`)
        : ok(join(dir, f), 'private-file', 'present'));
    }
  }
  const key = appEnv.ssh.key;
  let readable = true;
  try {
    readFileSync(key);
  } catch {
    readable = false;
  }
  findings.push(judgeKey(key, statOf(key), uid, readable, appEnv.file));
  const known = appEnv.ssh.knownHosts;
  let text: string | undefined;
  try {
    text = readFileSync(known, 'utf8');
  } catch (err) {
    findings.push(fail(known, 'known-hosts', `cannot be read: ${errorMessage(err)}`, `create it with ssh-keyscan for every host, or set ssh.knownHosts in ${appEnv.file}`));
  }
  if (text !== undefined) findings.push(...judgeKnownHosts(parseKnownHosts(text, known), known, appEnv.hosts));
  return findings;
}

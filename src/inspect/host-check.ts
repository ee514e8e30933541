/**
 * `deploy check --connect`: one connection per host, one read-only script on it
 * (remote/check.sh), and a finding for each thing a deploy needs there. Connections come
 * from a Connector, so tests and other callers can give their own.
 */
import type { AppEnv, Host } from '../config/resolve.js';
import type { Cmd } from '../exec/cmd.js';
import type { Connector, HostConnection } from '../exec/runner.js';
import { errorMessage } from '../errors.js';
import { onEachHost } from '../deploy/fanout.js';
import { scriptText } from '../deploy/remote.js';
import { parseLines } from '../deploy/remote-output.js';
import { type Finding, fail, ok, warn } from './finding.js';
import { formatBytes } from '../report/line.js';

/** Beyond this, a host's clock is a problem: its logs and file times no longer line up with the admin node's. */
export const MAX_CLOCK_OFFSET_S = 10;

export function checkCmd(base: string, rsync: string): Cmd {
  return ['sh', '-c', scriptText('check'), 'slipway-check', base, rsync];
}

export interface HostFacts {
  writable: boolean;
  /** The directory a deploy writes into (or, when not writable, why). */
  where: string;
  tar?: string;
  rsync?: string;
  availBytes?: number;
  /** The host's clock, seconds since the epoch. */
  clock?: number;
}

export function parseHostCheck(stdout: string): HostFacts {
  const lines = parseLines(stdout);
  const one = (key: string) => lines.get(key)?.[0]?.trim() || undefined;
  const [verdict = 'no', ...where] = (one('writable') ?? 'no (no answer)').split(' ');
  const num = (s: string | undefined) => (s !== undefined && /^[0-9]+$/.test(s) ? Number(s) : undefined);
  const avail = num(one('avail'));
  return { writable: verdict === 'yes', where: where.join(' '), tar: one('tar'), rsync: one('rsync'), availBytes: avail === undefined ? undefined : avail * 1024, clock: num(one('clock')) };
}

export interface HostContext {
  base: string;
  rsync: string;
  /** The release a deploy would send in full to a host without one (undefined: no release yet). */
  release?: { id: string; bytes: number };
  /** Host clock minus admin clock, seconds. */
  offsetS?: number;
}

/** A finding for each thing a deploy needs on the host, from what check.sh printed. */
export function judgeHost(host: string, facts: HostFacts, ctx: HostContext): Finding[] {
  const out: Finding[] = [];
  out.push(facts.writable
    ? ok(host, 'remote-path', `${ctx.base} can be created or written (in ${facts.where})`)
    : fail(host, 'remote-path', `${ctx.base} cannot be written: ${facts.where}`, `on ${host}, create ${ctx.base} owned by the SSH user, or set remote.path`));
  out.push(facts.tar ? ok(host, 'tar', facts.tar) : fail(host, 'tar', 'tar is not installed', `install tar on ${host} (apt-get install tar)`));
  out.push(facts.rsync
    ? ok(host, 'rsync', facts.rsync)
    : fail(host, 'rsync', `${ctx.rsync} is not installed`, ctx.rsync === 'rsync' ? `install rsync on ${host} (apt-get install rsync)` : `install rsync at ${ctx.rsync} on ${host}, or set remote.rsync`));
  if (facts.availBytes === undefined) out.push(warn(host, 'disk', 'free space unknown (df gave no answer)', `check df -Pk on ${host}`));
  else if (!ctx.release) out.push(ok(host, 'disk', `${formatBytes(facts.availBytes)} free (no release yet to compare with)`));
  else if (facts.availBytes < ctx.release.bytes) {
    out.push(fail(host, 'disk', `${formatBytes(facts.availBytes)} free, less than ${ctx.release.id} (${formatBytes(ctx.release.bytes)}), which a host without a release receives whole`, `free space on ${host} under ${facts.where}`));
  } else out.push(ok(host, 'disk', `${formatBytes(facts.availBytes)} free; ${ctx.release.id} is ${formatBytes(ctx.release.bytes)}`));
  if (ctx.offsetS === undefined) out.push(warn(host, 'clock', 'the host did not tell its time', `check date on ${host}`));
  else {
    const off = Math.round(ctx.offsetS);
    const said = `${off === 0 ? 'within 1 s of' : `${Math.abs(off)} s ${off > 0 ? 'ahead of' : 'behind'}`} the admin node`;
    out.push(Math.abs(ctx.offsetS) > MAX_CLOCK_OFFSET_S
      ? fail(host, 'clock', said, `synchronise ${host}'s clock (timedatectl set-ntp true, or chrony)`)
      : ok(host, 'clock', said));
  }
  return out;
}

/** What to do when connecting failed, from ssh2's reason. */
export function connectFix(host: Host, appEnv: Pick<AppEnv, 'ssh' | 'file'>, reason: string): string {
  if (/^cannot read the /.test(reason)) return `make ${appEnv.ssh.key} and ${appEnv.ssh.knownHosts} readable (see their findings)`;
  if (/host key/i.test(reason)) return `add ${host.name}'s key to ${appEnv.ssh.knownHosts} (ssh-keyscan -p ${host.port} ${host.address}, then verify the fingerprint)`;
  if (/authentication/i.test(reason)) return `add the public key of ${appEnv.ssh.key} to ~${host.user}/.ssh/authorized_keys on ${host.name}, or set ssh.user in ${appEnv.file}`;
  return `check that ${host.name} is up and sshd listens on ${host.address}:${host.port}`;
}

/**
 * Every host, `parallel` at a time: connect (which proves its host key and our login), run
 * check.sh, judge. `now` is the admin node's clock (a parameter so tests can move it).
 */
export async function connectFindings(appEnv: AppEnv, connect: Connector, release: HostContext['release'], now: () => number = Date.now): Promise<Finding[]> {
  const outcomes = await onEachHost(appEnv.hosts, appEnv.parallel, async (host): Promise<Finding[]> => {
    let conn: HostConnection;
    try {
      conn = await connect(host);
    } catch (err) {
      const reason = errorMessage(err).replace(`${host.name}: `, '');
      return [fail(host.name, 'connect', reason, connectFix(host, appEnv, reason))];
    }
    try {
      const before = now();
      const r = await conn.run(checkCmd(appEnv.remote.path, appEnv.remote.rsync), { reject: false, timeoutMs: appEnv.ssh.commandTimeout * 1000 });
      const after = now();
      if (r.exitCode !== 0) return [fail(host.name, 'connect', `check script exited ${r.exitCode}: ${r.stderr.trim().split('\n').pop() ?? ''}`, `run sh on ${host.name} as ${host.user} and look`)];
      const facts = parseHostCheck(r.stdout);
      // the host read its clock somewhere within the round trip: take the middle
      const offsetS = facts.clock === undefined ? undefined : facts.clock + 0.5 - (before + after) / 2000;
      return [ok(host.name, 'connect', `logged in as ${host.user} at ${host.address}:${host.port}`), ...judgeHost(host.name, facts, { base: appEnv.remote.path, rsync: appEnv.remote.rsync, release, offsetS })];
    } finally {
      conn.close();
    }
  });
  return outcomes.flatMap((o) => (o.ok ? o.value : [fail(o.host, 'connect', o.error, `check that ${o.host} is up`)]));
}

/**
 * Who runs Slipway, by one rule used everywhere a deployer is named (history,
 * releases, locks, notifications) and by `allowGroups`.
 *
 * Under sudo (or a setuid bit) Slipway is root on behalf of someone who is not:
 * `elevated` is then true and the file trust checks of config/trust.ts apply.
 * SUDO_USER is believed only when the process really was started by sudo: the
 * parent process is a setuid-root program whose real uid is SUDO_UID, and the
 * account SUDO_USER has that uid. Otherwise the run is recorded as root's, with
 * the claimed name marked unverified.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';

export interface Caller {
  /** The unix account `allowGroups` is checked against. */
  user: string;
  /** What history, releases, locks and notifications record: `alice (sudo)`, `root`, … */
  label: string;
  /** Root through sudo or setuid: only files root owns are used (config/trust.ts). */
  elevated: boolean;
}

export interface ProcessFacts {
  uid: number;
  euid: number;
  ppid: number;
  env: NodeJS.ProcessEnv;
}

const SUDO_VARS = ['SUDO_USER', 'SUDO_UID', 'SUDO_GID', 'SUDO_COMMAND'] as const;
const SAFE_NAME = /^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,31}$/;

function facts(): ProcessFacts {
  return { uid: process.getuid?.() ?? 0, euid: process.geteuid?.() ?? 0, ppid: process.ppid, env: process.env };
}

/** Root through sudo (any SUDO_* variable: sudo always sets them) or a setuid bit. */
export function isElevated(f: ProcessFacts = facts()): boolean {
  if (f.uid !== f.euid) return true;
  return f.euid === 0 && SUDO_VARS.some((name) => f.env[name] !== undefined);
}

/**
 * The passwd entry of a user name or uid, or undefined. This process's own uid is asked of
 * Node (getpwuid_r, through NSS as getent is): every run names its deployer before it
 * connects anywhere, and a process spawned then costs it 20 ms or more.
 */
export function passwdEntry(key: string | number): { name: string; uid: number; gid: number } | undefined {
  if (key === process.geteuid?.()) {
    try {
      const self = userInfo();
      return { name: self.username, uid: self.uid, gid: self.gid };
    } catch {
      // no passwd entry for this uid: getent says so below
    }
  }
  try {
    const line = execFileSync('getent', ['passwd', '--', String(key)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!;
    const [name, , uid, gid] = line.split(':');
    if (!name || uid === undefined || gid === undefined) return undefined;
    return { name, uid: Number(uid), gid: Number(gid) };
  } catch {
    return undefined;
  }
}

/** The parent process: its executable (owner, setuid bit) and real uid, read from /proc. */
export function parentProcess(ppid: number): { setuidRoot: boolean; realUid: number } | undefined {
  try {
    const exe = statSync(readlinkSync(`/proc/${ppid}/exe`));
    const uidLine = readFileSync(`/proc/${ppid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m);
    if (!uidLine) return undefined;
    return { setuidRoot: exe.uid === 0 && (exe.mode & 0o4000) !== 0, realUid: Number(uidLine[1]) };
  } catch {
    return undefined;
  }
}

export interface Probes {
  passwd: typeof passwdEntry;
  parent: typeof parentProcess;
}

/** Work out the caller from the process's ids, environment and parent. */
export function identify(f: ProcessFacts = facts(), probes: Probes = { passwd: passwdEntry, parent: parentProcess }): Caller {
  const elevated = isElevated(f);
  if (f.uid !== f.euid) {
    // setuid: the real uid is the caller, whatever the environment says
    const name = probes.passwd(f.uid)?.name ?? `uid${f.uid}`;
    return { user: name, label: `${name} (setuid)`, elevated };
  }
  const self = probes.passwd(f.euid)?.name ?? (f.euid === 0 ? 'root' : userInfo().username);
  if (!elevated) return { user: self, label: self, elevated };
  const claimed = f.env.SUDO_USER;
  const sudoUid = f.env.SUDO_UID;
  if (claimed && SAFE_NAME.test(claimed) && sudoUid && /^\d+$/.test(sudoUid)) {
    const account = probes.passwd(claimed);
    const parent = probes.parent(f.ppid);
    if (account && account.uid === Number(sudoUid) && parent?.setuidRoot && parent.realUid === account.uid) {
      return { user: account.name, label: `${account.name} (sudo)`, elevated };
    }
  }
  const shown = claimed === undefined ? 'unset' : SAFE_NAME.test(claimed) ? claimed : 'invalid';
  return { user: self, label: `${self} (SUDO_USER ${shown} unverified)`, elevated };
}

let memo: Caller | undefined;

/** The caller of this process, worked out once. */
export function caller(): Caller {
  return (memo ??= identify());
}

/**
 * Run on behalf of a person root's worker vouches for (a dashboard request): recorded as
 * `label`, checked against allowGroups as `user`, and trusted like a sudo caller (elevated).
 */
export function actAs(person: Caller): void {
  memo = person;
}

/** Who deploys, as recorded in releases, history, locks and notifications: `alice (sudo)`, `root`, … */
export function deployerName(): string {
  return caller().label;
}

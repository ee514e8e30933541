/**
 * What the host scripts (remote/*.sh) print, as canned answers for a recording (recording.ts):
 * the lines the admin node parses (src/deploy/remote.ts parseProbe, parseLines…), written from
 * what a host holds. A release is named as hosts name it, `r<N>-<commit12>` (releaseDir).
 */
import { releaseDir } from '../../src/deploy/layout.js';
import type { Answer, Call, CallIo, Reply } from './recording.js';

/** A release as hosts know it: its id and commit. */
export interface Held {
  id: string;
  commit: string;
}

/** What one host holds when the run looks: the live release and the others it keeps. */
export interface HostHas {
  live?: Held;
  /** Releases kept beside the live one (the live one is held anyway). */
  kept?: Held[];
  /** Kept releases edited by hand (seen only by a look asked to check one): how many paths differ. */
  edited?: { release: Held; differ: number }[];
  /** Kept releases its prune after a deploy would remove (named only to a deploy's look). */
  spare?: Held[];
}

const dirOf = (r: Held) => releaseDir(r);
/** `r2-…` → `r2`, for the timeline. */
const idOf = (dir: string) => dir.split('-')[0]!;

/**
 * The look's lines (common.sh look): `live`, a `have` per release (`unchecked` but for the
 * live one and the one `verify` names), and `edited` if that one was edited by hand.
 */
export function lookLines(has: HostHas, verify?: string): string {
  const live = has.live ? dirOf(has.live) : '';
  const held = [...(has.live ? [has.live] : []), ...(has.kept ?? [])];
  const lines = [`live ${live}`];
  for (const r of held) lines.push(`have ${dirOf(r)} ${r.commit}${dirOf(r) === verify || dirOf(r) === live ? '' : ' unchecked'}`);
  for (const e of has.edited ?? []) if (dirOf(e.release) === verify) lines.push(`edited ${dirOf(e.release)} ${e.differ}`);
  if (!verify) for (const r of has.spare ?? []) lines.push(`spare ${dirOf(r)}`);
  return `${lines.join('\n')}\n`;
}

export interface LookOptions {
  /** What the switch answers instead of switching (a host whose switch fails). */
  switchFails?: Reply;
  /** The look itself fails (before `ready`). */
  lookFails?: Reply;
  /** What the prune sent through the look after its switch answers (default: nothing pruned). */
  prune?: Reply;
}

/**
 * look.sh: the look (checking the release its second argument names, if any), `ready`, then wait. A release directory on stdin switches the host
 * (`previous <dir>`, `switched`; marked `switch rN` in the timeline); the end of stdin without
 * one ends it with nothing changed (marked `look closed`). After the switch it waits again:
 * `prune <keep>` prunes (marked `prune`, answered by options.prune), the end of stdin ends it.
 */
export function look(has: HostHas, options: LookOptions = {}): Answer {
  return async (call: Call, io: CallIo): Promise<Reply> => {
    if (options.lookFails) return options.lookFails;
    io.say(`${lookLines(has, call.args[1])}ready\n`);
    const dir = (await io.line()) ?? '';
    if (!dir) {
      io.mark('look closed');
      return { exitCode: 0 };
    }
    if (options.switchFails) {
      io.mark(`switch ${idOf(dir)} failed`);
      return options.switchFails;
    }
    io.mark(`switch ${idOf(dir)}`);
    io.say(`previous ${has.live ? dirOf(has.live) : ''}\nswitched\n`);
    const next = await io.line();
    if (!next?.startsWith('prune ')) return { exitCode: 0 };
    io.mark('prune');
    return options.prune ?? {};
  };
}

/** activate.sh: switch to the directory in its arguments (marked `switch rN`), which served `previous` before. */
export function activated(previous?: Held): Answer {
  return (call: Call, io: CallIo): Reply => {
    io.mark(`switch ${idOf(call.args[1] ?? '')}`);
    return { stdout: `previous ${previous ? dirOf(previous) : ''}\nswitched\n` };
  };
}

export interface StagedOptions {
  /** The release it serves while staging (default: none). */
  live?: Held;
  /** The release was there already: nothing is staged. */
  present?: boolean;
  /** A delta applied to this release's tree, by `tar` or `list`; `reused`: its own tree, renamed into place. */
  delta?: { from: Held; by: 'tar' | 'list'; reused?: boolean };
  /** The tree had been sent ahead (ahead.sh). */
  ahead?: boolean;
  /** What rsync said it moved (a pull): files and bytes. */
  pulled?: { files: number; bytes: number };
}

/** stage.sh's output: `live`, then `present`, or what it did (`delta`, `ahead`, rsync stats) and `staged`. */
export function staged(options: StagedOptions = {}): Reply {
  const lines = [`live ${options.live ? dirOf(options.live) : 'none'}`];
  if (options.present) return { stdout: `${lines.join('\n')}\npresent\n` };
  if (options.delta?.reused) lines.push(`reused ${dirOf(options.delta.from)}`);
  if (options.delta) lines.push(`delta ${dirOf(options.delta.from)} ${options.delta.by}`);
  if (options.ahead) lines.push('ahead');
  if (options.pulled) lines.push(`Number of regular files transferred: ${options.pulled.files}`, `Total bytes received: ${options.pulled.bytes}`);
  lines.push('staged');
  return { stdout: `${lines.join('\n')}\n` };
}

/** stage.sh's answer for a stage that fails (a full disk, say). */
export function stageFails(why = 'tar: index.html: Cannot write: No space left on device', exitCode = 1): Reply {
  return { stdout: 'live none\n', stderr: `${why}\n`, exitCode };
}

/** prune.sh: `pruned <dir>` per release removed. */
export function pruned(...releases: Held[]): Reply {
  return { stdout: releases.map((r) => `pruned ${dirOf(r)}\n`).join('') };
}

/** ahead.sh: the tree was unpacked (it reads the tar first). */
export const aheadDone: Reply = { stdout: 'ahead\n' };

/** inspect.sh: what the host serves and, when it is `expect`, the differences (rsync itemized lines). */
export function inspected(live: Held | undefined, drift: string[] = [], kept: { release: Held; differ: number }[] = []): Reply {
  const lines = [`live ${live ? dirOf(live) : ''}`, ...kept.map((k) => `kept ${dirOf(k.release)} ${k.differ}`)];
  if (live) lines.push(`revision ${live.commit}`, ...drift.map((d) => `drift ${d}`), 'checked');
  return { stdout: `${lines.join('\n')}\n` };
}

/** repair.sh: a fresh copy served. */
export function repaired(files = 1, bytes = 100): Reply {
  return { stdout: `Number of regular files transferred: ${files}\nTotal bytes received: ${bytes}\nrepaired\n` };
}

/** forget.sh: `forgot <dir> <n>` per kept release removed. */
export function forgot(...releases: { release: Held; differ: number }[]): Reply {
  return { stdout: releases.map((k) => `forgot ${dirOf(k.release)} ${k.differ}\n`).join('') };
}

/** The stage script's arguments by name (remote.ts stageCmd): what the admin node chose to send. */
export function stageArgs(args: readonly string[]) {
  return { dir: args[1], commit: args[2], from: args[7] || undefined, payload: args[10] || 'rsync', arg: args[11], deadline: args[12] || undefined, reuse: args[13] === '1', privateFiles: args.slice(14) };
}

/** status.sh: the live release and its commit (nothing when it serves none). */
export function status(live: Held | undefined): Reply {
  return { stdout: live ? `live ${dirOf(live)}\nrevision ${live.commit}\n` : 'live \n' };
}

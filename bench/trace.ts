/**
 * Where the admin node's disk time goes (#22): a Slipway run under `strace -f -T -y -v`, summed
 * by program (`git add`, `git commit-tree`, node, rsync, …): processes, fsyncs and the time
 * spent in them, bytes written to files and files created. Sockets, pipes and /dev are not
 * files. strace slows the run, so its wall time means nothing; the counts and bytes do, and
 * the time in fsync is the disk's.
 */

/** The syscalls the summary reads (for `strace -e trace=`). */
export const TRACED = ['execve', 'fsync', 'fdatasync', 'write', 'pwrite64', 'writev', 'openat', 'rename', 'renameat2', 'link', 'linkat'];

export interface ProgramUse {
  program: string;
  processes: number;
  fsyncs: number;
  fsyncS: number;
  bytes: number;
  created: number;
}

const LINE = /^(\d+) +(?:<\.\.\. (\w+) resumed>(.*)|(\w+)\((.*))$/;
const RESULT = /= (-?\d+)(?:<[^>]*>)?(?: [A-Z]\w+ \(.*\))? <([0-9.]+)>$/;

/** The program a command line is: `git <subcommand>` (past -C and -c), else the file's name. */
export function programOf(argv: string[]): string {
  const name = (argv[0] ?? '?').split('/').pop()!;
  if (name !== 'git') return name;
  for (let i = 1; i < argv.length; i++) {
    if (argv[i] === '-C' || argv[i] === '-c') i++;
    else if (!argv[i]!.startsWith('-')) return `git ${argv[i]}`;
  }
  return 'git';
}

/** The first fd's path in an strace -y argument list, if it is a file. */
function filePath(args: string): string | undefined {
  const m = /^-?\d+<([^>]*)>/.exec(args);
  if (!m) return undefined;
  const path = m[1]!;
  return path.startsWith('/') && !path.startsWith('/dev/') && !path.startsWith('/proc/') ? path : undefined;
}

function argvOf(args: string): string[] {
  const list = /^"[^"]*", \[(.*?)\](?:, 0x|, \[| \/\*)/.exec(args);
  return list ? [...list[1]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!) : [];
}

/**
 * Sum an strace -f -T -y -v log by program: each pid (thread or process) counts for the last
 * program it ran; a pid that never ran one is the traced command's (`first`).
 */
export function summarise(log: string, first = 'node'): ProgramUse[] {
  const programOfPid = new Map<string, string>();
  const pending = new Map<string, string>(); // pid → the unfinished call's arguments
  const byPid = new Map<string, Omit<ProgramUse, 'program' | 'processes'>>();
  for (const line of log.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const pid = m[1]!;
    let call = m[4];
    let args = m[5]!;
    if (m[2]) {
      call = m[2];
      args = (pending.get(pid) ?? '') + m[3]!;
      pending.delete(pid);
    } else if (args.endsWith('<unfinished ...>')) {
      pending.set(pid, args);
      continue;
    }
    const r = RESULT.exec(args);
    if (!r) continue;
    const ret = Number(r[1]);
    let u = byPid.get(pid);
    if (!u) byPid.set(pid, (u = { fsyncs: 0, fsyncS: 0, bytes: 0, created: 0 }));
    if (call === 'execve') {
      if (ret === 0) programOfPid.set(pid, programOf(argvOf(args)));
    } else if (call === 'fsync' || call === 'fdatasync') {
      u.fsyncs++;
      u.fsyncS += Number(r[2]);
    } else if (call === 'openat') {
      if (ret >= 0 && /O_CREAT/.test(args)) u.created++;
    } else if (ret > 0 && filePath(args)) {
      u.bytes += ret; // write, pwrite64, writev to a file
    }
  }
  const use = new Map<string, ProgramUse>();
  for (const [pid, u] of byPid) {
    const program = programOfPid.get(pid) ?? first;
    const t = use.get(program) ?? { program, processes: 0, fsyncs: 0, fsyncS: 0, bytes: 0, created: 0 };
    use.set(program, { program, processes: t.processes + 1, fsyncs: t.fsyncs + u.fsyncs, fsyncS: t.fsyncS + u.fsyncS, bytes: t.bytes + u.bytes, created: t.created + u.created });
  }
  return [...use.values()].filter((u) => u.fsyncs || u.bytes || u.created).sort((a, b) => b.fsyncS - a.fsyncS || b.bytes - a.bytes);
}

/** The summary as a table, with a total. */
export function formatUse(rows: ProgramUse[]): string {
  const total = rows.reduce((t, u) => ({ ...t, processes: t.processes + u.processes, fsyncs: t.fsyncs + u.fsyncs, fsyncS: t.fsyncS + u.fsyncS, bytes: t.bytes + u.bytes, created: t.created + u.created }), { program: 'total', processes: 0, fsyncs: 0, fsyncS: 0, bytes: 0, created: 0 });
  const cells = [['program', 'pids', 'fsyncs', 'fsync s', 'MB written', 'files created'], ...[...rows, total].map((u) => [u.program, String(u.processes), String(u.fsyncs), u.fsyncS.toFixed(3), (u.bytes / 1e6).toFixed(2), String(u.created)])];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

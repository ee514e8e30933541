/**
 * A command is data: a program and its arguments, never a shell line.
 * Builders return Cmds; runners execute them. The only place a Cmd becomes a
 * string for a shell is `shellLine`, because ssh2's exec takes a string.
 */
export type Cmd = readonly [program: string, ...args: string[]];

/** Characters that never need quoting in a POSIX shell word. */
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quote one word for a POSIX shell (sh, bash, dash): single quotes, with ' as '\''. */
export function quote(word: string): string {
  if (word.includes('\0')) throw new Error('a shell word cannot contain a NUL byte');
  if (word !== '' && SAFE.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Words the shell would read as syntax in command position, not as a program. */
const RESERVED = new Set(['!', '{', '}', 'case', 'do', 'done', 'elif', 'else', 'esac', 'fi', 'for', 'if', 'in', 'then', 'until', 'while', 'function', 'select', 'time', '[[', ']]']);

/** The one function that turns a Cmd into a line for a remote POSIX shell. */
export function shellLine(cmd: Cmd): string {
  const [program, ...args] = cmd;
  // in command position, `a=b` would be an assignment and `if` a keyword: quote them to stay a program
  const first = program.includes('=') || RESERVED.has(program) ? `'${program.replaceAll("'", `'\\''`)}'` : quote(program);
  return [first, ...args.map(quote)].join(' ');
}

/** A readable rendering for logs and dry runs (same quoting, so it can be pasted). */
export const display = shellLine;

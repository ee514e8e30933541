/** A mistyped command reaches the default command as its target: say which command was meant. */
import type { Command } from 'commander';
import { splitTarget } from '../config/names.js';
import { ExitCode } from '../errors.js';

/**
 * `deploy <target>` is the default command, so a mistyped command (`deploy statu x-prod`)
 * reaches it as a target: name the command meant instead of commander's "too many arguments".
 * Only commands --help lists are suggested, never the hidden ones of the completion scripts.
 */
export function checkDeployArguments(program: Command, args: readonly string[]): void {
  const [first = '', ...rest] = args;
  if (!splitTarget(first)) {
    const meant = similarCommand(first, program.createHelp().visibleCommands(program).map((c) => c.name()));
    if (meant) program.error(`error: unknown command '${first}'; did you mean '${meant}'?`, { exitCode: ExitCode.usage });
    if (rest.length) program.error(`error: unknown command '${first}'`, { exitCode: ExitCode.usage });
  }
  if (rest.length) program.error(`error: too many arguments after ${first}: ${rest.map((a) => `'${a}'`).join(' ')}`, { exitCode: ExitCode.usage });
}

/** The command `typed` is probably a typo of: within two edits (fewer than half its letters), or the only one it begins. */
export function similarCommand(typed: string, names: readonly string[]): string | undefined {
  const word = typed.toLowerCase();
  if (!/^[a-z]{2,20}$/.test(word)) return undefined;
  let best: { name: string; d: number } | undefined;
  for (const name of names) {
    const d = editDistance(word, name);
    if (d <= 2 && d * 2 < name.length && (!best || d < best.d)) best = { name, d };
  }
  if (best) return best.name;
  const starting = names.filter((n) => word.length >= 3 && n.startsWith(word));
  return starting.length === 1 ? starting[0] : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

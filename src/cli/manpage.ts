/**
 * deploy(1), written in roff from the command definitions (definitions.ts) at build time
 * (scripts/share.mjs): the same texts as --help, so the page never drifts from the program.
 * help2man would only see the top-level --help, not each command's options and examples.
 */
import type { Command } from 'commander';
import { type OptionDef, programDef } from './definitions.js';

/** Text safe in roff: backslashes escaped, hyphens as minus signs, no line taken for a request. */
function roff(text: string): string {
  return text
    .replaceAll('\\', '\\e')
    .replaceAll('-', '\\-')
    // troff reads bytes: anything beyond ASCII (× in the plan's description) as a named glyph
    .replace(/[^\x00-\x7f]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`)
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

function options(list: readonly OptionDef[]): string[] {
  return list.flatMap((o) => ['.TP', `.B ${roff(o.flags)}`, roff(o.description)]);
}

/** `Examples:` and the like, a heading at the left margin followed by indented lines, kept as they are. */
function preformatted(text: string): string[] {
  if (!text) return [];
  return text.split(/\n(?=\S)/).flatMap((block) => {
    const [first = '', ...rest] = block.split('\n');
    // `Exit codes: 0 ok, …`: the heading is up to the colon, the rest of its line is text
    const at = first.indexOf(':');
    const heading = at < 0 ? first : first.slice(0, at);
    const body = at < 0 || !first.slice(at + 1).trim() ? rest : [first.slice(at + 1).trim(), ...rest.map((l) => l.replace(new RegExp(`^ {0,${at + 2}}`), ''))];
    return ['.PP', `.B ${roff(heading)}`, '.RS 2', '.nf', ...body.map((l) => roff(l.replace(/^ {2}/, ''))), '.fi', '.RE'];
  });
}

export function manPage(program: Command, version: string, date: string): string {
  const def = programDef(program);
  const name = def.name;
  const lines = [
    `.\\" deploy(1), generated from Slipway's command definitions (src/cli/commands.ts); do not edit.`,
    `.TH ${name.toUpperCase()} 1 "${date}" "Slipway ${roff(version)}" "User Commands"`,
    '.SH NAME',
    `${name} \\- ${roff(def.description.replace(/\.$/, '').replace(/^./, (c) => c.toLowerCase()))}`,
    '.SH SYNOPSIS',
    ...def.commands.flatMap((c) => [
      `.B ${name}`,
      ...(c.isDefault ? [`[\\fB${c.name}\\fR] \\fI${roff(c.usage.slice(c.name.length + 1))}\\fR [\\fIoptions\\fR]`] : [`\\fB${c.name}\\fR \\fI${roff(c.usage.slice(c.name.length + 1))}\\fR [\\fIoptions\\fR]`]),
      '.br',
    ]),
    '.SH DESCRIPTION',
    roff(def.description),
    '.PP',
    `\\fItarget\\fR is \\fIapp\\fR\\-\\fIenv\\fR: an app file \\fIapp\\fR.ts in the apps directory and one of its envs. Completion for bash and zsh offers the commands, their options, the targets and the release ids.`,
    '.SH COMMANDS',
    ...def.commands.flatMap((c) => [
      '.SS',
      `\\fB${name} ${c.name}\\fR \\fI${roff(c.usage.slice(c.name.length + 1))}\\fR${c.isDefault ? ' (the default command)' : ''}`,
      ...c.description.split('\n').flatMap((p) => ['.PP', roff(p)]),
      ...options(c.options.filter((o) => !def.globalOptions.some((g) => g.flags === o.flags))),
      ...preformatted(c.after),
    ]),
    '.SH OPTIONS',
    'These go before or after the command.',
    ...options(def.globalOptions),
    ...preformatted(def.after),
    '.SH SEE ALSO',
    'The README and docs/ of Slipway, installed in its directory (/opt/slipway by default).',
  ];
  return `${lines.join('\n')}\n`;
}

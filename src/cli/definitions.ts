/**
 * The commands and options of `deploy` as plain data, read from the commander program: the
 * completion scripts and the man page are generated from it, so nothing is written twice.
 */
import type { Command, Option } from 'commander';

/** What a value is, from its placeholder in the definitions: `<target>`, `--to <release>`, `<dir>`. */
export type ValueKind = 'target' | 'release' | 'dir' | 'file' | 'other';

export interface OptionDef {
  flags: string;
  names: string[];
  /** Undefined for a flag that takes no value. */
  value?: ValueKind;
  description: string;
}

export interface CommandDef {
  name: string;
  /** `plan <target>`, `diff <target> [from] [to]`. */
  usage: string;
  summary: string;
  description: string;
  args: { name: string; required: boolean; kind: ValueKind }[];
  options: OptionDef[];
  /** The text --help prints after the options (examples, environment, exit codes). */
  after: string;
  isDefault: boolean;
}

export interface ProgramDef {
  name: string;
  description: string;
  globalOptions: OptionDef[];
  /** The visible commands: hidden ones (completion, __complete) are for the scripts only. */
  commands: CommandDef[];
  after: string;
}

function kindOf(placeholder: string): ValueKind {
  if (placeholder === 'target') return 'target';
  if (['release', 'from', 'to'].includes(placeholder)) return 'release';
  if (placeholder === 'dir') return 'dir';
  if (placeholder === 'file') return 'file';
  return 'other';
}

function optionDef(o: Option): OptionDef {
  const placeholder = /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1];
  return {
    flags: o.flags,
    names: [o.short, o.long].filter((n): n is string => Boolean(n)),
    value: placeholder === undefined ? undefined : kindOf(placeholder),
    description: o.description,
  };
}

/** What `cmd --help` prints after its own help: the texts added with addHelpText('after'). */
function afterText(cmd: Command): string {
  let text = '';
  const own = cmd.helpInformation();
  const saved = (cmd as unknown as { _outputConfiguration: object })._outputConfiguration;
  cmd.configureOutput({ writeOut: (s) => { text += s; }, writeErr: (s) => { text += s; } });
  try {
    cmd.outputHelp();
  } finally {
    cmd.configureOutput(saved);
  }
  return (text.startsWith(own) ? text.slice(own.length) : '').replace(/^\n+|\s+$/g, '');
}

export function programDef(program: Command): ProgramDef {
  const help = program.createHelp();
  const defaultName = (program as unknown as { _defaultCommandName?: string })._defaultCommandName;
  return {
    name: program.name(),
    description: program.description(),
    globalOptions: help.visibleOptions(program).map(optionDef),
    commands: help.visibleCommands(program)
      .filter((c) => c.name() !== 'help')
      .map((c) => ({
        name: c.name(),
        usage: [c.name(), ...c.registeredArguments.map((a) => (a.required ? `<${a.name()}>` : `[${a.name()}]`))].join(' '),
        summary: c.summary(),
        description: c.description(),
        args: c.registeredArguments.map((a) => ({ name: a.name(), required: a.required, kind: kindOf(a.name()) })),
        options: help.visibleOptions(c).map(optionDef),
        after: afterText(c),
        isDefault: c.name() === defaultName,
      })),
    after: afterText(program),
  };
}

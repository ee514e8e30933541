/**
 * The bash and zsh completion scripts of `deploy`, generated from the command definitions
 * (definitions.ts): commands and options are written into the script, so a Tab on them starts
 * no process; targets and release ids come from `deploy __complete` (complete.ts), which reads
 * the apps dir and the stores. Both shells share the case tables, which are valid in each.
 */
import type { Command } from 'commander';
import { type OptionDef, type ProgramDef, programDef } from './definitions.js';

export type Shell = 'bash' | 'zsh';
export const SHELLS: readonly Shell[] = ['bash', 'zsh'];

const HEADER = (shell: Shell) => `# ${shell} completion for deploy(1), generated from Slipway's command definitions
# (\`deploy completion ${shell}\` prints it); edit src/cli/commands.ts, not this file.`;

/** `a|b|c` for a case pattern: the names are options and command names, [a-z0-9-] only. */
const alternatives = (names: readonly string[]) => names.join('|');

/**
 * The case tables both shells use: which options take a value, what a command's arguments are;
 * bash also gets each command's options (zsh has them with their descriptions, zshDescriptions).
 */
function tables(def: ProgramDef, shell: Shell): string {
  const globals = def.globalOptions;
  const valued = (options: readonly OptionDef[]) => options.filter((o) => o.value);
  const globalValued = valued(globals).map((o) => `    ${alternatives(o.names.map((n) => `*" ${n}"`))}) vkind='${o.value}' ;;`);
  const commandValued = def.commands.flatMap((c) => valued(c.options).map((o) => `    ${alternatives(o.names.map((n) => `"${c.name} ${n}"`))}) vkind='${o.value}' ;;`));
  const args = def.commands.flatMap((c) => c.args.map((a, i) => `    "${c.name} ${i}") akind='${a.kind}' ;;`));
  // -h/--help is a global option too: offered once
  const global = new Set(globals.flatMap((o) => o.names));
  const options = def.commands.map((c) => `    ${c.name}) opts='${c.options.flatMap((o) => o.names).filter((n) => !global.has(n)).join(' ')}' ;;`);
  return `_deploy_commands='${def.commands.map((c) => c.name).join(' ')}'
_deploy_default=${def.commands.find((c) => c.isDefault)?.name ?? ''}
_deploy_globals='${globals.flatMap((o) => o.names).join(' ')}'

# the kind of value option $2 of command $1 takes (in vkind; empty for a flag)
_deploy_value_kind() {
  vkind=
  case "$1 $2" in
${[...globalValued, ...commandValued].join('\n')}
  esac
}

# the kind of positional argument number $2 (from 0) of command $1 (in akind)
_deploy_arg_kind() {
  akind=
  case "$1 $2" in
${args.join('\n')}
  esac
}${shell === 'bash' ? `

# the options of command $1 (in opts)
_deploy_options() {
  opts=
  case $1 in
${options.join('\n')}
  esac
}` : ''}`;
}

/**
 * The walk over the words before the cursor, the same in both shells: the command (or the
 * default one, when the first word is a target), the target, how many arguments, and the
 * --apps/--root typed (the dynamic values must come from the same directories). An option's
 * value is in the next word or after = in the same one (--apps=DIR); bash, with = in
 * COMP_WORDBREAKS as it usually is, splits that into three words (--apps, =, DIR), so with
 * \`split\` a valued option followed by a lone = takes the word after it (e is 1 then).
 */
const WALK = (words: string, first: number, current: string, split: boolean) => `  cmd='' target='' nargs=0 skip=0 e=0 loc=()
  for ((i = ${first}; i < ${current}; i++)); do
    w=\${${words}[i]}
    if ((skip)); then skip=$((skip - 1)); continue; fi${split ? `
    e=0; [ "\${${words}[i+1]}" = = ] && e=1` : ''}
    case $w in
      --apps=*|--root=*) loc+=("\${w%%=*}" "\${w#*=}"); continue ;;
      --apps|--root) loc+=("$w" "\${${words}[i+1+e]}"); skip=$((1 + e)); continue ;;
      --*=*) continue ;;
      -*) _deploy_value_kind "$cmd" "$w"; [ -n "$vkind" ] && skip=$((1 + e)); continue ;;
    esac
    if [ -z "$cmd" ]; then
      case " $_deploy_commands " in
        *" $w "*) cmd=$w; continue ;;
        *) cmd=$_deploy_default ;;
      esac
    fi
    [ "$nargs" = 0 ] && target=$w
    nargs=$((nargs + 1))
  done`;

export function bashCompletion(def: ProgramDef): string {
  return `${HEADER('bash')}
# shellcheck shell=bash

${tables(def, 'bash')}

# targets or release ids from \`deploy __complete\`: local files only, nothing on failure
_deploy_dynamic() {
  command "\${COMP_WORDS[0]}" __complete "$@" "\${loc[@]}" 2>/dev/null
}

_deploy() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]} eq=0 pre=''
  local cmd target nargs skip e i w vkind akind opts words
  local -a loc
  COMPREPLY=()
${WALK('COMP_WORDS', 1, 'COMP_CWORD', true)}
  # the value of --opt=value: bash splits it at = (in COMP_WORDBREAKS) into --opt, =, value,
  # the cursor on = when the value is not typed yet; without = in COMP_WORDBREAKS it is one
  # word, which the replies replace whole: they keep its --opt= (in pre)
  if [ "$cur" = = ]; then
    cur='' eq=1
  elif [ "$prev" = = ]; then
    prev=\${COMP_WORDS[COMP_CWORD-2]} eq=1
  elif [[ $cur == --*=* ]]; then
    pre=\${cur%%=*}= prev=\${cur%%=*} cur=\${cur#*=} eq=1
  fi
  _deploy_value_kind "$cmd" "$prev"
  if [ -n "$vkind" ]; then
    akind=$vkind
  elif ((eq)); then
    return 0
  elif [[ $cur == -* ]]; then
    _deploy_options "\${cmd:-$_deploy_default}"
    mapfile -t COMPREPLY < <(compgen -W "$opts $_deploy_globals" -- "$cur")
    return 0
  elif [ -z "$cmd" ]; then
    mapfile -t COMPREPLY < <(compgen -W "$_deploy_commands $(_deploy_dynamic target)" -- "$cur")
    _deploy_nospace
    return 0
  else
    _deploy_arg_kind "$cmd" "$nargs"
  fi
  case $akind in
    target) words=$(_deploy_dynamic target) ;;
    release) words=$(_deploy_dynamic release "$target") ;;
    dir) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    *) return 0 ;;
  esac
  if [ -n "$words" ]; then
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
    _deploy_nospace
  fi
  if [ -n "$pre" ]; then COMPREPLY=("\${COMPREPLY[@]/#/$pre}"); fi
  return 0
}

# an app without a known env is offered as "<app>-": the env is typed next, without a space
_deploy_nospace() {
  if [ "\${#COMPREPLY[@]}" = 1 ] && [[ \${COMPREPLY[0]} == *- ]]; then compopt -o nospace 2>/dev/null; fi
  return 0
}

complete -F _deploy deploy
`;
}

/** A word in single quotes, for either shell. */
const quoted = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;

/** `name:description` entries for zsh's _describe (a colon in the name is escaped). */
const described = (entries: readonly [string, string][]) => entries.map(([name, text]) => quoted(`${name.replaceAll(':', '\\:')}:${text}`)).join(' ');
const optionEntries = (options: readonly OptionDef[]): [string, string][] => options.flatMap((o) => o.names.map((n): [string, string] => [n, o.description]));

/** zsh shows what each command and option does next to it: the summaries and descriptions of --help. */
function zshDescriptions(def: ProgramDef): string {
  const global = new Set(def.globalOptions.flatMap((o) => o.names));
  const perCommand = def.commands.map((c) => `    ${c.name}) optdescs=(${described(optionEntries(c.options).filter(([n]) => !global.has(n)))}) ;;`);
  return `_deploy_command_descs=(${described(def.commands.map((c) => [c.name, c.summary]))})
_deploy_global_descs=(${described(optionEntries(def.globalOptions))})

# the options of command $1 with what they do (in optdescs)
_deploy_option_descs() {
  optdescs=()
  case $1 in
${perCommand.join('\n')}
  esac
}`;
}

export function zshCompletion(def: ProgramDef): string {
  return `#compdef deploy
${HEADER('zsh')}

${tables(def, 'zsh')}

${zshDescriptions(def)}

# targets or release ids from \`deploy __complete\`: local files only, nothing on failure
_deploy_dynamic() {
  command "\${words[1]}" __complete "$@" "\${loc[@]}" 2>/dev/null
}

_deploy_main() {
  local cur=\${words[CURRENT]} prev=\${words[CURRENT-1]}
  local cmd target nargs skip e i w vkind akind
  local -a loc cands optdescs
${WALK('words', 2, 'CURRENT', false)}
  # --opt=value: the value is completed, the --opt= before it kept as it is (moved to IPREFIX)
  if [[ $cur == --*=* ]]; then
    _deploy_value_kind "$cmd" "\${cur%%=*}"
    [[ -n $vkind ]] || return 1
    compset -P 1 '*='
  else
    _deploy_value_kind "$cmd" "$prev"
  fi
  if [[ -n $vkind ]]; then
    akind=$vkind
  elif [[ $cur == -* ]]; then
    _deploy_option_descs "\${cmd:-$_deploy_default}"
    _describe -t options option optdescs -- _deploy_global_descs
    return
  elif [[ -z $cmd ]]; then
    _describe -t commands command _deploy_command_descs
    cands=(\${(f)"$(_deploy_dynamic target)"})
    compadd -S '' -- \${(M)cands:#*-}
    compadd -- \${cands:#*-}
    return
  else
    _deploy_arg_kind "$cmd" "$nargs"
  fi
  case $akind in
    target) cands=(\${(f)"$(_deploy_dynamic target)"}); compadd -S '' -- \${(M)cands:#*-}; compadd -- \${cands:#*-} ;;
    release) cands=(\${(f)"$(_deploy_dynamic release "$target")"}); compadd -- $cands ;;
    dir) _files -/ ;;
    file) _files ;;
  esac
}

# autoloaded from fpath, this file is the body of _deploy; sourced, it registers itself
if [[ \${funcstack[1]} == _deploy ]]; then
  _deploy_main "$@"
else
  compdef _deploy_main deploy
fi
`;
}

export function completionScript(program: Command, shell: Shell): string {
  const def = programDef(program);
  return shell === 'bash' ? bashCompletion(def) : zshCompletion(def);
}

/**
 * Ansible's INI inventory, read as its ini plugin reads it (plugins/inventory/ini.py): hosts
 * before the first section are ungrouped; `[g]` lists hosts, `[g:vars]` variables, `[g:children]`
 * groups; `#` and `;` start comment lines.
 */
import { split } from 'shlex';
import { iniValue } from './literal.js';
import { InventoryDraft, problem } from './model.js';
import { expandRanges, splitPort } from './ranges.js';

// The npm `ini` package cannot read this dialect (dotted section names nest, a host line is cut at its
// first "=", line numbers are lost): sections are read line by line here, host lines with shlex as Ansible does.

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/u;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/u;

type State = 'hosts' | 'vars' | 'children';

/** A group named before it is declared: Ansible allows that until the end of the file. */
interface Pending {
  at: string;
  state: 'vars' | 'children';
  parents: string[];
}

export function parseIni(text: string, file: string, draft = new InventoryDraft()): InventoryDraft {
  const pending = new Map<string, Pending>();
  let group = 'ungrouped';
  let state: State = 'hosts';
  text.split(/\r\n|\r|\n/).forEach((raw, index) => {
    const at = `${file}:${index + 1}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const section = SECTION.exec(line);
    if (section) {
      // Ansible warns about a "-" or "." in a group name but keeps the name as written
      group = section[1]!;
      state = sectionState(section[2], line, at);
      declare(draft, pending, group, state, at);
    } else if (line.startsWith('[') && line.endsWith(']')) {
      throw problem(at, `invalid section ${line}: a section is [group], [group:vars] or [group:children], with no spaces`);
    } else if (state === 'hosts') {
      addHostLine(draft, group, line, at);
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0) throw problem(at, `expected key=value, got: ${line}`);
      draft.setGroupVar(group, line.slice(0, eq).trim(), iniValue(line.slice(eq + 1).trim()), at);
    } else {
      const child = GROUP_NAME.exec(line)?.[1];
      if (child === undefined) throw problem(at, `expected a group name, got: ${line}`);
      if (draft.groups.has(child)) draft.addChild(group, child, at);
      else {
        const entry = pending.get(child) ?? { at, state: 'children', parents: [] };
        entry.parents.push(group);
        pending.set(child, entry);
      }
    }
  });
  // like Ansible, report the first group that was named but never declared
  for (const [name, entry] of pending) {
    if (entry.state === 'vars') throw problem(entry.at, `[${name}:vars] is for a group that is not defined anywhere: ${name}`);
    throw problem(entry.at, `[${entry.parents.at(-1)}:children] names a group that is not defined anywhere: ${name}`);
  }
  return draft;
}

function sectionState(tag: string | undefined, line: string, at: string): State {
  if (tag === undefined || tag === 'hosts') return 'hosts';
  if (tag === 'vars' || tag === 'children') return tag;
  throw problem(at, `section ${line} has unknown type "${tag}" (hosts, vars or children)`);
}

/** `[g]` or `[g:children]` declares a group; `[g:vars]` alone does not. */
function declare(draft: InventoryDraft, pending: Map<string, Pending>, group: string, state: State, at: string): void {
  if (!draft.groups.has(group)) {
    if (state === 'vars' && !pending.has(group)) pending.set(group, { at, state, parents: [] });
    draft.addGroup(group, at);
  }
  const waiting = pending.get(group);
  if (!waiting || state === 'vars') return;
  if (waiting.state === 'children') addPendingChildren(draft, pending, group, at);
  else pending.delete(group);
}

function addPendingChildren(draft: InventoryDraft, pending: Map<string, Pending>, group: string, at: string): void {
  for (const parent of pending.get(group)!.parents) {
    draft.addChild(parent, group, at);
    if (pending.get(parent)?.state === 'children') addPendingChildren(draft, pending, parent, at);
  }
  pending.delete(group);
}

/** `web[01:03].example.com:2222 ansible_user=deploy note="two words"  # comment` */
function addHostLine(draft: InventoryDraft, group: string, line: string, at: string): void {
  const [pattern = '', ...assignments] = hostLineTokens(line, at);
  const { host, port } = splitPort(pattern);
  if (port === undefined && pattern.trim().endsWith(':')) throw problem(at, `host ${pattern}: a trailing ":" must be followed by a port`);
  const vars = assignments.map((token) => {
    const eq = token.indexOf('=');
    if (eq < 0) throw problem(at, `expected key=value host variable, got: ${token}`);
    return [token.slice(0, eq), iniValue(token.slice(eq + 1))] as const;
  });
  const names = expandRanges(host, at);
  if (names.includes('---')) throw problem(at, 'a host named "---": this looks like a YAML file');
  for (const name of names) {
    draft.addHost(name, group, at, port);
    for (const [key, value] of vars) draft.setHostVar(name, key, value, at);
  }
}

/**
 * Ansible splits a host line with Python's shlex.split(line, comments=True). The shlex package is
 * a port of it without comments, so the comment is cut first: it starts at the first "#" before
 * which the line splits cleanly (not inside quotes, not escaped).
 */
function hostLineTokens(line: string, at: string): string[] {
  let end = line.indexOf('#');
  while (end >= 0 && !splits(line.slice(0, end))) end = line.indexOf('#', end + 1);
  try {
    return pythonSplit(end >= 0 ? line.slice(0, end) : line);
  } catch (err) {
    throw problem(at, `cannot read host line (${(err as Error).message.replace(/^Got EOF/, 'line ends')}): ${line}`);
  }
}

function splits(text: string): boolean {
  try {
    pythonSplit(text);
    return true;
  } catch {
    return false;
  }
}

/** The shlex package also reads bash's $'…' and $"…" quotes, which Python's does not: "$" is hidden from it. */
function pythonSplit(text: string): string[] {
  let stand = 0xe000;
  while (text.includes(String.fromCharCode(stand))) stand++;
  const hidden = String.fromCharCode(stand);
  return split(text.replaceAll('$', hidden)).map((token) => token.replaceAll(hidden, '$'));
}

/**
 * Ansible's YAML inventory, read as its yaml plugin reads it (plugins/inventory/yaml.py):
 * `all: {hosts: {h: {vars…}}, vars: {…}, children: {g: {hosts, vars, children}}}`, with host
 * ranges in the keys. YAML 1.1, as Ansible's PyYAML reads it (`yes` is true, `0755` octal).
 * Where Ansible warns and skips (an unknown key, a group that is not a mapping) this refuses,
 * since a misspelt `host:` would otherwise drop hosts without a word.
 */
import { type Document, isAlias, isMap, isScalar, LineCounter, type Node, parseDocument, type Scalar, type ScalarTag, type Tags } from 'yaml';
import { InventoryDraft, problem } from './model.js';
import { expandRanges, splitPort } from './ranges.js';

/** A `!vault` value: readable only with the vault password, which Slipway does not have. */
export class VaultEncrypted {
  constructor(readonly ciphertext: string) {}
  toJSON() {
    return { __ansible_vault: this.ciphertext };
  }
}

const VAULT: ScalarTag = { tag: '!vault', resolve: (text: string) => new VaultEncrypted(text) };
const UNSAFE: ScalarTag = { tag: '!unsafe', resolve: (text: string) => text };
/** Ansible's tags; a date stays text, as it does in Ansible's output. */
const ANSIBLE_TAGS = (tags: Tags): Tags => [...tags.filter((t) => typeof t === 'string' || t.tag !== 'tag:yaml.org,2002:timestamp'), VAULT, UNSAFE];

interface Reading {
  doc: Document;
  lines: LineCounter;
  file: string;
  draft: InventoryDraft;
}

const SECTIONS = ['hosts', 'children', 'vars'];

export function parseYaml(text: string, file: string, draft = new InventoryDraft()): InventoryDraft {
  const lines = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', customTags: ANSIBLE_TAGS, lineCounter: lines, prettyErrors: false });
  const first = doc.errors[0] ?? doc.warnings[0];
  if (first) throw problem(`${file}:${lines.linePos(first.pos[0]).line}`, `YAML: ${first.message.split('\n')[0]}`);
  const reading: Reading = { doc, lines, file, draft };
  const root = resolved(reading, doc.contents);
  if (isNull(root)) throw problem(file, 'the YAML inventory is empty');
  if (!isMap(root)) throw problem(at(reading, root), 'a YAML inventory is a mapping of group names (such as all:) to hosts, children and vars');
  if (root.has('plugin')) throw problem(at(reading, root), 'this is an inventory plugin configuration (plugin:), not an inventory; Slipway reads hosts, children and vars');
  for (const pair of root.items) readGroup(reading, keyName(reading, pair.key, 'group name'), pair.value as Node | null, at(reading, pair.key as Node));
  return draft;
}

/** True when the text is a YAML mapping that looks like an inventory: an `all` key, or a group holding hosts, children or vars. */
export function looksLikeYamlInventory(text: string): boolean {
  const doc = parseDocument(text, { version: '1.1', customTags: ANSIBLE_TAGS });
  if (doc.errors.length > 0 || !isMap(doc.contents)) return false;
  return doc.contents.items.some((pair) => {
    const value = pair.value;
    return (isScalar(pair.key) && pair.key.value === 'all') || (isMap(value) && SECTIONS.some((s) => value.has(s)));
  });
}

function readGroup(reading: Reading, group: string, value: Node | null, where: string): void {
  const node = resolved(reading, value);
  reading.draft.addGroup(group, where);
  if (isNull(node)) return;
  if (!isMap(node)) throw problem(where, `group ${group}: expected a mapping of hosts, children and vars`);
  for (const pair of node.items) {
    const key = keyName(reading, pair.key, 'key');
    const keyAt = at(reading, pair.key as Node);
    if (!SECTIONS.includes(key)) throw problem(keyAt, `group ${group}: unknown key "${key}" (hosts, children or vars)`);
    const section = resolved(reading, pair.value as Node | null);
    if (isNull(section)) continue;
    if (!isMap(section) && !(isScalar(section) && typeof section.value === 'string')) {
      throw problem(keyAt, `group ${group}: "${key}" must be a mapping`);
    }
    if (key === 'vars') {
      for (const [name, v, vAt] of varsOf(reading, section)) reading.draft.setGroupVar(group, name, v, vAt);
    } else if (key === 'children') {
      for (const [name, child, childAt] of entriesOf(reading, section, 'group name')) {
        readGroup(reading, name, child, childAt);
        reading.draft.addChild(group, name, childAt);
      }
    } else {
      for (const [pattern, host, hostAt] of entriesOf(reading, section, 'host pattern')) readHost(reading, group, pattern, host, hostAt);
    }
  }
}

function readHost(reading: Reading, group: string, pattern: string, value: Node | null, where: string): void {
  if (!isNull(value) && !isMap(value)) throw problem(where, `host ${pattern}: expected a mapping of variables`);
  const vars = isMap(value) ? varsOf(reading, value) : [];
  const { host, port } = splitPort(pattern);
  for (const name of expandRanges(host, where)) {
    reading.draft.addHost(name, group, where, port);
    for (const [key, v, vAt] of vars) reading.draft.setHostVar(name, key, v, vAt);
  }
}

/** A section's entries; Ansible takes a lone name for a one-entry mapping (`hosts: web1`). */
function entriesOf(reading: Reading, section: Node, what: string): [string, Node | null, string][] {
  if (!isMap(section)) return [[String((section as Scalar).value), null, at(reading, section)]];
  return section.items.map((pair) => [keyName(reading, pair.key, what), resolved(reading, pair.value as Node | null), at(reading, pair.key as Node)]);
}

/** Variables with the line each is set on (`<<` merges count as set where the mapping starts). */
function varsOf(reading: Reading, section: Node): [string, unknown, string][] {
  if (!isMap(section)) return [[String((section as Scalar).value), null, at(reading, section)]];
  const values = section.toJS(reading.doc, { mapAsMap: false }) as Record<string, unknown>;
  return Object.entries(values).map(([key, value]) => {
    const pair = section.items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    return [key, value, at(reading, (pair?.key as Node | undefined) ?? section)];
  });
}

function keyName(reading: Reading, key: unknown, what: string): string {
  const node = resolved(reading, key as Node | null);
  if (isScalar(node) && typeof node.value === 'string') return node.value;
  const shown = isScalar(node) ? JSON.stringify(node.value) : 'a collection';
  throw problem(at(reading, node), `${what} ${shown} is not a string: put it in quotes`);
}

function resolved(reading: Reading, node: Node | null | undefined): Node | null {
  if (isAlias(node)) return (node.resolve(reading.doc) as Node | undefined) ?? null;
  return node ?? null;
}

function isNull(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

function at(reading: Reading, node: Node | null | undefined): string {
  const offset = node?.range?.[0];
  return offset === undefined ? reading.file : `${reading.file}:${reading.lines.linePos(offset).line}`;
}

/**
 * Hosts from the Ansible inventory a team already keeps (issue #20): an INI or YAML file, or a
 * dynamic inventory command, read as Ansible reads it; host patterns as Ansible selects them;
 * and the few variables Slipway uses (address, port, user, datacenter, roles), checked.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { join as shellJoin } from 'shlex';
import { runInventoryCommand } from './command.js';
import { parseIni } from './ini.js';
import { finishInventory, type Inventory, problem } from './model.js';
import { readListing, setHostVars } from './script.js';
import { looksLikeYamlInventory, parseYaml } from './yaml.js';

export { allHostFacts, checkAddress, type HostFacts, hostFacts } from './facts.js';
export type { Inventory, InventoryGroup, InventoryHost } from './model.js';
export { selectHosts } from './pattern.js';

export const DEFAULT_TIMEOUT_S = 30;
/** A fleet's JSON is a few megabytes at most; more is a runaway command. */
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;

export type InventorySpec = { file: string } | { command: string[]; timeoutS?: number; maxBytes?: number };

export async function loadInventory(spec: InventorySpec): Promise<Inventory> {
  return 'file' in spec ? loadFile(spec.file) : loadCommand(spec.command, spec.timeoutS ?? DEFAULT_TIMEOUT_S, spec.maxBytes ?? DEFAULT_MAX_BYTES);
}

/**
 * A file is YAML when named .yml, .yaml or .json, or when its text is a YAML mapping with an
 * `all` key or a group holding hosts, children or vars; anything else is INI. (Ansible tries its
 * YAML reader on such names and on names without an extension, then INI.)
 */
async function loadFile(file: string): Promise<Inventory> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw problem(file, code === 'EISDIR' ? 'is a directory; name one inventory file' : `cannot read the inventory (${code ?? String(err)})`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw problem(file, 'is not UTF-8 text');
  }
  if (text.startsWith('#!')) throw problem(`${file}:1`, 'is a script; give it as { command: [...] } to run it as a dynamic inventory');
  const yaml = ['.yml', '.yaml', '.json'].includes(extname(file).toLowerCase()) || looksLikeYamlInventory(text);
  return finishInventory(yaml ? parseYaml(text, file) : parseIni(text, file), file);
}

/** `command --list`, then `command --host <name>` for each host when the listing has no `_meta.hostvars`, as Ansible does. */
async function loadCommand(argv: string[], timeoutS: number, maxBytes: number): Promise<Inventory> {
  const source = `command ${shellJoin(argv)}`;
  const run = async (...args: string[]) => {
    const shown = `command ${shellJoin([...argv, ...args])}`;
    const out = await runInventoryCommand([...argv, ...args], shown, timeoutS, maxBytes);
    try {
      return JSON.parse(out) as unknown;
    } catch (err) {
      throw problem(shown, `printed something that is not JSON (${(err as Error).message})`);
    }
  };
  const listing = readListing(await run('--list'), source);
  for (const host of listing.hosts) {
    setHostVars(listing.draft, host, listing.hostvars ? (Object.hasOwn(listing.hostvars, host) ? listing.hostvars[host] : undefined) : await run('--host', host), source);
  }
  return finishInventory(listing.draft, source);
}

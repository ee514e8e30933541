/**
 * Slipway's inventory reader against Ansible itself (Debian's ansible-core, installed by
 * scripts/install-deps.sh): for each fixture (INI, YAML, dynamic script), every group Ansible
 * reports selects the same hosts, every host has the same variables, and host patterns select
 * what `ansible <pattern> --list-hosts` lists. Ansible writes only into a temp dir.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import pMap from 'p-map';
import { type Inventory, loadInventory, selectHosts } from '../../src/inventory/index.js';

const run = promisify(execFile);
const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'inventory');

const PATTERNS = [
  'webservers:&phx1',
  'webservers:!atl1',
  'web*',
  '~db-[ab]',
  'workers,mail.example.com',
  'all:!phx1',
  '*.example.com:&atl1',
  'phx1:atl1:&workers',
  '!webservers',
  'ungrouped',
  'jumper',
  '~(web|worker)0[13]',
  'w?b0[!2]*:db-c.example.com',
  '*',
  'web0[12].example.com',
  'webservers:&phx1:!web02.example.com',
  'webservers,&atl1,!foo.example.com',
  'db-*:!db-b*',
];

let dir: string;
let env: NodeJS.ProcessEnv;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'slipway-ansible-'));
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(join(dir, 'ansible.cfg'), '');
  env = {
    ...process.env,
    HOME: dir,
    ANSIBLE_HOME: dir,
    ANSIBLE_LOCAL_TEMP: join(dir, 'tmp'),
    ANSIBLE_CONFIG: join(dir, 'ansible.cfg'),
    ANSIBLE_NOCOLOR: '1',
    // a fixture Ansible cannot read must fail the test, not become an empty inventory
    ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true',
    ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED: 'true',
    ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false',
    ANSIBLE_LOCALHOST_WARNING: 'false',
    ANSIBLE_HOST_PATTERN_MISMATCH: 'ignore',
    ANSIBLE_DEPRECATION_WARNINGS: 'false',
  };
  // Ansible runs a script inventory only when it is executable
  copyFileSync(join(FIXTURES, 'inventory.sh'), join(dir, 'inventory.sh'));
  chmodSync(join(dir, 'inventory.sh'), 0o755);
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function ansible(program: string, args: string[]): Promise<string> {
  try {
    return (await run(program, args, { env, cwd: dir, timeout: 60_000, maxBuffer: 16 << 20 })).stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${program} is missing: run scripts/install-deps.sh (it installs Debian's ansible-core)`);
    throw new Error(`${program} ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

interface AnsibleList {
  _meta: { hostvars: Record<string, Record<string, unknown>> };
  [group: string]: { hosts?: string[]; children?: string[] } & Record<string, unknown>;
}

/** Every group's hosts, its children's included, from `ansible-inventory --list`. */
function ansibleGroups(list: AnsibleList): Map<string, Set<string>> {
  const names = Object.keys(list).filter((g) => g !== '_meta');
  const members = (g: string): Set<string> =>
    new Set([...(list[g]?.hosts ?? []), ...(list[g]?.children ?? []).flatMap((c) => [...members(c)])]);
  return new Map(names.map((g) => [g, members(g)]));
}

/** `ansible <pattern> --list-hosts`: a count line, then one host a line. */
function listedHosts(out: string): string[] {
  return out
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

function selected(inv: Inventory, pattern: string): string[] {
  try {
    return selectHosts(inv, pattern).map((h) => h.name);
  } catch {
    return [];
  }
}

const sources = [
  { name: 'INI (hosts.ini)', source: () => join(FIXTURES, 'hosts.ini'), spec: () => ({ file: join(FIXTURES, 'hosts.ini') }) },
  { name: 'YAML (hosts.yml)', source: () => join(FIXTURES, 'hosts.yml'), spec: () => ({ file: join(FIXTURES, 'hosts.yml') }) },
  { name: 'dynamic (inventory.sh)', source: () => join(dir, 'inventory.sh'), spec: () => ({ command: [join(dir, 'inventory.sh')] }) },
];

for (const { name, source, spec } of sources) {
  describe(`the ${name} inventory, as Ansible reads it`, () => {
    let inv: Inventory;
    let list: AnsibleList;

    before(async () => {
      inv = await loadInventory(spec());
      list = JSON.parse(await ansible('ansible-inventory', ['-i', source(), '--list'])) as AnsibleList;
    });

    it('every group selects the hosts Ansible puts in it, and no group is missing', () => {
      const theirs = ansibleGroups(list);
      assert.ok(theirs.size > 5, 'Ansible reported the groups');
      for (const [group, hosts] of theirs) {
        assert.deepEqual(new Set(selected(inv, group)), hosts, `group ${group}`);
      }
      const ours = [...inv.groups.keys()].filter((g) => selected(inv, g).length > 0);
      assert.deepEqual(new Set(ours), new Set([...theirs].filter(([, hosts]) => hosts.size > 0).map(([g]) => g)));
    });

    it("every host has Ansible's merged variables (those Slipway reads, and the rest)", () => {
      const hostvars = list._meta.hostvars;
      assert.deepEqual(new Set(inv.hosts.map((h) => h.name)), ansibleGroups(list).get('all'));
      for (const host of inv.hosts) {
        const theirs = hostvars[host.name] ?? {};
        for (const key of ['ansible_host', 'ansible_port', 'ansible_user', 'datacenter', 'slipway_roles']) {
          assert.deepEqual(host.vars[key], theirs[key], `${host.name}: ${key}`);
        }
        assert.deepEqual(host.vars, theirs, `${host.name}: all variables`);
      }
    });

    it('host patterns select what `ansible <pattern> --list-hosts` lists', async () => {
      const listed = await pMap(PATTERNS, (p) => ansible('ansible', [p, '-i', source(), '--list-hosts']), { concurrency: 4 });
      PATTERNS.forEach((pattern, i) => {
        const theirs = listedHosts(listed[i]!);
        assert.ok(theirs.length > 0, `Ansible selects hosts for ${pattern}`);
        assert.deepEqual(new Set(selected(inv, pattern)), new Set(theirs), `pattern ${pattern}`);
      });
    });
  });
}

/**
 * Hosts from the inventory the team keeps, and roles inside an env, on a real loopback fleet:
 * an app whose hosts come from a three-group INI inventory, then from a YAML one, deploys
 * with each role's hooks in the order the plan says (read back from the hosts' own logs of
 * hook runs, not from Slipway's output), canaries one per datacenter, and a datacenter's
 * failure budget. Debian's ansible-inventory must agree with Slipway on every host set used.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { execa } from 'execa';
import type { FleetHost } from '../support/fleet.js';
import { CLI, type World, git, makeWorld } from '../support/world.js';

/** A hook that appends `<nanoseconds> <host> <what>` to the host's own /data/hooks.log. */
const logHook = (what: string) => `['sh', '-c', 'echo "$(date +%s%N) {host} ${what}" >> /data/hooks.log']`;

describe('hosts from an Ansible inventory, with roles and datacenters', { timeout: 600_000 }, () => {
  let w: World;
  let ansibleHome = '';

  /** Every hook run on every host, in the order they happened (the hosts share this machine's clock). */
  const hookRuns = async (): Promise<string[]> => {
    const runs: { at: bigint; line: string }[] = [];
    for (const h of w.fleet.hosts) {
      const file = join(h.dataDir, 'hooks.log');
      if (!existsSync(file)) continue;
      for (const line of (await readFile(file, 'utf8')).trim().split('\n')) {
        const [at, ...rest] = line.split(' ');
        runs.push({ at: BigInt(at!), line: rest.join(' ') });
      }
    }
    return runs.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)).map((r) => r.line);
  };
  const clearHookLogs = () => Promise.all(w.fleet.hosts.map((h) => rm(join(h.dataDir, 'hooks.log'), { force: true })));
  const served = (h: FleetHost) => fetch(`${h.httpUrl}/${w.app}/index.html`).then((r) => r.text());
  const host = (i: number) => w.fleet.hosts[i - 1]!;

  /** The app file, with the prod env's hosts and roles as given. */
  const writeApp = (env: string) => w.writeApp({ env });

  const deploy = (...args: string[]) => w.deploy(...args);
  /** What ansible-inventory says a pattern selects: the same inventory, read by Ansible itself. */
  const ansibleHosts = async (inventory: string, pattern: string): Promise<string[]> => {
    const r = await execa('ansible', [pattern, '-i', inventory, '--list-hosts'], {
      env: { ANSIBLE_HOME: ansibleHome, ANSIBLE_LOCAL_TEMP: join(ansibleHome, 'tmp'), ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_NOCOLOR: '1' },
      reject: false,
    });
    assert.equal(r.exitCode, 0, r.stderr);
    return r.stdout.split('\n').slice(1).map((l) => l.trim()).filter(Boolean).sort();
  };
  const slipwayHosts = async () => {
    const r = await deploy('hosts', w.target, '--json');
    assert.equal(r.exitCode, 0, r.all);
    return JSON.parse(r.stdout) as { from: string; roles: string[]; hosts: { name: string; address: string; port: number; roles: string[]; datacenter: string | null; source: string }[] };
  };

  before(async () => {
    w = await makeWorld({ net: '127.0.98', size: 5 });
    ansibleHome = await mkdtemp(join(tmpdir(), 'slipway-ansible-'));
  });

  after(async () => {
    await w?.down();
    if (ansibleHome) await rm(ansibleHome, { recursive: true, force: true });
  });

  it('a three-group INI inventory: roles switch in the planned order, each with its own hooks, read back from the hosts\' logs', async () => {
    const inventory = join(w.dir, 'hosts.ini');
    // written the way Ansible's documentation writes inventories
    await writeFile(
      inventory,
      `# the shop's machines
[webservers]
web1 ansible_host=${host(1).address}
web2 ansible_host=${host(2).address}
web3 ansible_host=${host(3).address}

[workers]
celery1 ansible_host=${host(4).address} ansible_user=root
celery2 ansible_host=${host(5).address} ansible_user=root

[phx1]
web1
web2
celery1

[iad1]
web3
celery2

[phx1:vars]
datacenter=phx1

[iad1:vars]
datacenter=iad1

[workers:vars]
ansible_port=22
`,
    );
    await writeApp(`hosts: { inventory: '${inventory}', pattern: 'webservers:workers' },
    roles: {
      web: { group: 'webservers', canary: 1, hooks: { postSwitch: [${logHook('reload')}] } },
      worker: { group: 'workers', hooks: { preSwitch: [${logHook('drain')}], postSwitch: [${logHook('restart')}] } },
    },`);

    // Slipway and Ansible agree on every host set this test uses
    const listed = await slipwayHosts();
    assert.deepEqual(listed.hosts.map((h) => h.name).sort(), await ansibleHosts(inventory, 'webservers:workers'));
    assert.deepEqual(listed.hosts.filter((h) => h.roles.includes('web')).map((h) => h.name).sort(), await ansibleHosts(inventory, 'webservers'));
    assert.deepEqual(listed.hosts.filter((h) => h.roles.includes('worker')).map((h) => h.name).sort(), await ansibleHosts(inventory, 'workers'));
    for (const dc of ['phx1', 'iad1']) assert.deepEqual(listed.hosts.filter((h) => h.datacenter === dc).map((h) => h.name).sort(), await ansibleHosts(inventory, dc));
    assert.deepEqual(listed.roles, ['web', 'worker']);
    const celery2 = listed.hosts.find((h) => h.name === 'celery2')!;
    assert.equal(celery2.address, host(5).address);
    assert.match(celery2.source, new RegExp(`${inventory}:\\d+$`));
    const text = await deploy('hosts', w.target);
    assert.match(text.stdout, /5 hosts from inventory .*hosts\.ini, pattern webservers:workers; roles in switching order: web, worker/);

    const plan = await deploy('plan', w.target);
    assert.equal(plan.exitCode, 0, plan.all);
    const phases = plan.stdout.split('\n').filter((l) => l.startsWith('phase '));
    assert.deepEqual(phases.map((l) => l.replace(/ \(at most.*/, '')), ['phase 1/3 web canary: web1', 'phase 2/3 web batch 1: web2, web3', 'phase 3/3 worker batch 1: celery1, celery2']);

    await clearHookLogs();
    const r = await deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    for (const i of [1, 2, 3, 4, 5]) assert.equal(await served(host(i)), '<h1>shop v1</h1>\n', host(i).name);
    const runs = await hookRuns();
    // the canary's reload first, then the other web heads', then each worker drained before its restart
    assert.equal(runs[0], 'web1 reload');
    assert.deepEqual(runs.slice(1, 3).sort(), ['web2 reload', 'web3 reload']);
    assert.deepEqual(runs.slice(3).filter((l) => l.endsWith('drain')).sort(), ['celery1 drain', 'celery2 drain']);
    assert.equal(runs.length, 7, runs.join('\n'));
    for (const c of ['celery1', 'celery2']) assert.ok(runs.indexOf(`${c} drain`) < runs.indexOf(`${c} restart`), runs.join('\n'));
    assert.ok(!runs.some((l) => /^web\d (drain|restart)$/.test(l) || /^celery\d reload$/.test(l)), 'each role ran its own hooks only');

    // the history keeps the machines as resolved for this run
    const log = await deploy('log', w.target, '--json');
    const events = (JSON.parse(log.stdout) as { events: { hosts: { host: string; address?: string; roles?: string[]; datacenter?: string; source?: string }[] }[] }).events;
    const c2 = events[0]!.hosts.find((h) => h.host === 'celery2')!;
    assert.equal(c2.address, `root@${host(5).address}:22`);
    assert.deepEqual(c2.roles, ['worker']);
    assert.equal(c2.datacenter, 'iad1');
    assert.match(c2.source ?? '', /hosts\.ini:\d+$/);
  });

  it('a YAML inventory grouped by datacenter: a canary in each datacenter, then one datacenter at a time; a datacenter over its budget stops and reverts', async () => {
    const inventory = join(w.dir, 'hosts.yml');
    await writeFile(
      inventory,
      `all:
  vars:
    ansible_user: root
  children:
    webservers:
      children:
        phx1:
          hosts:
            web1: { ansible_host: ${host(1).address} }
            web2: { ansible_host: ${host(2).address} }
            web4: { ansible_host: ${host(4).address} }
          vars:
            datacenter: phx1
        iad1:
          hosts:
            web3: { ansible_host: ${host(3).address} }
            web5: { ansible_host: ${host(5).address} }
          vars:
            datacenter: iad1
`,
    );
    const health = `health: { command: ['sh', '-c', 'test "$(cat /data/unhealthy 2>/dev/null)" != "$1"', 'health', '{release}'], retries: 0 }`;
    await writeApp(`hosts: { inventory: '${inventory}', pattern: 'webservers' },
    rollout: { groupBy: 'datacenter', canary: 1, hooks: { postSwitch: [${logHook('switched')}] }, ${health} },`);
    const listed = await slipwayHosts();
    assert.deepEqual(listed.hosts.map((h) => h.name).sort(), await ansibleHosts(inventory, 'webservers'));
    for (const dc of ['phx1', 'iad1']) assert.deepEqual(listed.hosts.filter((h) => h.datacenter === dc).map((h) => h.name).sort(), await ansibleHosts(inventory, dc));

    await w.commit({ 'index.html': '<h1>shop v2</h1>\n' }, 'v2');
    await clearHookLogs();
    const r = await deploy(w.target);
    assert.equal(r.exitCode, 0, r.all);
    const runs = await hookRuns();
    const at = (h: string) => runs.indexOf(`${h} switched`);
    assert.equal(runs.length, 5, runs.join('\n'));
    // canaries web1 (phx1) and web3 (iad1) before anyone else; all of phx1 before iad1's rest
    for (const canary of ['web1', 'web3']) for (const other of ['web2', 'web4', 'web5']) assert.ok(at(canary) < at(other), runs.join('\n'));
    for (const phx of ['web2', 'web4']) assert.ok(at(phx) < at('web5'), runs.join('\n'));
    for (const i of [1, 2, 3, 4, 5]) assert.equal(await served(host(i)), '<h1>shop v2</h1>\n');

    // iad1's canary fails its health check for the next release: iad1 has no budget, so the rollout stops and reverts
    const v3 = await w.commit({ 'index.html': '<h1>shop v3</h1>\n' }, 'v3');
    const next = (await git(w.www, 'tag', '--list', 'r*')).split('\n').length + 1;
    await writeFile(join(host(3).dataDir, 'unhealthy'), `r${next}`);
    await clearHookLogs();
    const bad = await deploy(w.target);
    assert.equal(bad.exitCode, 4, bad.all);
    assert.match(bad.stderr, /stopped in phase canary: 1 host failed, more than iad1's failure budget of 0/);
    for (const i of [1, 2, 3, 4, 5]) assert.equal(await served(host(i)), '<h1>shop v2</h1>\n', `${host(i).name} back on v2 (${v3.slice(0, 8)} reverted)`);
    const switched = (await hookRuns()).filter((l) => l.endsWith('switched')).map((l) => l.split(' ')[0]);
    assert.ok(!switched.some((h) => ['web2', 'web4', 'web5'].includes(h!)), `no host after the canaries switched: ${switched.join(', ')}`);
  });

  it('a bad inventory is exit 2 naming the file, line and host, and changes nothing', async () => {
    const inventory = join(w.dir, 'bad.ini');
    await writeFile(inventory, `[webservers]\nweb1 ansible_host=${host(1).address}\nweb2 ansible_host=${host(2).address} ansible_port=22x\n`);
    await writeApp(`hosts: { inventory: '${inventory}', pattern: 'webservers' },`);
    const before = await git(w.www, 'rev-parse', 'HEAD');
    const r = await deploy(w.target);
    assert.equal(r.exitCode, 2, r.all);
    assert.match(r.stderr, new RegExp(`${inventory}:3: host web2: ansible_port "22x"`));
    assert.equal(await git(w.www, 'rev-parse', 'HEAD'), before);
    // hostile names and a role the env does not have
    await writeFile(inventory, `[webservers]\nweb1 ansible_host=${host(1).address} slipway_roles=cache\n`);
    await writeApp(`hosts: { inventory: '${inventory}', pattern: 'webservers' }, roles: { web: {} },`);
    const role = await deploy(w.target);
    assert.equal(role.exitCode, 2, role.all);
    assert.match(role.stderr, /"web1" \(.*bad\.ini:2\) has role "cache", which the env's roles do not name/);
    await writeFile(inventory, `[webservers]\nweb1 ansible_host='$(touch /tmp/slipway-pwned)'\n`);
    await writeApp(`hosts: { inventory: '${inventory}', pattern: 'webservers' },`);
    const hostile = await deploy(w.target);
    assert.equal(hostile.exitCode, 2, hostile.all);
    assert.match(hostile.stderr, /bad\.ini:2: host web1: ansible_host/);
    assert.equal(existsSync('/tmp/slipway-pwned'), false);
    assert.equal(await git(w.www, 'rev-parse', 'HEAD'), before);
    // a pattern that matches nothing
    await writeFile(inventory, `[webservers]\nweb1 ansible_host=${host(1).address}\n`);
    await writeApp(`hosts: { inventory: '${inventory}', pattern: 'dbservers' },`);
    const none = await deploy(w.target);
    assert.equal(none.exitCode, 2, none.all);
    assert.match(none.stderr, /dbservers/);
  });

  it('a dynamic inventory command: hosts as its JSON says, with a timeout', async () => {
    const script = join(w.dir, 'inventory.sh');
    await writeFile(script, `#!/bin/sh\ncat <<'EOF'\n${JSON.stringify({ webservers: { hosts: ['web1', 'web2'] }, _meta: { hostvars: { web1: { ansible_host: host(1).address }, web2: { ansible_host: host(2).address } } } })}\nEOF\n`, { mode: 0o755 });
    await writeApp(`hosts: { inventoryCommand: ['${script}'], pattern: 'webservers' },`);
    const listed = await slipwayHosts();
    assert.deepEqual(listed.hosts.map((h) => [h.name, h.address]), [['web1', host(1).address], ['web2', host(2).address]]);
    assert.deepEqual(listed.hosts.map((h) => h.name).sort(), await ansibleHosts(script, 'webservers'));
    const slow = join(w.dir, 'slow.sh');
    await writeFile(slow, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
    await writeApp(`hosts: { inventoryCommand: ['${slow}'], pattern: 'all', timeout: 1 },`);
    const r = await deploy('hosts', w.target);
    assert.equal(r.exitCode, 2, r.all);
    assert.match(r.stderr, /slow\.sh --list: gave no answer within 1 s and was stopped/);
  });
});
